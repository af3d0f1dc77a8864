// Helpers shared by the subcommands: exit codes, file reading, value parsing and printing.
#pragma once

#include <kiln/kiln.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::tool {

/// Process exit codes (the table in docs/cli.md): 1 when the input, a file, a limit or the plugin
/// failed, 2 for a command line that cannot be carried out as written; `kiln run` adds 134.
enum ExitCode : int { exit_ok = 0, exit_failure = 1, exit_usage = 2 };

/// exit_usage for a usage error, else exit_failure.
int exit_code_of(const Error& error);

/// Reads a module: a binary as it is, WebAssembly text (told by its content, whatever the
/// extension) converted to a binary; a syntax error's message starts with FILE:LINE:COLUMN.
Result<std::vector<uint8_t>> read_module(const std::filesystem::path& path);

/// Prints "kiln: MESSAGE" on stderr.
void print_error(std::string_view message);

/// Prints "FILE: KIND: MESSAGE" on stderr, or "kiln: MESSAGE" for an io error, which names its
/// file.
void print_error(const std::filesystem::path& file, const Error& error);

/// The error of a call of `function` the engine made (invoke, run) in the words of the plugin
/// layer's (call): the message "FUNC: MESSAGE", or "FUNC: timeout after N ms" for a limit.
Error named_call_error(std::string_view function, const Error& error,
                       std::optional<uint64_t> timeout_ms = {});

/// Prints a failed call, one wording for every command: "kiln: trap: FUNC: MESSAGE" for a trap,
/// "kiln: FUNC: timeout after N ms" (or fuel exhausted, cancelled) when a limit stopped it,
/// "kiln: KIND: MESSAGE" otherwise; then the trap's frames.
void print_call_failure(const Error& error);

/// Externref values cross the command line and spec scripts as a number N; the engine holds
/// them as the host word N+1 so that 0 stays the null reference.
constexpr uint64_t externref_word(uint64_t n) {
    return n + 1;
}

/// A value as a person writes it: 42, -7, 1.5, nan, -inf, ref.null, ref.func NAME, ref.extern N
/// (functions are named from `store`), a v128 as 0x and 32 hex digits (lane 0 lowest).
std::string format_value(Store& store, const Value& value);

/// "KIND: MESSAGE", or just the kind when the message only repeats it.
std::string trap_text(const Trap& trap);

/// Prints the frames of the error's trap on stderr, innermost first, as "  at NAME" lines; a
/// long run of frames of one function is folded into "... N more frames of NAME".
void print_backtrace(const Error& error);

/// Parses a command-line value of type `type`: integers in decimal (signed or unsigned) or 0x
/// hex; floats in decimal or hex, nan, nan:0xPAYLOAD, inf with an optional sign; references
/// as null, externrefs also as a number N; v128 as 0x and up to 32 hex digits (one number,
/// lane 0 in its low bits) or as lanes, i32x4:1,2,3,4 (shapes i8x16 to f64x2).
Result<Value> parse_value(std::string_view text, ValType type);

} // namespace kiln::tool
