// Manifests: every field in JSON and in TOML, defaults, files (manifest or bare .wasm) with paths
// relative to them, sha256 hashes, errors that name the offending field's path, and several
// modules linked by name.
#include "plugin_test_util.hpp"

#include <gmock/gmock.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

namespace {

using namespace kiln;
using namespace kiln::plugin_test;
using ::testing::HasSubstr;

constexpr const char* echo_body = R"(
  (func (export "echo") (result i32)
    (call $output_set (call $input_offset) (call $input_length))
    (i32.const 0))
)";

class ManifestTest : public PluginTest {
protected:
    void SetUp() override {
        PluginTest::SetUp();
        if (IsSkipped()) return;
        echo = extism_wasm(echo_body);
        ASSERT_FALSE(echo.empty());
        dir = std::filesystem::temp_directory_path() /
              ("kiln-plugin-manifest-" + std::to_string(getpid()) + "-" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir);
        std::filesystem::create_directories(dir);
    }
    void TearDown() override {
        if (!dir.empty()) std::filesystem::remove_all(dir);
    }

    void write_file(const std::string& name, std::string_view text) {
        std::ofstream(dir / name, std::ios::binary) << text;
    }
    void write_file(const std::string& name, const std::vector<uint8_t>& bytes) {
        write_file(name,
                   std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    }

    /// Builds a plugin from `manifest` and checks that "echo" works.
    void expect_echo(Result<Manifest> manifest) {
        KILN_ASSERT_OK(manifest);
        auto p = Plugin::create(engine, std::move(*manifest));
        KILN_ASSERT_OK(p);
        EXPECT_EQ(call_ok(*p, "echo", "manifest works"), "manifest works");
    }

    std::vector<uint8_t> echo;
    std::filesystem::path dir;
};

const WasiPreopen* find_preopen(const Manifest& m, const std::string& guest) {
    auto it = std::find_if(m.allowed_paths.begin(), m.allowed_paths.end(),
                           [&](const WasiPreopen& p) { return p.guest == guest; });
    return it == m.allowed_paths.end() ? nullptr : &*it;
}

/// Checks the fields both full_json and full_toml set.
void expect_full_manifest(const Manifest& m, const std::vector<uint8_t>& data,
                          const std::string& hash) {
    ASSERT_EQ(m.wasm.size(), 3u);
    EXPECT_EQ(m.wasm[0].data, data);
    EXPECT_EQ(m.wasm[0].name, "main");
    EXPECT_EQ(m.wasm[0].hash, hash);
    EXPECT_TRUE(m.wasm[1].path.ends_with("lib.wasm")) << m.wasm[1].path;
    EXPECT_EQ(m.wasm[1].name, "lib");
    EXPECT_EQ(m.wasm[2].url, "https://example.com/plugin.wasm");
    EXPECT_EQ(m.wasm[2].name, "remote");
    EXPECT_EQ(m.max_pages, std::optional<uint32_t>(4));
    EXPECT_EQ(m.max_http_response_bytes, 1000u);
    EXPECT_EQ(m.max_var_bytes, 10u);
    EXPECT_EQ(m.config, (std::map<std::string, std::string>{{"a", "1"}, {"b", "two"}}));
    EXPECT_EQ(m.allowed_hosts, (std::vector<std::string>{"*.example.com", "api.test"}));
    ASSERT_EQ(m.allowed_paths.size(), 2u);
    const WasiPreopen* in = find_preopen(m, "/in");
    const WasiPreopen* ro = find_preopen(m, "/ro");
    ASSERT_TRUE(in && ro);
    EXPECT_EQ(in->host, "/tmp/in");
    EXPECT_FALSE(in->read_only);
    EXPECT_EQ(ro->host, "/tmp/ro"); // without the prefix
    EXPECT_TRUE(ro->read_only);
    EXPECT_EQ(m.timeout_ms, std::optional<uint64_t>(1500));
    EXPECT_EQ(m.fuel, std::optional<uint64_t>(100000));
}

TEST_F(ManifestTest, JsonEveryField) {
    const std::string hash = sha256_hex(echo);
    auto m = Manifest::from_json(R"({
      "wasm": [
        {"data": ")" + base64(echo) +
                                 R"(", "name": "main", "hash": ")" + hash + R"("},
        {"path": "lib.wasm", "name": "lib"},
        {"url": "https://example.com/plugin.wasm", "name": "remote"}
      ],
      "memory": {"max_pages": 4, "max_http_response_bytes": 1000, "max_var_bytes": 10},
      "config": {"a": "1", "b": "two"},
      "allowed_hosts": ["*.example.com", "api.test"],
      "allowed_paths": {"/tmp/in": "/in", "ro:/tmp/ro": "/ro"},
      "timeout_ms": 1500,
      "fuel": 100000
    })");
    KILN_ASSERT_OK(m);
    expect_full_manifest(*m, echo, hash);
}

