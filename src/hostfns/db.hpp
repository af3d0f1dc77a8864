// The db family's databases: SQLite files the host names, each opened on first use with a
// small pool of connections per mode (read-only, read-write), locked down for plugins' SQL: no
// ATTACH, no PRAGMA, no extensions, defensive mode.
#pragma once

#include <kiln/error.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;

namespace kiln::hostfns {

class Databases {
public:
    Databases() = default;
    ~Databases();
    Databases(const Databases&) = delete;
    Databases& operator=(const Databases&) = delete;

    /// Names a database; a second call replaces the first (connections in use finish first).
    void add(const std::string& name, const std::string& path, bool writable);
    /// Whether `name` is a database the host named.
    bool has(std::string_view name) const;
    /// Whether the host lets `name` be written at all.
    bool writable(std::string_view name) const;

    /// A connection to `name`, given back when it is destroyed.
    class Lease {
    public:
        Lease(Lease&& o) noexcept;
        ~Lease();
        sqlite3* get() const { return m_db; }

    private:
        friend class Databases;
        struct Pool;
        Lease(std::shared_ptr<Pool> pool, sqlite3* db) : m_pool(std::move(pool)), m_db(db) {}
        std::shared_ptr<Pool> m_pool;
        sqlite3* m_db;
    };
    /// A connection to `name` in the mode asked (read-only unless `write`).
    Result<Lease> acquire(std::string_view name, bool write);

private:
    struct Entry;
    mutable std::mutex m_mutex;
    std::map<std::string, std::shared_ptr<Entry>, std::less<>> m_entries;
};

} // namespace kiln::hostfns
