// kiln plugin list|info|validate|call|enable|disable|grant|revoke|audit: the plugin manager
// from the command line. Plugins are found in --plugin-dir folders (alias --dir; default
// $KILN_PLUGIN_DIR, else ./plugins); what is enabled, granted and audited is kept in Kiln's state
// database ($KILN_HOME/state.db). The --json shapes are documented in docs/manager.md.
#include "cli_common.hpp"
#include "commands.hpp"
#include "help.hpp"
#include "plugin_folders.hpp"

#include "base/text.hpp"

#include <kiln/dispatch.hpp>
#include <kiln/hostfns.hpp>
#include <kiln/jobs.hpp>
#include <kiln/manager.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <sstream>

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
    std::optional<std::string> scope; ///< call: the call's scope, a JSON object
    std::vector<std::string> grants;  ///< PERMISSION... (grant, revoke)
};

/// A manager with the host functions installed, and the library behind them, whose dispatch
/// reaches the slots and commands its plugins register.
struct Hosted {
    std::unique_ptr<HostLibrary> host;
    std::unique_ptr<PluginManager> manager;
    PluginManager* operator->() const { return manager.get(); }
};

/// Installs the host functions into `manager`, with the job functions and the Spacedrive ABI;
/// kv keeps its data in `state`. Plugins not loaded yet are loaded by the library's dispatch
/// when one of their slots or commands is called.
std::unique_ptr<HostLibrary> install_host(PluginManager& manager, std::shared_ptr<StateDb> state) {
    HostOptions options;
    options.state = std::move(state);
    auto host = std::make_unique<HostLibrary>(std::move(options));
    install_jobs(manager, *host);
    host->dispatch().set_manager(&manager);
    return host;
}

/// A manager keeping its state in $KILN_HOME/state.db, with the host functions installed.
Result<Hosted> stateful_manager() {
    auto db = StateDb::open();
    if (!db) return tl::unexpected(db.error());
    auto manager = tool::stateful_manager(*db);
    if (!manager) return tl::unexpected(manager.error());
    Hosted hosted;
    hosted.host = install_host(**manager, std::move(*db));
    hosted.manager = std::move(*manager);
    return hosted;
}

/// A manager over the folders, with the state database (whose errors are of kind io); an
/// explicit folder that cannot be read is a usage error, the default one may be missing (no
/// plugins then).
Result<Hosted> open_manager(const PluginCommandOptions& o) {
    auto made = stateful_manager();
    if (!made) return tl::unexpected(made.error());
    if (auto ok = open_plugin_dirs(*made->manager, o.dirs); !ok) return tl::unexpected(ok.error());
    return made;
}

std::string contributions_text(const PluginInfo& p) {
    std::string out;
    if (!p.manifest) return out;
    for (const Contribution& c : p.manifest->contributes)
        out +=
            fmt::format("{}{} {}", out.empty() ? "" : ", ", contribution_kind_name(c.kind), c.id);
    return out;
}

