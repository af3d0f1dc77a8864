// The kv family: KvStore over the state database, and the family functions over it.
#include "hostfns/kv.hpp"

#include "hostfns/families.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

namespace kiln::hostfns {

namespace {

/// Keys are compared as bytes (BLOB), so that a prefix range is a byte range whatever they
/// hold; `kv_usage` keeps each plugin's bytes, updated by triggers in the statement that
/// writes, so that no write can leave it wrong.
const std::vector<Migration> kv_schema = {
    "CREATE TABLE kv(plugin TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, "
    "PRIMARY KEY(plugin, key)) WITHOUT ROWID;"
    "CREATE TABLE kv_usage(plugin TEXT PRIMARY KEY, bytes INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TRIGGER kv_added AFTER INSERT ON kv BEGIN "
    "INSERT INTO kv_usage(plugin, bytes) VALUES (new.plugin, length(new.key) + "
    "length(new.value)) ON CONFLICT(plugin) DO UPDATE SET bytes = bytes + excluded.bytes; END;"
    "CREATE TRIGGER kv_changed AFTER UPDATE OF value ON kv BEGIN "
    "UPDATE kv_usage SET bytes = bytes + length(new.value) - length(old.value) "
    "WHERE plugin = new.plugin; END;"
    "CREATE TRIGGER kv_removed AFTER DELETE ON kv BEGIN "
    "UPDATE kv_usage SET bytes = bytes - length(old.key) - length(old.value) "
    "WHERE plugin = old.plugin; END"};

constexpr size_t max_key = 1024;

/// The set: written only when the plugin's bytes after it stay within the quota (?5), all in
/// the one statement (and so one transaction, committed when it ends).
constexpr const char* set_sql =
    "INSERT INTO kv(plugin, key, value) SELECT ?1, ?2, ?3 WHERE "
    "coalesce((SELECT bytes FROM kv_usage WHERE plugin = ?1), 0) - "
    "coalesce((SELECT length(key) + length(value) FROM kv WHERE plugin = ?1 AND key = ?2), 0) "
    "+ ?4 <= ?5 ON CONFLICT(plugin, key) DO UPDATE SET value = excluded.value";

struct StatementDeleter {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

/// Resets a statement (and its bindings) when a call is done with it.
struct Use {
    sqlite3_stmt* s;
    ~Use() {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
};

void bind_bytes(sqlite3_stmt* s, int i, std::string_view bytes, bool as_blob) {
    // A zero-length blob would bind as NULL from a null pointer: "" keeps it a value.
    const char* data = bytes.data() ? bytes.data() : "";
    if (as_blob)
        sqlite3_bind_blob64(s, i, data, bytes.size(), SQLITE_TRANSIENT);
    else
        sqlite3_bind_text64(s, i, data, bytes.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
}

std::string column_bytes(sqlite3_stmt* s, int i) {
    const void* p = sqlite3_column_blob(s, i);
    return std::string(static_cast<const char*>(p ? p : ""), size_t(sqlite3_column_bytes(s, i)));
}

/// The smallest byte string above every string starting with `prefix`; empty when there is
/// none (the prefix is all 0xff bytes).
std::string prefix_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty() && uint8_t(end.back()) == 0xff)
        end.pop_back();
    if (!end.empty()) end.back() = char(uint8_t(end.back()) + 1);
    return end;
}

Result<void> check_key(std::string_view function, std::string_view key) {
    if (key.empty()) return bad_request(function, "the key is empty");
    if (key.size() > max_key)
        return bad_request(function, fmt::format("the key is longer than {} bytes", max_key));
    return {};
}

} // namespace

struct KvStore::Statements {
    std::string path;
    sqlite3* db = nullptr;
    Statement get, set, remove, list, list_open, usage, data_version, begin, end, rollback;

