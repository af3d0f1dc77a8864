// The kv family: KvStore over the state database, and the family functions over it.
#include "hostfns/kv.hpp"

#include "hostfns/families.hpp"

#include <fmt/format.h>
#include <sqlite3.h>
#define SPDLOG_HEADER_ONLY
#define SPDLOG_FMT_EXTERNAL
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <climits>

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

namespace {

/// Where a failed batch commit is told by default: spdlog's "kiln.hostfns" logger, on stderr.
void log_error(std::string_view line) {
    static std::shared_ptr<spdlog::logger> logger = [] {
        auto l = spdlog::get("kiln.hostfns");
        return l ? l : spdlog::stderr_color_mt("kiln.hostfns");
    }();
    logger->error("{}", line);
}

} // namespace

KvStore::KvStore(std::function<Result<std::shared_ptr<StateDb>>()> open, uint64_t quota,
                 std::chrono::milliseconds commit_delay, std::chrono::milliseconds recheck,
                 std::function<void(std::string_view)> report)
    : m_open(std::move(open)), m_quota(quota), m_recheck(recheck), m_delay(commit_delay),
      m_report(report ? std::move(report) : log_error) {}

KvStore::~KvStore() {
    {
        std::lock_guard lock(m_mutex);
        m_stopping = true;
    }
    m_flush_cv.notify_all();
    if (m_flusher.joinable()) m_flusher.join();
    // A clean shutdown commits every pending change; what cannot be committed is told.
    std::lock_guard lock(m_mutex);
    const size_t pending = m_dirty.size();
    if (auto ok = flush_pending(); !ok)
        m_report(fmt::format("kv: {} pending change(s) lost at shutdown: {}", pending,
                             ok.error().message));
}

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
        for (auto& entry : m_bytes)
            entry.second.committed.reset();
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
    if (auto d = m_dirty.find(k); d != m_dirty.end()) return d->second.value;
    return read(**s, plugin, key, std::move(k));
}

Result<std::optional<std::string>> KvStore::read(Statements& s, std::string_view plugin,
                                                 std::string_view key, std::string k) {
    if (auto hit = m_cache.find(k); hit != m_cache.end()) return hit->second;
    sqlite3_stmt* q = s.get.get();
    Use use{q};
    bind_bytes(q, 1, plugin, false);
    bind_bytes(q, 2, key, true);
    const int rc = sqlite3_step(q);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return s.error("reading");
    std::optional<std::string> value;
    if (rc == SQLITE_ROW) value = column_bytes(q, 0);
    remember(std::move(k), value);
    return value;
}

Result<void> KvStore::write(Statements& s, const Pending& p, uint64_t quota) {
    sqlite3_stmt* q = s.set.get();
    Use use{q};
    bind_bytes(q, 1, p.plugin, false);
    bind_bytes(q, 2, p.key, true);
    bind_bytes(q, 3, p.value, true);
    sqlite3_bind_int64(q, 4, int64_t(p.key.size() + p.value.size()));
    sqlite3_bind_int64(q, 5, int64_t(std::min<uint64_t>(quota, INT64_MAX)));
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
        p->result = write(st, *p, m_quota);
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
    if (m_delay.count() > 0) {
        std::lock_guard lock(m_mutex);
        auto s = ready();
        if (!s) return tl::unexpected(s.error());
        revalidate(**s);
        return set_pending(**s, plugin, key, value);
    }
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
    if (m_delay.count() > 0) {
        revalidate(**s);
        return remove_pending(**s, plugin, key);
    }
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
    // The pending changes under the prefix decide for their keys: the database is asked for
    // as many more keys as they could hide (deletes), and they are merged in.
    std::vector<std::map<std::string, Dirty>::const_iterator> dirty;
    const std::string low = cache_key(plugin, prefix);
    for (auto it = m_dirty.lower_bound(low);
         it != m_dirty.end() && it->first.compare(0, low.size(), low) == 0; ++it)
        dirty.push_back(it);
    const std::string end = prefix_end(prefix);
    sqlite3_stmt* q = end.empty() ? (*s)->list_open.get() : (*s)->list.get();
    Use use{q};
    bind_bytes(q, 1, plugin, false);
    bind_bytes(q, 2, prefix, true);
    if (!end.empty()) bind_bytes(q, 3, end, true);
    sqlite3_bind_int64(q, 4, int64_t(std::min<uint64_t>(limit + dirty.size(), INT64_MAX)));
    std::vector<std::string> keys;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW)
        keys.push_back(column_bytes(q, 0));
    if (rc != SQLITE_DONE) return (*s)->error("listing");
    if (dirty.empty()) return keys;
    std::erase_if(
        keys, [&](const std::string& key) { return m_dirty.count(cache_key(plugin, key)) != 0; });
    for (auto it : dirty)
        if (it->second.value) keys.push_back(it->first.substr(plugin.size() + 1));
    std::sort(keys.begin(), keys.end());
    if (keys.size() > limit) keys.resize(limit);
    return keys;
}

