// Package manifests: one schema in YAML, TOML and JSON; Zeno's and Spacedrive's manifests as
// they are; every error naming the file and the field; config resolution and config_schema.
#include "manager_test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace kiln {
namespace {

using manager_test::TempDir;

const char* const full_yaml = R"(name: greeter
version: 1.2.3-beta.1
description: says hello
author: Kiln
license: MIT
homepage: https://example.com
wasm: plugin.wasm
abi: extism
requires:
  kiln: ">=0.1"
  base: ^1.0
permissions:
  network: ["*.example.com", "https://api.x.com/*"]
  filesystem: [data, "rw:cache"]
  env: [HOME, TOKEN]
  database: [main]
  kv: [read, write]
  scope: [read]
  events: {publish: [greet.*], subscribe: [tick]}
  operations: ["query:"]
  ui: true
  jobs: 2
  rate_limit: 60
limits:
  memory: 2 MiB
  timeout: 5s
  fuel: 1000000
  http_response: 1KiB
  vars: 4096
config:
  greeting: hello
  token: ${TOKEN:-none}
contributes:
  commands: [{id: greet, title: Greet someone, export: greet}]
  slots: [greeter.say]
  ui: [{id: card, name: Greeting card}]
)";

const char* const full_toml = R"(name = "greeter"
version = "1.2.3-beta.1"
description = "says hello"
author = "Kiln"
license = "MIT"
homepage = "https://example.com"
wasm = "plugin.wasm"
abi = "extism"
[requires]
kiln = ">=0.1"
base = "^1.0"
[permissions]
network = ["*.example.com", "https://api.x.com/*"]
filesystem = ["data", "rw:cache"]
env = ["HOME", "TOKEN"]
database = ["main"]
kv = ["read", "write"]
scope = ["read"]
events = {publish = ["greet.*"], subscribe = ["tick"]}
operations = ["query:"]
ui = true
jobs = 2
rate_limit = 60
[limits]
memory = "2 MiB"
timeout = "5s"
fuel = 1000000
http_response = "1KiB"
vars = 4096
[config]
greeting = "hello"
token = "${TOKEN:-none}"
[contributes]
commands = [{id = "greet", title = "Greet someone", export = "greet"}]
slots = ["greeter.say"]
ui = [{id = "card", name = "Greeting card"}]
)";

const char* const full_json = R"({"name": "greeter", "version": "1.2.3-beta.1",
 "description": "says hello", "author": "Kiln", "license": "MIT",
 "homepage": "https://example.com", "wasm": "plugin.wasm", "abi": "extism",
 "requires": {"kiln": ">=0.1", "base": "^1.0"},
 "permissions": {"network": ["*.example.com", "https://api.x.com/*"],
   "filesystem": ["data", "rw:cache"], "env": ["HOME", "TOKEN"], "database": ["main"],
   "kv": ["read", "write"], "scope": ["read"],
   "events": {"publish": ["greet.*"], "subscribe": ["tick"]}, "operations": ["query:"],
   "ui": true, "jobs": 2, "rate_limit": 60},
 "limits": {"memory": "2 MiB", "timeout": "5s", "fuel": 1000000, "http_response": "1KiB",
   "vars": 4096},
 "config": {"greeting": "hello", "token": "${TOKEN:-none}"},
 "contributes": {"commands": [{"id": "greet", "title": "Greet someone", "export": "greet"}],
   "slots": ["greeter.say"], "ui": [{"id": "card", "name": "Greeting card"}]}})";

