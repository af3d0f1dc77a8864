// The permission model: one set of grants per plugin, one check for every host function
// family, grants as `kiln plugin grant` writes them, and the audit log of denials.
#include "base/text.hpp"
#include "manager/persist.hpp"

#include <kiln/manager.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace kiln {

namespace {

/// The host of a URL ("https://user@host:443/x" -> "host"), or the text itself when it has no
/// scheme.
std::string_view host_of(std::string_view url) {
    size_t scheme = url.find("://");
    if (scheme == std::string_view::npos) return url;
    std::string_view rest = url.substr(scheme + 3);
    rest = rest.substr(0, rest.find_first_of("/?#"));
    if (size_t at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
    if (!rest.empty() && rest.front() == '[') return rest.substr(0, rest.find(']') + 1);
    return rest.substr(0, rest.find(':'));
}

/// A network pattern allows a URL when it is "*", a glob matching the whole URL (Zeno's
/// "https://api.x.com/*"), or a host glob matching the URL's host ("*.example.com").
bool network_allows(std::string_view pattern, std::string_view url) {
    if (pattern == "*" || glob_match(pattern, url)) return true;
    if (pattern.find("://") != std::string_view::npos) return false;
    // Host names compare without case, as the HTTP client's allowed_hosts do.
    return glob_match(pattern, host_of(url), true);
}

/// A path prefix covers a path when they are equal or the path goes on below it; ".." anywhere
/// in the path is refused, as the prefix could be left through it.
bool path_under(std::string_view prefix, std::string_view path) {
    for (size_t at = 0; at <= path.size();) {
        size_t end = path.find('/', at);
        if (path.substr(at, end == std::string_view::npos ? path.npos : end - at) == "..")
            return false;
        if (end == std::string_view::npos) break;
        at = end + 1;
    }
    while (prefix.size() > 1 && prefix.back() == '/')
        prefix.remove_suffix(1);
    if (prefix.starts_with("./")) prefix.remove_prefix(2);
    if (path.starts_with("./")) path.remove_prefix(2);
    if (prefix == "." || prefix.empty()) return !path.starts_with('/');
    if (!path.starts_with(prefix)) return false;
    return path.size() == prefix.size() || path[prefix.size()] == '/' || prefix.back() == '/';
}

bool any_glob(const std::vector<std::string>& patterns, std::string_view text) {
    return std::any_of(patterns.begin(), patterns.end(),
                       [&](const std::string& p) { return glob_match(p, text); });
}

template <typename T> void add_unique(std::vector<T>& to, const std::vector<T>& from) {
    for (const T& x : from)
        if (std::find(to.begin(), to.end(), x) == to.end()) to.push_back(x);
}

} // namespace

const char* abi_name(PluginAbi abi) {
    switch (abi) {
    case PluginAbi::automatic: return "auto";
    case PluginAbi::extism: return "extism";
    case PluginAbi::zeno: return "zeno";
    case PluginAbi::spacedrive: return "spacedrive";
    case PluginAbi::reflow: return "reflow";
    }
    return "unknown";
}

const char* permission_name(Permission permission) {
    switch (permission) {
    case Permission::network: return "network";
    case Permission::file_read: return "file_read";
    case Permission::file_write: return "file_write";
    case Permission::env: return "env";
    case Permission::database: return "database";
    case Permission::kv_read: return "kv_read";
    case Permission::kv_write: return "kv_write";
    case Permission::scope_read: return "scope_read";
    case Permission::scope_write: return "scope_write";
    case Permission::publish: return "publish";
    case Permission::subscribe: return "subscribe";
    case Permission::operation: return "operation";
    case Permission::library: return "library";
    case Permission::ui: return "ui";
    case Permission::jobs: return "jobs";
    }
    return "unknown";
}

void Permissions::merge(const Permissions& o) {
    add_unique(network, o.network);
    add_unique(env, o.env);
    add_unique(databases, o.databases);
    add_unique(publish, o.publish);
    add_unique(subscribe, o.subscribe);
    add_unique(operations, o.operations);
    add_unique(libraries, o.libraries);
    for (const Path& p : o.filesystem) {
        auto same = std::find_if(filesystem.begin(), filesystem.end(),
                                 [&](const Path& q) { return q.prefix == p.prefix; });
        if (same == filesystem.end())
            filesystem.push_back(p);
        else
            same->write = same->write || p.write;
    }
    kv_read = kv_read || o.kv_read;
    kv_write = kv_write || o.kv_write;
    scope_read = scope_read || o.scope_read;
    scope_write = scope_write || o.scope_write;
    ui = ui || o.ui;
    max_concurrent_jobs = std::max(max_concurrent_jobs, o.max_concurrent_jobs);
    // 0 means no rate limit: a grant that names none leaves the limit as it is.
    if (calls_per_minute != 0 && o.calls_per_minute != 0)
        calls_per_minute = std::max(calls_per_minute, o.calls_per_minute);
}

void Permissions::remove(const Permissions& o) {
    auto drop = [](auto& to, const auto& from) {
        for (const auto& x : from)
            to.erase(std::remove(to.begin(), to.end(), x), to.end());
    };
    drop(network, o.network);
    drop(env, o.env);
    drop(databases, o.databases);
    drop(publish, o.publish);
    drop(subscribe, o.subscribe);
    drop(operations, o.operations);
    drop(libraries, o.libraries);
    for (const Path& p : o.filesystem)
        std::erase_if(filesystem, [&](const Path& q) { return q.prefix == p.prefix; });
    kv_read = kv_read && !o.kv_read;
    kv_write = kv_write && !o.kv_write;
    scope_read = scope_read && !o.scope_read;
    scope_write = scope_write && !o.scope_write;
    ui = ui && !o.ui;
    if (o.max_concurrent_jobs != 0) max_concurrent_jobs = 0;
    if (o.calls_per_minute != 0) calls_per_minute = 0;
}

bool allows(const Permissions& p, Permission permission, std::string_view argument) {
    switch (permission) {
    case Permission::network:
        return std::any_of(p.network.begin(), p.network.end(),
                           [&](const std::string& n) { return network_allows(n, argument); });
    case Permission::file_read:
    case Permission::file_write:
        return std::any_of(p.filesystem.begin(), p.filesystem.end(),
                           [&](const Permissions::Path& f) {
                               return (permission == Permission::file_read || f.write) &&
                                      path_under(f.prefix, argument);
                           });
    case Permission::env: return std::find(p.env.begin(), p.env.end(), argument) != p.env.end();
    case Permission::database:
        return std::find(p.databases.begin(), p.databases.end(), argument) != p.databases.end();
    case Permission::kv_read: return p.kv_read;
    case Permission::kv_write: return p.kv_write;
    case Permission::scope_read: return p.scope_read;
    case Permission::scope_write: return p.scope_write;
    case Permission::publish: return any_glob(p.publish, argument);
    case Permission::subscribe: return any_glob(p.subscribe, argument);
    case Permission::operation:
        return std::any_of(p.operations.begin(), p.operations.end(),
                           [&](const std::string& o) { return argument.starts_with(o); });
    case Permission::library:
        return std::any_of(p.libraries.begin(), p.libraries.end(),
                           [&](const std::string& l) { return l == "*" || l == argument; });
    case Permission::ui: return p.ui;
    case Permission::jobs: {
        uint64_t n = 0;
        auto [end, ec] = std::from_chars(argument.data(), argument.data() + argument.size(), n);
        return ec == std::errc() && end == argument.data() + argument.size() &&
               n <= p.max_concurrent_jobs;
    }
    }
    return false;
}

Result<Permissions> parse_grant(std::string_view text) {
    Permissions p;
    const size_t colon = text.find(':');
    const std::string_view family = text.substr(0, colon);
    const std::string_view arg = colon == text.npos ? std::string_view() : text.substr(colon + 1);
    auto need_arg = [&]() -> Result<void> {
        if (arg.empty())
            return make_error(
                ErrorKind::usage,
                fmt::format("grant \"{}\": {} needs an argument ({}:VALUE)", text, family, family));
        return {};
    };
    auto number = [&](uint32_t& out) -> Result<void> {
        auto [end, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), out);
        if (arg.empty() || ec != std::errc() || end != arg.data() + arg.size())
            return make_error(
                ErrorKind::usage,
                fmt::format("grant \"{}\": expected {}:N with a number N", text, family));
        return {};
    };
    auto read_write = [&](bool& read, bool& write) -> Result<void> {
        if (arg == "read")
            read = true;
        else if (arg == "write")
            write = true;
        else if (arg.empty() || arg == "read,write" || arg == "rw")
            read = write = true;
        else
            return make_error(
                ErrorKind::usage,
                fmt::format("grant \"{}\": expected {}:read or {}:write", text, family, family));
        return {};
    };
    Result<void> ok;
    if (family == "network") {
        if ((ok = need_arg())) p.network.emplace_back(arg);
    } else if (family == "fs" || family == "filesystem") {
        if ((ok = need_arg())) {
            Permissions::Path path{std::string(arg), false};
            if (arg.starts_with("rw:"))
                path = {std::string(arg.substr(3)), true};
            else if (arg.starts_with("ro:"))
                path.prefix = std::string(arg.substr(3));
            p.filesystem.push_back(std::move(path));
        }
    } else if (family == "env") {
        if ((ok = need_arg())) p.env.emplace_back(arg);
    } else if (family == "database" || family == "db") {
        if ((ok = need_arg())) p.databases.emplace_back(arg);
    } else if (family == "kv") {
        ok = read_write(p.kv_read, p.kv_write);
    } else if (family == "scope") {
        ok = read_write(p.scope_read, p.scope_write);
    } else if (family == "publish") {
        if ((ok = need_arg())) p.publish.emplace_back(arg);
    } else if (family == "subscribe") {
        if ((ok = need_arg())) p.subscribe.emplace_back(arg);
    } else if (family == "operation" || family == "host") {
        if ((ok = need_arg())) p.operations.emplace_back(arg);
    } else if (family == "library") {
        if ((ok = need_arg())) p.libraries.emplace_back(arg);
    } else if (family == "ui") {
        p.ui = true;
    } else if (family == "jobs") {
        ok = number(p.max_concurrent_jobs);
    } else if (family == "rate") {
        ok = number(p.calls_per_minute);
    } else {
        return make_error(ErrorKind::usage,
                          fmt::format("grant \"{}\": unknown permission \"{}\" (expected network, "
                                      "fs, env, database, kv, scope, publish, subscribe, "
                                      "operation, library, ui, jobs or rate)",
                                      text, family));
    }
    if (!ok) return tl::unexpected(ok.error());
    return p;
}

