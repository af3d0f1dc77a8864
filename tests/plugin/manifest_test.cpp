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
    EXPECT_EQ(m.wasm[0].source, Manifest::Wasm{Manifest::WasmBytes{data}}.source);
    EXPECT_EQ(m.wasm[0].name, "main");
    EXPECT_EQ(m.wasm[0].hash, hash);
    auto* file = std::get_if<Manifest::WasmFile>(&m.wasm[1].source);
    ASSERT_TRUE(file);
    EXPECT_TRUE(file->path.ends_with("lib.wasm")) << file->path;
    EXPECT_EQ(m.wasm[1].name, "lib");
    auto* url = std::get_if<Manifest::WasmUrl>(&m.wasm[2].source);
    ASSERT_TRUE(url);
    EXPECT_EQ(url->url, "https://example.com/plugin.wasm");
    EXPECT_EQ(url->method, "POST");
    EXPECT_EQ(url->headers,
              (std::map<std::string, std::string>{{"Authorization", "Bearer x"}, {"X-A", "1"}}));
    EXPECT_EQ(m.wasm[2].name, "remote");
    EXPECT_EQ(m.name, "everything");
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
        {"url": "https://example.com/plugin.wasm", "name": "remote", "method": "POST",
         "headers": {"Authorization": "Bearer x", "X-A": "1"}}
      ],
      "name": "everything",
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
name = "everything"
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
method = "POST"
headers = { Authorization = "Bearer x", X-A = "1" }

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

// A directory or a device where a module should be: an io error naming it, from the manifest
// file itself and from a wasm[].path (a directory aborted the process, /dev/zero was read
// without end).
TEST_F(ManifestTest, DirectoriesAndDevicesAreIoErrors) {
    std::filesystem::create_directories(dir / "sub");
    for (const std::string& path : {(dir / "sub").string(), std::string("/dev/zero")}) {
        SCOPED_TRACE(path);
        std::string what =
            path == "/dev/zero" ? "not a regular file (a character device)" : "is a directory";
        auto direct = Manifest::from_file(path);
        ASSERT_FALSE(direct);
        EXPECT_EQ(direct.error().kind, ErrorKind::io);
        EXPECT_EQ(direct.error().message, path + ": " + what);

        write_file("plugin.json", R"({"wasm": [{"path": ")" + path + R"("}]})");
        auto m = Manifest::from_file((dir / "plugin.json").string());
        KILN_ASSERT_OK(m);
        auto p = Plugin::create(engine, *m);
        ASSERT_FALSE(p);
        EXPECT_EQ(p.error().kind, ErrorKind::io);
        EXPECT_EQ(p.error().message, path + ": " + what);
    }
}

// Loading a plugin from a module file reads the file once: the manifest holds the bytes, so the
// file can be gone by the time the plugin is made.
TEST_F(ManifestTest, ModuleFileIsReadOnce) {
    write_file("echo.wasm", echo);
    auto m = Manifest::from_file((dir / "echo.wasm").string());
    KILN_ASSERT_OK(m);
    ASSERT_EQ(m->wasm.size(), 1u);
    std::string path = (dir / "echo.wasm").string();
    EXPECT_EQ(m->wasm[0].source, (Manifest::Wasm{Manifest::WasmBytes{echo, path}}.source));
    // to_json names the file rather than embedding the module.
    EXPECT_NE(m->to_json().find("\"path\": \"" + path + "\""), std::string::npos) << m->to_json();
    std::filesystem::remove(dir / "echo.wasm");
    expect_echo(*m);
}

// A file that is neither a module nor a manifest says how it starts (it was reported as "JSON
// manifest: not valid JSON"); a JSON syntax error says where, as TOML's do.
TEST_F(ManifestTest, FileThatIsNoManifestSaysWhatItIs) {
    write_file("notes.txt", "hello, world\n");
    write_file("empty.wasm", "");
    write_file("binary", std::string("\x7f"
                                     "ELF\x02\x01\x01\x00\x00",
                                     9));
    write_file("broken.json", "{\n  \"wasm\": [\n    {\"path\": \"a.wasm\",}\n  ]\n}\n");
    write_file("broken.toml", "[[wasm]]\npath = \"a.wasm\"\nfuel = = 3\n");
    struct Case {
        std::string file, message;
    };
    const Case cases[] = {
        {"notes.txt", "not a WebAssembly module or manifest: starts with \"hello, w\"..."},
        {"empty.wasm", "empty file, not a WebAssembly module or manifest"},
        {"binary", "not a WebAssembly module or manifest: starts with \"\\x7fELF\\x02\\x01\\x01"
                   "\\x00\"..."},
        {"broken.json", "JSON manifest: line 3, column 23: syntax error while parsing object key - "
                        "unexpected '}'; expected string literal"},
        {"broken.toml", "TOML manifest: line 3, column 8: "},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.file);
        const std::string path = (dir / c.file).string();
        auto m = Manifest::from_file(path);
        ASSERT_FALSE(m);
        EXPECT_THAT(m.error().message, ::testing::StartsWith(path + ": " + c.message));
    }
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
    from_path.wasm.push_back(
        {.source = Manifest::WasmFile{(dir / "echo.wasm").string()}, .hash = bad});
    auto p = Plugin::create(engine, from_path);
    ASSERT_FALSE(p.has_value());
    EXPECT_THAT(p.error().message, HasSubstr("hash"));
    from_path.wasm[0].hash = good;
    expect_echo(from_path);
}