void expect_full(const PackageManifest& m) {
    EXPECT_EQ(m.dialect, PackageManifest::Dialect::kiln);
    EXPECT_EQ(m.name, "greeter");
    EXPECT_EQ(m.version.to_string(), "1.2.3-beta.1");
    EXPECT_EQ(m.description, "says hello");
    EXPECT_EQ(m.license, "MIT");
    EXPECT_EQ(m.abi, PluginAbi::extism);
    ASSERT_EQ(m.wasm.size(), 1u);
    EXPECT_EQ(std::filesystem::path(std::get<Manifest::WasmFile>(m.wasm[0].source).path),
              std::filesystem::path(m.folder) / "plugin.wasm");
    ASSERT_TRUE(m.requires_kiln);
    EXPECT_EQ(m.requires_kiln->text, ">=0.1");
    ASSERT_EQ(m.dependencies.count("base"), 1u);
    EXPECT_TRUE(m.dependencies.at("base").matches(Version{1, 4, 0, {}, {}}));
    const Permissions& p = m.permissions;
    EXPECT_EQ(p.network, (std::vector<std::string>{"*.example.com", "https://api.x.com/*"}));
    EXPECT_EQ(p.filesystem, (std::vector<Permissions::Path>{{"data", false}, {"cache", true}}));
    EXPECT_EQ(p.env, (std::vector<std::string>{"HOME", "TOKEN"}));
    EXPECT_EQ(p.databases, std::vector<std::string>{"main"});
    EXPECT_TRUE(p.kv_read && p.kv_write && p.scope_read && p.ui);
    EXPECT_FALSE(p.scope_write);
    EXPECT_EQ(p.publish, std::vector<std::string>{"greet.*"});
    EXPECT_EQ(p.subscribe, std::vector<std::string>{"tick"});
    EXPECT_EQ(p.operations, std::vector<std::string>{"query:"});
    EXPECT_EQ(p.max_concurrent_jobs, 2u);
    EXPECT_EQ(p.calls_per_minute, 60u);
    EXPECT_EQ(m.limits.memory_bytes, 2u << 20);
    EXPECT_EQ(m.limits.timeout_ms, 5000u);
    EXPECT_EQ(m.limits.fuel, 1000000u);
    EXPECT_EQ(m.limits.http_response_bytes, 1024u);
    EXPECT_EQ(m.limits.var_bytes, 4096u);
    EXPECT_EQ(m.config.at("token"), "${TOKEN:-none}");
    ASSERT_EQ(m.contributes.size(), 3u);
    EXPECT_EQ(m.contributes[0].kind, Contribution::Kind::slot);
    EXPECT_EQ(m.contributes[0].id, "greeter.say");
    EXPECT_EQ(m.contributes[1].kind, Contribution::Kind::command);
    EXPECT_EQ(m.contributes[1].title, "Greet someone");
    EXPECT_EQ(m.contributes[1].export_name, "greet");
    EXPECT_EQ(m.contributes[2].kind, Contribution::Kind::ui);
    EXPECT_TRUE(m.warnings.empty());
}

TEST(PackageManifest, OneSchemaInThreeSyntaxes) {
    TempDir dir;
    dir.write("plugin.wasm", std::string("\0asm\1\0\0\0", 8));
    for (auto [file, text] :
         {std::pair{"kiln.yaml", full_yaml}, {"kiln.toml", full_toml}, {"kiln.json", full_json}}) {
        SCOPED_TRACE(file);
        auto m = PackageManifest::from_file(dir.write(file, text));
        ASSERT_TRUE(m) << m.error().message;
        expect_full(*m);
    }
}

/// The error of reading `text` as kiln.yaml beside an empty module.
std::string yaml_error(const std::string& text, const std::string& file = "kiln.yaml") {
    TempDir dir;
    dir.write("plugin.wasm", std::string("\0asm\1\0\0\0", 8));
    auto m = PackageManifest::from_file(dir.write(file, text));
    EXPECT_FALSE(m) << text;
    if (m) return "";
    const std::string prefix = (dir.path() / file).string() + ": ";
    EXPECT_EQ(m.error().message.rfind(prefix, 0), 0u) << m.error().message;
    return m.error().message.substr(prefix.size());
}

