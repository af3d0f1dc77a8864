// The db family: parameters by name and position, read-only unless granted write (and the host
// lets it), grants and denials with their audit records, the row limit, the call's deadline,
// and SQL that would reach beyond the database (ATTACH, PRAGMA, VACUUM INTO, several
// statements) or injection through parameters.
#include "hostfns_test_util.hpp"

#include "hostfns/db.hpp"
#include "hostfns/families.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace kiln {
namespace {

using namespace hostfns_test;
using namespace hostfns;

/// A family whose database "main" (a file with a table `t(id, name)` holding ann and bob) is
/// granted as `grant` ("main" or "rw:main"); "main" is writable by the host unless `readonly`.
struct Db : Family {
    explicit Db(const std::string& grant, bool readonly = false, HostOptions o = {})
        : Family(permissions(grant), std::move(o)) {
        path = (dir.path() / "main.db").string();
        services->databases->add("main", path, true);
        HostContext setup(services, "setup", permissions("rw:main"), dir.str(), nullptr);
        for (const char* sql : {"CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)",
                                "INSERT INTO t(name) VALUES ('ann'), ('bob')"})
            EXPECT_EQ(error_of(db_query(setup, json{{"connection", "main"}, {"sql", sql}})), "ok");
        if (readonly) services->databases->add("main", path, false);
    }
    static Permissions permissions(const std::string& grant) {
        Permissions p;
        p.databases = {grant};
        return p;
    }
    Result<json> run(const std::string& sql, json params = nullptr) {
        json request{{"connection", "main"}, {"sql", sql}};
        if (!params.is_null()) request["params"] = std::move(params);
        return db_query(*ctx, request);
    }
    std::string path;
};

TEST(HostDb, QueriesWithParametersByNameAndPosition) {
    Db db("main");
    auto rows = db.run("SELECT id, name FROM t WHERE name = :name", json{{"name", "bob"}});
    ASSERT_TRUE(rows) << rows.error().message;
    EXPECT_EQ(rows->dump(), R"({"rows":[{"id":2,"name":"bob"}]})");
    rows = db.run("SELECT name FROM t WHERE id > ? AND name <> ? ORDER BY id", json{0, "bob"});
    ASSERT_TRUE(rows) << rows.error().message;
    EXPECT_EQ(rows->dump(), R"({"rows":[{"name":"ann"}]})");
    // The sigil may be written in the key; @name and $name bind the same way.
    rows = db.run("SELECT @a + $b AS sum, :c IS NULL AS c",
                  json{{"@a", 1}, {"b", 2.5}, {"c", nullptr}});
    ASSERT_TRUE(rows) << rows.error().message;
    EXPECT_EQ(rows->dump(), R"({"rows":[{"c":1,"sum":3.5}]})");
    rows = db.run("SELECT name FROM t WHERE 0");
    ASSERT_TRUE(rows);
    EXPECT_EQ(rows->dump(), R"({"rows":[]})");
    EXPECT_TRUE(db.audit().empty());
}

TEST(HostDb, ParametersMustMatchTheSql) {
    Db db("main");
    EXPECT_EQ(error_of(db.run("SELECT :a")), "db_query: the SQL has 1 parameters and no params");
    EXPECT_EQ(error_of(db.run("SELECT :a", json{{"b", 1}})), "db_query: parameter :a has no value");
    EXPECT_EQ(error_of(db.run("SELECT :a", json{{"a", 1}, {"b", 2}})),
              "db_query: params has 1 values the SQL does not name");
    EXPECT_EQ(error_of(db.run("SELECT ?, ?", json{1})),
              "db_query: the SQL has 2 parameters and params 1 values");
    EXPECT_EQ(error_of(db.run("SELECT :a", json{1})),
              "db_query: parameter :a is named: params must be an object");
    EXPECT_EQ(error_of(db.run("SELECT ?", json{{"a", 1}})),
              "db_query: parameter 1 has no name: params must be an array");
    EXPECT_EQ(error_of(db.run("SELECT ?", json{json::array({1})})),
              "db_query: parameter 1 is array; expected null, a boolean, a number or a string");
    EXPECT_EQ(error_of(db.run("SELECT ?", "text")),
              "db_query: params is neither an object nor an array");
    EXPECT_EQ(error_of(db_query(*db.ctx, json{{"connection", "main"}})),
              "db_query: \"sql\" is not a string");
    EXPECT_EQ(
        error_of(db_query(
            *db.ctx, json{{"connection", "main"}, {"sql", "SELECT 1"}, {"parms", json::array()}})),
        "db_query: unknown field \"parms\"");
}

TEST(HostDb, InjectionThroughParametersStaysData) {
    Db db("rw:main");
    const std::string evil = "x'); DROP TABLE t; --";
    auto put = db.run("INSERT INTO t(name) VALUES (:name)", json{{"name", evil}});
    ASSERT_TRUE(put) << put.error().message;
    EXPECT_EQ(put->dump(), R"({"changes":1,"last_insert_rowid":3})");
    auto rows = db.run("SELECT name FROM t WHERE name = ?", json{evil});
    ASSERT_TRUE(rows) << rows.error().message;
    EXPECT_EQ((*rows)["rows"].size(), 1u);
    EXPECT_EQ((*rows)["rows"][0]["name"], evil);
    rows = db.run("SELECT count(*) AS n FROM t WHERE name = ?", json{"' OR '1'='1"});
    ASSERT_TRUE(rows);
    EXPECT_EQ(rows->dump(), R"({"rows":[{"n":0}]})");
}

TEST(HostDb, ReadOnlyUnlessGrantedWriteAndWritable) {
    {
        Db db("main");
        auto put = db.run("INSERT INTO t(name) VALUES ('eve')");
        ASSERT_FALSE(put);
        EXPECT_EQ(put.error().kind, ErrorKind::denied);
        EXPECT_EQ(put.error().message, "p: database \"rw:main\" is not granted");
        EXPECT_EQ(db.audit(), std::vector<std::string>{"p database rw:main"});
        EXPECT_FALSE(db.run("DELETE FROM t"));
        EXPECT_FALSE(db.run("CREATE TABLE u(x)"));
        EXPECT_EQ(db.run("SELECT count(*) AS n FROM t")->dump(), R"({"rows":[{"n":2}]})");
    }
    {
        Db db("rw:main", /*readonly=*/true);
        auto put = db.run("INSERT INTO t(name) VALUES ('eve')");
        ASSERT_FALSE(put);
        EXPECT_EQ(put.error().message, "p: database \"main\" is read-only");
    }
    {
        Db db("rw:main");
        auto put = db.run("UPDATE t SET name = upper(name)");
        ASSERT_TRUE(put) << put.error().message;
        EXPECT_EQ((*put)["changes"], 2);
        EXPECT_TRUE(db.audit().empty());
    }
}

TEST(HostDb, DeniedAndUnknownConnections) {
    Db db("main");
    auto other = db_query(*db.ctx, json{{"connection", "other"}, {"sql", "SELECT 1"}});
    ASSERT_FALSE(other);
    EXPECT_EQ(other.error().kind, ErrorKind::denied);
    EXPECT_EQ(other.error().message, "p: database \"other\" is not granted");
    db.grant(Db::permissions("ghost"));
    auto ghost = db_query(*db.ctx, json{{"connection", "ghost"}, {"sql", "SELECT 1"}});
    ASSERT_FALSE(ghost);
    EXPECT_EQ(ghost.error().message, "no database \"ghost\"");
    EXPECT_EQ(db.audit(), std::vector<std::string>{"p database other"});
}

TEST(HostDb, SqlReachingBeyondTheDatabaseIsRefused) {
    Db db("rw:main");
    const std::string outside = (db.dir.path() / "outside.db").string();
    EXPECT_FALSE(db.run("ATTACH DATABASE ? AS other", json{outside}));
    EXPECT_FALSE(db.run("PRAGMA journal_mode = DELETE"));
    EXPECT_FALSE(db.run("PRAGMA writable_schema = 1"));
    EXPECT_FALSE(db.run("VACUUM INTO ?", json{outside}));
    EXPECT_FALSE(db.run("SELECT load_extension('/tmp/x.so')"));
    EXPECT_FALSE(std::filesystem::exists(outside));
    auto two = db.run("SELECT 1; DROP TABLE t");
    ASSERT_FALSE(two);
    EXPECT_EQ(two.error().message, "db_query: more than one SQL statement");
    EXPECT_EQ(db.run("SELECT count(*) AS n FROM t")->dump(), R"({"rows":[{"n":2}]})");
    EXPECT_EQ(error_of(db.run("SELECT 1;  ")), "ok");
}

TEST(HostDb, RowLimit) {
    HostOptions o;
    o.db_max_rows = 2;
    Db db("main", false, o);
    EXPECT_TRUE(db.run("SELECT * FROM t"));
    auto more = db.run("SELECT * FROM t UNION ALL SELECT 3, 'cy'");
    ASSERT_FALSE(more);
    EXPECT_EQ(more.error().kind, ErrorKind::limit);
    EXPECT_EQ(more.error().message, "db_query: more than 2 rows (the row limit)");
}

TEST(HostDb, StoppedWhenTheCallMustStop) {
    Db db("main");
    int polls = 0;
    db.call.should_stop = [&] { return ++polls > 5; };
    auto forever = db.run("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) "
                          "SELECT count(*) FROM n");
    ASSERT_FALSE(forever);
    EXPECT_EQ(forever.error().kind, ErrorKind::limit);
    EXPECT_EQ(forever.error().message, "db_query: stopped: the call's deadline passed");
    // The connection is usable again, without the handler.
    db.call.should_stop = nullptr;
    EXPECT_EQ(error_of(db.run("SELECT 1")), "ok");
}

} // namespace
} // namespace kiln
