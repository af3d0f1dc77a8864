// The families of kiln:host/v1 called by a guest, an Extism-ABI plugin in WAT: kv, db, files,
// env and http granted and denied (each denial with its audit record), and forged handles into
// each function. A handle is the only thing a guest hands these functions (no pointer or
// length into its linear memory): one that names no block reads as an empty argument, so a
// forged one gets the answer an empty argument gets, and the guest's own blocks are untouched.
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

/// A kiln:host/v1 function under test: how many handles it takes, and whether it answers a
/// status (i32) rather than a handle.
struct HostFn {
    const char* name;
    int params;
    bool status;
};
constexpr HostFn functions[] = {
    {"kv_get", 1, false},    {"kv_set", 2, true},    {"kv_delete", 1, true},
    {"kv_list", 1, false},   {"db_query", 1, false}, {"file_read", 1, false},
    {"file_write", 2, true}, {"env_get", 1, false},  {"http_request", 1, false},
};

/// The guest. Export NAME calls the function NAME with the input as its argument (split at its
/// first NUL for a function of two), and outputs the answer; a failure is the call's error,
/// with last_error()'s message. Export forge_NAME passes, as every argument, the handle whose
/// value is the input's first 8 bytes (-2: one inside a block of the guest's; -3: a block it
/// freed), then fails with code 2 if a block of its own (the canary) was changed or freed.
std::string guest() {
    std::string wat;
    for (const HostFn& f : functions)
        wat += host_import(f.name, f.params, f.status, std::string("v1_") + f.name);
    wat += host_import("last_error", 0);
    wat += R"(
  (global $first (mut i64) (i64.const 0))
  (global $second (mut i64) (i64.const 0))
  (global $canary (mut i64) (i64.const 0))
  ;; A new block of the input's bytes [from, to).
  (func $input_block (param $from i64) (param $to i64) (result i64) (local $h i64) (local $i i64)
    (if (i64.ge_u (local.get $from) (local.get $to)) (then (return (i64.const 0))))
    (local.set $h (call $alloc (i64.sub (local.get $to) (local.get $from))))
    (block $done (loop $copy
      (br_if $done (i64.ge_u (local.get $i) (i64.sub (local.get $to) (local.get $from))))
      (call $store_u8 (i64.add (local.get $h) (local.get $i))
        (call $input_load_u8 (i64.add (local.get $from) (local.get $i))))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $copy)))
    (local.get $h))
  ;; $first and $second: the input before and after its first NUL.
  (func $split (local $n i64) (local $at i64)
    (local.set $n (call $input_length))
    (block $found (loop $scan
      (br_if $found (i64.ge_u (local.get $at) (local.get $n)))
      (br_if $found (i32.eqz (call $input_load_u8 (local.get $at))))
      (local.set $at (i64.add (local.get $at) (i64.const 1)))
      (br $scan)))
    (global.set $first (call $input_block (i64.const 0) (local.get $at)))
    (global.set $second (call $input_block (i64.add (local.get $at) (i64.const 1)) (local.get $n))))
  ;; A handle answer: its block as the output; none: last_error() as the error, if any.
  (func $answer (param $h i64) (result i32) (local $e i64)
    (if (i64.ne (local.get $h) (i64.const 0))
      (then (call $out_block (local.get $h)) (return (i32.const 0))))
    (local.set $e (call $last_error))
    (if (i64.eqz (local.get $e)) (then (return (i32.const 0))))
    (call $error_set (local.get $e))
    (i32.const 1))
  ;; A status answer: -1 fails the call with last_error().
  (func $status (param $r i32) (result i32)
    (if (i32.eqz (local.get $r)) (then (return (i32.const 0))))
    (call $error_set (call $last_error))
    (i32.const 1))
  ;; The forged handle the input asks for, after making the canary.
  (func $forged (result i64) (local $v i64) (local $h i64)
    (global.set $canary (call $alloc (i64.const 8)))
    (call $store_u64 (global.get $canary) (i64.const 0x1122334455667788))
    (local.set $v (call $input_load_u64 (i64.const 0)))
    (if (i64.eq (local.get $v) (i64.const -2))
      (then (return (i64.add (global.get $canary) (i64.const 1)))))
    (if (i64.eq (local.get $v) (i64.const -3))
      (then (local.set $h (call $alloc (i64.const 4)))
            (call $free (local.get $h))
            (return (local.get $h))))
    (local.get $v))
  (func $canary_ok (result i32)
    (i32.and (i64.eq (call $length (global.get $canary)) (i64.const 8))
             (i64.eq (call $load_u64 (global.get $canary)) (i64.const 0x1122334455667788))))
)";
    for (const HostFn& f : functions) {
        const std::string name = f.name;
        const std::string answer = f.status ? "$status" : "$answer";
        const std::string result = f.status ? "i32" : "i64";
        const std::string args =
            f.params == 1 ? "(call $input_offset)" : "(global.get $first) (global.get $second)";
        const std::string forged =
            f.params == 1 ? "(local.get $f)" : "(local.get $f) (local.get $f)";
        wat += "  (func (export \"" + name + "\") (result i32)\n    " +
               (f.params == 2 ? "(call $split) " : "") + "(call " + answer + " (call $v1_" + name +
               " " + args + ")))\n";
        wat += "  (func (export \"forge_" + name + "\") (result i32) (local $f i64) (local $r " +
               result + ")\n    (local.set $f (call $forged))\n    (local.set $r (call $v1_" +
               name + " " + forged + "))\n" +
               "    (if (i32.eqz (call $canary_ok)) (then (return (i32.const 2))))\n" +
               "    (call " + answer + " (local.get $r)))\n";
    }
    return wat;
}