Result<uint64_t> KvStore::usage(std::string_view plugin) {
    std::lock_guard lock(m_mutex);
    auto s = ready();
    if (!s) return tl::unexpected(s.error());
    if (m_delay.count() > 0) {
        revalidate(**s);
        return pending_usage(**s, plugin);
    }
    return committed_usage(**s, plugin);
}

Result<uint64_t> KvStore::committed_usage(Statements& s, std::string_view plugin) {
    sqlite3_stmt* q = s.usage.get();
    Use use{q};
    bind_bytes(q, 1, plugin, false);
    const int rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) return 0;
    if (rc != SQLITE_ROW) return s.error("reading the usage");
    return uint64_t(sqlite3_column_int64(q, 0));
}

// ---- batched mode

Result<void> KvStore::flush() {
    std::lock_guard lock(m_mutex);
    return flush_pending();
}

Result<uint64_t> KvStore::pending_usage(Statements& s, std::string_view plugin) {
    Bytes& b = m_bytes[std::string(plugin)];
    if (!b.committed) {
        auto committed = committed_usage(s, plugin);
        if (!committed) return committed;
        b.committed = *committed;
    }
    // Each pending change replaces its key's committed bytes, read once per batch.
    int64_t held = int64_t(*b.committed);
    const std::string low = cache_key(plugin, "");
    for (auto it = m_dirty.lower_bound(low);
         it != m_dirty.end() && it->first.compare(0, low.size(), low) == 0; ++it) {
        Dirty& d = it->second;
        if (!d.old) {
            const std::string_view key = std::string_view(it->first).substr(low.size());
            auto value = read(s, plugin, key, it->first);
            if (!value) return tl::unexpected(value.error());
            d.old = *value ? key.size() + (*value)->size() : 0;
        }
        held += int64_t(d.bytes) - int64_t(*d.old);
    }
    return uint64_t(std::max<int64_t>(held, 0));
}

Result<void> KvStore::set_pending(Statements& s, std::string_view plugin, std::string_view key,
                                  std::string_view value) {
    if (m_failure) return tl::unexpected(*m_failure);
    std::string k = cache_key(plugin, key);
    const uint64_t size = key.size() + value.size();
    Bytes& b = m_bytes[std::string(plugin)];
    if (!b.committed) {
        auto committed = committed_usage(s, plugin);
        if (!committed) return tl::unexpected(committed.error());
        b.committed = *committed;
    }
    auto it = m_dirty.find(k);
    const uint64_t before = it != m_dirty.end() ? it->second.bytes : 0;
    std::optional<uint64_t> old;
    // The committed bytes plus every pending key and value bound the plugin's bytes from above
    // (a change never counts its key's committed bytes back): only over the quota is the exact
    // count needed.
    if (*b.committed + b.pending - before + size > m_quota) {
        auto held = pending_usage(s, plugin);
        if (!held) return tl::unexpected(held.error());
        uint64_t current = before;
        if (it == m_dirty.end()) {
            auto committed = read(s, plugin, key, k);
            if (!committed) return tl::unexpected(committed.error());
            old = current = *committed ? key.size() + (*committed)->size() : 0;
        }
        if (*held - current + size > m_quota)
            return make_error(ErrorKind::limit,
                              fmt::format("{}: kv quota of {} bytes exceeded ({} held; the key and "
                                          "value take {})",
                                          plugin, m_quota, *held, size));
    }
    const bool first = m_dirty.empty();
    if (it == m_dirty.end()) {
        if (auto hit = m_cache.find(k); !old && hit != m_cache.end())
            old = hit->second ? key.size() + hit->second->size() : 0;
        it = m_dirty.emplace(std::move(k), Dirty{{}, 0, old}).first;
    }
    it->second.value = std::string(value);
    it->second.bytes = size;
    b.pending = b.pending - before + size;
    m_dirty_bytes = m_dirty_bytes - before + size;
    changed(first);
    return {};
}