// ---------------------------------------------------------------------------------------------
// to_json

/// A manifest with every field set away from its default, and allowed paths out of sorted order.
Manifest full_manifest(const std::vector<uint8_t>& data) {
    Manifest m;
    m.wasm.push_back(
        {.source = Manifest::WasmBytes{data}, .name = "main", .hash = std::string(64, 'a')});
    m.wasm.push_back({.source = Manifest::WasmFile{"/plugins/lib.wasm"}, .name = "lib"});
    m.wasm.push_back({.source = Manifest::WasmUrl{"https://example.com/p.wasm",
                                                  "PUT",
                                                  {{"Authorization", "Bearer t"}, {"X-B", ""}}},
                      .name = "remote",
                      .hash = std::string(64, 'F')});
    m.wasm.push_back({.source = Manifest::WasmUrl{"https://example.com/q.wasm"}});
    m.name = "full";
    m.max_pages = 7;
    m.max_http_response_bytes = 12345;
    m.max_var_bytes = 0;
    m.config = {{"a", "1"}, {"empty", ""}, {"quote\"", "line\nbreak"}};
    m.allowed_hosts = {"*.example.com", "api.test"};
    m.allowed_paths = {{"/tmp/z", "/z", false}, {"/tmp/a", "/a", true}, {"rel/dir", ".", false}};
    m.timeout_ms = 250;
    m.fuel = 0;
    return m;
}

TEST_F(ManifestTest, ToJsonRoundTripsEveryField) {
    const Manifest m = full_manifest(echo);
    const std::string text = m.to_json();
    auto back = Manifest::from_json(text);
    KILN_ASSERT_OK(back);
    EXPECT_TRUE(*back == m) << text;
    EXPECT_EQ(back->to_json(), text);
    // Defaults too: a manifest with nothing but a module.
    const Manifest bare = Manifest::from_bytes(echo);
    auto bare_back = Manifest::from_json(bare.to_json());
    KILN_ASSERT_OK(bare_back);
    EXPECT_TRUE(*bare_back == bare) << bare.to_json();
    // The inline module is Extism's "data", base64.
    EXPECT_THAT(bare.to_json(), HasSubstr("\"data\": \"" + base64(echo) + "\""));
}

TEST_F(ManifestTest, EqualitySeesEveryField) {
    const Manifest m = full_manifest(echo);
    const std::vector<std::function<void(Manifest&)>> edits = {
        [](Manifest& x) { x.wasm[0].name = "other"; },
        [](Manifest& x) { x.wasm[0].hash.clear(); },
        [](Manifest& x) { std::get<Manifest::WasmBytes>(x.wasm[0].source).data.push_back(0); },
        [](Manifest& x) { x.wasm[1].source = Manifest::WasmUrl{"/plugins/lib.wasm"}; },
        [](Manifest& x) { std::get<Manifest::WasmUrl>(x.wasm[2].source).method = "GET"; },
        [](Manifest& x) { std::get<Manifest::WasmUrl>(x.wasm[2].source).headers.clear(); },
        [](Manifest& x) { x.name.clear(); },
        [](Manifest& x) { x.max_pages.reset(); },
        [](Manifest& x) { x.max_http_response_bytes = 1; },
        [](Manifest& x) { x.max_var_bytes = 1; },
        [](Manifest& x) { x.config.erase("a"); },
        [](Manifest& x) { x.allowed_hosts.pop_back(); },
        [](Manifest& x) { x.allowed_paths[1].read_only = false; },
        [](Manifest& x) { std::swap(x.allowed_paths[0], x.allowed_paths[1]); },
        [](Manifest& x) { x.timeout_ms.reset(); },
        [](Manifest& x) { x.fuel.reset(); },
    };
    for (size_t i = 0; i < edits.size(); ++i) {
        SCOPED_TRACE("edit " + std::to_string(i));
        Manifest changed = m;
        edits[i](changed);
        EXPECT_FALSE(changed == m);
        // And the difference survives JSON.
        auto back = Manifest::from_json(changed.to_json());
        KILN_ASSERT_OK(back);
        EXPECT_TRUE(*back == changed);
        EXPECT_FALSE(*back == m);
    }
}

