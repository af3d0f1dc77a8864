// Kiln's state database over SQLite: a pool of connections, each with its own cache of prepared
// statements, and the component schema versions in one table (kiln_schema).
#include <kiln/state_db.hpp>

#include "base/result.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>

namespace kiln {

namespace {

// The table that records each component's schema version.
constexpr const char* schema_table = "CREATE TABLE IF NOT EXISTS kiln_schema("
                                     "component TEXT PRIMARY KEY, version INTEGER NOT NULL)";

struct StatementDeleter {
    void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

// Errors of the database file say which file, and what SQLite said; a file that is not a
// database at all is worded for a person who pointed KILN_HOME at the wrong place.
Error db_error(const std::string& path, sqlite3* db, int code, std::string_view doing) {
    const int primary = code & 0xff;
    std::string what = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
    if (primary == SQLITE_NOTADB)
        return Error{ErrorKind::io, fmt::format("{}: not an SQLite database ({})", path, what),
                     nullptr};
    if (primary == SQLITE_CORRUPT)
        return Error{ErrorKind::io, fmt::format("{}: the database is damaged ({})", path, what),
                     nullptr};
    return Error{ErrorKind::io, fmt::format("{}: {}: {}", path, doing, what), nullptr};
}

} // namespace

bool SqlRow::is_null(size_t i) const {
    return i >= columns.size() || std::holds_alternative<std::nullptr_t>(columns[i]);
}

int64_t SqlRow::integer(size_t i) const {
    if (i >= columns.size()) return 0;
    if (const auto* v = std::get_if<int64_t>(&columns[i])) return *v;
    if (const auto* v = std::get_if<double>(&columns[i])) return static_cast<int64_t>(*v);
    return 0;
}

double SqlRow::real(size_t i) const {
    if (i >= columns.size()) return 0;
    if (const auto* v = std::get_if<double>(&columns[i])) return *v;
    if (const auto* v = std::get_if<int64_t>(&columns[i])) return static_cast<double>(*v);
    return 0;
}

std::string SqlRow::text(size_t i) const {
    if (i >= columns.size()) return {};
    return std::visit(
        [](const auto& v) -> std::string {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::string>)
                return v;
            else if constexpr (std::is_same_v<T, SqlBlob>)
                return std::string(v.begin(), v.end());
            else if constexpr (std::is_same_v<T, std::nullptr_t>)
                return {};
            else
                return fmt::format("{}", v);
        },
        columns[i]);
}

SqlBlob SqlRow::blob(size_t i) const {
    if (i >= columns.size()) return {};
    if (const auto* v = std::get_if<SqlBlob>(&columns[i])) return *v;
    if (const auto* v = std::get_if<std::string>(&columns[i])) return SqlBlob(v->begin(), v->end());
    return {};
}

struct SqlConnection::Impl {
    std::string path;
    sqlite3* db = nullptr;
    // Prepared once per connection, by SQL text.
    std::unordered_map<std::string, Statement> statements;

    ~Impl() {
        statements.clear();
        sqlite3_close_v2(db);
    }

    Error error(int code, std::string_view doing) const { return db_error(path, db, code, doing); }

    Result<sqlite3_stmt*> prepare(std::string_view sql) {
        auto found = statements.find(std::string(sql));
        if (found != statements.end()) return found->second.get();
        sqlite3_stmt* raw = nullptr;
        const char* tail = nullptr;
        const int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                          SQLITE_PREPARE_PERSISTENT, &raw, &tail);
        Statement statement(raw);
        if (rc != SQLITE_OK) return tl::unexpected(error(rc, fmt::format("preparing \"{}\"", sql)));
        if (statement == nullptr)
            return make_error(ErrorKind::usage,
                              fmt::format("{}: no SQL statement in \"{}\"", path, sql));
        // One statement per call: the rest would be silently ignored otherwise.
        for (; tail != sql.data() + sql.size(); ++tail)
            if (!std::isspace(static_cast<unsigned char>(*tail)) && *tail != ';')
                return make_error(ErrorKind::usage,
                                  fmt::format("{}: more than one SQL statement in \"{}\" "
                                              "(exec_script runs several)",
                                              path, sql));
        return statements.emplace(std::string(sql), std::move(statement)).first->second.get();
    }

