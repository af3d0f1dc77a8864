// Kiln's state database: component schemas migrated forward once, concurrent writers, reopening,
// and the errors of a file that is no database or of a schema newer than the code.
#include "manager_test_util.hpp"

#include <kiln/state_db.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>

namespace kiln {
namespace {

using manager_test::TempDir;

std::shared_ptr<StateDb> open_db(const std::string& path) {
    auto db = StateDb::open(path);
    EXPECT_TRUE(db) << db.error().message;
    return db ? *db : nullptr;
}

TEST(StateDb, OpensInWalModeAndCreatesFolders) {
    TempDir dir;
    const std::string path = dir.str() + "/a/b/state.db";
    auto db = open_db(path);
    ASSERT_TRUE(db);
    EXPECT_EQ(db->path(), path);
    EXPECT_TRUE(std::filesystem::exists(path));
    auto mode = db->query_one("PRAGMA journal_mode");
    ASSERT_TRUE(mode && *mode);
    EXPECT_EQ((*mode)->text(0), "wal");
    // synchronous=NORMAL is 1.
    auto sync = db->query_one("PRAGMA synchronous");
    ASSERT_TRUE(sync && *sync);
    EXPECT_EQ((*sync)->integer(0), 1);
}

TEST(StateDb, DefaultPathIsUnderKilnHome) {
    TempDir dir;
    const std::string home = dir.str() + "/home/kiln";
    ASSERT_EQ(setenv("KILN_HOME", home.c_str(), 1), 0);
    auto db = StateDb::open();
    unsetenv("KILN_HOME");
    ASSERT_TRUE(db) << db.error().message;
    EXPECT_EQ((*db)->path(), home + "/state.db");
    EXPECT_TRUE(std::filesystem::is_directory(home));

    // Without KILN_HOME: $XDG_DATA_HOME/kiln.
    const std::string xdg = dir.str() + "/xdg";
    const char* saved = std::getenv("XDG_DATA_HOME");
    const std::string saved_xdg = saved != nullptr ? saved : "";
    ASSERT_EQ(setenv("XDG_DATA_HOME", xdg.c_str(), 1), 0);
    auto folder = kiln_home();
    if (saved != nullptr)
        setenv("XDG_DATA_HOME", saved_xdg.c_str(), 1);
    else
        unsetenv("XDG_DATA_HOME");
    ASSERT_TRUE(folder) << folder.error().message;
    EXPECT_EQ(*folder, xdg + "/kiln");
    EXPECT_TRUE(std::filesystem::is_directory(*folder));
}

TEST(StateDb, MigrationsRunOnceAndForward) {
    TempDir dir;
    const std::string path = dir.str() + "/state.db";
    int code_runs = 0;
    const std::vector<Migration> v1 = {"CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT)"};
    const std::vector<Migration> v3 = {
        v1[0],
        "ALTER TABLE notes ADD COLUMN tag TEXT",
        Migration([&](SqlConnection& sql) -> Result<void> {
            ++code_runs;
            auto changed = sql.exec("UPDATE notes SET tag = ? WHERE tag IS NULL", {"old"});
            if (!changed) return tl::unexpected(changed.error());
            return {};
        }),
    };
    {
        auto db = open_db(path);
        ASSERT_TRUE(db);
        auto version = db->schema_version("notes");
        ASSERT_TRUE(version);
        EXPECT_EQ(*version, 0u);
        ASSERT_TRUE(db->schema("notes", 1, v1));
        ASSERT_TRUE(db->schema("notes", 1, v1)); // a second time changes nothing
        ASSERT_TRUE(db->exec("INSERT INTO notes(text) VALUES (?)", {"first"}));
        EXPECT_EQ(*db->schema_version("notes"), 1u);
    }
    {
        // A newer build of the component: steps 1 and 2 run, step 0 does not run again.
        auto db = open_db(path);
        ASSERT_TRUE(db);
        auto migrated = db->schema("notes", 3, v3);
        ASSERT_TRUE(migrated) << migrated.error().message;
        EXPECT_EQ(code_runs, 1);
        ASSERT_TRUE(db->schema("notes", 3, v3));
        EXPECT_EQ(code_runs, 1);
        auto rows = db->query("SELECT text, tag FROM notes");
        ASSERT_TRUE(rows);
        ASSERT_EQ(rows->size(), 1u);
        EXPECT_EQ((*rows)[0].text(0), "first");
        EXPECT_EQ((*rows)[0].text(1), "old");
        EXPECT_EQ(*db->schema_version("notes"), 3u);
        // Components are independent.
        EXPECT_EQ(*db->schema_version("other"), 0u);
    }
    {
        // The older build meets the newer tables: a clear error, nothing changed.
        auto db = open_db(path);
        ASSERT_TRUE(db);
        auto older = db->schema("notes", 1, v1);
        ASSERT_FALSE(older);
        EXPECT_EQ(older.error().message,
                  path + ": the tables of notes are at schema version 3, newer than this Kiln "
                         "knows (1); use a newer Kiln or another KILN_HOME");
        EXPECT_EQ(*db->schema_version("notes"), 3u);
    }
}

TEST(StateDb, FailedMigrationChangesNothing) {
    TempDir dir;
    auto db = open_db(dir.str() + "/state.db");
    ASSERT_TRUE(db);
    auto failed = db->schema("broken", 2, {"CREATE TABLE t(x)", "INSERT INTO nowhere VALUES (1)"});
    ASSERT_FALSE(failed);
    EXPECT_NE(failed.error().message.find("migrating broken from version 1 to 2: "),
              std::string::npos)
        << failed.error().message;
    EXPECT_NE(failed.error().message.find("no such table: nowhere"), std::string::npos);
    EXPECT_EQ(*db->schema_version("broken"), 0u);
    // Step 0 was rolled back with the rest: t does not exist.
    EXPECT_FALSE(db->query("SELECT x FROM t"));
}

TEST(StateDb, MigrationCountMustMatchVersion) {
    TempDir dir;
    auto db = open_db(dir.str() + "/state.db");
    ASSERT_TRUE(db);
    auto wrong = db->schema("c", 2, {"CREATE TABLE t(x)"});
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().kind, ErrorKind::usage);
}

TEST(StateDb, ConcurrentMigrationRunsOnce) {
    TempDir dir;
    const std::string path = dir.str() + "/state.db";
    std::atomic<int> runs{0};
    const std::vector<Migration> steps = {Migration([&](SqlConnection& sql) -> Result<void> {
        ++runs;
        return sql.exec_script("CREATE TABLE once(x)");
    })};
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    // Separate StateDb objects on one file, as separate processes would have.
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            auto db = StateDb::open(path);
            if (!db || !(*db)->schema("once", 1, steps)) ++failures;
        });
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_EQ(runs.load(), 1);
}