TEST_F(ManifestTest, TomlEveryField) {
    const std::string hash = sha256_hex(echo);
    auto m = Manifest::from_toml(R"(
allowed_hosts = ["*.example.com", "api.test"]
timeout_ms = 1500
fuel = 100000

[[wasm]]
data = ")" + base64(echo) + R"("
name = "main"
hash = ")" + hash + R"("

[[wasm]]
path = "lib.wasm"
name = "lib"

[[wasm]]
url = "https://example.com/plugin.wasm"
name = "remote"

[memory]
max_pages = 4
max_http_response_bytes = 1000
max_var_bytes = 10

[config]
a = "1"
b = "two"

[allowed_paths]
"/tmp/in" = "/in"
"ro:/tmp/ro" = "/ro"
)");
    KILN_ASSERT_OK(m);
    expect_full_manifest(*m, echo, hash);
}

TEST_F(ManifestTest, Defaults) {
    auto m = Manifest::from_json(R"({"wasm": [{"data": ")" + base64(echo) + R"("}]})");
    KILN_ASSERT_OK(m);
    EXPECT_FALSE(m->max_pages.has_value());
    EXPECT_EQ(m->max_http_response_bytes, 50u << 20);
    EXPECT_EQ(m->max_var_bytes, 1u << 20);
    EXPECT_TRUE(m->config.empty());
    EXPECT_TRUE(m->allowed_hosts.empty());
    EXPECT_TRUE(m->allowed_paths.empty());
    EXPECT_FALSE(m->timeout_ms.has_value());
    EXPECT_FALSE(m->fuel.has_value());
    expect_echo(std::move(m));
}

TEST_F(ManifestTest, PathsAreRelativeToTheBaseDirectoryOrManifestFile) {
    write_file("echo.wasm", echo);
    expect_echo(Manifest::from_json(R"({"wasm": [{"path": "echo.wasm"}]})", dir.string()));
    expect_echo(Manifest::from_toml("[[wasm]]\npath = \"echo.wasm\"\n", dir.string()));

    write_file("plugin.json", R"({"wasm": [{"path": "echo.wasm"}]})");
    write_file("plugin.toml", "[[wasm]]\npath = \"echo.wasm\"\n");
    expect_echo(Manifest::from_file((dir / "plugin.json").string()));
    expect_echo(Manifest::from_file((dir / "plugin.toml").string()));
    expect_echo(Manifest::from_file((dir / "echo.wasm").string()));
    expect_echo(
        Manifest::from_json(R"({"wasm": [{"path": ")" + (dir / "echo.wasm").string() + R"("}]})"));
}

TEST_F(ManifestTest, MissingFilesFail) {
    EXPECT_FALSE(Manifest::from_file((dir / "absent.json").string()).has_value());
    auto m = Manifest::from_json(R"({"wasm": [{"path": "absent.wasm"}]})", dir.string());
    if (m) EXPECT_FALSE(Plugin::create(engine, *m).has_value());
}