int run_list(const PluginCommandOptions& o) {
    auto manager = open_manager(o);
    if (!manager) {
        print_error(manager.error().message);
        return exit_code_of(manager.error());
    }
    // Every check of load short of running the plugin: what cannot load is listed as failed.
    for (const PluginInfo& p : (*manager)->list())
        if (p.state == PluginState::available) (void)(*manager)->validate(p.path);
    const auto list = (*manager)->list();
    if (o.json) {
        std::cout << plugins_json(list) << "\n";
        return exit_ok;
    }
    for (const PluginInfo& p : list) {
        std::string state = plugin_state_name(p.state);
        if (p.state == PluginState::failed) {
            // A manifest with several problems lists its first; `validate` prints them all.
            const size_t more = size_t(std::count(p.error.begin(), p.error.end(), '\n'));
            state += ": " + p.error.substr(0, p.error.find('\n'));
            if (more) state += fmt::format(" (and {} more: kiln plugin validate)", more);
        }
        std::string line = fmt::format("{} {} {} {}", p.name, p.version.empty() ? "-" : p.version,
                                       abi_name(p.abi), state);
        if (std::string c = contributions_text(p); !c.empty()) line += " (" + c + ")";
        std::cout << line << "\n";
    }
    return exit_ok;
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
Result<std::pair<Hosted, PluginInfo>> open_and_find(const PluginCommandOptions& o) {
    auto manager = open_manager(o);
    if (!manager) return tl::unexpected(manager.error());
    auto plugin = find_plugin(*manager->manager, o.target);
    if (!plugin) return tl::unexpected(plugin.error());
    return std::pair{std::move(*manager), std::move(*plugin)};
}

/// What `plugin` registered with the host's dispatch when it started: its slots, commands and
/// UI block types, as `{"kind", "id", ...}` objects like a manifest's contributions.
json registered_json(Dispatch& dispatch, const std::string& plugin) {
    json out = json::array();
    // Schemas and examples are JSON text (the dispatch checked them when they were registered).
    auto value = [](const std::string& text) {
        json v = json::parse(text, nullptr, false);
        return v.is_discarded() ? json(text) : v;
    };
    for (const SlotInfo& s : dispatch.slots()) {
        if (s.plugin != plugin) continue;
        json item = {{"kind", "slot"}, {"id", s.name}};
        if (!s.description.empty()) item["title"] = s.description;
        if (s.target != s.name) item["export"] = s.target;
        if (!s.schema.empty()) item["schema"] = value(s.schema);
        if (!s.example.empty()) item["example"] = value(s.example);
        out.push_back(std::move(item));
    }
    for (const CommandInfo& c : dispatch.commands()) {
        if (c.plugin != plugin) continue;
        json item = {{"kind", "command"}, {"id", c.id}};
        if (!c.title.empty()) item["title"] = c.title;
        if (!c.export_name.empty()) item["export"] = c.export_name;
        if (!c.schema.empty()) item["schema"] = value(c.schema);
        out.push_back(std::move(item));
    }
    for (const BlockType& b : dispatch.blocks()) {
        if (b.plugin != plugin) continue;
        json item = {{"kind", "ui"}, {"id", b.id}};
        if (!b.name.empty()) item["title"] = b.name;
        if (!b.export_name.empty()) item["export"] = b.export_name;
        if (!b.schema.empty()) item["schema"] = value(b.schema);
        out.push_back(std::move(item));
    }
    return out;
}

int run_info(const PluginCommandOptions& o) {
    auto found = open_and_find(o);
    if (!found) {
        print_error(found.error().message);
        return exit_code_of(found.error());
    }
    auto& [manager, plugin] = *found;
    if (plugin.state == PluginState::available) (void)manager->validate(plugin.path);
    // What a plugin registers when it starts (a ZenoEngine plugin's slots; what an Extism-ABI
    // plugin's initialize registers) is known only by running it: it is loaded for that. A
    // load that fails leaves the plugin failed, with the reason.
    PluginInfo p = *manager->info(plugin.path);
    const bool registers =
        p.abi == PluginAbi::zeno ||
        (p.abi == PluginAbi::extism &&
         std::find(p.exports.begin(), p.exports.end(), "initialize") != p.exports.end());
    std::optional<json> registered;
    if (registers && (p.state == PluginState::available || p.state == PluginState::loaded)) {
        if (manager->load(plugin.path))
            registered = registered_json(manager.host->dispatch(), p.name);
        p = *manager->info(plugin.path);
    }
    json fields =
        json::parse(plugin_json(p, manager->granted(plugin.path).value_or(Permissions{})));
    if (registered) fields["registered"] = std::move(*registered);
    if (o.json) {
        std::cout << fields.dump(2) << "\n";
        return p.state == PluginState::failed ? exit_failure : exit_ok;
    }
    for (const auto& [key, value] : fields.items()) {
        if (value.is_null() || (value.is_structured() && value.empty())) continue;
        std::cout << fmt::format("{}: {}\n", key,
                                 value.is_string() ? value.get<std::string>() : value.dump());
    }
    return p.state == PluginState::failed ? exit_failure : exit_ok;
}

int run_validate(const PluginCommandOptions& o) {
    PluginManager manager;
    auto host = install_host(manager, nullptr); // validating runs no plugin code: no kv
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
            // One line per problem.
            std::istringstream problems(p.error);
            for (std::string line; std::getline(problems, line);)
                std::cout << fmt::format("{}: {}\n", path, line);
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
        return exit_code_of(found.error());
    }
    auto& [manager, plugin] = *found;
    // A slot or command the manifest declares with an export is called through it; anything
    // else is an export of that name.
    std::string function = o.function;
    if (plugin.manifest)
        for (const Contribution& c : plugin.manifest->contributes)
            if (c.id == o.function && !c.export_name.empty()) function = c.export_name;
    CallContext context;
    if (o.scope) {
        auto scope = json::parse(*o.scope, nullptr, false);
        if (scope.is_discarded() || !scope.is_object()) {
            print_error("plugin call: --scope: expected a JSON object");
            return exit_usage;
        }
        context.scope = *o.scope;
    }
    auto fail = [](const Error& e) {
        if (e.kind == ErrorKind::usage) { // an unknown slot, a disabled plugin
            print_error(e.message);
            return exit_usage;
        }
        print_error(fmt::format("{}: {}", error_kind_name(e.kind), e.message));
        print_backtrace(e);
        return exit_failure;
    };
    // A ZenoEngine plugin's slots are known once it is loaded.
    bool known =
        std::find(plugin.exports.begin(), plugin.exports.end(), function) != plugin.exports.end();
    if (plugin.abi == PluginAbi::zeno && plugin.state != PluginState::failed) {
        auto has = manager->has(plugin.path, function);
        if (!has) return fail(has.error());
        known = *has;
    }
    // Slots and commands an Extism-ABI plugin registers when it starts (its initialize) are
    // known once it is loaded; they are called through the host's dispatch.
    enum class Via { export_, slot, command } via = Via::export_;
    if (!known && plugin.abi == PluginAbi::extism && plugin.state != PluginState::failed) {
        if (auto loaded = manager->load(plugin.path); !loaded) return fail(loaded.error());
        Dispatch& d = manager.host->dispatch();
        for (const SlotInfo& slot : d.slots())
            if (slot.plugin == plugin.name && slot.name == o.function) via = Via::slot;
        for (const CommandInfo& c : d.commands())
            if (c.plugin == plugin.name && c.id == o.function) via = Via::command;
        known = via != Via::export_;
    }
    if (!known && plugin.state != PluginState::failed) {
        print_error(fmt::format("{}: no slot, command or export \"{}\"", plugin.name, o.function));
        return exit_usage;
    }
    std::string input = o.input.value_or("");
    if (o.read_stdin)
        input.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    auto out = via == Via::slot      ? manager.host->dispatch().call_slot(o.function, input)
               : via == Via::command ? manager.host->dispatch().invoke(
                                           plugin.name, o.function, input.empty() ? "null" : input)
                                     : manager->call(plugin.path, function, input, context);
    // The scope as the plugin left it, even when the call failed after changing it.
    if (o.scope) std::cerr << context.scope << "\n";
    if (!out) return fail(out.error());
    fwrite(out->data(), 1, out->size(), stdout);
    fputc('\n', stdout);
    // A ZenoEngine plugin reports failure in its response, which is printed as it is.
    if (plugin.abi == PluginAbi::zeno && via == Via::export_) {
        const json response = json::parse(*out, nullptr, false);
        if (response.is_object() && response.contains("success") && response["success"] == false) {
            const json error = response.value("error", json("it gave no error"));
            print_error(fmt::format(
                "{}: {} failed: {}", plugin.name, o.function,
                escape_control(error.is_string() ? error.get<std::string>() : error.dump())));
            return exit_failure;
        }
    }
    return exit_ok;
}

