// Helpers shared by the unit tests.
#include "compile_wat.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace kiln::test {

// Declared in test_util.hpp. --debug-names keeps names for the name-section tests; the proposals
// Kiln implements past 2.0 are enabled.
std::optional<std::vector<uint8_t>> wat_to_wasm(std::string_view wat) {
    static const bool available = std::system("command -v wat2wasm >/dev/null 2>&1") == 0;
    if (!available) return std::nullopt;
    static int counter = 0;
    const auto base = std::filesystem::temp_directory_path() /
                      ("kiln-wat-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
    const auto wat_path = base.string() + ".wat";
    const auto wasm_path = base.string() + ".wasm";
    const auto err_path = base.string() + ".err";
    std::ofstream(wat_path) << wat;
    const std::string cmd =
        "wat2wasm --no-check --debug-names --enable-tail-call --enable-extended-const '" +
        wat_path + "' -o '" + wasm_path + "' 2>'" + err_path + "'";
    std::vector<uint8_t> bytes;
    if (std::system(cmd.c_str()) == 0) {
        std::ifstream in(wasm_path, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
    } else {
        std::ifstream err(err_path);
        ADD_FAILURE() << "wat2wasm failed:\n"
                      << std::string(std::istreambuf_iterator<char>(err), {}) << "\n"
                      << wat;
    }
    std::filesystem::remove(wat_path);
    std::filesystem::remove(wasm_path);
    std::filesystem::remove(err_path);
    return bytes;
}

std::optional<Module> compile_wat(const Engine& engine, std::string_view wat) {
    auto bytes = wat_to_wasm(wat);
    if (!bytes) return std::nullopt;
    auto m = Module::compile(engine, *bytes);
    EXPECT_TRUE(m) << m.error().message;
    if (!m) return std::nullopt;
    return *m;
}

} // namespace kiln::test
