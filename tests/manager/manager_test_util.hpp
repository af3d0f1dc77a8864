// Helpers of the manager tests: a temporary folder of plugin folders, each written as a
// manifest and a module built from WAT (plugin_test_util.hpp's Extism wrapper).
#pragma once

#include "plugin_test_util.hpp"

#include <kiln/manager.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace kiln::manager_test {

/// A folder removed with everything in it when the test ends.
class TempDir {
public:
    TempDir() {
        static int counter = 0;
        m_path = std::filesystem::temp_directory_path() /
                 ("kiln-manager-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
        std::filesystem::create_directories(m_path);
    }
    ~TempDir() { std::filesystem::remove_all(m_path); }
    const std::filesystem::path& path() const { return m_path; }
    std::string str() const { return m_path.string(); }
    /// Writes `text` to `relative` (making its folders); returns the full path.
    std::string write(const std::string& relative, std::string_view text) const {
        const auto p = m_path / relative;
        std::filesystem::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << text;
        return p.string();
    }
    std::string write(const std::string& relative, const std::vector<uint8_t>& bytes) const {
        return write(relative,
                     std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    }

private:
    std::filesystem::path m_path;
};

/// An Extism plugin whose `initialize` counts its runs (`inits` outputs the count), `echo`
/// outputs its input, `trap` traps, and `shutdown` logs "NAME down".
inline std::string lifecycle_body(const std::string& name) {
    const std::string down = name + " down";
    return R"(
  (global $inits (mut i64) (i64.const 0))
  (data (i32.const 0) ")" +
           down + R"(")
  (func (export "initialize") (result i32)
    (global.set $inits (i64.add (global.get $inits) (i64.const 1))) (i32.const 0))
  (func (export "inits") (result i32) (call $out_i64 (global.get $inits)) (i32.const 0))
  (func (export "trap") (result i32) unreachable)
  (func (export "echo") (result i32)
    (call $output_set (call $input_offset) (call $input_length)) (i32.const 0))
  (func (export "shutdown") (result i32)
    (call $log_info (call $str (i32.const 0) (i32.const )" +
           std::to_string(down.size()) + R"()))
    (i32.const 0)))";
}

/// Writes plugin folder `folder` with kiln.yaml `yaml` and plugin.wasm built from `body`.
inline void write_plugin(const TempDir& dir, const std::string& folder, const std::string& yaml,
                         std::string_view body) {
    dir.write(folder + "/plugin.wasm", plugin_test::extism_wasm(body));
    dir.write(folder + "/kiln.yaml", yaml);
}

/// A kiln.yaml naming plugin.wasm, with `extra` lines appended.
inline std::string kiln_yaml(const std::string& name, const std::string& version,
                             const std::string& extra = "") {
    return "name: " + name + "\nversion: " + version + "\nwasm: plugin.wasm\n" + extra;
}

} // namespace kiln::manager_test