TEST(StateDb, ConcurrentWritersLoseNothing) {
    TempDir dir;
    auto db = open_db(dir.str() + "/state.db");
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->schema("counts", 1, {"CREATE TABLE rows(thread INTEGER, n INTEGER)"}));
    ASSERT_TRUE(db->exec("CREATE TABLE total(n INTEGER)"));
    ASSERT_TRUE(db->exec("INSERT INTO total VALUES (0)"));
    constexpr int threads = 4;
    constexpr int per_thread = 200;
    std::atomic<int> failures{0};
    std::vector<std::thread> writers;
    for (int t = 0; t < threads; ++t)
        writers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                if (!db->exec("INSERT INTO rows VALUES (?, ?)", {int64_t{t}, int64_t{i}}))
                    ++failures;
                // A read-modify-write that only a transaction keeps exact.
                auto done = db->transaction([](SqlConnection& sql) -> Result<void> {
                    auto row = sql.query_one("SELECT n FROM total");
                    if (!row) return tl::unexpected(row.error());
                    auto set = sql.exec("UPDATE total SET n = ?", {(*row)->integer(0) + 1});
                    if (!set) return tl::unexpected(set.error());
                    return {};
                });
                if (!done) ++failures;
            }
        });
    for (auto& w : writers)
        w.join();
    EXPECT_EQ(failures.load(), 0);
    auto count = db->query_one("SELECT count(*) FROM rows");
    ASSERT_TRUE(count && *count);
    EXPECT_EQ((*count)->integer(0), threads * per_thread);
    auto total = db->query_one("SELECT n FROM total");
    ASSERT_TRUE(total && *total);
    EXPECT_EQ((*total)->integer(0), threads * per_thread);
}

TEST(StateDb, TransactionRollsBackOnError) {
    TempDir dir;
    auto db = open_db(dir.str() + "/state.db");
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("CREATE TABLE t(x TEXT)"));
    auto failed = db->transaction([](SqlConnection& sql) -> Result<void> {
        if (auto r = sql.exec("INSERT INTO t VALUES (?)", {"kept?"}); !r)
            return tl::unexpected(r.error());
        return make_error(ErrorKind::usage, "changed my mind");
    });
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().message, "changed my mind");
    EXPECT_TRUE(db->query("SELECT x FROM t")->empty());
}

