// Kiln's state database: one SQLite file ($KILN_HOME/state.db) shared by the layers that keep
// state across runs (the manager's enabled plugins, grants and audit log; the host functions'
// key-value store; jobs; actors). Each layer owns its tables as a component with a schema
// version and migrates them forward. See docs/state_db.md.
//
//   auto db = kiln::StateDb::open();                  // $KILN_HOME/state.db
//   db.value()->schema("notes", 1, {"CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT)"});
//   db.value()->exec("INSERT INTO notes(text) VALUES (?)", {"hello"});
//   auto rows = db.value()->query("SELECT id, text FROM notes WHERE text = ?", {"hello"});
#pragma once

#include <kiln/error.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace kiln {

/// An SQL BLOB.
using SqlBlob = std::vector<uint8_t>;

/// A value bound to a statement's `?` or read from a column: NULL, INTEGER, REAL, TEXT or BLOB.
using SqlValue = std::variant<std::nullptr_t, int64_t, double, std::string, SqlBlob>;

/// One result row, its columns in the order the SELECT names them.
struct SqlRow {
    std::vector<SqlValue> columns;

    /// Whether column `i` is NULL.
    bool is_null(size_t i) const;
    /// Column `i` as an integer (a REAL is truncated; anything else reads as 0).
    int64_t integer(size_t i) const;
    /// Column `i` as a real number (an INTEGER is converted; anything else reads as 0).
    double real(size_t i) const;
    /// Column `i` as text (a BLOB's bytes, an empty string for NULL, numbers in decimal).
    std::string text(size_t i) const;
    /// Column `i` as bytes (TEXT's bytes; empty for anything else).
    SqlBlob blob(size_t i) const;
};

/// One connection to the state database, used by one thread at a time: what a transaction
/// and a migration are given. Statements are prepared once per connection and cached by their
/// text; values are only ever bound to `?` parameters, never written into the SQL.
class SqlConnection {
public:
    /// Runs one statement with `params` bound to its `?`s in order; returns the rows it changed.
    Result<int64_t> exec(std::string_view sql, const std::vector<SqlValue>& params = {});
    /// Runs one statement and returns every row it yields.
    Result<std::vector<SqlRow>> query(std::string_view sql,
                                      const std::vector<SqlValue>& params = {});
    /// The first row the statement yields, if any.
    Result<std::optional<SqlRow>> query_one(std::string_view sql,
                                            const std::vector<SqlValue>& params = {});
    /// Runs several `;`-separated statements without parameters (a migration's script).
    Result<void> exec_script(std::string_view sql);
    /// The rowid of the last row this connection inserted.
    int64_t last_insert_id() const;

    struct Impl;
    explicit SqlConnection(std::unique_ptr<Impl> impl);
    ~SqlConnection();
    SqlConnection(const SqlConnection&) = delete;
    SqlConnection& operator=(const SqlConnection&) = delete;

private:
    friend class StateDb;
    std::unique_ptr<Impl> m_impl;
};

/// One forward step of a component's schema: an SQL script, or code for what SQL alone cannot
/// do. Step N takes the component from version N to N + 1, inside the transaction that records
/// the new version.
struct Migration {
    Migration(const char* script) : sql(script) {}
    Migration(std::string script) : sql(std::move(script)) {}
    Migration(std::function<Result<void>(SqlConnection&)> code) : run(std::move(code)) {}

    std::string sql;                                 ///< run when not empty
    std::function<Result<void>(SqlConnection&)> run; ///< run when set
};

/// The folder Kiln keeps its state in: $KILN_HOME, else $XDG_DATA_HOME/kiln, else
/// ~/.local/share/kiln; created (with its parents) when missing.
Result<std::string> kiln_home();

/// The state database. Usable from many threads: it keeps a pool of connections, and each
/// call (or transaction) takes one for its duration, so readers run beside a writer (WAL) and
/// writers wait for each other up to the busy timeout. Other processes may open the same file.
class StateDb {
public:
    /// How a database is opened.
    struct Options {
        /// How long a writer waits for another writer (in this or another process).
        std::chrono::milliseconds busy_timeout{5000};
    };

    /// Opens (creating it and its folders) the database at `path`; an empty path means
    /// `kiln_home()/state.db`. A file that is not an SQLite database, or is damaged, is an
    /// error naming it. The database is in WAL mode with synchronous=NORMAL.
    static Result<std::shared_ptr<StateDb>> open(const std::string& path = {});
    static Result<std::shared_ptr<StateDb>> open(const std::string& path, Options options);
    ~StateDb();
    StateDb(const StateDb&) = delete;
    StateDb& operator=(const StateDb&) = delete;

    /// The database file.
    const std::string& path() const;

    /// Brings `component`'s tables to `version` by running `migrations[current..version)` in
    /// one transaction, once however many threads or processes call it. `migrations` holds
    /// exactly `version` steps. A database whose component is newer than `version` (written by
    /// a newer Kiln) is an error, and nothing is changed.
    Result<void> schema(std::string_view component, uint32_t version,
                        const std::vector<Migration>& migrations);
    /// The schema version of `component` in the database; 0 when it has none yet.
    Result<uint32_t> schema_version(std::string_view component);

    /// SqlConnection::exec on a connection of the pool.
    Result<int64_t> exec(std::string_view sql, const std::vector<SqlValue>& params = {});
    /// SqlConnection::query on a connection of the pool.
    Result<std::vector<SqlRow>> query(std::string_view sql,
                                      const std::vector<SqlValue>& params = {});
    /// SqlConnection::query_one on a connection of the pool.
    Result<std::optional<SqlRow>> query_one(std::string_view sql,
                                            const std::vector<SqlValue>& params = {});
    /// Runs `body` in one write transaction (BEGIN IMMEDIATE): committed when it returns a
    /// value, rolled back when it returns an error (which is returned).
    Result<void> transaction(const std::function<Result<void>(SqlConnection&)>& body);

    struct Impl;

private:
    explicit StateDb(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace kiln