    Result<void> bind(sqlite3_stmt* statement, std::string_view sql,
                      const std::vector<SqlValue>& params) {
        const int expected = sqlite3_bind_parameter_count(statement);
        if (expected != static_cast<int>(params.size()))
            return make_error(ErrorKind::usage,
                              fmt::format("{}: \"{}\" takes {} parameters, {} given", path, sql,
                                          expected, params.size()));
        for (size_t i = 0; i < params.size(); ++i) {
            const int at = static_cast<int>(i) + 1;
            const int rc = std::visit(
                [&](const auto& v) {
                    using T = std::decay_t<decltype(v)>;
                    if constexpr (std::is_same_v<T, std::nullptr_t>)
                        return sqlite3_bind_null(statement, at);
                    else if constexpr (std::is_same_v<T, int64_t>)
                        return sqlite3_bind_int64(statement, at, v);
                    else if constexpr (std::is_same_v<T, double>)
                        return sqlite3_bind_double(statement, at, v);
                    else if constexpr (std::is_same_v<T, std::string>)
                        return sqlite3_bind_text64(statement, at, v.data(), v.size(), SQLITE_STATIC,
                                                   SQLITE_UTF8);
                    else
                        return sqlite3_bind_blob64(statement, at, v.data(), v.size(),
                                                   SQLITE_STATIC);
                },
                params[i]);
            if (rc != SQLITE_OK) return tl::unexpected(error(rc, "binding a parameter"));
        }
        return {};
    }

    static SqlValue column(sqlite3_stmt* statement, int i) {
        switch (sqlite3_column_type(statement, i)) {
        case SQLITE_INTEGER: return static_cast<int64_t>(sqlite3_column_int64(statement, i));
        case SQLITE_FLOAT: return sqlite3_column_double(statement, i);
        case SQLITE_TEXT: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, i));
            return std::string(text, static_cast<size_t>(sqlite3_column_bytes(statement, i)));
        }
        case SQLITE_BLOB: {
            const auto* bytes = static_cast<const uint8_t*>(sqlite3_column_blob(statement, i));
            return SqlBlob(bytes, bytes + sqlite3_column_bytes(statement, i));
        }
        default: return nullptr;
        }
    }

    // Runs `sql` to its end, handing each row to `row` (when given).
    Result<void> run(std::string_view sql, const std::vector<SqlValue>& params,
                     std::vector<SqlRow>* rows, size_t max_rows = SIZE_MAX) {
        KILN_TRY(statement, prepare(sql));
        // Reset and cleared on every way out, so the cached statement holds no lock or value.
        struct Reset {
            sqlite3_stmt* s;
            ~Reset() {
                sqlite3_reset(s);
                sqlite3_clear_bindings(s);
            }
        } reset{statement};
        KILN_CHECK(bind(statement, sql, params));
        for (;;) {
            const int rc = sqlite3_step(statement);
            if (rc == SQLITE_DONE) return {};
            if (rc != SQLITE_ROW) return tl::unexpected(error(rc, fmt::format("\"{}\"", sql)));
            if (rows == nullptr || rows->size() >= max_rows) continue;
            SqlRow row;
            const int count = sqlite3_column_count(statement);
            row.columns.reserve(static_cast<size_t>(count));
            for (int i = 0; i < count; ++i)
                row.columns.push_back(column(statement, i));
            rows->push_back(std::move(row));
        }
    }
};