TEST_F(ManifestTest, HashIsChecked) {
    const std::string good = sha256_hex(echo);
    std::string bad = good;
    bad[0] = bad[0] == '0' ? '1' : '0';
    expect_echo(Manifest::from_json(R"({"wasm": [{"data": ")" + base64(echo) + R"(", "hash": ")" +
                                    good + R"("}]})"));

    auto wrong = Manifest::from_json(R"({"wasm": [{"data": ")" + base64(echo) + R"(", "hash": ")" +
                                     bad + R"("}]})");
    // The hash may be checked when parsing or when loading; either way nothing runs.
    if (wrong) {
        auto p = Plugin::create(engine, *wrong);
        ASSERT_FALSE(p.has_value());
        EXPECT_THAT(p.error().message, HasSubstr("hash"));
    } else {
        EXPECT_THAT(wrong.error().message, HasSubstr("hash"));
    }

    // The same for a module read from a file, given through the struct.
    write_file("echo.wasm", echo);
    Manifest from_path;
    from_path.wasm.push_back({.path = (dir / "echo.wasm").string(), .hash = bad});
    auto p = Plugin::create(engine, from_path);
    ASSERT_FALSE(p.has_value());
    EXPECT_THAT(p.error().message, HasSubstr("hash"));
    from_path.wasm[0].hash = good;
    expect_echo(from_path);
}

TEST_F(ManifestTest, KnownSha256) {
    // Guards the test's own SHA-256 against the standard test vector.
    const std::string abc = "abc";
    EXPECT_EQ(sha256_hex(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(abc.data()),
                                                  abc.size())),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(ManifestTest, JsonErrorsNameTheField) {
    const std::string data = base64(echo);
    const std::string wasm = R"("wasm": [{"data": ")" + data + R"("}])";
    struct Case {
        std::string json;
        std::string path;
    };
    const Case cases[] = {
        {R"({"wasm": [{"data": ")" + data + R"(", "hash": 5}]})", "wasm[0].hash"},
        {R"({"wasm": [{"data": ")" + data + R"("}, {"data": ")" + data + R"(", "name": 1}]})",
         "wasm[1].name"},
        {R"({"wasm": [{"data": ")" + data + R"(", "colour": "red"}]})", "wasm[0].colour"},
        {R"({"wasm": [{"data": 12}]})", "wasm[0].data"},
        {R"({"wasm": [{"data": "not base64!"}]})", "wasm[0].data"},
        {R"({"wasm": {"data": "x"}})", "wasm"},
        {"{" + wasm + R"(, "memory": {"max_pages": "four"}})", "memory.max_pages"},
        {"{" + wasm + R"(, "memory": {"max_pages": -1}})", "memory.max_pages"},
        {"{" + wasm + R"(, "memory": {"max_var_bytes": 1.5}})", "memory.max_var_bytes"},
        {"{" + wasm + R"(, "memory": {"max_pagez": 1}})", "memory.max_pagez"},
        {"{" + wasm + R"(, "memory": 4})", "memory"},
        {"{" + wasm + R"(, "bogus": 1})", "bogus"},
        {"{" + wasm + R"(, "timeout_ms": "soon"})", "timeout_ms"},
        {"{" + wasm + R"(, "fuel": -5})", "fuel"},
        {"{" + wasm + R"(, "config": {"a": 1}})", "config"},
        {"{" + wasm + R"(, "config": ["a"]})", "config"},
        {"{" + wasm + R"(, "allowed_hosts": "example.com"})", "allowed_hosts"},
        {"{" + wasm + R"(, "allowed_hosts": [1]})", "allowed_hosts"},
        {"{" + wasm + R"(, "allowed_paths": ["/tmp"]})", "allowed_paths"},
        {"{" + wasm + R"(, "allowed_paths": {"/tmp": 3}})", "allowed_paths"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.json);
        auto m = Manifest::from_json(c.json);
        ASSERT_FALSE(m.has_value()) << "accepted";
        EXPECT_THAT(m.error().message, HasSubstr(c.path));
    }
    EXPECT_FALSE(Manifest::from_json("{").has_value());
    EXPECT_FALSE(Manifest::from_json("[]").has_value());
    EXPECT_FALSE(Manifest::from_json("").has_value());
}

TEST_F(ManifestTest, TomlErrorsNameTheField) {
    const std::string wasm = "[[wasm]]\ndata = \"" + base64(echo) + "\"\n";
    struct Case {
        std::string toml;
        std::string path;
    };
    const Case cases[] = {
        {wasm + "hash = 5\n", "wasm[0].hash"},
        {wasm + "colour = \"red\"\n", "wasm[0].colour"},
        {wasm + "[memory]\nmax_pages = \"four\"\n", "memory.max_pages"},
        {wasm + "[memory]\nmax_pagez = 1\n", "memory.max_pagez"},
        {"bogus = 1\n" + wasm, "bogus"},
        {"timeout_ms = \"soon\"\n" + wasm, "timeout_ms"},
        {"allowed_hosts = \"example.com\"\n" + wasm, "allowed_hosts"},
        {wasm + "[config]\na = 1\n", "config"},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.toml);
        auto m = Manifest::from_toml(c.toml);
        ASSERT_FALSE(m.has_value()) << "accepted";
        EXPECT_THAT(m.error().message, HasSubstr(c.path));
    }
    EXPECT_FALSE(Manifest::from_toml("[[wasm]\n").has_value());
    EXPECT_FALSE(Manifest::from_toml("x = = 1\n").has_value());
}