TEST_F(ManifestTest, JsonParseToJsonParseIsTheSame) {
    const std::string texts[] = {
        R"({"wasm": [{"data": ")" + base64(echo) + R"("}]})",
        R"({"wasm": [{"path": "a.wasm", "name": "lib"}, {"url": "http://h/x.wasm",
            "headers": {"k": "v"}, "method": "post", "hash": ")" +
            std::string(64, '0') + R"("}], "name": "n", "memory": {"max_pages": 2},
            "config": {"x": "y"}, "allowed_hosts": ["h"],
            "allowed_paths": {"/b": "/b", "ro:/a": "/data", "/c": "."},
            "timeout_ms": 5, "fuel": 6})",
        R"({"wasm": [{"path": "a.wasm"}], "memory": null, "config": null, "allowed_hosts": null,
            "allowed_paths": null, "timeout_ms": null, "fuel": null})",
    };
    for (const std::string& text : texts) {
        SCOPED_TRACE(text);
        auto first = Manifest::from_json(text, "/base");
        KILN_ASSERT_OK(first);
        auto second = Manifest::from_json(first->to_json(), "/elsewhere");
        KILN_ASSERT_OK(second);
        EXPECT_TRUE(*first == *second) << first->to_json();
    }
    // The order allowed_paths were given in is kept (WASI numbers preopens in that order).
    auto m = Manifest::from_json(texts[1]);
    KILN_ASSERT_OK(m);
    ASSERT_EQ(m->allowed_paths.size(), 3u);
    EXPECT_EQ(m->allowed_paths[0].host, "/b");
    EXPECT_EQ(m->allowed_paths[1].host, "/a");
    EXPECT_TRUE(m->allowed_paths[1].read_only);
    EXPECT_EQ(m->allowed_paths[2].guest, ".");
}

TEST_F(ManifestTest, TomlToJsonReadsBackEqual) {
    auto m = Manifest::from_toml(R"(
name = "t"
[[wasm]]
url = "https://example.com/m.wasm"
method = "GET"
headers = { Accept = "application/wasm" }
[allowed_paths]
"ro:/srv" = "/srv"
)");
    KILN_ASSERT_OK(m);
    auto back = Manifest::from_json(m->to_json());
    KILN_ASSERT_OK(back);
    EXPECT_TRUE(*back == *m) << m->to_json();
}

TEST_F(ManifestTest, FileNamesThePlugin) {
    write_file("echo.wasm", echo);
    write_file("greeter.json", R"({"wasm": [{"path": "echo.wasm"}]})");
    write_file("named.json", R"({"wasm": [{"path": "echo.wasm"}], "name": "given"})");
    auto from_wasm = Manifest::from_file((dir / "echo.wasm").string());
    auto from_json = Manifest::from_file((dir / "greeter.json").string());
    auto named = Manifest::from_file((dir / "named.json").string());
    KILN_ASSERT_OK(from_wasm);
    KILN_ASSERT_OK(from_json);
    KILN_ASSERT_OK(named);
    EXPECT_EQ(from_wasm->name, "echo");
    EXPECT_EQ(from_json->name, "greeter");
    EXPECT_EQ(named->name, "given");
    auto p = Plugin::create(engine, *from_json);
    KILN_ASSERT_OK(p);
    EXPECT_EQ(p->name(), "greeter");
}

TEST_F(ManifestTest, PluginNameDefaults) {
    struct Case {
        std::function<void(Manifest&, PluginOptions&)> edit;
        std::string name;
    };
    const Case cases[] = {
        {[](Manifest&, PluginOptions&) {}, "plugin"},
        {[](Manifest& m, PluginOptions&) { m.wasm[0].name = "counter"; }, "counter"},
        {[](Manifest& m, PluginOptions&) { m.name = "from-manifest"; }, "from-manifest"},
        {[](Manifest& m, PluginOptions& o) {
             m.name = "from-manifest";
             o.name = "chosen";
         },
         "chosen"},
    };
    for (const Case& c : cases) {
        Manifest m = Manifest::from_bytes(echo);
        PluginOptions options;
        c.edit(m, options);
        auto p = Plugin::create(engine, m, options);
        KILN_ASSERT_OK(p);
        EXPECT_EQ(p->name(), c.name);
    }
    write_file("tool.wasm", echo);
    Manifest by_path;
    by_path.wasm.push_back({.source = Manifest::WasmFile{(dir / "tool.wasm").string()}});
    auto p = Plugin::create(engine, by_path);
    KILN_ASSERT_OK(p);
    EXPECT_EQ(p->name(), "tool");
}

