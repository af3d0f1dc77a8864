// Guest memory for raw ABIs (ZenoEngine's, Spacedrive's), where the guest hands the host
// pointers and lengths into its linear memory and the host hands results back through the
// guest's own allocator. Every pointer and length is checked against the memory's size; a
// string that should end with a NUL must end within memory (and within a bound); an allocator
// that traps, is missing, or returns memory that is not there is an error, never a write
// elsewhere.
#pragma once

#include <kiln/error.hpp>
#include <kiln/func.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace kiln::hostfns {

/// The bytes [ptr, ptr + len) of the guest's memory; an error naming `what` when they are
/// not all within it.
Result<std::string> read_guest(const Caller& caller, uint32_t ptr, uint32_t len,
                               std::string_view what);

/// The NUL-terminated string at `ptr` (without its NUL); an error when `ptr` is null or out
/// of bounds, or no NUL comes before the end of memory or within `max_len` bytes.
Result<std::string> read_guest_string(const Caller& caller, uint32_t ptr, std::string_view what,
                                      uint64_t max_len);

/// Allocates `bytes.size()` bytes (one more for a NUL when `nul`) with the guest's export
/// `allocator` (i32 size -> i32 pointer), writes `bytes` (and the NUL) there and returns the
/// pointer. An error when the export is missing or of another type, traps, returns 0, or
/// returns a range that is not within memory.
Result<uint32_t> write_guest(Caller& caller, std::string_view allocator, std::string_view bytes,
                             bool nul);

} // namespace kiln::hostfns