int run_set_enabled(const PluginCommandOptions& o, bool enabled) {
    auto found = open_and_find(o);
    if (!found) {
        print_error(found.error().message);
        return exit_code_of(found.error());
    }
    auto& [manager, plugin] = *found;
    if (auto ok = manager->set_enabled(plugin.path, enabled); !ok) {
        print_error(ok.error().message);
        return exit_code_of(ok.error());
    }
    std::cout << fmt::format("{}: {}\n", plugin.name, enabled ? "enabled" : "disabled");
    return exit_ok;
}

int run_grant(const PluginCommandOptions& o, bool grant) {
    // Every permission is read before any is granted: a typo grants nothing.
    std::vector<Permissions> parsed;
    for (const std::string& text : o.grants) {
        auto p = parse_grant(text);
        if (!p) {
            print_error(p.error().message);
            return exit_usage;
        }
        parsed.push_back(std::move(*p));
    }
    auto found = open_and_find(o);
    if (!found) {
        print_error(found.error().message);
        return exit_code_of(found.error());
    }
    auto& [manager, plugin] = *found;
    for (size_t i = 0; i < parsed.size(); ++i) {
        auto ok = grant ? manager->grant(plugin.path, parsed[i])
                        : manager->revoke(plugin.path, parsed[i]);
        if (!ok) {
            print_error(ok.error().message);
            return exit_code_of(ok.error());
        }
        std::cout << fmt::format("{}: {} {}\n", plugin.name, grant ? "granted" : "revoked",
                                 o.grants[i]);
    }
    return exit_ok;
}

