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
//
// Batched mode (a commit delay above zero) trades durability for speed: a set or delete becomes
// a pending change and returns; a flusher thread commits the pending changes in one transaction
// once the oldest is `commit_delay` old, and the destructor commits what is left. Reads, lists
// and the quota see pending changes. A killed process loses the changes of at most the last
// `commit_delay`; a failed commit keeps them pending, is reported, and refuses later sets and
// deletes until a retry succeeds.
#pragma once

#include <kiln/error.hpp>
#include <kiln/state_db.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace kiln::hostfns {

class KvStore {
public:
    /// `open` gives the state database on first use; `quota` bounds each plugin's bytes;
    /// `commit_delay` zero commits each set before it returns, above zero batches them (see
    /// above); `recheck` is how stale a cached value may get when another process writes;
    /// `report` receives failed batch commits (default: spdlog's "kiln.hostfns" logger).
    KvStore(std::function<Result<std::shared_ptr<StateDb>>()> open, uint64_t quota,
            std::chrono::milliseconds commit_delay = std::chrono::milliseconds(0),
            std::chrono::milliseconds recheck = std::chrono::milliseconds(100),
            std::function<void(std::string_view)> report = {});
    ~KvStore();
    KvStore(const KvStore&) = delete;
    KvStore& operator=(const KvStore&) = delete;

    Result<std::optional<std::string>> get(std::string_view plugin, std::string_view key);
    /// Committed before it returns (batched: pending); over the quota is a limit error and
    /// changes nothing; after a failed batch commit, that commit's error until one succeeds.
    Result<void> set(std::string_view plugin, std::string_view key, std::string_view value);
    /// Whether there was such a key.
    Result<bool> remove(std::string_view plugin, std::string_view key);
    /// The keys starting with `prefix`, in byte order, at most `limit` of them.
    Result<std::vector<std::string>> list(std::string_view plugin, std::string_view prefix,
                                          size_t limit);
    /// The bytes of keys and values `plugin` holds, pending changes included.
    Result<uint64_t> usage(std::string_view plugin);
    /// Commits the pending changes now (batched mode; nothing to do otherwise).
    Result<void> flush();

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
    /// A pending change of batched mode: the value, or none for a delete.
    struct Dirty {
        std::optional<std::string> value;
        uint64_t bytes = 0; ///< of the key and `value`; 0 for a delete
        /// The committed bytes of the key and its value (0 when absent), once known.
        std::optional<uint64_t> old;
    };
    /// What batched mode knows of one plugin's bytes.
    struct Bytes {
        std::optional<uint64_t> committed; ///< kv_usage's, until another connection writes
        uint64_t pending = 0;              ///< the keys and values of its pending changes
    };
    /// Runs one set's statement (under m_mutex, inside the batch's transaction if any).
    Result<void> write(Statements& s, const Pending& p, uint64_t quota);
    /// Reads a value from the cache or the database, and caches it (under m_mutex).
    Result<std::optional<std::string>> read(Statements& s, std::string_view plugin,
                                            std::string_view key, std::string cache_key);
    /// Batched mode's set and delete (under m_mutex).
    Result<void> set_pending(Statements& s, std::string_view plugin, std::string_view key,
                             std::string_view value);
    Result<bool> remove_pending(Statements& s, std::string_view plugin, std::string_view key);
    /// `plugin`'s bytes as committed, from kv_usage (under m_mutex).
    Result<uint64_t> committed_usage(Statements& s, std::string_view plugin);
    /// `plugin`'s bytes with its pending changes (under m_mutex).
    Result<uint64_t> pending_usage(Statements& s, std::string_view plugin);
    /// Notes a change made pending; `first` when there was none before (under m_mutex).
    void changed(bool first);
    /// Commits the pending changes in one transaction (under m_mutex); on failure they stay.
    Result<void> flush_pending();
    /// The flusher thread's loop.
    void flusher();
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
    // Batched mode (under m_mutex): changes by cache key (byte order, so that a prefix is a
    // range), the bytes per plugin, when the oldest change was made, the last commit's failure.
    std::chrono::milliseconds m_delay;
    std::function<void(std::string_view)> m_report;
    std::map<std::string, Dirty> m_dirty;
    std::unordered_map<std::string, Bytes> m_bytes;
    uint64_t m_dirty_bytes = 0;
    std::chrono::steady_clock::time_point m_oldest;
    std::optional<Error> m_failure;
    std::condition_variable m_flush_cv;
    bool m_stopping = false;
    std::thread m_flusher;
};

} // namespace kiln::hostfns
