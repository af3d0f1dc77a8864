// The ZenoEngine adapter with the plugins Zeno's own toolchains build (fixtures/zeno_plugin.c
// and .rs): metadata and slots at load, slots called with parameters and the caller's scope,
// every env.host_* import granted and denied, plugin_cleanup at unload.
#include "hostfns_test_util.hpp"
#include "json_server.hpp"

#include "base/file.hpp"
#include "hostfns/families.hpp"
#include "hostfns/library.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace kiln {
namespace {

using namespace hostfns_test;
using hostfns::json;

/// The fixture `name` (fixtures/NAME.wasm in the build), or empty when its toolchain is missing.
std::vector<uint8_t> fixture(const std::string& name) {
    auto bytes = read_file(std::string(KILN_HOSTFNS_FIXTURES) + "/" + name + ".wasm");
    return bytes ? *bytes : std::vector<uint8_t>{};
}

struct ZenoFixture {
    const char* wasm;   ///< fixture name
    const char* prefix; ///< of its slots
    const char* hello;  ///< what greet says to World
    const char* row;    ///< the name its db query finds
    json visited;       ///< what it sets "visited" to
    const char* log;    ///< its host_log line, with the level
};

class Zeno : public ::testing::TestWithParam<ZenoFixture> {};

TEST_P(Zeno, SlotsAndEveryHostImport) {
    const ZenoFixture& z = GetParam();
    auto wasm = fixture(z.wasm);
    if (wasm.empty()) GTEST_SKIP() << z.wasm << " was not built (no toolchain for it)";
    TempDir dir;
    dir.write("zeno/plugin.wasm", wasm);
    dir.write("zeno/data/in.txt", "input text");
    dir.write("zeno/manifest.yaml", "name: zeno-x\nversion: 1.0.0\nbinary: plugin.wasm\n"
                                    "permissions:\n  scope: [read, write]\n"
                                    "  network: [\"http://127.0.0.1:*\"]\n"
                                    "  filesystem: [data]\n  database: [main]\n"
                                    "  env: [ZENO_URL]\n");
    JsonServer server;
    HostOptions options;
    const std::string url = server.url();
    options.getenv = [url](const std::string& name) -> std::optional<std::string> {
        if (name == "ZENO_URL") return url;
        if (name == "SECRET") return "s3cret";
        return std::nullopt;
    };
    Hosted h(options);
    const std::string db = (dir.path() / "main.db").string();
    h.host.add_database("main", db, true);
    {
        Permissions rw;
        rw.databases = {"rw:main"};
        hostfns::HostContext setup(h.host.impl()->services, "setup", rw, dir.str(), nullptr);
        for (const char* sql : {"CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)",
                                "INSERT INTO t(name) VALUES ('ann'), ('bob')"})
            ASSERT_TRUE(hostfns::db_query(setup, json{{"connection", "main"}, {"sql", sql}}));
    }
    ASSERT_TRUE(h.manager->open(dir.str()));
    auto info = h.manager->info("zeno-x");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->abi, PluginAbi::zeno);

    const std::string prefix = z.prefix;
    auto greet = h.manager->call("zeno-x", prefix + ".greet", R"({"name":"World"})");
    ASSERT_TRUE(greet) << greet.error().message;
    EXPECT_EQ(json::parse(*greet), json({{"success", true}, {"data", {{"message", z.hello}}}}));
    auto nameless = h.manager->call("zeno-x", prefix + ".greet", "{}");
    ASSERT_TRUE(nameless);
    EXPECT_EQ(json::parse(*nameless)["success"], false);
    auto unknown = h.manager->call("zeno-x", prefix + ".nope", "{}");
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().message, "slot " + prefix + ".nope not found in plugin zeno-x");

    CallContext context{R"({"user":"bob"})"};
    auto out = h.manager->call("zeno-x", prefix + ".host", "{}", context);
    ASSERT_TRUE(out) << out.error().message;
    const json data = json::parse(*out)["data"];
    EXPECT_EQ(data["db"], json({{"success", true}, {"data", {{"rows", {{{"name", z.row}}}}}}}));
    EXPECT_EQ(data["scope_get"], json({{"success", true}, {"data", {{"value", "bob"}}}}));
    EXPECT_EQ(data["scope_set"], 1);
    EXPECT_EQ(json::parse(context.scope), json({{"user", "bob"}, {"visited", z.visited}}));
    EXPECT_EQ(data["file_read"], json({{"success", true}, {"data", {{"content", "input text"}}}}));
    EXPECT_EQ(data["file_write"], 1);
    EXPECT_EQ(read_file((dir.path() / "zeno/data/out.txt").string()).value().size(),
              std::string(z.wasm) == "zeno_c" ? 17u : 20u);
    EXPECT_EQ(data["env"], url);
    EXPECT_EQ(data["denied_env"], ""); // denied: absent to the guest
    if (server.running) {
        EXPECT_EQ(data["http"]["success"], true) << data["http"].dump();
        EXPECT_EQ(data["http"]["data"]["status"], 200);
        EXPECT_EQ(data["http"]["data"]["body"], json({{"a", 1}}));
    }
    EXPECT_EQ(h.audit("zeno-x"), std::vector<std::string>{"env SECRET"});
    {
        std::lock_guard lock(h.mutex);
        EXPECT_NE(std::find(h.lines.begin(), h.lines.end(), std::string("zeno-x ") + z.log),
                  h.lines.end());
    }
    ASSERT_TRUE(h.manager->unload("zeno-x"));
    std::lock_guard lock(h.mutex);
    EXPECT_EQ(h.lines.back(), std::string("zeno-x info: ") + z.prefix + " cleanup");
}

