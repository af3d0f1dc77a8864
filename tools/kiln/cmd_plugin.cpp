// kiln plugin list|info|validate|call: the plugin manager from the command line. Plugins are
// found in --plugin-dir folders (alias --dir; default $KILN_PLUGIN_DIR, else ./plugins). The
// --json shapes are documented in docs/manager.md.
#include "cli_common.hpp"
#include "commands.hpp"

#include <kiln/manager.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <iterator>

namespace kiln::tool {

namespace {

using json = nlohmann::ordered_json;

struct PluginCommandOptions {
    std::vector<std::string> dirs;
    bool json = false;
    std::string target; ///< NAME|PATH (info), NAME (call)
    std::vector<std::string> paths;
    std::string function;
    std::optional<std::string> input;
    bool read_stdin = false;
};

std::vector<std::string> plugin_dirs(const PluginCommandOptions& o) {
    if (!o.dirs.empty()) return o.dirs;
    const char* env = std::getenv("KILN_PLUGIN_DIR");
    return {env && *env ? env : "plugins"};
}

/// A manager over the folders; an explicit folder that cannot be read is a usage error, the
/// default one may be missing (no plugins then).
Result<std::unique_ptr<PluginManager>> open_manager(const PluginCommandOptions& o) {
    auto manager = std::make_unique<PluginManager>();
    for (const std::string& dir : plugin_dirs(o)) {
        std::error_code ec;
        if (o.dirs.empty() && !std::filesystem::exists(dir, ec)) continue;
        if (auto ok = manager->open(dir); !ok) return tl::unexpected(ok.error());
    }
    return manager;
}

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

std::string contributions_text(const PluginInfo& p) {
    std::string out;
    if (!p.manifest) return out;
    for (const Contribution& c : p.manifest->contributes)
        out +=
            fmt::format("{}{} {}", out.empty() ? "" : ", ", contribution_kind_name(c.kind), c.id);
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

int run_list(const PluginCommandOptions& o) {
    auto manager = open_manager(o);
    if (!manager) {
        print_error(manager.error().message);
        return exit_usage;
    }
    // Every check of load short of running the plugin: what cannot load is listed as failed.
    for (const PluginInfo& p : (*manager)->list())
        if (p.state == PluginState::available) (void)(*manager)->validate(p.path);
    const auto list = (*manager)->list();
    if (o.json) {
        json out = json::array();
        for (const PluginInfo& p : list)
            out.push_back(summary_json(p));
        std::cout << out.dump(2) << "\n";
        return exit_ok;
    }
    for (const PluginInfo& p : list) {
        std::string state = plugin_state_name(p.state);
        if (p.state == PluginState::failed) state += ": " + p.error;
        std::string line = fmt::format("{} {} {} {}", p.name, p.version.empty() ? "-" : p.version,
                                       abi_name(p.abi), state);
        if (std::string c = contributions_text(p); !c.empty()) line += " (" + c + ")";
        std::cout << line << "\n";
    }
    return exit_ok;
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

json info_json(const PluginInfo& p) {
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
    j["imports"] = p.imports;
    j["exports"] = p.exports;
    j["signature"] = "unsigned";
    j["warnings"] = m.warnings;
    return j;
}

/// The plugin NAME|PATH names: a path is added to the manager on its own.
Result<PluginInfo> find_plugin(PluginManager& manager, const std::string& target) {
    std::error_code ec;
    if (!manager.info(target) && std::filesystem::exists(target, ec)) {
        auto added = manager.add(target);
        if (!added) return tl::unexpected(added.error());
        if (auto p = manager.info(target)) return *p;
    }
    if (auto p = manager.info(target)) return *p;
    return make_error(ErrorKind::usage, fmt::format("no plugin {}", target));
}

/// The manager of the command's folders and the plugin its TARGET names.
Result<std::pair<std::unique_ptr<PluginManager>, PluginInfo>>
open_and_find(const PluginCommandOptions& o) {
    auto manager = open_manager(o);
    if (!manager) return tl::unexpected(manager.error());
    auto plugin = find_plugin(**manager, o.target);
    if (!plugin) return tl::unexpected(plugin.error());
    return std::pair{std::move(*manager), std::move(*plugin)};
}

int run_info(const PluginCommandOptions& o) {
    auto found = open_and_find(o);
    if (!found) {
        print_error(found.error().message);
        return exit_usage;
    }
    auto& [manager, plugin] = *found;
    if (plugin.state == PluginState::available) (void)manager->validate(plugin.path);
    const PluginInfo p = *manager->info(plugin.path);
    const json j = info_json(p);
    if (o.json) {
        std::cout << j.dump(2) << "\n";
        return p.state == PluginState::failed ? exit_failure : exit_ok;
    }
    for (const auto& [key, value] : j.items()) {
        if (value.is_null() || (value.is_structured() && value.empty())) continue;
        std::cout << fmt::format("{}: {}\n", key,
                                 value.is_string() ? value.get<std::string>() : value.dump());
    }
    return p.state == PluginState::failed ? exit_failure : exit_ok;
}

int run_validate(const PluginCommandOptions& o) {
    PluginManager manager;
    int code = exit_ok;
    for (const std::string& path : o.paths) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) {
            std::cout << fmt::format("{}: cannot open\n", path);
            code = exit_failure;
            continue;
        }
        auto found = find_plugin(manager, path);
        if (!found) {
            std::cout << fmt::format("{}: {}\n", path, found.error().message);
            code = exit_failure;
            continue;
        }
        if (found->state == PluginState::available) (void)manager.validate(found->path);
        const PluginInfo p = *manager.info(found->path);
        if (p.state == PluginState::failed) {
            std::cout << fmt::format("{}: {}\n", path, p.error);
            code = exit_failure;
        } else {
            for (const std::string& w : p.manifest->warnings)
                std::cerr << "kiln: warning: " << w << "\n";
            std::cout << fmt::format("{}: valid ({} {}, {} ABI)\n", path, p.name, p.version,
                                     abi_name(p.abi));
        }
    }
    return code;
}

int run_plugin_call(const PluginCommandOptions& o) {
    if (o.input && o.read_stdin) {
        print_error("plugin call: --input and --stdin cannot both be given");
        return exit_usage;
    }
    auto found = open_and_find(o);
    if (!found) {
        print_error(found.error().message);
        return exit_usage;
    }
    auto& [manager, plugin] = *found;
    // A slot or command the manifest declares with an export is called through it; anything
    // else is an export of that name.
    std::string function = o.function;
    if (plugin.manifest)
        for (const Contribution& c : plugin.manifest->contributes)
            if (c.id == o.function && !c.export_name.empty()) function = c.export_name;
    if (std::find(plugin.exports.begin(), plugin.exports.end(), function) == plugin.exports.end() &&
        plugin.state != PluginState::failed) {
        print_error(fmt::format("{}: no slot, command or export \"{}\"", plugin.name, o.function));
        return exit_usage;
    }
    std::string input = o.input.value_or("");
    if (o.read_stdin)
        input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    auto out = manager->call(plugin.path, function, input);
    if (!out) {
        print_error(fmt::format("{}: {}", error_kind_name(out.error().kind), out.error().message));
        print_backtrace(out.error());
        return exit_failure;
    }
    fwrite(out->data(), 1, out->size(), stdout);
    fputc('\n', stdout);
    return exit_ok;
}

void add_dir_option(CLI::App* sub, PluginCommandOptions& o) {
    sub->add_option("--plugin-dir,--dir", o.dirs,
                    "a folder of plugins (default $KILN_PLUGIN_DIR, else ./plugins); repeatable")
        ->allow_extra_args(false);
}

} // namespace

void add_plugin_command(CLI::App& app, int& exit_code) {
    auto* plugin =
        app.add_subcommand("plugin", "Manage plugin folders (list, info, validate, call)");
    plugin->require_subcommand(1);
    auto o = std::make_shared<PluginCommandOptions>();

    auto* list = plugin->add_subcommand("list", "List the plugins of the plugin folders");
    add_dir_option(list, *o);
    list->add_flag("--json", o->json, "print a JSON array");
    list->callback([o, &exit_code] { exit_code = run_list(*o); });

    auto* info = plugin->add_subcommand("info", "Show a plugin's manifest, permissions and module");
    info->add_option("PLUGIN", o->target, "a plugin name, or the path of a plugin")->required();
    add_dir_option(info, *o);
    info->add_flag("--json", o->json, "print a JSON object");
    info->callback([o, &exit_code] { exit_code = run_info(*o); });

    auto* validate = plugin->add_subcommand("validate", "Check plugins without running them");
    validate->add_option("PATH", o->paths, "plugin folders, manifests or .wasm files")->required();
    validate->callback([o, &exit_code] { exit_code = run_validate(*o); });

    auto* call = plugin->add_subcommand("call", "Call a plugin's slot, command or export");
    call->add_option("PLUGIN", o->target, "a plugin name, or the path of a plugin")->required();
    call->add_option("TARGET", o->function, "a slot, a command or an export")->required();
    call->add_option("--input", o->input, "input bytes, as given");
    call->add_flag("--stdin", o->read_stdin, "read the input from stdin");
    add_dir_option(call, *o);
    call->callback([o, &exit_code] { exit_code = run_plugin_call(*o); });
}

} // namespace kiln::tool
