// The db family: a plugin's SQL on a database the host named and granted it, one statement at
// a time, with its parameters bound (by name from an object, by position from an array), never
// written into the SQL; read-only unless granted "rw:NAME" on a database the host lets be
// written; at most db_max_rows rows; stopped when the call's deadline passes.
#include "hostfns/db.hpp"

#include "hostfns/families.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cctype>

namespace kiln::hostfns {

// ---- Databases

struct Databases::Lease::Pool {
    std::mutex mutex;
    std::vector<sqlite3*> free;
    ~Pool() {
        for (sqlite3* db : free)
            sqlite3_close_v2(db);
    }
};

struct Databases::Entry {
    std::string path;
    bool writable = false;
    std::shared_ptr<Lease::Pool> read = std::make_shared<Lease::Pool>();
    std::shared_ptr<Lease::Pool> write = std::make_shared<Lease::Pool>();
};

Databases::~Databases() = default;

Databases::Lease::Lease(Lease&& o) noexcept
    : m_pool(std::move(o.m_pool)), m_db(std::exchange(o.m_db, nullptr)) {}

Databases::Lease::~Lease() {
    if (!m_db) return;
    std::lock_guard lock(m_pool->mutex);
    m_pool->free.push_back(m_db);
}

void Databases::add(const std::string& name, const std::string& path, bool writable) {
    auto entry = std::make_shared<Entry>();
    entry->path = path;
    entry->writable = writable;
    std::lock_guard lock(m_mutex);
    m_entries[name] = std::move(entry);
}

bool Databases::has(std::string_view name) const {
    std::lock_guard lock(m_mutex);
    return m_entries.find(name) != m_entries.end();
}

bool Databases::writable(std::string_view name) const {
    std::lock_guard lock(m_mutex);
    auto it = m_entries.find(name);
    return it != m_entries.end() && it->second->writable;
}

namespace {

/// What plugins' SQL may do beyond reading and writing rows: no ATTACH or DETACH (another
/// file), no PRAGMA (journal, schema writes), no load_extension.
int authorize(void*, int action, const char* a, const char*, const char*, const char*) {
    switch (action) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
    case SQLITE_PRAGMA: return SQLITE_DENY;
    case SQLITE_FUNCTION:
        return a && sqlite3_stricmp(a, "load_extension") == 0 ? SQLITE_DENY : SQLITE_OK;
    default: return SQLITE_OK;
    }
}

Result<sqlite3*> open_connection(const std::string& path, bool write) {
    sqlite3* db = nullptr;
    const int flags = (write ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY) |
                      SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close_v2(db);
        return make_error(ErrorKind::io, fmt::format("{}: cannot open: {}", path, why));
    }
    sqlite3_busy_timeout(db, 2000);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, nullptr);
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 64 << 20);
    sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 1 << 20);
    sqlite3_set_authorizer(db, authorize, nullptr);
    return db;
}

} // namespace

Result<Databases::Lease> Databases::acquire(std::string_view name, bool write) {
    std::shared_ptr<Entry> entry;
    {
        std::lock_guard lock(m_mutex);
        auto it = m_entries.find(name);
        if (it == m_entries.end())
            return make_error(ErrorKind::usage, fmt::format("no database \"{}\"", name));
        entry = it->second;
    }
    std::shared_ptr<Lease::Pool> pool = write ? entry->write : entry->read;
    {
        std::lock_guard lock(pool->mutex);
        if (!pool->free.empty()) {
            sqlite3* db = pool->free.back();
            pool->free.pop_back();
            return Lease(pool, db);
        }
    }
    auto db = open_connection(entry->path, write);
    if (!db) return tl::unexpected(db.error());
    return Lease(pool, *db);
}

// ---- the family