TEST(StateDb, ReopenKeepsData) {
    TempDir dir;
    const std::string path = dir.str() + "/state.db";
    {
        auto db = open_db(path);
        ASSERT_TRUE(db);
        ASSERT_TRUE(db->schema("kv", 1, {"CREATE TABLE kv(k TEXT PRIMARY KEY, v BLOB, n REAL)"}));
        const SqlBlob bytes = {0, 1, 2, 255};
        ASSERT_TRUE(db->exec("INSERT INTO kv VALUES (?, ?, ?)", {"key", bytes, 2.5}));
        ASSERT_TRUE(db->exec("INSERT INTO kv VALUES (?, ?, ?)", {"none", nullptr, nullptr}));
    }
    auto db = open_db(path);
    ASSERT_TRUE(db);
    EXPECT_EQ(*db->schema_version("kv"), 1u);
    auto row = db->query_one("SELECT v, n FROM kv WHERE k = ?", {"key"});
    ASSERT_TRUE(row && *row);
    EXPECT_EQ((*row)->blob(0), (SqlBlob{0, 1, 2, 255}));
    EXPECT_DOUBLE_EQ((*row)->real(1), 2.5);
    auto none = db->query_one("SELECT v, n FROM kv WHERE k = ?", {"none"});
    ASSERT_TRUE(none && *none);
    EXPECT_TRUE((*none)->is_null(0));
    EXPECT_TRUE((*none)->is_null(1));
    auto missing = db->query_one("SELECT v FROM kv WHERE k = ?", {"missing"});
    ASSERT_TRUE(missing);
    EXPECT_FALSE(*missing);
}

TEST(StateDb, ParametersAreNeverSql) {
    TempDir dir;
    auto db = open_db(dir.str() + "/state.db");
    ASSERT_TRUE(db);
    ASSERT_TRUE(db->exec("CREATE TABLE t(x TEXT)"));
    const std::string hostile = "x'); DROP TABLE t; --";
    ASSERT_TRUE(db->exec("INSERT INTO t VALUES (?)", {hostile}));
    auto rows = db->query("SELECT x FROM t");
    ASSERT_TRUE(rows);
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ((*rows)[0].text(0), hostile);
    // A wrong count of parameters and a second statement are refused, not guessed at.
    auto few = db->exec("INSERT INTO t VALUES (?)");
    ASSERT_FALSE(few);
    EXPECT_EQ(few.error().kind, ErrorKind::usage);
    auto two = db->exec("INSERT INTO t VALUES ('a'); DROP TABLE t");
    ASSERT_FALSE(two);
    EXPECT_EQ(two.error().kind, ErrorKind::usage);
    EXPECT_TRUE(db->query("SELECT x FROM t"));
}

TEST(StateDb, FileThatIsNoDatabaseIsAnErrorNamingIt) {
    TempDir dir;
    const std::string path =
        dir.write("state.db", std::string(4096, 'x') + "this is not an SQLite database");
    auto db = StateDb::open(path);
    ASSERT_FALSE(db);
    EXPECT_EQ(db.error().kind, ErrorKind::io);
    EXPECT_EQ(db.error().message.rfind(path + ": not an SQLite database", 0), 0u)
        << db.error().message;
}

TEST(StateDb, DamagedDatabaseIsAnErrorNamingIt) {
    TempDir dir;
    const std::string path = dir.str() + "/state.db";
    {
        auto db = open_db(path);
        ASSERT_TRUE(db);
        ASSERT_TRUE(db->schema("t", 1, {"CREATE TABLE t(x TEXT)"}));
        for (int i = 0; i < 200; ++i)
            ASSERT_TRUE(db->exec("INSERT INTO t VALUES (?)", {std::string(100, 'a')}));
        ASSERT_TRUE(db->exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    }
    // Keep the header and the schema (page 1), overwrite the pages of t (from page 4: pages 2
    // and 3 hold kiln_schema and its index).
    {
        std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
        file.seekp(3 * 4096);
        const std::string junk(4 * 4096, '\xa5');
        file.write(junk.data(), static_cast<std::streamsize>(junk.size()));
    }
    auto db = StateDb::open(path);
    Result<std::vector<SqlRow>> rows = make_error(ErrorKind::io, "not opened");
    if (db) rows = (*db)->query("SELECT count(*) FROM t");
    const Error& error = db ? rows.error() : db.error();
    ASSERT_FALSE(db && rows);
    EXPECT_EQ(error.kind, ErrorKind::io);
    EXPECT_EQ(error.message.rfind(path + ": ", 0), 0u) << error.message;
    EXPECT_NE(error.message.find("damaged"), std::string::npos) << error.message;
}

} // namespace
} // namespace kiln