    ~Statements() {
        for (Statement* st : {&get, &set, &remove, &list, &list_open, &usage, &data_version, &begin,
                              &end, &rollback})
            st->reset();
        sqlite3_close_v2(db);
    }
    tl::unexpected<Error> error(std::string_view doing) const {
        return make_error(ErrorKind::io,
                          fmt::format("{}: kv: {}: {}", path, doing, sqlite3_errmsg(db)));
    }
    Result<void> prepare(Statement& s, const char* sql) {
        sqlite3_stmt* raw = nullptr;
        if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) != SQLITE_OK)
            return error("preparing a statement");
        s.reset(raw);
        return {};
    }
    /// Steps a statement that yields no row.
    Result<void> run(sqlite3_stmt* s, std::string_view doing) {
        if (sqlite3_step(s) != SQLITE_DONE) return error(doing);
        return {};
    }
};

KvStore::KvStore(std::function<Result<std::shared_ptr<StateDb>>()> open, uint64_t quota,
                 std::chrono::milliseconds recheck)
    : m_open(std::move(open)), m_quota(quota), m_recheck(recheck) {}

KvStore::~KvStore() = default;

Result<KvStore::Statements*> KvStore::ready() {
    if (m_statements) return m_statements.get();
    auto db = m_open();
    if (!db) return tl::unexpected(db.error());
    if (auto ok = (*db)->schema("hostfns.kv", 1, kv_schema); !ok) return tl::unexpected(ok.error());
    auto s = std::make_unique<Statements>();
    s->path = (*db)->path();
    const int rc = sqlite3_open_v2(s->path.c_str(), &s->db,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) return s->error("opening");
    // As every connection of the state database: WAL (the database's mode already), commits
    // that survive the process, writers waiting for each other.
    sqlite3_busy_timeout(s->db, 5000);
    if (sqlite3_exec(s->db, "PRAGMA synchronous=NORMAL", nullptr, nullptr, nullptr) != SQLITE_OK)
        return s->error("setting synchronous");
    for (auto [statement, sql] : {
             std::pair{&s->get, "SELECT value FROM kv WHERE plugin = ?1 AND key = ?2"},
             std::pair{&s->set, set_sql},
             std::pair{&s->remove, "DELETE FROM kv WHERE plugin = ?1 AND key = ?2"},
             // A prefix's keys are a range (the index's order); one of all 0xff bytes has no
             // upper end.
             std::pair{&s->list, "SELECT key FROM kv WHERE plugin = ?1 AND key >= ?2 AND "
                                 "key < ?3 ORDER BY key LIMIT ?4"},
             std::pair{&s->list_open, "SELECT key FROM kv WHERE plugin = ?1 AND key >= ?2 "
                                      "ORDER BY key LIMIT ?4"},
             std::pair{&s->usage, "SELECT bytes FROM kv_usage WHERE plugin = ?1"},
             std::pair{&s->data_version, "PRAGMA data_version"},
             std::pair{&s->begin, "BEGIN IMMEDIATE"},
             std::pair{&s->end, "COMMIT"},
             std::pair{&s->rollback, "ROLLBACK"},
         })
        if (auto ok = s->prepare(*statement, sql); !ok) return tl::unexpected(ok.error());
    m_db = std::move(*db);
    m_statements = std::move(s);
    return m_statements.get();
}

namespace {

/// The cache's key of a plugin's key: plugin names hold no NUL.
std::string cache_key(std::string_view plugin, std::string_view key) {
    std::string k;
    k.reserve(plugin.size() + 1 + key.size());
    k.append(plugin).push_back('\0');
    k.append(key);
    return k;
}

/// What the cache may hold before it is emptied.
constexpr uint64_t max_cache_bytes = 8u << 20;

} // namespace

void KvStore::revalidate(Statements& s) {
    const auto now = std::chrono::steady_clock::now();
    if (now - m_checked < m_recheck) return;
    m_checked = now;
    sqlite3_stmt* q = s.data_version.get();
    Use use{q};
    const int64_t version = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
    if (version != m_data_version || version < 0) {
        m_cache.clear();
        m_cache_bytes = 0;
    }
    m_data_version = version;
}