namespace {

struct StatementDeleter {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

Result<void> bind_value(sqlite3_stmt* s, int index, const json& v, std::string_view name) {
    int rc = SQLITE_OK;
    switch (v.type()) {
    case json::value_t::null: rc = sqlite3_bind_null(s, index); break;
    case json::value_t::boolean: rc = sqlite3_bind_int(s, index, v.get<bool>() ? 1 : 0); break;
    case json::value_t::number_integer: rc = sqlite3_bind_int64(s, index, v.get<int64_t>()); break;
    case json::value_t::number_unsigned:
        if (v.get<uint64_t>() > uint64_t(INT64_MAX))
            return bad_request("db_query", fmt::format("parameter {} is too large", name));
        rc = sqlite3_bind_int64(s, index, int64_t(v.get<uint64_t>()));
        break;
    case json::value_t::number_float: rc = sqlite3_bind_double(s, index, v.get<double>()); break;
    case json::value_t::string: {
        const std::string& text = v.get_ref<const std::string&>();
        rc = sqlite3_bind_text64(s, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
        break;
    }
    default:
        return bad_request("db_query",
                           fmt::format("parameter {} is {}; expected null, a boolean, a number or "
                                       "a string",
                                       name, v.type_name()));
    }
    if (rc != SQLITE_OK)
        return bad_request("db_query", fmt::format("parameter {}: {}", name, sqlite3_errstr(rc)));
    return {};
}

/// Binds `params`: an object by name (`:name`, `@name` or `$name` in the SQL, the key with or
/// without its sigil), an array by position. Every parameter needs a value, and every value a
/// parameter.
Result<void> bind_params(sqlite3_stmt* s, const json& params) {
    const int count = sqlite3_bind_parameter_count(s);
    if (params.is_null()) {
        if (count == 0) return {};
        return bad_request("db_query",
                           fmt::format("the SQL has {} parameters and no params", count));
    }
    if (params.is_array()) {
        if (int(params.size()) != count)
            return bad_request("db_query", fmt::format("the SQL has {} parameters and params {} "
                                                       "values",
                                                       count, params.size()));
        for (int i = 1; i <= count; ++i) {
            const char* name = sqlite3_bind_parameter_name(s, i);
            if (name && name[0] != '?')
                return bad_request(
                    "db_query",
                    fmt::format("parameter {} is named: params must be an object", name));
            if (auto ok = bind_value(s, i, params[size_t(i - 1)], std::to_string(i)); !ok)
                return ok;
        }
        return {};
    }
    if (!params.is_object())
        return bad_request("db_query", "params is neither an object nor an array");
    size_t used = 0;
    for (int i = 1; i <= count; ++i) {
        const char* name = sqlite3_bind_parameter_name(s, i);
        if (!name || name[0] == '?')
            return bad_request("db_query", fmt::format("parameter {} has no name: params must be "
                                                       "an array",
                                                       i));
        auto it = params.find(name + 1);
        if (it == params.end()) it = params.find(name);
        if (it == params.end())
            return bad_request("db_query", fmt::format("parameter {} has no value", name));
        if (auto ok = bind_value(s, i, *it, name); !ok) return ok;
        ++used;
    }
    if (used != params.size())
        return bad_request("db_query", fmt::format("params has {} values the SQL does not name",
                                                   params.size() - used));
    return {};
}

json column_value(sqlite3_stmt* s, int i) {
    switch (sqlite3_column_type(s, i)) {
    case SQLITE_INTEGER: return sqlite3_column_int64(s, i);
    case SQLITE_FLOAT: return sqlite3_column_double(s, i);
    case SQLITE_NULL: return nullptr;
    default: {
        // TEXT and BLOB as a string, as ZenoEngine gives them.
        const void* p = sqlite3_column_blob(s, i);
        const int n = sqlite3_column_bytes(s, i);
        return std::string(static_cast<const char*>(p ? p : ""), size_t(n));
    }
    }
}

} // namespace

Result<json> db_query(HostContext& ctx, const json& request) {
    if (!request.is_object()) return bad_request("db_query", "the request is not a JSON object");
    auto field = [&](const char* key) -> const json* {
        auto it = request.find(key);
        return it == request.end() ? nullptr : &*it;
    };
    const json* connection = field("connection");
    const json* sql = field("sql");
    if (!connection || !connection->is_string())
        return bad_request("db_query", "\"connection\" is not a string");
    if (!sql || !sql->is_string()) return bad_request("db_query", "\"sql\" is not a string");
    const std::string& name = connection->get_ref<const std::string&>();
    const std::string& text = sql->get_ref<const std::string&>();
    const json* params = field("params");
    for (const auto& [key, value] : request.items())
        if (key != "connection" && key != "sql" && key != "params")
            return bad_request("db_query", fmt::format("unknown field \"{}\"", key));

    if (auto ok = ctx.check(Permission::database, name); !ok) return tl::unexpected(ok.error());
    Databases& dbs = *ctx.services().databases;
    if (!dbs.has(name))
        return make_error(ErrorKind::usage, fmt::format("no database \"{}\"", name));
    // Writing needs the host's leave and a read-write grant; asking for it is no denial.
    const bool write =
        dbs.writable(name) && allows(*ctx.permissions(), Permission::database, "rw:" + name);
    auto lease = dbs.acquire(name, write);
    if (!lease) return tl::unexpected(lease.error());
    sqlite3* db = lease->get();

    sqlite3_stmt* raw = nullptr;
    const char* tail = nullptr;
    int rc = sqlite3_prepare_v3(db, text.data(), int(text.size()), 0, &raw, &tail);
    Statement statement(raw);
    if (rc != SQLITE_OK)
        return make_error(ErrorKind::usage, fmt::format("db_query: {}", sqlite3_errmsg(db)));
    if (!statement) return bad_request("db_query", "no SQL statement");
    for (; tail != text.data() + text.size(); ++tail)
        if (!std::isspace(static_cast<unsigned char>(*tail)) && *tail != ';')
            return bad_request("db_query", "more than one SQL statement");
    sqlite3_stmt* s = statement.get();
    if (!write && !sqlite3_stmt_readonly(s)) {
        if (auto ok = ctx.check(Permission::database, "rw:" + name); !ok)
            return tl::unexpected(ok.error());
        return make_error(ErrorKind::denied,
                          fmt::format("{}: database \"{}\" is read-only", ctx.plugin(), name));
    }
    if (auto ok = bind_params(s, params ? *params : json()); !ok) return tl::unexpected(ok.error());

    // The call's deadline (and cancellation) stop the statement between its steps.
    sqlite3_progress_handler(
        db, 1000, [](void* c) { return static_cast<HostContext*>(c)->should_stop() ? 1 : 0; },
        &ctx);
    struct ClearProgress {
        sqlite3* db;
        ~ClearProgress() { sqlite3_progress_handler(db, 0, nullptr, nullptr); }
    } clear{db};

    const int columns = sqlite3_column_count(s);
    const uint64_t max_rows = ctx.services().options.db_max_rows;
    json rows = json::array();
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (rows.size() >= max_rows)
            return make_error(ErrorKind::limit,
                              fmt::format("db_query: more than {} rows (the row limit)", max_rows));
        json row = json::object();
        for (int i = 0; i < columns; ++i)
            row[sqlite3_column_name(s, i)] = column_value(s, i);
        rows.push_back(std::move(row));
    }
    if (rc == SQLITE_INTERRUPT)
        return make_error(ErrorKind::limit, "db_query: stopped: the call's deadline passed");
    if (rc != SQLITE_DONE)
        return make_error(ErrorKind::usage, fmt::format("db_query: {}", sqlite3_errmsg(db)));
    if (columns > 0) return json{{"rows", std::move(rows)}};
    return json{{"changes", sqlite3_changes64(db)},
                {"last_insert_rowid", sqlite3_last_insert_rowid(db)}};
}

} // namespace kiln::hostfns