/// A call's outcome as one string: "ok: OUTPUT" or "error: MESSAGE".
std::string outcome(const Result<std::string>& r) {
    return r ? "ok: " + *r : "error: " + r.error().message;
}

/// Two arguments as the guest's two-argument exports take them.
std::string pair(const std::string& a, const std::string& b) {
    return a + std::string(1, '\0') + b;
}

/// A manager over `dir` whose host knows the variable GREETING and the database "main" (a table
/// `t(id, name)` holding ann and bob), with plugin `name` granted `permissions` (kiln.yaml).
struct Families {
    TempDir dir;
    JsonServer server;
    std::unique_ptr<Hosted> h;

    explicit Families(const std::string& name, const std::string& permissions) {
        HostOptions options;
        options.state_path = (dir.path() / "state.db").string();
        options.getenv = [](const std::string& var) -> std::optional<std::string> {
            if (var == "GREETING") return "hello";
            return std::nullopt;
        };
        h = std::make_unique<Hosted>(options);
        const std::string db = (dir.path() / "main.db").string();
        h->host.add_database("main", db, true);
        Permissions rw;
        rw.databases = {"rw:main"};
        hostfns::HostContext setup(h->host.impl()->services, "setup", rw, dir.str(), nullptr);
        for (const char* sql : {"CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)",
                                "INSERT INTO t(name) VALUES ('ann'), ('bob')"})
            EXPECT_TRUE(hostfns::db_query(setup, json{{"connection", "main"}, {"sql", sql}}));
        dir.write(name + "/data/in.txt", "input text");
        write_plugin(dir, name, kiln_yaml(name, "1.0.0", permissions), guest());
        EXPECT_TRUE(h->manager->open(dir.str()));
    }
    std::string call(const std::string& plugin, const std::string& fn, const std::string& input) {
        return outcome(h->manager->call(plugin, fn, input));
    }
    std::string http_request() const {
        return json{{"method", "GET"}, {"url", server.url()}}.dump();
    }
};

constexpr const char* all_granted = R"(permissions:
  kv: [read, write]
  database: ["rw:main"]
  filesystem: ["rw:data"]
  env: [GREETING]
  network: ["http://127.0.0.1:*"]
)";

TEST(HostV1Guest, EveryFamilyGranted) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    Families f("granted", all_granted);
    EXPECT_EQ(f.call("granted", "kv_set", pair("user:1", "ann")), "ok: ");
    EXPECT_EQ(f.call("granted", "kv_set", pair("user:2", "bob")), "ok: ");
    EXPECT_EQ(f.call("granted", "kv_get", "user:1"), "ok: ann");
    EXPECT_EQ(f.call("granted", "kv_list", "user:"), R"(ok: ["user:1","user:2"])");
    EXPECT_EQ(f.call("granted", "kv_delete", "user:1"), "ok: ");
    EXPECT_EQ(f.call("granted", "kv_get", "user:1"), "ok: ") << "absent: no answer, no error";
    EXPECT_EQ(f.call("granted", "kv_list", ""), R"(ok: ["user:2"])");

    EXPECT_EQ(f.call("granted", "db_query",
                     R"({"connection":"main","sql":"SELECT name FROM t WHERE id = :id",)"
                     R"("params":{"id":2}})"),
              R"(ok: {"rows":[{"name":"bob"}]})");
    EXPECT_EQ(f.call("granted", "db_query",
                     R"j({"connection":"main","sql":"INSERT INTO t(name) VALUES (?)",)j"
                     R"("params":["cy"]})"),
              R"(ok: {"changes":1,"last_insert_rowid":3})");

    EXPECT_EQ(f.call("granted", "file_read", "data/in.txt"), "ok: input text");
    EXPECT_EQ(f.call("granted", "file_write", pair("data/out.txt", "from the guest")), "ok: ");
    EXPECT_EQ(read_file((f.dir.path() / "granted/data/out.txt").string()).value().size(), 14u);
    EXPECT_EQ(f.call("granted", "file_read", "data/out.txt"), "ok: from the guest");

    EXPECT_EQ(f.call("granted", "env_get", "GREETING"), "ok: hello");

    if (f.server.running) {
        const std::string http = f.call("granted", "http_request", f.http_request());
        ASSERT_EQ(http.rfind("ok: ", 0), 0u) << http;
        const json response = json::parse(http.substr(4));
        EXPECT_EQ(response["status"], 200);
        EXPECT_EQ(response["body"], json({{"a", 1}}));
    }
    EXPECT_TRUE(f.h->audit("granted").empty());
}