void KvStore::remember(std::string k, std::optional<std::string> value) {
    const uint64_t size = k.size() + (value ? value->size() : 0);
    if (m_cache_bytes + size > max_cache_bytes) {
        m_cache.clear();
        m_cache_bytes = 0;
    }
    auto [it, added] = m_cache.try_emplace(std::move(k));
    if (!added) m_cache_bytes -= it->first.size() + (it->second ? it->second->size() : 0);
    it->second = std::move(value);
    m_cache_bytes += size;
}

Result<std::optional<std::string>> KvStore::get(std::string_view plugin, std::string_view key) {
    std::lock_guard lock(m_mutex);
    auto s = ready();
    if (!s) return tl::unexpected(s.error());
    revalidate(**s);
    std::string k = cache_key(plugin, key);
    if (auto hit = m_cache.find(k); hit != m_cache.end()) return hit->second;
    sqlite3_stmt* q = (*s)->get.get();
    Use use{q};
    bind_bytes(q, 1, plugin, false);
    bind_bytes(q, 2, key, true);
    const int rc = sqlite3_step(q);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return (*s)->error("reading");
    std::optional<std::string> value;
    if (rc == SQLITE_ROW) value = column_bytes(q, 0);
    remember(std::move(k), value);
    return value;
}

Result<void> KvStore::write(Statements& s, const Pending& p) {
    sqlite3_stmt* q = s.set.get();
    Use use{q};
    bind_bytes(q, 1, p.plugin, false);
    bind_bytes(q, 2, p.key, true);
    bind_bytes(q, 3, p.value, true);
    sqlite3_bind_int64(q, 4, int64_t(p.key.size() + p.value.size()));
    sqlite3_bind_int64(q, 5, int64_t(m_quota));
    // sqlite3_changes() is left as it was by an INSERT that inserts nothing: count instead.
    const int64_t before = sqlite3_total_changes64(s.db);
    if (auto ok = s.run(q, "writing"); !ok) return ok;
    if (sqlite3_total_changes64(s.db) != before) return {};
    // Nothing written: the quota refused it. Say how much the plugin holds.
    sqlite3_stmt* u = s.usage.get();
    Use use_usage{u};
    bind_bytes(u, 1, p.plugin, false);
    const uint64_t held = sqlite3_step(u) == SQLITE_ROW ? uint64_t(sqlite3_column_int64(u, 0)) : 0;
    return make_error(ErrorKind::limit,
                      fmt::format("{}: kv quota of {} bytes exceeded ({} held; the key and value "
                                  "take {})",
                                  p.plugin, m_quota, held, p.key.size() + p.value.size()));
}

void KvStore::commit(std::vector<Pending*>& batch) {
    std::lock_guard lock(m_mutex);
    auto s = ready();
    if (!s) {
        for (Pending* p : batch)
            p->result = tl::unexpected(s.error());
        return;
    }
    Statements& st = **s;
    // One set is its own transaction; several share one, so that they share its commit.
    const bool together = batch.size() > 1;
    if (together) {
        Use use{st.begin.get()};
        if (auto ok = st.run(st.begin.get(), "starting a transaction"); !ok) {
            for (Pending* p : batch)
                p->result = ok;
            return;
        }
    }
    // A refusal (the quota) is that set's; anything else fails the whole batch.
    Result<void> outcome;
    for (Pending* p : batch) {
        p->result = write(st, *p);
        if (!p->result && p->result.error().kind != ErrorKind::limit) {
            outcome = p->result;
            break;
        }
    }
    if (together && !outcome) {
        Use use{st.rollback.get()};
        (void)sqlite3_step(st.rollback.get());
    } else if (together) {
        Use use{st.end.get()};
        outcome = st.run(st.end.get(), "committing");
    }
    for (Pending* p : batch) {
        if (!outcome) {
            p->result = outcome;
            m_cache.erase(cache_key(p->plugin, p->key));
        } else if (p->result) {
            remember(cache_key(p->plugin, p->key), std::string(p->value));
        }
    }
}

