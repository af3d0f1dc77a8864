// The kv family: KvStore over the state database, and the family functions over it.
#include "hostfns/kv.hpp"

#include "hostfns/families.hpp"

#include <fmt/format.h>

namespace kiln::hostfns {

namespace {

/// Keys are compared as bytes (BLOB), so that a prefix range is a byte range whatever they
/// hold; `kv_usage` keeps each plugin's bytes, updated in the transaction of each write.
const std::vector<Migration> kv_schema = {
    "CREATE TABLE kv(plugin TEXT NOT NULL, key BLOB NOT NULL, value BLOB NOT NULL, "
    "PRIMARY KEY(plugin, key)) WITHOUT ROWID;"
    "CREATE TABLE kv_usage(plugin TEXT PRIMARY KEY, bytes INTEGER NOT NULL)"};

constexpr size_t max_key = 1024;

/// Bytes as a BLOB; none as an empty TEXT, as an empty BLOB would bind as NULL.
SqlValue blob(std::string_view s) {
    if (s.empty()) return std::string();
    return SqlBlob(s.begin(), s.end());
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

KvStore::KvStore(std::function<Result<std::shared_ptr<StateDb>>()> open, uint64_t quota)
    : m_open(std::move(open)), m_quota(quota) {}

Result<StateDb*> KvStore::db() {
    std::lock_guard lock(m_mutex);
    if (m_db) return m_db.get();
    auto db = m_open();
    if (!db) return tl::unexpected(db.error());
    if (auto ok = (*db)->schema("hostfns.kv", 1, kv_schema); !ok) return tl::unexpected(ok.error());
    m_db = std::move(*db);
    return m_db.get();
}

Result<std::optional<std::string>> KvStore::get(std::string_view plugin, std::string_view key) {
    auto db = this->db();
    if (!db) return tl::unexpected(db.error());
    auto row = (*db)->query_one("SELECT value FROM kv WHERE plugin = ? AND key = ?",
                                {std::string(plugin), blob(key)});
    if (!row) return tl::unexpected(row.error());
    if (!*row) return std::nullopt;
    return (*row)->text(0);
}

Result<void> KvStore::set(std::string_view plugin, std::string_view key, std::string_view value) {
    auto db = this->db();
    if (!db) return tl::unexpected(db.error());
    const std::string p(plugin);
    return (*db)->transaction([&](SqlConnection& c) -> Result<void> {
        auto old = c.query_one("SELECT length(key) + length(value) FROM kv WHERE plugin = ? AND "
                               "key = ?",
                               {p, blob(key)});
        if (!old) return tl::unexpected(old.error());
        auto used = c.query_one("SELECT bytes FROM kv_usage WHERE plugin = ?", {p});
        if (!used) return tl::unexpected(used.error());
        const int64_t before = *used ? (*used)->integer(0) : 0;
        const int64_t delta =
            int64_t(key.size() + value.size()) - (*old ? (*old)->integer(0) : int64_t(0));
        if (delta > 0 && uint64_t(before + delta) > m_quota)
            return make_error(ErrorKind::limit,
                              fmt::format("{}: kv quota of {} bytes exceeded ({} held, {} more "
                                          "asked)",
                                          plugin, m_quota, before, delta));
        auto put = c.exec("INSERT INTO kv(plugin, key, value) VALUES (?, ?, ?) ON CONFLICT(plugin, "
                          "key) DO UPDATE SET value = excluded.value",
                          {p, blob(key), blob(value)});
        if (!put) return tl::unexpected(put.error());
        auto count = c.exec("INSERT INTO kv_usage(plugin, bytes) VALUES (?, ?) ON "
                            "CONFLICT(plugin) DO UPDATE SET bytes = bytes + excluded.bytes",
                            {p, delta});
        if (!count) return tl::unexpected(count.error());
        return {};
    });
}

Result<bool> KvStore::remove(std::string_view plugin, std::string_view key) {
    auto db = this->db();
    if (!db) return tl::unexpected(db.error());
    const std::string p(plugin);
    bool removed = false;
    auto ok = (*db)->transaction([&](SqlConnection& c) -> Result<void> {
        auto old = c.query_one("SELECT length(key) + length(value) FROM kv WHERE plugin = ? AND "
                               "key = ?",
                               {p, blob(key)});
        if (!old) return tl::unexpected(old.error());
        if (!*old) return {};
        auto gone = c.exec("DELETE FROM kv WHERE plugin = ? AND key = ?", {p, blob(key)});
        if (!gone) return tl::unexpected(gone.error());
        auto count = c.exec("UPDATE kv_usage SET bytes = bytes - ? WHERE plugin = ?",
                            {(*old)->integer(0), p});
        if (!count) return tl::unexpected(count.error());
        removed = true;
        return {};
    });
    if (!ok) return tl::unexpected(ok.error());
    return removed;
}

Result<std::vector<std::string>> KvStore::list(std::string_view plugin, std::string_view prefix,
                                               size_t limit) {
    auto db = this->db();
    if (!db) return tl::unexpected(db.error());
    // The keys from `prefix` (an empty blob would bind as NULL: no lower bound then) up to
    // the first key past every key starting with it, if there is one.
    const std::string end = prefix_end(prefix);
    std::string sql = "SELECT key FROM kv WHERE plugin = ?";
    std::vector<SqlValue> params{std::string(plugin)};
    if (!prefix.empty()) {
        sql += " AND key >= ?";
        params.push_back(blob(prefix));
    }
    if (!end.empty()) {
        sql += " AND key < ?";
        params.push_back(blob(end));
    }
    sql += " ORDER BY key LIMIT ?";
    params.push_back(int64_t(limit));
    auto rows = (*db)->query(sql, params);
    if (!rows) return tl::unexpected(rows.error());
    std::vector<std::string> keys;
    keys.reserve(rows->size());
    for (const SqlRow& r : *rows)
        keys.push_back(r.text(0));
    return keys;
}

Result<uint64_t> KvStore::usage(std::string_view plugin) {
    auto db = this->db();
    if (!db) return tl::unexpected(db.error());
    auto row =
        (*db)->query_one("SELECT bytes FROM kv_usage WHERE plugin = ?", {std::string(plugin)});
    if (!row) return tl::unexpected(row.error());
    return *row ? uint64_t((*row)->integer(0)) : 0;
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