// ---------------------------------------------------------------------------------------------
// Directory grants and command-line overrides

TEST(Grant, Syntax) {
    struct Case {
        const char* text;
        WasiPreopen want;
    };
    const Case cases[] = {
        {"/data", {"/data", "/data", false}},
        {"/data:/in", {"/data", "/in", false}},
        {"/data::/in", {"/data", "/in", false}},
        {"a::b", {"a", "b", false}},
        {"a:b", {"a", "b", false}},
        {".:/", {".", "/", false}},
        {"ro:/data", {"/data", "/data", true}},
        {"ro:/data:/in", {"/data", "/in", true}},
        {"ro:a::b", {"a", "b", true}},
        {"ro::x", {"ro", "x", false}}, // `::` separates wherever it appears
        {"ro:ro::x", {"ro", "x", true}},
        {"ro", {"ro", "ro", false}},
    };
    for (const Case& c : cases) {
        SCOPED_TRACE(c.text);
        auto g = parse_preopen(c.text);
        KILN_ASSERT_OK(g);
        EXPECT_EQ(g->host, c.want.host);
        EXPECT_EQ(g->guest, c.want.guest);
        EXPECT_EQ(g->read_only, c.want.read_only);
    }
    for (const char* bad :
         {"", "ro:", ":x", "x:", "::x", "x::", "a:b:c", "a::b::c", "a::b:c", "ro:a:b:c"}) {
        SCOPED_TRACE(bad);
        auto g = parse_preopen(bad);
        ASSERT_FALSE(g.has_value());
        EXPECT_EQ(g.error().kind, ErrorKind::usage);
        EXPECT_THAT(g.error().message, HasSubstr("\"" + std::string(bad) + "\""));
    }
}

TEST_F(ManifestTest, AllowedPathKeysAreGrants) {
    auto m = Manifest::from_json(R"({"wasm": [{"path": "x.wasm"}],
        "allowed_paths": {"ro:in": "/in", "out": "/out", "ro::odd": "/odd"}})",
                                 "/base");
    ASSERT_FALSE(m.has_value()) << "a key with a guest part is ambiguous next to its value";
    EXPECT_THAT(m.error().message, HasSubstr("allowed_paths.ro::odd"));

    m = Manifest::from_json(R"({"wasm": [{"path": "x.wasm"}],
        "allowed_paths": {"ro:in": "/in", "out": "/out"}})",
                            "/base");
    KILN_ASSERT_OK(m);
    ASSERT_EQ(m->allowed_paths.size(), 2u);
    EXPECT_EQ(m->allowed_paths[0], (WasiPreopen{"/base/in", "/in", true}));
    EXPECT_EQ(m->allowed_paths[1], (WasiPreopen{"/base/out", "/out", false}));
}

TEST_F(ManifestTest, OverridesFromACommandLine) {
    Manifest m = Manifest::from_bytes(echo);
    m.config = {{"keep", "1"}, {"replace", "old"}};
    m.allowed_hosts = {"first"};
    ManifestOverrides o;
    o.config = {"replace=new", "empty=", "eq=a=b"};
    o.allowed_hosts = {"*.example.com"};
    o.allowed_paths = {"/srv", "ro:/etc/app:/cfg", "a::b"};
    o.links = {"lib=/l/lib.wasm", "util=u.wasm"};
    o.timeout_ms = 10;
    o.fuel = 20;
    o.max_pages = 30;
    o.max_var_bytes = 40;
    o.max_http_response_bytes = 50;
    KILN_ASSERT_OK(apply_overrides(m, o));
    EXPECT_EQ(m.config, (std::map<std::string, std::string>{
                            {"keep", "1"}, {"replace", "new"}, {"empty", ""}, {"eq", "a=b"}}));
    EXPECT_EQ(m.allowed_hosts, (std::vector<std::string>{"first", "*.example.com"}));
    EXPECT_EQ(m.allowed_paths,
              (std::vector<WasiPreopen>{
                  {"/srv", "/srv", false}, {"/etc/app", "/cfg", true}, {"a", "b", false}}));
    ASSERT_EQ(m.wasm.size(), 3u);
    EXPECT_EQ(m.wasm[0], (Manifest::Wasm{Manifest::WasmFile{"u.wasm"}, "util", ""}));
    EXPECT_EQ(m.wasm[1], (Manifest::Wasm{Manifest::WasmFile{"/l/lib.wasm"}, "lib", ""}));
    EXPECT_TRUE(std::holds_alternative<Manifest::WasmBytes>(m.wasm[2].source)) << "main stays last";
    EXPECT_EQ(m.timeout_ms, std::optional<uint64_t>(10));
    EXPECT_EQ(m.fuel, std::optional<uint64_t>(20));
    EXPECT_EQ(m.max_pages, std::optional<uint32_t>(30));
    EXPECT_EQ(m.max_var_bytes, 40u);
    EXPECT_EQ(m.max_http_response_bytes, 50u);
}