TEST_P(Zeno, DeniedImportsAnswerWithoutTrapping) {
    const ZenoFixture& z = GetParam();
    auto wasm = fixture(z.wasm);
    if (wasm.empty()) GTEST_SKIP() << z.wasm << " was not built (no toolchain for it)";
    TempDir dir;
    dir.write("zeno/plugin.wasm", wasm);
    dir.write("zeno/data/in.txt", "input text");
    dir.write("zeno/manifest.yaml", "name: zeno-x\nbinary: plugin.wasm\n");
    Hosted h;
    h.host.add_database("main", (dir.path() / "main.db").string(), true);
    ASSERT_TRUE(h.manager->open(dir.str()));
    CallContext context{R"({"user":"bob"})"};
    auto out = h.manager->call("zeno-x", std::string(z.prefix) + ".host", "{}", context);
    ASSERT_TRUE(out) << out.error().message;
    const json data = json::parse(*out)["data"];
    EXPECT_EQ(data["db"]["success"], false);
    EXPECT_EQ(data["db"]["error"], "zeno-x: database \"main\" is not granted");
    EXPECT_EQ(data["scope_get"]["error"], "zeno-x: scope_read is not granted");
    EXPECT_EQ(data["scope_set"], 0);
    EXPECT_EQ(data["file_read"]["error"], "zeno-x: file_read \"data/in.txt\" is not granted");
    EXPECT_EQ(data["file_write"], 0);
    EXPECT_EQ(data["env"], "");
    EXPECT_EQ(data["http"]["success"], false);
    EXPECT_EQ(context.scope, R"({"user":"bob"})");
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "zeno/data/out.txt"));
    EXPECT_EQ(h.audit("zeno-x"),
              (std::vector<std::string>{"env ZENO_URL", "network ", "database main", "scope_read ",
                                        "scope_write ", "file_read data/in.txt",
                                        "file_write data/out.txt", "env SECRET"}));
}

TEST_P(Zeno, SlotsAreTheHostsSlotsUntilTheInstanceGoes) {
    const ZenoFixture& z = GetParam();
    auto wasm = fixture(z.wasm);
    if (wasm.empty()) GTEST_SKIP() << z.wasm << " was not built (no toolchain for it)";
    TempDir dir;
    dir.write("zeno/plugin.wasm", wasm);
    dir.write("zeno/manifest.yaml", "name: zeno-x\nversion: 1.0.0\nbinary: plugin.wasm\n");
    Hosted h;
    ASSERT_TRUE(h.manager->open(dir.str()));
    Dispatch& d = h.host.dispatch();
    EXPECT_TRUE(d.slots().empty()) << "known only once the plugin runs";
    ASSERT_TRUE(h.manager->load("zeno-x"));
    const std::string greet = std::string(z.prefix) + ".greet";
    const std::string host = std::string(z.prefix) + ".host";
    auto slots = d.slots();
    ASSERT_EQ(slots.size(), 2u);
    EXPECT_EQ(slots[0].plugin, "zeno-x");
    EXPECT_EQ(slots[0].name, greet);
    EXPECT_EQ(slots[0].target, greet);
    EXPECT_EQ(slots[0].description.rfind("Greet someone", 0), 0u) << slots[0].description;
    EXPECT_EQ(json::parse(slots[0].example), greet + " { name: 'World' }");
    EXPECT_EQ(json::parse(slots[0].schema),
              json::parse(R"({"type":"object","properties":{"name":{"type":"string"}},)"
                          R"("required":["name"]})"));
    EXPECT_EQ(slots[1].name, host);
    EXPECT_EQ(slots[1].schema, "") << "no inputs: any parameters";

    auto out = d.call_slot(greet, R"({"name":"World"})");
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(json::parse(*out), json({{"success", true}, {"data", {{"message", z.hello}}}}));
    // The declared inputs are checked before the guest runs.
    auto missing = d.call_slot(greet, "{}");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().kind, ErrorKind::usage);
    EXPECT_EQ(missing.error().message, "slot " + greet + ": input.name: required");
    auto wrong = d.call_slot(greet, R"({"name":7})");
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().message,
              "slot " + greet + ": input.name: expected string, got an integer");

    ASSERT_TRUE(h.manager->unload("zeno-x"));
    EXPECT_TRUE(d.slots().empty());
    auto gone = d.call_slot(greet, R"({"name":"World"})");
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().message, "no slot \"" + greet + "\" is registered");
    // Loaded again, and reloaded (a new instance beside the old one, which then goes), it
    // registers them again.
    ASSERT_TRUE(h.manager->load("zeno-x"));
    EXPECT_EQ(d.slots().size(), 2u);
    ASSERT_TRUE(h.manager->reload("zeno-x"));
    EXPECT_EQ(d.slots().size(), 2u);
    EXPECT_TRUE(d.call_slot(greet, R"({"name":"World"})"));
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Zeno,
                         ::testing::Values(ZenoFixture{"zeno_c", "zc", "Hello, World!", "ann", true,
                                                       "info: zc.host called"},
                                           ZenoFixture{"zeno_rust", "zr", "Hello from Rust, World!",
                                                       "bob", "rust", "warn: zr.host called"}),
                         [](const auto& info) { return std::string(info.param.prefix); });

} // namespace
} // namespace kiln
