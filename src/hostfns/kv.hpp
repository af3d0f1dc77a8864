// The kv family's store: per-plugin keys and values in Kiln's state database (component
// "hostfns.kv"), with the bytes each plugin holds kept beside them so that the quota is
// checked in the same transaction as the write.
#pragma once

#include <kiln/error.hpp>
#include <kiln/state_db.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::hostfns {

class KvStore {
public:
    /// `open` gives the state database on first use; `quota` bounds each plugin's bytes.
    KvStore(std::function<Result<std::shared_ptr<StateDb>>()> open, uint64_t quota);

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
    Result<StateDb*> db();

    std::function<Result<std::shared_ptr<StateDb>>()> m_open;
    uint64_t m_quota;
    std::mutex m_mutex;
    std::shared_ptr<StateDb> m_db;
};

} // namespace kiln::hostfns