std::vector<std::string> grant_texts(const Permissions& p) {
    std::vector<std::string> out;
    auto each = [&](const char* family, const std::vector<std::string>& values) {
        for (const std::string& v : values)
            out.push_back(fmt::format("{}:{}", family, v));
    };
    each("network", p.network);
    for (const Permissions::Path& path : p.filesystem)
        out.push_back(fmt::format("fs:{}:{}", path.write ? "rw" : "ro", path.prefix));
    each("env", p.env);
    each("database", p.databases);
    if (p.kv_read) out.emplace_back("kv:read");
    if (p.kv_write) out.emplace_back("kv:write");
    if (p.scope_read) out.emplace_back("scope:read");
    if (p.scope_write) out.emplace_back("scope:write");
    each("publish", p.publish);
    each("subscribe", p.subscribe);
    each("operation", p.operations);
    each("library", p.libraries);
    if (p.ui) out.emplace_back("ui");
    if (p.max_concurrent_jobs != 0) out.push_back(fmt::format("jobs:{}", p.max_concurrent_jobs));
    if (p.calls_per_minute != 0) out.push_back(fmt::format("rate:{}", p.calls_per_minute));
    return out;
}

void AuditLog::add(AuditRecord record) {
    std::function<void(const AuditRecord&)> hook;
    std::shared_ptr<StateDb> db;
    {
        std::lock_guard lock(m_mutex);
        hook = m_hook;
        db = m_db;
    }
    // Written outside the lock: another thread's denial need not wait for this one's write.
    if (!db || !manager::store_audit(*db, record)) {
        std::lock_guard lock(m_mutex);
        m_records.push_back(record);
    }
    if (hook) hook(record);
}

std::vector<AuditRecord> AuditLog::records(std::string_view plugin) const {
    std::shared_ptr<StateDb> db;
    std::vector<AuditRecord> out;
    {
        std::lock_guard lock(m_mutex);
        db = m_db;
        for (const AuditRecord& r : m_records)
            if (plugin.empty() || r.plugin == plugin) out.push_back(r);
    }
    if (!db) return out;
    auto stored = manager::load_audit(*db, plugin);
    if (!stored) return out;
    // Records kept in memory because the database refused them are merged by time.
    stored->insert(stored->end(), out.begin(), out.end());
    std::stable_sort(stored->begin(), stored->end(),
                     [](const AuditRecord& a, const AuditRecord& b) { return a.time < b.time; });
    return std::move(*stored);
}

void AuditLog::set_database(std::shared_ptr<StateDb> db) {
    std::lock_guard lock(m_mutex);
    m_db = std::move(db);
}

void AuditLog::set_hook(std::function<void(const AuditRecord&)> hook) {
    std::lock_guard lock(m_mutex);
    m_hook = std::move(hook);
}

} // namespace kiln
