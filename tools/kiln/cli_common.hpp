// Helpers shared by the subcommands: exit codes, file reading, value parsing and printing.
#pragma once

#include <kiln/kiln.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::tool {

/// Process exit codes: 1 for a failure of the input (invalid module, trap, failed assertion),
/// 2 for a command line that cannot be carried out as written.
enum ExitCode : int { exit_ok = 0, exit_failure = 1, exit_usage = 2 };

/// Reads a whole file; the io error names the file.
Result<std::vector<uint8_t>> read_file(const std::filesystem::path& path);

/// Prints "kiln: MESSAGE" on stderr.
void print_error(std::string_view message);

/// Prints "FILE: KIND: MESSAGE" on stderr.
void print_error(const std::filesystem::path& file, const Error& error);

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