TEST(PackageManifest, ErrorsNameFileFieldAndExpectation) {
    const std::string head = "name: p\nversion: 1.0.0\nwasm: plugin.wasm\n";
    EXPECT_EQ(yaml_error(head + "colour: red\n"), "colour: unknown field");
    EXPECT_EQ(yaml_error(head + "permissions: {netwrk: []}\n"),
              "permissions.netwrk: unknown field");
    EXPECT_EQ(yaml_error(head + "permissions: {network: [1]}\n"),
              "permissions.network[0]: expected a string");
    EXPECT_EQ(yaml_error(head + "permissions: {kv: [delete]}\n"),
              "permissions.kv[0]: expected read or write");
    EXPECT_EQ(yaml_error(head + "limits: {memory: lots}\n"),
              "limits.memory: expected a size: bytes, or a number with B, KiB, MiB, GiB, KB, MB "
              "or GB");
    EXPECT_EQ(yaml_error(head + "limits: {timeout: -1}\n"),
              "limits.timeout: expected a non-negative integer");
    EXPECT_EQ(yaml_error(head + "limits: {timeout: 999999999999999999m}\n"),
              "limits.timeout: too large");
    EXPECT_EQ(yaml_error(head + "config: {n: 1}\n"), "config.n: expected a string");
    EXPECT_EQ(yaml_error(head + "abi: wasi\n"),
              "abi: \"wasi\": expected auto, extism, zeno, spacedrive or reflow");
    EXPECT_EQ(yaml_error(head + "requires: {base: \"^1.q\"}\n"),
              "requires.base: range \"^1.q\": \"1.q\" is not a version");
    EXPECT_EQ(yaml_error(head + "contributes: {commands: [{title: t}]}\n"),
              "contributes.commands[0].id: required");
    EXPECT_EQ(yaml_error("name: p\nversion: 1.0\nwasm: plugin.wasm\n"),
              "version: expected a string");
    EXPECT_EQ(yaml_error("name: p\nversion: \"1.0\"\nwasm: plugin.wasm\n"),
              "version: \"1.0\" is not a semantic version (MAJOR.MINOR.PATCH)");
    EXPECT_EQ(yaml_error("name: My_Plugin\nversion: 1.0.0\nwasm: plugin.wasm\n"),
              "name: \"My_Plugin\": expected [a-z0-9][a-z0-9_.-]*");
    EXPECT_EQ(yaml_error("version: 1.0.0\nwasm: plugin.wasm\n"), "name: required");
    EXPECT_EQ(yaml_error("name: p\nversion: 1.0.0\nwasm: missing.wasm\n").substr(0, 19),
              "wasm: no wasm file ");
    EXPECT_EQ(yaml_error("name: p\nversion: 1.0.0\nwasm: [{path: plugin.wasm, hash: \"12\"}]\n"),
              "wasm[0].hash: expected a sha256 as 64 hex digits");
    EXPECT_EQ(yaml_error("name: p\nversion: [1\n").substr(0, 5), "line ");
    EXPECT_EQ(yaml_error("name = \"p\"\nversion = 1\nwasm = \"plugin.wasm\"\n", "kiln.toml"),
              "version: expected a string");
    // JSON and TOML syntax errors read as the Extism manifest's do: the same walker parses both.
    EXPECT_EQ(yaml_error("{\"name\": \"p\",\n \"version\": }", "kiln.json"),
              "line 2, column 13: syntax error while parsing value - unexpected '}'; expected "
              "'[', '{', or a literal");
    // A number out of a double's range is an error, not an exception (found by fuzz.manifest-json).
    EXPECT_EQ(yaml_error("{\"name\": \"p\", \"x\": 5e818}", "kiln.json").substr(0, 15),
              "not valid JSON:");
    // A TOML date is no string: refused, not read as an unset field.
    EXPECT_EQ(yaml_error("name = \"p\"\nversion = \"1.0.0\"\nwasm = \"plugin.wasm\"\n"
                         "description = 1979-05-27\n",
                         "kiln.toml"),
              "description: expected a string");
    // Non-ASCII outside a TOML string is an error naming where, as toml++ reports it.
    EXPECT_EQ(yaml_error("name = \"p\" \u00e9\n", "kiln.toml").substr(0, 18), "line 1, column 12:");
}

