// The JSON the manager's listings are shown in, by `kiln plugin` and the C API alike: one shape
// each, documented in docs/manager.md.
#include <kiln/manager.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace kiln {

namespace {

// Keys in the order written, so that documents read in a stable order.
using json = nlohmann::ordered_json;

json contributions_json(const PluginInfo& p) {
    json out = json::array();
    if (!p.manifest) return out;
    for (const Contribution& c : p.manifest->contributes) {
        json item = {{"kind", contribution_kind_name(c.kind)}, {"id", c.id}};
        if (!c.title.empty()) item["title"] = c.title;
        if (!c.export_name.empty()) item["export"] = c.export_name;
        out.push_back(std::move(item));
    }
    return out;
}

json summary_json(const PluginInfo& p) {
    json j = {{"name", p.name},
              {"version", p.version},
              {"abi", abi_name(p.abi)},
              {"state", plugin_state_name(p.state)}};
    if (p.state == PluginState::failed) j["error"] = p.error;
    j["path"] = p.path;
    j["contributes"] = contributions_json(p);
    return j;
}

json permissions_json(const Permissions& p) {
    json j = json::object();
    auto list = [&](const char* key, const std::vector<std::string>& v) {
        if (!v.empty()) j[key] = v;
    };
    list("network", p.network);
    if (!p.filesystem.empty()) {
        json fs = json::array();
        for (const Permissions::Path& path : p.filesystem)
            fs.push_back((path.write ? "rw:" : "ro:") + path.prefix);
        j["filesystem"] = fs;
    }
    list("env", p.env);
    list("database", p.databases);
    auto modes = [&](const char* key, bool read, bool write) {
        json m = json::array();
        if (read) m.push_back("read");
        if (write) m.push_back("write");
        if (!m.empty()) j[key] = m;
    };
    modes("kv", p.kv_read, p.kv_write);
    modes("scope", p.scope_read, p.scope_write);
    if (!p.publish.empty() || !p.subscribe.empty())
        j["events"] = {{"publish", p.publish}, {"subscribe", p.subscribe}};
    list("operations", p.operations);
    list("libraries", p.libraries);
    if (p.ui) j["ui"] = true;
    if (p.max_concurrent_jobs) j["jobs"] = p.max_concurrent_jobs;
    if (p.calls_per_minute) j["rate_limit"] = p.calls_per_minute;
    return j;
}

json details_json(const PluginInfo& p, const Permissions& granted) {
    json j = summary_json(p);
    if (!p.manifest) return j;
    const PackageManifest& m = *p.manifest;
    j["manifest"] = m.file;
    j["dialect"] = dialect_name(m.dialect);
    for (auto [key, value] : {std::pair{"description", &m.description},
                              {"author", &m.author},
                              {"license", &m.license},
                              {"homepage", &m.homepage}})
        if (!value->empty()) j[key] = *value;
    json requires_ = json::object();
    if (m.requires_kiln) requires_["kiln"] = m.requires_kiln->text;
    for (const auto& [name, range] : m.dependencies)
        requires_[name] = range.text;
    j["requires"] = requires_;
    j["permissions"] = permissions_json(m.permissions);
    json limits = json::object();
    if (m.limits.memory_bytes) limits["memory"] = *m.limits.memory_bytes;
    if (m.limits.timeout_ms) limits["timeout_ms"] = *m.limits.timeout_ms;
    if (m.limits.fuel) limits["fuel"] = *m.limits.fuel;
    if (m.limits.http_response_bytes) limits["http_response"] = *m.limits.http_response_bytes;
    if (m.limits.var_bytes) limits["vars"] = *m.limits.var_bytes;
    j["limits"] = limits;
    j["config"] = m.config;
    j["granted"] = grant_texts(granted);
    j["imports"] = p.imports;
    j["exports"] = p.exports;
    j["signature"] = "unsigned";
    j["warnings"] = m.warnings;
    return j;
}

} // namespace

std::string plugins_json(const std::vector<PluginInfo>& plugins) {
    json out = json::array();
    for (const PluginInfo& p : plugins)
        out.push_back(summary_json(p));
    return out.dump(2);
}

std::string plugin_json(const PluginInfo& plugin, const Permissions& granted) {
    return details_json(plugin, granted).dump(2);
}

std::string format_audit_time(std::chrono::system_clock::time_point time) {
    const auto ms = std::chrono::time_point_cast<std::chrono::milliseconds>(time);
    const auto seconds = std::chrono::time_point_cast<std::chrono::seconds>(ms);
    return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z",
                       fmt::gmtime(std::chrono::system_clock::to_time_t(seconds)),
                       (ms - seconds).count());
}

std::string audit_json(const std::vector<AuditRecord>& records) {
    json out = json::array();
    for (const AuditRecord& r : records)
        out.push_back({{"time", format_audit_time(r.time)},
                       {"plugin", r.plugin},
                       {"permission", r.permission},
                       {"argument", r.argument}});
    return out.dump(2);
}

} // namespace kiln