Result<bool> KvStore::remove_pending(Statements& s, std::string_view plugin, std::string_view key) {
    if (m_failure) return tl::unexpected(*m_failure);
    std::string k = cache_key(plugin, key);
    const bool first = m_dirty.empty();
    auto it = m_dirty.find(k);
    bool existed = true;
    if (it == m_dirty.end()) {
        auto committed = read(s, plugin, key, k);
        if (!committed) return tl::unexpected(committed.error());
        if (!*committed) return false;
        it = m_dirty.emplace(std::move(k), Dirty{{}, 0, key.size() + (*committed)->size()}).first;
    } else {
        existed = it->second.value.has_value();
    }
    const uint64_t before = it->second.bytes;
    it->second.value.reset();
    it->second.bytes = 0;
    m_bytes[std::string(plugin)].pending -= before;
    m_dirty_bytes -= before;
    changed(first);
    return existed;
}

void KvStore::changed(bool first) {
    if (first) {
        m_oldest = std::chrono::steady_clock::now();
        if (!m_flusher.joinable()) m_flusher = std::thread([this] { flusher(); });
        m_flush_cv.notify_one();
    }
    // Pending values are memory: past the cache's bound, the set that went over commits them
    // (a failure is reported, and the next set returns it).
    if (m_dirty_bytes > max_cache_bytes) (void)flush_pending();
}

void KvStore::flusher() {
    std::unique_lock lock(m_mutex);
    while (!m_stopping) {
        if (m_dirty.empty()) {
            m_flush_cv.wait(lock);
            continue;
        }
        const auto due = m_oldest + m_delay;
        if (std::chrono::steady_clock::now() < due) {
            m_flush_cv.wait_until(lock, due);
            continue;
        }
        // A failure is reported and kept in m_failure; the batch is retried a delay later.
        (void)flush_pending();
    }
}

Result<void> KvStore::flush_pending() {
    if (m_dirty.empty()) return {};
    auto s = ready();
    if (!s) return tl::unexpected(s.error());
    Statements& st = **s;
    auto fail = [&](Result<void> outcome) {
        if (!sqlite3_get_autocommit(st.db)) {
            Use use{st.rollback.get()};
            (void)sqlite3_step(st.rollback.get());
        }
        m_failure = outcome.error();
        m_oldest = std::chrono::steady_clock::now();
        m_report(fmt::format("kv: committing {} pending change(s) failed; they are kept, retried "
                             "and refuse new writes until then: {}",
                             m_dirty.size(), outcome.error().message));
        return outcome;
    };
    {
        Use use{st.begin.get()};
        if (auto ok = st.run(st.begin.get(), "starting a transaction"); !ok) return fail(ok);
    }
    for (const auto& [k, d] : m_dirty) {
        const size_t nul = k.find('\0');
        const std::string_view plugin(k.data(), nul);
        const std::string_view key = std::string_view(k).substr(nul + 1);
        Result<void> ok;
        if (d.value) {
            // The quota was checked exactly when the set was made, against this batch.
            ok = write(st, Pending{plugin, key, *d.value, {}, false}, UINT64_MAX);
        } else {
            sqlite3_stmt* q = st.remove.get();
            Use use{q};
            bind_bytes(q, 1, plugin, false);
            bind_bytes(q, 2, key, true);
            ok = st.run(q, "deleting");
        }
        if (!ok) return fail(ok);
    }
    // The plugins' committed bytes, read in the transaction, replace what was known.
    std::vector<std::pair<Bytes*, uint64_t>> committed;
    for (auto& [plugin, b] : m_bytes) {
        auto bytes = committed_usage(st, plugin);
        if (!bytes) return fail(tl::unexpected(bytes.error()));
        committed.emplace_back(&b, *bytes);
    }
    {
        Use use{st.end.get()};
        if (auto ok = st.run(st.end.get(), "committing"); !ok) return fail(ok);
    }
    for (auto& [b, bytes] : committed) {
        b->committed = bytes;
        b->pending = 0;
    }
    for (auto& [k, d] : m_dirty)
        remember(k, std::move(d.value));
    m_dirty.clear();
    m_dirty_bytes = 0;
    m_failure.reset();
    return {};
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