TEST(PackageManifest, EveryProblemIsNamedALineEach) {
    // Each top-level field is read even after another failed; a field stops at its own first
    // problem (contributes' second command is not reached).
    const std::string errors =
        yaml_error("name: Bad Name\ncolour: red\nshade: dark\nlimits: {memory: lots}\n"
                   "contributes: {commands: [{title: t}, {title: u}]}\n");
    EXPECT_EQ(errors.substr(0, errors.find('\n')), "colour: unknown field");
    const std::string file = "kiln.yaml: ";
    auto has = [&](const std::string& problem) {
        return errors.find(problem) != std::string::npos;
    };
    EXPECT_TRUE(has("\n") && has(file + "shade: unknown field\n")) << errors;
    EXPECT_TRUE(has(file + "version: required\n")) << errors;
    EXPECT_TRUE(has(file + "wasm: required\n")) << errors;
    EXPECT_TRUE(has(file + "name: \"Bad Name\": expected [a-z0-9][a-z0-9_.-]*\n")) << errors;
    EXPECT_TRUE(has(file + "limits.memory: expected a size")) << errors;
    EXPECT_TRUE(has(file + "contributes.commands[0].id: required")) << errors;
    EXPECT_FALSE(has("commands[1]")) << errors;
    EXPECT_EQ(std::count(errors.begin(), errors.end(), '\n'), 6) << errors;
}

TEST(PackageManifest, ConcurrentJobsIsAnotherNameOfJobs) {
    TempDir dir;
    dir.write("plugin.wasm", std::string("\0asm\1\0\0\0", 8));
    const std::string head = "name: p\nversion: 1.0.0\nwasm: plugin.wasm\n";
    for (const char* permissions :
         {"permissions: {concurrent_jobs: 3}\n", "permissions: {jobs: 3, concurrent_jobs: 3}\n"}) {
        auto m = PackageManifest::from_file(dir.write("kiln.yaml", head + permissions));
        ASSERT_TRUE(m) << m.error().message;
        EXPECT_EQ(m->permissions.max_concurrent_jobs, 3u) << permissions;
        EXPECT_TRUE(m->warnings.empty());
    }
    auto json = PackageManifest::from_file(
        dir.write("kiln.json",
                  R"({"name": "p", "version": "1.0.0", "wasm": "plugin.wasm",
            "permissions": {"concurrent_jobs": 5}})"));
    ASSERT_TRUE(json) << json.error().message;
    EXPECT_EQ(json->permissions.max_concurrent_jobs, 5u);
    EXPECT_EQ(yaml_error(head + "permissions: {jobs: 3, concurrent_jobs: 4}\n"),
              "permissions.concurrent_jobs: 4 differs from permissions.jobs (3): give one of them");
    EXPECT_EQ(yaml_error(head + "permissions: {concurrent_jobs: -1}\n"),
              "permissions.concurrent_jobs: expected a non-negative integer");
    EXPECT_EQ(yaml_error(head + "permissions: {concurrent_jobs: 4294967296}\n"),
              "permissions.concurrent_jobs: too large");
}

TEST(PackageManifest, TomlKeepsNonAsciiText) {
    // toml++ is given guarded text (plugin/toml_guard.hpp); keys and values come back as written.
    TempDir dir;
    dir.write("plugin.wasm", std::string("\0asm\1\0\0\0", 8));
    auto m = PackageManifest::from_file(dir.write(
        "kiln.toml",
        "name = \"p\"\nversion = \"1.0.0\"\nwasm = \"plugin.wasm\"\n"
        "description = \"caf\u00e9 \u0436\u00a0\ufeff\"\n[config]\n\"cl\u00e9\" = \"\u00a7\"\n"));
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->description, "caf\u00e9 \u0436\u00a0\ufeff");
    EXPECT_EQ(m->config.at("cl\u00e9"), "\u00a7");
}