TEST_F(ManifestTest, OverrideErrorsQuoteTheTextAndChangeNothing) {
    const Manifest before = Manifest::from_bytes(echo);
    const std::vector<std::pair<ManifestOverrides, std::string>> cases = {
        {{.config = {"a=1", "novalue"}}, "config \"novalue\": expected KEY=VALUE"},
        {{.config = {"=x"}}, "config \"=x\""},
        {{.allowed_paths = {"/ok", "a:b:c"}}, "\"a:b:c\" is not a directory grant"},
        {{.allowed_paths = {"ro:"}}, "\"ro:\""},
        {{.links = {"lib"}}, "link \"lib\": expected NAME=FILE"},
        {{.links = {"lib="}}, "link \"lib=\""},
    };
    for (const auto& [o, message] : cases) {
        SCOPED_TRACE(message);
        Manifest m = before;
        auto r = apply_overrides(m, o);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().kind, ErrorKind::usage);
        EXPECT_THAT(r.error().message, HasSubstr(message));
        EXPECT_TRUE(m == before);
    }
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
        {"{" + wasm + R"(, "allowed_paths": {"ro:": "/x"}})", "allowed_paths.ro:"},
        {"{" + wasm + R"(, "allowed_paths": {"/a:/b": "/c"}})", "allowed_paths./a:/b"},
        {"{" + wasm + R"(, "name": 3})", "name"},
        {R"({"wasm": [{"url": "http://h/x", "method": 1}]})", "wasm[0].method"},
        {R"({"wasm": [{"url": "http://h/x", "method": "GE T"}]})", "wasm[0].method"},
        {R"({"wasm": [{"url": "http://h/x", "method": ""}]})", "wasm[0].method"},
        {R"({"wasm": [{"url": "http://h/x", "headers": ["a"]}]})", "wasm[0].headers"},
        {R"({"wasm": [{"url": "http://h/x", "headers": {"X-A": 1}}]})", "wasm[0].headers.X-A"},
        {R"({"wasm": [{"path": "x.wasm", "method": "POST"}]})", "wasm[0].method"},
        {R"({"wasm": [{"data": ")" + data + R"(", "headers": {}}]})", "wasm[0].headers"},
        {R"({"wasm": [{"path": "x.wasm", "url": "http://h/x"}]})", "wasm[0]"},
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
        {"[[wasm]]\nurl = \"http://h/x\"\nheaders = { A = 1 }\n", "wasm[0].headers.A"},
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
    using B = Manifest::WasmBytes;
    const std::vector<std::vector<W>> layouts = {
        {W{.source = B{lib}, .name = "lib"}, W{.source = B{main}, .name = "main"}},
        {W{.source = B{main}, .name = "main"}, W{.source = B{lib}, .name = "lib"}}, // by name
        {W{.source = B{lib}, .name = "lib"}, W{.source = B{main}}},                 // the last
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
    m.wasm.push_back({.source = Manifest::WasmBytes{extism_wasm(main_body)}, .name = "main"});
    auto p = Plugin::create(engine, m);
    ASSERT_FALSE(p.has_value());
    EXPECT_EQ(p.error().kind, ErrorKind::unlinkable);

    m.wasm.insert(
        m.wasm.begin(),
        Manifest::Wasm{.source = Manifest::WasmBytes{extism_wasm(lib_body)}, .name = "lob"});
    p = Plugin::create(engine, m);
    ASSERT_FALSE(p.has_value()) << "a module named otherwise does not provide \"lib\"";
    EXPECT_EQ(p.error().kind, ErrorKind::unlinkable);
}

} // namespace