// ---------------------------------------------------------------------------------------------
// Several modules

// "lib" doubles a number and makes a kernel block; "main" imports both from module "lib".
constexpr const char* lib_body = R"(
  (data (i32.const 0) "from lib")
  (func (export "twice") (param i64) (result i64) (i64.mul (local.get 0) (i64.const 2)))
  (func (export "block") (result i64) (call $str (i32.const 0) (i32.const 8)))
)";
constexpr const char* main_body = R"(
  (import "lib" "twice" (func $twice (param i64) (result i64)))
  (import "lib" "block" (func $block (result i64)))
  (func (export "run") (result i32)
    (call $out_i64 (call $twice (i64.const 21)))
    (i32.const 0))
  (func (export "lib_block") (result i32)
    (call $out_block (call $block))
    (i32.const 0))
)";

TEST_F(ManifestTest, ModulesAreLinkedByName) {
    const auto lib = extism_wasm(lib_body);
    const auto main = extism_wasm(main_body);
    using W = Manifest::Wasm;
    const std::vector<std::vector<W>> layouts = {
        {W{.data = lib, .name = "lib"}, W{.data = main, .name = "main"}},
        {W{.data = main, .name = "main"}, W{.data = lib, .name = "lib"}}, // "main" by name
        {W{.data = lib, .name = "lib"}, W{.data = main}},                 // main: the last
    };
    for (size_t i = 0; i < layouts.size(); ++i) {
        SCOPED_TRACE("layout " + std::to_string(i));
        Manifest m;
        m.wasm = layouts[i];
        auto p = Plugin::create(engine, m);
        KILN_ASSERT_OK(p);
        EXPECT_EQ(output_i64(call_ok(*p, "run")), 42u);
        // The library's kernel calls reach the same kernel as main's.
        EXPECT_EQ(call_ok(*p, "lib_block"), "from lib");
        EXPECT_FALSE(p->function_exists("twice")) << "only main's exports are callable";
    }
}

TEST_F(ManifestTest, ModulesByNameInJson) {
    auto m = Manifest::from_json(R"({"wasm": [
        {"data": ")" + base64(extism_wasm(lib_body)) +
                                 R"(", "name": "lib"},
        {"data": ")" + base64(extism_wasm(main_body)) +
                                 R"(", "name": "main"}]})");
    KILN_ASSERT_OK(m);
    auto p = Plugin::create(engine, *m);
    KILN_ASSERT_OK(p);
    EXPECT_EQ(output_i64(call_ok(*p, "run")), 42u);
}

TEST_F(ManifestTest, MissingLibraryIsUnlinkable) {
    Manifest m;
    m.wasm.push_back({.data = extism_wasm(main_body), .name = "main"});
    auto p = Plugin::create(engine, m);
    ASSERT_FALSE(p.has_value());
    EXPECT_EQ(p.error().kind, ErrorKind::unlinkable);

    m.wasm.insert(m.wasm.begin(), Manifest::Wasm{.data = extism_wasm(lib_body), .name = "lob"});
    p = Plugin::create(engine, m);
    ASSERT_FALSE(p.has_value()) << "a module named otherwise does not provide \"lib\"";
    EXPECT_EQ(p.error().kind, ErrorKind::unlinkable);
}

} // namespace