TEST(PackageManifest, LinksToOtherPluginsByName) {
    TempDir dir;
    dir.write("plugin.wasm", std::string("\0asm\1\0\0\0", 8));
    auto m = PackageManifest::from_file(dir.write(
        "kiln.yaml", "name: app\nversion: 1.0.0\nwasm:\n  - {plugin: mathlib, version: \"^1\"}\n"
                     "  - {plugin: strings, name: str}\n  - plugin.wasm\n"));
    ASSERT_TRUE(m) << m.error().message;
    ASSERT_EQ(m->links.size(), 2u);
    EXPECT_EQ(m->links[0].plugin, "mathlib");
    EXPECT_EQ(m->links[0].module, "mathlib");
    EXPECT_EQ(m->links[0].range.text, "^1");
    EXPECT_EQ(m->links[1].module, "str");
    EXPECT_EQ(m->links[1].range.text, "*");
    ASSERT_EQ(m->wasm.size(), 1u);

    const std::string head = "name: app\nversion: 1.0.0\n";
    EXPECT_EQ(yaml_error(head + "wasm: [{plugin: Math}, plugin.wasm]\n"),
              "wasm[0].plugin: \"Math\": expected a plugin name, [a-z0-9][a-z0-9_.-]*");
    EXPECT_EQ(yaml_error(head + "wasm: [{plugin: m, hash: x}, plugin.wasm]\n"),
              "wasm[0].hash: unknown field");
    EXPECT_EQ(yaml_error(head + "wasm: [{plugin: m, version: \"^1.q\"}, plugin.wasm]\n"),
              "wasm[0].version: range \"^1.q\": \"1.q\" is not a version");
    EXPECT_EQ(yaml_error(head + "wasm: [{plugin: m, name: main}, plugin.wasm]\n"),
              "wasm[0].name: \"main\": expected a module name other than main");
    EXPECT_EQ(yaml_error(head + "wasm: [{plugin: app}, plugin.wasm]\n"),
              "wasm[0].plugin: a plugin cannot link itself");
    EXPECT_EQ(yaml_error(head + "wasm: [{plugin: m}]\n"),
              "wasm: expected a module of this plugin's own besides the plugins it links");
    // A source after a link is named by its own position.
    EXPECT_EQ(yaml_error(head + "wasm: [{plugin: m}, {path: plugin.wasm, hash: \"12\"}]\n"),
              "wasm[1].hash: expected a sha256 as 64 hex digits");
    EXPECT_EQ(yaml_error(head + "wasm: [{plugin: m}, missing.wasm]\n").substr(0, 23),
              "wasm[1]: no wasm file /");
}

TEST(PackageManifest, ZenoManifestReadAsZenoReadsIt) {
    TempDir dir;
    dir.write("hello.wasm", std::string("\0asm\1\0\0\0", 8));
    auto m = PackageManifest::from_file(dir.write("manifest.yaml", R"(name: hello-rust
type: wasm
author: ZenoEngine Team
description: Hello World plugin written in Rust
license: MIT
binary: hello.wasm
requires: {zeno: ">=0.3.0"}
permissions:
  scope: [read, write]
  network: ["https://api.x.com/*"]
  filesystem: [data]
  database: [main]
  env: [STRIPE_API_KEY]
config:
  api_key: {type: string, required: true, env: STRIPE_API_KEY}
slots:
  - name: hello.say
)"));
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->dialect, PackageManifest::Dialect::zeno);
    EXPECT_EQ(m->abi, PluginAbi::zeno);
    EXPECT_EQ(m->name, "hello-rust");
    EXPECT_EQ(m->version.to_string(), "0.0.0");
    EXPECT_FALSE(m->requires_kiln);
    EXPECT_TRUE(m->dependencies.empty());
    EXPECT_TRUE(m->permissions.scope_read && m->permissions.scope_write);
    EXPECT_EQ(m->permissions.filesystem, (std::vector<Permissions::Path>{{"data", true}}));
    EXPECT_EQ(m->permissions.databases, std::vector<std::string>{"main"});
    EXPECT_TRUE(allows(m->permissions, Permission::network, "https://api.x.com/v1/charge"));
    EXPECT_FALSE(allows(m->permissions, Permission::network, "https://evil.com/"));
    EXPECT_TRUE(m->config.empty());
    ASSERT_EQ(m->warnings.size(), 2u);
    EXPECT_NE(m->warnings[0].find("config: kept"), std::string::npos) << m->warnings[0];
    EXPECT_NE(m->warnings[1].find("slots: kept"), std::string::npos) << m->warnings[1];
    EXPECT_NE(m->foreign.find("\"slots\""), std::string::npos);

    auto sidecar = PackageManifest::from_file(
        dir.write("z/manifest.yaml", "name: s\ntype: sidecar\nbinary: ../hello.wasm\n"));
    ASSERT_FALSE(sidecar);
    EXPECT_NE(sidecar.error().message.find("manifest.yaml: type: a sidecar plugin"),
              std::string::npos);
    auto no_binary = PackageManifest::from_file(dir.write("y/manifest.yaml", "name: s\n"));
    ASSERT_FALSE(no_binary);
    EXPECT_NE(no_binary.error().message.find("manifest.yaml: binary: required"), std::string::npos);
}

