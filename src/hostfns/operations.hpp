// Host operations: named JSON handlers the application registers (`query:files.list`,
// `action:tags.add`), called by plugins granted a prefix of the name, within their rate limit.
#pragma once

#include <kiln/hostfns.hpp>

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace kiln::hostfns {

class Operations {
public:
    void add(const std::string& name, HostOperation handler);
    bool remove(const std::string& name);
    /// The handler of `name`, if there is one.
    std::optional<HostOperation> find(std::string_view name) const;

private:
    mutable std::mutex m_mutex;
    std::map<std::string, HostOperation, std::less<>> m_handlers;
};

} // namespace kiln::hostfns