int run_audit(const PluginCommandOptions& o) {
    auto manager = stateful_manager();
    if (!manager) {
        print_error(manager.error().message);
        return exit_code_of(manager.error());
    }
    const auto records = (*manager)->audit().records(o.target);
    if (o.json) {
        std::cout << audit_json(records) << "\n";
        return exit_ok;
    }
    for (const AuditRecord& r : records) {
        std::string line =
            fmt::format("{} {} {}", format_audit_time(r.time), r.plugin, r.permission);
        if (!r.argument.empty()) line += " " + r.argument;
        std::cout << line << "\n";
    }
    return exit_ok;
}

} // namespace

void add_plugin_command(CLI::App& app, int& exit_code) {
    auto* plugin = app.add_subcommand("plugin", "Manage plugin folders (list, info, validate, "
                                                "call, enable, disable, grant, revoke, audit)");
    plugin->require_subcommand(1);
    auto o = std::make_shared<PluginCommandOptions>();

    auto* list = plugin->add_subcommand("list", "List the plugins of the plugin folders");
    add_plugin_dir_option(list, o->dirs);
    list->add_flag("--json", o->json, "print a JSON array");
    list->callback([o, &exit_code] { exit_code = run_list(*o); });

    auto* info = plugin->add_subcommand("info", "Show a plugin's manifest, permissions and module");
    info->add_option("PLUGIN", o->target, "a plugin name, or the path of a plugin")->required();
    add_plugin_dir_option(info, o->dirs);
    info->add_flag("--json", o->json, "print a JSON object");
    info->callback([o, &exit_code] { exit_code = run_info(*o); });

    auto* validate = plugin->add_subcommand("validate", "Check plugins without running them");
    validate->add_option("PATH", o->paths, "plugin folders, manifests or .wasm files")
        ->required()
        ->type_name(file_value);
    validate->callback([o, &exit_code] { exit_code = run_validate(*o); });

    auto* call = plugin->add_subcommand("call", "Call a plugin's slot, command or export");
    call->add_option("PLUGIN", o->target, "a plugin name, or the path of a plugin")->required();
    call->add_option("TARGET", o->function, "a slot, a command or an export")->required();
    call->add_option("--input", o->input, "input bytes, as given");
    call->add_flag("--stdin", o->read_stdin, "read the input from stdin");
    call->add_option("--scope", o->scope,
                     "the call's scope, a JSON object; printed to stderr after the call");
    add_plugin_dir_option(call, o->dirs);
    call->callback([o, &exit_code] { exit_code = run_plugin_call(*o); });

    for (bool enabled : {true, false}) {
        auto* sub = plugin->add_subcommand(enabled ? "enable" : "disable",
                                           enabled ? "Let a disabled plugin load again"
                                                   : "Unload a plugin and keep it from loading");
        sub->add_option("PLUGIN", o->target, "a plugin name, or the path of a plugin")->required();
        add_plugin_dir_option(sub, o->dirs);
        sub->callback([o, enabled, &exit_code] { exit_code = run_set_enabled(*o, enabled); });
    }

    for (bool grant : {true, false}) {
        auto* sub = plugin->add_subcommand(grant ? "grant" : "revoke",
                                           grant ? "Grant a plugin more permissions"
                                                 : "Take back permissions granted to a plugin");
        sub->add_option("PLUGIN", o->target, "a plugin name, or the path of a plugin")->required();
        sub->add_option("PERMISSION", o->grants,
                        "FAMILY[:ARGUMENT]: network:HOST, fs:rw:PATH, env:NAME, kv:write, ...")
            ->required();
        add_plugin_dir_option(sub, o->dirs);
        sub->callback([o, grant, &exit_code] { exit_code = run_grant(*o, grant); });
    }

    auto* audit = plugin->add_subcommand("audit", "Show the permission checks plugins failed");
    audit->add_option("PLUGIN", o->target, "only this plugin's records");
    audit->add_flag("--json", o->json, "print a JSON array");
    audit->callback([o, &exit_code] { exit_code = run_audit(*o); });
}

} // namespace kiln::tool