TEST(PackageManifest, SpacedriveManifestNamedByItsId) {
    TempDir dir;
    dir.write("test_extension.wasm", std::string("\0asm\1\0\0\0", 8));
    auto m = PackageManifest::from_file(dir.write("manifest.json", R"({"id":"test-extension",
 "name":"Test Extension","version":"0.1.0","description":"d","author":"Spacedrive Team",
 "homepage":"https://spacedrive.com","wasm_file":"test_extension.wasm",
 "permissions":{"methods":["query:","action:"],"libraries":["*"],
   "rate_limits":{"requests_per_minute":1000,"concurrent_jobs":10},
   "network_access":[],"max_memory_mb":256}})"));
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->dialect, PackageManifest::Dialect::spacedrive);
    EXPECT_EQ(m->abi, PluginAbi::spacedrive);
    EXPECT_EQ(m->name, "test-extension");
    EXPECT_EQ(m->version.to_string(), "0.1.0");
    EXPECT_TRUE(allows(m->permissions, Permission::operation, "query:files.list"));
    EXPECT_FALSE(allows(m->permissions, Permission::operation, "delete:all"));
    EXPECT_TRUE(allows(m->permissions, Permission::library, "any-library"));
    EXPECT_EQ(m->permissions.calls_per_minute, 1000u);
    EXPECT_EQ(m->permissions.max_concurrent_jobs, 10u);
    EXPECT_TRUE(m->permissions.network.empty());
    EXPECT_EQ(m->limits.memory_bytes, 256u << 20);
    ASSERT_EQ(m->warnings.size(), 1u); // the display name
    EXPECT_NE(m->foreign.find("Test Extension"), std::string::npos);

    auto missing = PackageManifest::from_file(dir.write("b/manifest.json", R"({"id":"x",
 "name":"X","version":"0.1.0","description":"d","author":"a","wasm_file":"../test_extension.wasm",
 "permissions":{}})"));
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("manifest.json: permissions.methods: required"),
              std::string::npos)
        << missing.error().message;
}

TEST(PackageManifest, ManifestJsonWithWasmIsExtisms) {
    TempDir dir;
    dir.write("e.wasm", std::string("\0asm\1\0\0\0", 8));
    auto m = PackageManifest::from_file(dir.write(
        "manifest.json",
        R"({"wasm":[{"path":"e.wasm"}],"allowed_hosts":["a.com"],"config":{"k":"${X}"}})"));
    ASSERT_TRUE(m) << m.error().message;
    EXPECT_EQ(m->dialect, PackageManifest::Dialect::extism);
    EXPECT_EQ(m->version.to_string(), "0.0.0");
    EXPECT_EQ(m->permissions.network, std::vector<std::string>{"a.com"});
    auto extism = m->to_extism([](const std::string&) { return std::nullopt; });
    ASSERT_TRUE(extism);
    EXPECT_EQ(extism->config.at("k"), "${X}"); // Extism's config is literal
}