Result<void> KvStore::set(std::string_view plugin, std::string_view key, std::string_view value) {
    Pending mine{plugin, key, value, {}, false};
    std::unique_lock lock(m_queue_mutex);
    m_pending.push_back(&mine);
    while (!mine.done) {
        if (m_committing) {
            m_queue_cv.wait(lock);
            continue;
        }
        // No batch is being committed: this thread commits every set waiting, its own too.
        m_committing = true;
        std::vector<Pending*> batch;
        batch.swap(m_pending);
        lock.unlock();
        commit(batch);
        lock.lock();
        for (Pending* p : batch)
            p->done = true;
        m_committing = false;
        m_queue_cv.notify_all();
    }
    return mine.result;
}

Result<bool> KvStore::remove(std::string_view plugin, std::string_view key) {
    std::lock_guard lock(m_mutex);
    auto s = ready();
    if (!s) return tl::unexpected(s.error());
    sqlite3_stmt* q = (*s)->remove.get();
    Use use{q};
    bind_bytes(q, 1, plugin, false);
    bind_bytes(q, 2, key, true);
    m_cache.erase(cache_key(plugin, key));
    const int64_t before = sqlite3_total_changes64((*s)->db);
    if (auto ok = (*s)->run(q, "deleting"); !ok) return tl::unexpected(ok.error());
    remember(cache_key(plugin, key), std::nullopt);
    return sqlite3_total_changes64((*s)->db) != before;
}

Result<std::vector<std::string>> KvStore::list(std::string_view plugin, std::string_view prefix,
                                               size_t limit) {
    std::lock_guard lock(m_mutex);
    auto s = ready();
    if (!s) return tl::unexpected(s.error());
    const std::string end = prefix_end(prefix);
    sqlite3_stmt* q = end.empty() ? (*s)->list_open.get() : (*s)->list.get();
    Use use{q};
    bind_bytes(q, 1, plugin, false);
    bind_bytes(q, 2, prefix, true);
    if (!end.empty()) bind_bytes(q, 3, end, true);
    sqlite3_bind_int64(q, 4, int64_t(limit));
    std::vector<std::string> keys;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        keys.push_back(column_bytes(q, 0));
    if (rc != SQLITE_DONE) return (*s)->error("listing");
    return keys;
}

Result<uint64_t> KvStore::usage(std::string_view plugin) {
    std::lock_guard lock(m_mutex);
    auto s = ready();
    if (!s) return tl::unexpected(s.error());
    sqlite3_stmt* q = (*s)->usage.get();
    Use use{q};
    bind_bytes(q, 1, plugin, false);
    const int rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) return (*s)->error("reading the usage");
    return uint64_t(sqlite3_column_int64(q, 0));
}

// ---- the family

Result<std::optional<std::string>> kv_get(HostContext& ctx, std::string_view key) {
    if (auto ok = check_key("kv_get", key); !ok) return tl::unexpected(ok.error());
    if (auto ok = ctx.check(Permission::kv_read); !ok) return tl::unexpected(ok.error());
    return ctx.services().kv->get(ctx.plugin(), key);
}

Result<void> kv_set(HostContext& ctx, std::string_view key, std::string_view value) {
    if (auto ok = check_key("kv_set", key); !ok) return ok;
    if (auto ok = ctx.check(Permission::kv_write); !ok) return ok;
    return ctx.services().kv->set(ctx.plugin(), key, value);
}

Result<bool> kv_delete(HostContext& ctx, std::string_view key) {
    if (auto ok = check_key("kv_delete", key); !ok) return tl::unexpected(ok.error());
    if (auto ok = ctx.check(Permission::kv_write); !ok) return tl::unexpected(ok.error());
    return ctx.services().kv->remove(ctx.plugin(), key);
}

Result<std::vector<std::string>> kv_list(HostContext& ctx, std::string_view prefix) {
    if (auto ok = ctx.check(Permission::kv_read); !ok) return tl::unexpected(ok.error());
    return ctx.services().kv->list(ctx.plugin(), prefix, kv_list_limit);
}

} // namespace kiln::hostfns