SqlConnection::SqlConnection(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
SqlConnection::~SqlConnection() = default;

Result<int64_t> SqlConnection::exec(std::string_view sql, const std::vector<SqlValue>& params) {
    KILN_CHECK(m_impl->run(sql, params, nullptr));
    return static_cast<int64_t>(sqlite3_changes64(m_impl->db));
}

Result<std::vector<SqlRow>> SqlConnection::query(std::string_view sql,
                                                 const std::vector<SqlValue>& params) {
    std::vector<SqlRow> rows;
    KILN_CHECK(m_impl->run(sql, params, &rows));
    return rows;
}

Result<std::optional<SqlRow>> SqlConnection::query_one(std::string_view sql,
                                                       const std::vector<SqlValue>& params) {
    std::vector<SqlRow> rows;
    KILN_CHECK(m_impl->run(sql, params, &rows, 1));
    if (rows.empty()) return std::optional<SqlRow>();
    return std::optional<SqlRow>(std::move(rows.front()));
}

Result<void> SqlConnection::exec_script(std::string_view sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(m_impl->db, std::string(sql).c_str(), nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return {};
    const std::string what = message != nullptr ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    if ((rc & 0xff) == SQLITE_NOTADB || (rc & 0xff) == SQLITE_CORRUPT)
        return tl::unexpected(m_impl->error(rc, "running a script"));
    return make_error(ErrorKind::io, fmt::format("{}: {}", m_impl->path, what));
}

int64_t SqlConnection::last_insert_id() const {
    return static_cast<int64_t>(sqlite3_last_insert_rowid(m_impl->db));
}

Result<std::string> kiln_home() {
    std::filesystem::path home;
    if (const char* v = std::getenv("KILN_HOME"); v != nullptr && *v != '\0') {
        home = v;
    } else if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg != nullptr && *xdg != '\0') {
        home = std::filesystem::path(xdg) / "kiln";
    } else if (const char* user = std::getenv("HOME"); user != nullptr && *user != '\0') {
        home = std::filesystem::path(user) / ".local" / "share" / "kiln";
    } else {
        return make_error(ErrorKind::io, "no folder for Kiln's state: set KILN_HOME (or HOME)");
    }
    std::error_code ec;
    std::filesystem::create_directories(home, ec);
    if (ec) return make_error(ErrorKind::io, fmt::format("{}: {}", home.string(), ec.message()));
    return home.string();
}

struct StateDb::Impl {
    std::string path;
    Options options;
    std::mutex mutex;
    std::vector<std::unique_ptr<SqlConnection>> idle;

    // A new connection, set up as every connection of the pool is.
    Result<std::unique_ptr<SqlConnection>> connect() {
        auto impl = std::make_unique<SqlConnection::Impl>();
        impl->path = path;
        // NOMUTEX: the pool gives a connection to one thread at a time.
        const int rc = sqlite3_open_v2(
            path.c_str(), &impl->db,
            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
        if (rc != SQLITE_OK) return tl::unexpected(impl->error(rc, "opening"));
        sqlite3_extended_result_codes(impl->db, 1);
        sqlite3_busy_timeout(impl->db, static_cast<int>(options.busy_timeout.count()));
        sqlite3* const raw = impl->db;
        auto connection = std::make_unique<SqlConnection>(std::move(impl));
        // The first statement reads the file's header: a file that is not a database fails
        // here, at open, rather than at some later query. WAL is kept in the file once set;
        // switching a new database to it takes a lock SQLite does not wait for through the
        // busy timeout, so two processes opening a new database at once could see "database
        // is locked": the switch is tried again until the busy timeout passes.
        const auto until = std::chrono::steady_clock::now() + options.busy_timeout;
        Result<std::optional<SqlRow>> mode = connection->query_one("PRAGMA journal_mode=WAL");
        while (!mode) {
            const int code = sqlite3_errcode(raw) & 0xff;
            if ((code != SQLITE_BUSY && code != SQLITE_LOCKED) ||
                std::chrono::steady_clock::now() >= until)
                return tl::unexpected(std::move(mode.error()));
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            mode = connection->query_one("PRAGMA journal_mode=WAL");
        }
        if (!*mode || (*mode)->text(0) != "wal")
            return make_error(ErrorKind::io,
                              fmt::format("{}: cannot use write-ahead logging (journal mode {})",
                                          path, *mode ? (*mode)->text(0) : "unknown"));
        KILN_CHECK(connection->exec_script("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON"));
        return connection;
    }

    Result<std::unique_ptr<SqlConnection>> acquire() {
        {
            std::lock_guard lock(mutex);
            if (!idle.empty()) {
                auto connection = std::move(idle.back());
                idle.pop_back();
                return connection;
            }
        }
        return connect();
    }

    void release(std::unique_ptr<SqlConnection> connection) {
        std::lock_guard lock(mutex);
        idle.push_back(std::move(connection));
    }

    // Runs `body` with a connection of the pool.
    template <typename F> auto with(F&& body) -> decltype(body(std::declval<SqlConnection&>())) {
        auto connection = acquire();
        if (!connection) return tl::unexpected(std::move(connection.error()));
        auto result = body(**connection);
        release(std::move(*connection));
        return result;
    }
};

StateDb::StateDb(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
StateDb::~StateDb() = default;

Result<std::shared_ptr<StateDb>> StateDb::open(const std::string& path) {
    return open(path, Options{});
}

Result<std::shared_ptr<StateDb>> StateDb::open(const std::string& path, Options options) {
    auto impl = std::make_unique<Impl>();
    impl->options = options;
    if (path.empty()) {
        KILN_TRY(home, kiln_home());
        impl->path = (std::filesystem::path(home) / "state.db").string();
    } else {
        impl->path = path;
        const auto parent = std::filesystem::path(path).parent_path();
        std::error_code ec;
        if (!parent.empty()) std::filesystem::create_directories(parent, ec);
        if (ec)
            return make_error(ErrorKind::io, fmt::format("{}: {}", parent.string(), ec.message()));
    }
    std::shared_ptr<StateDb> db(new StateDb(std::move(impl)));
    KILN_TRY(first, db->m_impl->connect());
    KILN_CHECK(first->exec(schema_table));
    db->m_impl->release(std::move(first));
    return db;
}

const std::string& StateDb::path() const {
    return m_impl->path;
}

Result<void> StateDb::schema(std::string_view component, uint32_t version,
                             const std::vector<Migration>& migrations) {
    if (migrations.size() != version)
        return make_error(ErrorKind::usage,
                          fmt::format("schema of {}: version {} needs {} migrations, {} given",
                                      component, version, version, migrations.size()));
    return transaction([&](SqlConnection& sql) -> Result<void> {
        KILN_TRY(row, sql.query_one("SELECT version FROM kiln_schema WHERE component = ?",
                                    {std::string(component)}));
        const int64_t current = row ? row->integer(0) : 0;
        if (current > static_cast<int64_t>(version))
            return make_error(ErrorKind::io,
                              fmt::format("{}: the tables of {} are at schema version {}, newer "
                                          "than this Kiln knows ({}); use a newer Kiln or "
                                          "another KILN_HOME",
                                          m_impl->path, component, current, version));
        for (auto step = static_cast<size_t>(current); step < version; ++step) {
            const Migration& migration = migrations[step];
            auto done = migration.run ? migration.run(sql) : sql.exec_script(migration.sql);
            if (!done)
                return make_error(done.error().kind,
                                  fmt::format("migrating {} from version {} to {}: {}", component,
                                              step, step + 1, done.error().message));
        }
        if (current == static_cast<int64_t>(version)) return {};
        KILN_CHECK(sql.exec("INSERT INTO kiln_schema(component, version) VALUES (?, ?) "
                            "ON CONFLICT(component) DO UPDATE SET version = excluded.version",
                            {std::string(component), static_cast<int64_t>(version)}));
        return {};
    });
}

Result<uint32_t> StateDb::schema_version(std::string_view component) {
    KILN_TRY(row, query_one("SELECT version FROM kiln_schema WHERE component = ?",
                            {std::string(component)}));
    return row ? static_cast<uint32_t>(row->integer(0)) : 0u;
}

Result<int64_t> StateDb::exec(std::string_view sql, const std::vector<SqlValue>& params) {
    return m_impl->with([&](SqlConnection& c) { return c.exec(sql, params); });
}

Result<std::vector<SqlRow>> StateDb::query(std::string_view sql,
                                           const std::vector<SqlValue>& params) {
    return m_impl->with([&](SqlConnection& c) { return c.query(sql, params); });
}

Result<std::optional<SqlRow>> StateDb::query_one(std::string_view sql,
                                                 const std::vector<SqlValue>& params) {
    return m_impl->with([&](SqlConnection& c) { return c.query_one(sql, params); });
}

Result<void> StateDb::transaction(const std::function<Result<void>(SqlConnection&)>& body) {
    return m_impl->with([&](SqlConnection& c) -> Result<void> {
        // IMMEDIATE takes the write lock at once: a deferred transaction that later writes
        // could meet SQLITE_BUSY without the busy timeout's wait.
        KILN_CHECK(c.exec("BEGIN IMMEDIATE"));
        auto result = body(c);
        if (!result) {
            (void)c.exec("ROLLBACK");
            return result;
        }
        auto committed = c.exec("COMMIT");
        if (!committed) {
            (void)c.exec("ROLLBACK");
            return tl::unexpected(std::move(committed.error()));
        }
        return {};
    });
}

} // namespace kiln