TEST(PackageManifest, ConfigResolvesOnlyPermittedVariables) {
    TempDir dir;
    dir.write("plugin.wasm", std::string("\0asm\1\0\0\0", 8));
    auto env = [](const std::string& name) -> std::optional<std::string> {
        if (name == "TOKEN") return "s3cret";
        if (name == "HOME") return "/home/k";
        return std::nullopt;
    };
    auto read = [&](const std::string& config) {
        return PackageManifest::from_file(dir.write(
            "kiln.yaml", "name: p\nversion: 1.0.0\nwasm: plugin.wasm\npermissions: {env: [TOKEN, "
                         "REGION]}\nconfig:\n" +
                             config));
    };
    auto m = read("  a: \"key=${TOKEN}\"\n  b: \"${REGION:-eu}\"\n  c: plain\n");
    ASSERT_TRUE(m) << m.error().message;
    auto config = m->resolve_config(env);
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->at("a"), "key=s3cret");
    EXPECT_EQ(config->at("b"), "eu");
    EXPECT_EQ(config->at("c"), "plain");

    m = read("  a: ${HOME}\n");
    ASSERT_TRUE(m);
    config = m->resolve_config(env);
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().message, "config.a: ${HOME}: the variable is not in permissions.env");

    m = read("  a: ${REGION}\n");
    ASSERT_TRUE(m);
    config = m->resolve_config(env);
    ASSERT_FALSE(config);
    EXPECT_EQ(config.error().message,
              "config.a: environment variable REGION is not set (write ${REGION:-DEFAULT} for a "
              "default)");
}

TEST(PackageManifest, ConfigSchemaSubset) {
    TempDir dir;
    dir.write("plugin.wasm", std::string("\0asm\1\0\0\0", 8));
    auto read = [&](const std::string& config, const std::string& schema) {
        return PackageManifest::from_file(
            dir.write("kiln.json", R"({"name":"p","version":"1.0.0","wasm":"plugin.wasm",)"
                                   R"("config":)" +
                                       config + R"(,"config_schema":)" + schema + "}"));
    };
    const std::string schema = R"({"type":"object","required":["mode"],"properties":{
        "mode":{"type":"string","enum":["fast","safe"]},
        "retries":{"type":"integer","minimum":0,"maximum":5,"default":3},
        "tags":{"type":"array","items":{"type":"string"}}}})";
    auto none = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    auto m = read(R"({"mode":"fast","tags":"[\"a\",\"b\"]"})", schema);
    ASSERT_TRUE(m) << m.error().message;
    auto config = m->resolve_config(none);
    ASSERT_TRUE(config) << config.error().message;
    EXPECT_EQ(config->at("retries"), "3"); // the default

    auto fails = [&](const std::string& cfg, const std::string& message) {
        auto p = read(cfg, schema);
        ASSERT_TRUE(p) << p.error().message;
        auto c = p->resolve_config(none);
        ASSERT_FALSE(c) << cfg;
        EXPECT_EQ(c.error().message, message);
    };
    fails(R"({"mode":"slow"})", R"(config.mode: expected one of ["fast","safe"])");
    fails(R"({"mode":"fast","retries":"9"})", "config.retries: expected at most 5");
    fails(R"({"mode":"fast","retries":"many"})", "config.retries: \"many\" is not an integer");
    fails(R"({"mode":"fast","tags":"[1]"})", "config.tags[0]: expected string, got an integer");
    fails(R"({})", "config.mode: required");

    auto bad = read("{}", R"({"type":"object","patternProperties":{}})");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find(
                  "kiln.json: config_schema.patternProperties: not in Kiln's config_schema subset"),
              std::string::npos)
        << bad.error().message;
    bad = read("{}", R"({"type":"thing"})");
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().message.find("config_schema.type: expected one of"), std::string::npos);
}

