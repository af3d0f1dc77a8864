// The kv family's store: per-plugin keys and values in Kiln's state database (component
// "hostfns.kv"), with the bytes each plugin holds kept beside them so that the quota is
// checked in the statement that writes. The schema is the state database's (StateDb); reads
// and writes go through one connection of the store's own, its statements prepared once.
//
// Two things make a kv call cheaper than an SQLite transaction of its own (whose file locks
// cost most of it): sets made at once by several threads are committed together (group
// commit: each still returns only once its set is committed), and values read or written are
// kept in a cache, emptied when `PRAGMA data_version` says another connection (another process)
// changed the database, which is asked at most every `recheck` (100 ms).
#pragma once

#include <kiln/error.hpp>
#include <kiln/state_db.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace kiln::hostfns {

class KvStore {
public:
    /// `open` gives the state database on first use; `quota` bounds each plugin's bytes;
    /// `recheck` is how stale a cached value may get when another process writes.
    KvStore(std::function<Result<std::shared_ptr<StateDb>>()> open, uint64_t quota,
            std::chrono::milliseconds recheck = std::chrono::milliseconds(100));
    ~KvStore();
    KvStore(const KvStore&) = delete;
    KvStore& operator=(const KvStore&) = delete;

    Result<std::optional<std::string>> get(std::string_view plugin, std::string_view key);
    /// Committed before it returns; over the quota is a limit error and changes nothing.
    Result<void> set(std::string_view plugin, std::string_view key, std::string_view value);
    /// Whether there was such a key.
    Result<bool> remove(std::string_view plugin, std::string_view key);
    /// The keys starting with `prefix`, in byte order, at most `limit` of them.
    Result<std::vector<std::string>> list(std::string_view plugin, std::string_view prefix,
                                          size_t limit);
    /// The bytes of keys and values `plugin` holds.
    Result<uint64_t> usage(std::string_view plugin);

private:
    struct Statements;
    /// One set waiting for its commit.
    struct Pending {
        std::string_view plugin, key, value;
        Result<void> result;
        bool done = false;
    };
    /// The connection and its statements, opened on first use (under m_mutex).
    Result<Statements*> ready();
    /// Runs one set's statement (under m_mutex, inside the batch's transaction if any).
    Result<void> write(Statements& s, const Pending& p);
    /// Commits `batch` (under m_mutex): one statement alone, or all in one transaction.
    void commit(std::vector<Pending*>& batch);
    /// Empties the cache if another connection changed the database (under m_mutex).
    void revalidate(Statements& s);
    /// Keeps a value (or its absence) in the cache (under m_mutex).
    void remember(std::string cache_key, std::optional<std::string> value);

    std::function<Result<std::shared_ptr<StateDb>>()> m_open;
    uint64_t m_quota;
    std::chrono::milliseconds m_recheck;
    std::mutex m_mutex; ///< the connection, its statements and the cache
    std::shared_ptr<StateDb> m_db;
    std::unique_ptr<Statements> m_statements;
    std::unordered_map<std::string, std::optional<std::string>> m_cache;
    uint64_t m_cache_bytes = 0;
    int64_t m_data_version = -1;
    std::chrono::steady_clock::time_point m_checked;
    // Group commit: sets waiting, and whether a thread is committing a batch.
    std::mutex m_queue_mutex;
    std::condition_variable m_queue_cv;
    std::vector<Pending*> m_pending;
    bool m_committing = false;
};

} // namespace kiln::hostfns