TEST(HostV1Guest, EveryFamilyDeniedWithItsAuditRecord) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    Families f("ungranted", "");
    EXPECT_EQ(f.call("ungranted", "kv_set", pair("k", "v")),
              "error: ungranted: kv_write is not granted");
    EXPECT_EQ(f.call("ungranted", "kv_get", "k"), "error: ungranted: kv_read is not granted");
    EXPECT_EQ(f.call("ungranted", "kv_delete", "k"), "error: ungranted: kv_write is not granted");
    EXPECT_EQ(f.call("ungranted", "kv_list", ""), "error: ungranted: kv_read is not granted");
    EXPECT_EQ(f.call("ungranted", "db_query", R"({"connection":"main","sql":"DELETE FROM t"})"),
              "error: ungranted: database \"main\" is not granted");
    EXPECT_EQ(f.call("ungranted", "file_read", "data/in.txt"),
              "error: ungranted: file_read \"data/in.txt\" is not granted");
    EXPECT_EQ(f.call("ungranted", "file_write", pair("data/out.txt", "x")),
              "error: ungranted: file_write \"data/out.txt\" is not granted");
    // A denied variable is absent to the guest, and denied in the audit log.
    EXPECT_EQ(f.call("ungranted", "env_get", "GREETING"), "ok: ");
    const std::string url = f.server.url();
    EXPECT_EQ(f.call("ungranted", "http_request", f.http_request()),
              "error: ungranted: network \"" + url + "\" is not granted");
    EXPECT_FALSE(std::filesystem::exists(f.dir.path() / "ungranted/data/out.txt"));
    EXPECT_EQ(
        f.h->audit("ungranted"),
        (std::vector<std::string>{"kv_write ", "kv_read ", "kv_write ", "kv_read ", "database main",
                                  "file_read data/in.txt", "file_write data/out.txt",
                                  "env GREETING", "network " + url}));
    // Nothing the denied calls asked for happened: the rows are all there.
    Permissions read;
    read.databases = {"main"};
    hostfns::HostContext check(f.h->host.impl()->services, "check", read, f.dir.str(), nullptr);
    auto rows = hostfns::db_query(
        check, json{{"connection", "main"}, {"sql", "SELECT count(*) AS n FROM t"}});
    ASSERT_TRUE(rows);
    EXPECT_EQ((*rows)["rows"][0]["n"], 2);
}

TEST(HostV1Hostile, ForgedHandlesIntoEveryFunction) {
    if (!plugin_test::have_wat2wasm()) GTEST_SKIP() << "wat2wasm not installed";
    Families f("forger", all_granted);
    ASSERT_EQ(f.call("forger", "kv_set", pair("kept", "value")), "ok: ");
    // What an empty argument gets from each function (every argument empty).
    const std::map<std::string, std::string> empty = {
        {"kv_get", "error: kv_get: the key is empty"},
        {"kv_set", "error: kv_set: the key is empty"},
        {"kv_delete", "error: kv_delete: the key is empty"},
        {"kv_list", R"(ok: ["kept"])"},
        {"db_query", "error: db_query: the request is not a JSON object"},
        {"file_read", "error: file_read: the path is empty"},
        {"file_write", "error: file_write: the path is empty"},
        {"env_get", "ok: "},
        {"http_request", "error: http_request: the request is not a JSON object"},
    };
    // Null, far past every block, the top of the address space and past it, inside a block of
    // the guest's, a block the guest freed. (1 is no forgery: the input's block is there.)
    const uint64_t forged[] = {0,
                               uint64_t(1) << 40,
                               uint64_t(1) << 62,
                               ~uint64_t(0) >> 1,
                               ~uint64_t(0),
                               uint64_t(-2),
                               uint64_t(-3)};
    for (const HostFn& fn : functions) {
        const std::string expected = empty.at(fn.name);
        EXPECT_EQ(f.call("forger", fn.name, fn.params == 2 ? pair("", "") : ""), expected)
            << fn.name;
        for (uint64_t handle : forged) {
            std::string input(8, '\0');
            for (int i = 0; i < 8; ++i)
                input[i] = char(handle >> (8 * i));
            EXPECT_EQ(f.call("forger", std::string("forge_") + fn.name, input), expected)
                << fn.name << " with handle " << handle;
        }
    }
    // The host is intact: the guest's state, its other functions, its audit log.
    EXPECT_EQ(f.call("forger", "kv_get", "kept"), "ok: value");
    EXPECT_EQ(f.call("forger", "file_read", "data/in.txt"), "ok: input text");
    EXPECT_TRUE(f.h->audit("forger").empty());
}

} // namespace
} // namespace kiln