TEST(PackageManifest, ToExtismMapsPermissionsAndLimits) {
    TempDir dir;
    dir.write("plugin.wasm", std::string("\0asm\1\0\0\0", 8));
    std::filesystem::create_directories(dir.path() / "data");
    auto m = PackageManifest::from_file(dir.write("kiln.yaml", R"(name: p
version: 1.0.0
wasm: plugin.wasm
permissions:
  network: ["https://api.x.com/*", "*.example.com"]
  filesystem: [data, "rw:absent"]
limits: {memory: 100000, timeout: 250ms, fuel: 7, vars: 10}
)"));
    ASSERT_TRUE(m) << m.error().message;
    auto e = m->to_extism([](const std::string&) { return std::nullopt; });
    ASSERT_TRUE(e) << e.error().message;
    EXPECT_EQ(e->name, "p");
    EXPECT_EQ(e->allowed_hosts, (std::vector<std::string>{"api.x.com", "*.example.com"}));
    ASSERT_EQ(e->allowed_paths.size(), 1u); // a folder that does not exist is not granted
    EXPECT_EQ(e->allowed_paths[0].guest, "/data");
    EXPECT_TRUE(e->allowed_paths[0].read_only);
    EXPECT_EQ(e->max_pages, 2u);
    EXPECT_EQ(e->timeout_ms, 250u);
    EXPECT_EQ(e->fuel, 7u);
    EXPECT_EQ(e->max_var_bytes, 10u);
}

TEST(Version, ParsesAndOrdersAsSemverSays) {
    auto v = [](const char* s) { return Version::parse(s).value(); };
    EXPECT_LT(v("1.0.0-alpha"), v("1.0.0-alpha.1"));
    EXPECT_LT(v("1.0.0-alpha.1"), v("1.0.0-alpha.beta"));
    EXPECT_LT(v("1.0.0-beta.2"), v("1.0.0-beta.11"));
    EXPECT_LT(v("1.0.0-rc.1"), v("1.0.0"));
    EXPECT_LT(v("1.9.0"), v("1.10.0"));
    EXPECT_EQ(v("1.0.0+build.5"), v("1.0.0"));
    EXPECT_EQ(v("1.2.3-rc.1+b7").to_string(), "1.2.3-rc.1+b7");
    for (const char* bad : {"1.0", "01.0.0", "1.0.0-", "1.0.0-01", "a.b.c", "1.0.0.0", ""})
        EXPECT_FALSE(Version::parse(bad)) << bad;
}

TEST(VersionRange, Operators) {
    auto in = [](const char* range, const char* version) {
        auto r = VersionRange::parse(range);
        EXPECT_TRUE(r) << range;
        return r && r->matches(Version::parse(version).value());
    };
    EXPECT_TRUE(in(">=0.2", "0.2.0"));
    EXPECT_TRUE(in(">=0.2", "1.0.0"));
    EXPECT_FALSE(in(">=0.2", "0.1.9"));
    EXPECT_TRUE(in("^1.2", "1.9.0"));
    EXPECT_FALSE(in("^1.2", "2.0.0"));
    EXPECT_FALSE(in("^0.2.3", "0.3.0"));
    EXPECT_TRUE(in("^0.2.3", "0.2.9"));
    EXPECT_TRUE(in("~1.2.3", "1.2.9"));
    EXPECT_FALSE(in("~1.2.3", "1.3.0"));
    EXPECT_TRUE(in("1.2", "1.2.7"));
    EXPECT_FALSE(in("1.2", "1.3.0"));
    EXPECT_TRUE(in(">=1, <2", "1.5.0"));
    EXPECT_FALSE(in(">= 1 < 2", "2.0.0"));
    EXPECT_TRUE(in("1.x || >=3", "3.1.0"));
    EXPECT_FALSE(in("1.x || >=3", "2.1.0"));
    EXPECT_TRUE(in("*", "0.0.1"));
    EXPECT_FALSE(in(">=1.0.0", "2.0.0-rc.1")); // pre-releases only when named
    EXPECT_TRUE(in(">=2.0.0-rc.0", "2.0.0-rc.1"));
    EXPECT_FALSE(VersionRange::parse(">=a.b"));
    EXPECT_FALSE(VersionRange::parse("1.0 ||"));
}

} // namespace
} // namespace kiln
