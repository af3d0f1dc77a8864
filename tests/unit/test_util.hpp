// Helpers shared by the unit tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace kiln::test {

/// Compiles WebAssembly text with wabt's wat2wasm (--no-check, so invalid modules survive);
/// nullopt when wat2wasm is not installed.
std::optional<std::vector<uint8_t>> wat_to_wasm(std::string_view wat);

} // namespace kiln::test
