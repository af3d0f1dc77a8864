// The WebAssembly text format (.wat): converted to the binary format, which Module::compile and
// ModuleInfo::decode then read.
//
//     auto wasm = kiln::wat_to_wasm("(module (func (export \"f\") (result i32) i32.const 7))",
//                                   "f.wat");
//     auto module = kiln::Module::compile(engine, *wasm);
#pragma once

#include <kiln/error.hpp>

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace kiln {

/// How wat_to_wasm writes the binary.
struct WatOptions {
    /// Write a "name" custom section with the module's and the functions' $names, which trap
    /// backtraces then show.
    bool names = true;
};

/// Converts WebAssembly text (a `(module ...)`, or the fields of one without it) to the binary
/// format. The text is parsed, not validated: compiling the result validates it. A syntax error
/// is of kind malformed, and its message starts with "FILE:LINE:COLUMN: " (no FILE when
/// `file_name` is empty) and says what was expected and what was found.
Result<std::vector<uint8_t>> wat_to_wasm(std::string_view text, std::string_view file_name = "",
                                         const WatOptions& options = {});

/// True when `bytes` read as WebAssembly text rather than as a binary (or a JSON or TOML
/// document): after blanks, they start with '(' or a ";;" comment.
bool looks_like_wat(std::span<const uint8_t> bytes);

} // namespace kiln
