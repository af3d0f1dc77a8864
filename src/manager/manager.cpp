// PluginManager: the plugins of some folders, discovered without running them, loaded in
// dependency order through the adapter of their ABI, called from any thread.
//
// Locks: `mutex` (shared) guards the entries and their state; `load_mutex` serialises loads and
// unloads, so a slow compile never blocks calls to other plugins; each loaded instance has its
// own `call_mutex`, as an instance runs one call at a time. Events are sent after every lock
// is released.
#include "base/file.hpp"
#include "base/result.hpp"
#include "manager/persist.hpp"
#include "plugin/fetch.hpp"

#include <kiln/manager.hpp>
#include <kiln/module_info.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <shared_mutex>
#include <thread>

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

namespace kiln {

namespace {

namespace fs = std::filesystem;

/// The instance of a loaded plugin. `closed` is set (under call_mutex) once it is shut down: a
/// caller that reached it too late loads the plugin again instead.
struct Loaded {
    std::unique_ptr<AbiInstance> instance;
    std::mutex call_mutex;
    /// Guards `instance` against its release while a grant or revoke reaches it; a grant takes
    /// no call_mutex, as a host function may grant during a call of the plugin.
    std::mutex instance_mutex;
    bool closed = false;

    /// After shutdown, under call_mutex: closes it and frees the instance.
    void release() {
        std::unique_ptr<AbiInstance> gone;
        {
            std::lock_guard lock(instance_mutex);
            closed = true;
            gone = std::move(instance);
        }
    }
    /// Gives the instance, if it still runs, the permissions it now has.
    void set_permissions(const Permissions& permissions) {
        std::lock_guard lock(instance_mutex);
        if (!closed && instance) instance->set_permissions(permissions);
    }
};

struct Entry {
    PluginInfo info;
    std::string canonical; ///< the path, made absolute and canonical, to find it by any spelling
    Permissions granted;
    std::shared_ptr<Loaded> loaded;
    RateLimit rate;
};

/// `path` absolute and canonical as far as it exists.
std::string canonical_path(const fs::path& path) {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(path, ec);
    return ec ? path.lexically_normal().string() : c.string();
}

/// The module files (canonical paths) that a plugin's manifest names.
std::vector<std::string> module_files(const PluginInfo& info) {
    std::vector<std::string> out;
    if (info.manifest)
        for (const Manifest::Wasm& w : info.manifest->wasm)
            if (auto* f = std::get_if<Manifest::WasmFile>(&w.source))
                out.push_back(canonical_path(f->path)); // resolved against the manifest already
    return out;
}

PluginAbi detect_abi(const std::vector<std::string>& imports,
                     const std::vector<std::string>& exports) {
    auto exports_all = [&](std::initializer_list<const char*> names) {
        return std::all_of(names.begin(), names.end(), [&](const char* n) {
            return std::find(exports.begin(), exports.end(), n) != exports.end();
        });
    };
    auto imports_from = [&](std::string_view module) {
        return std::any_of(imports.begin(), imports.end(), [&](const std::string& i) {
            return i.size() > module.size() && i.starts_with(module) && i[module.size()] == '.';
        });
    };
    if (exports_all({"plugin_init", "plugin_register_slots", "plugin_execute"}))
        return PluginAbi::zeno;
    if (imports_from("spacedrive") || exports_all({"plugin_init", "wasm_alloc"}))
        return PluginAbi::spacedrive;
    if (exports_all({"process", "get_metadata"})) return PluginAbi::reflow;
    return PluginAbi::extism;
}

/// Reads the imports and exports of the plugin's main module (the one named "main", else the
/// last) when it is a file or inline bytes; a module that does not decode fails the plugin.
Result<void> describe_module(PluginInfo& info) {
    const auto& wasm = info.manifest->wasm;
    size_t main = wasm.size() - 1;
    for (size_t i = 0; i < wasm.size(); ++i)
        if (wasm[i].name == "main") main = i;
    std::vector<uint8_t> bytes;
    if (auto* f = std::get_if<Manifest::WasmFile>(&wasm[main].source)) {
        KILN_TRY(read, read_file(f->path));
        bytes = std::move(read);
    } else if (auto* b = std::get_if<Manifest::WasmBytes>(&wasm[main].source)) {
        bytes = b->data;
    } else {
        return {}; // a URL: known once downloaded, at load
    }
    // Decoded and validated, not compiled: listing a folder runs and lowers nothing.
    auto module = ModuleInfo::decode(bytes).and_then([](ModuleInfo m) -> Result<ModuleInfo> {
        KILN_CHECK(m.validate());
        return m;
    });
    if (!module)
        return make_error(
            module.error().kind,
            fmt::format("{}: {}", plugin::describe_wasm(wasm[main]), module.error().message));
    for (const ModuleInfo::Import& i : module->imports())
        if (i.kind == ExternKind::func) info.imports.push_back(i.module + "." + i.name);
    for (const ModuleInfo::Export& e : module->exports())
        if (e.kind == ExternKind::func) info.exports.push_back(e.name);
    if (info.abi == PluginAbi::automatic) info.abi = detect_abi(info.imports, info.exports);
    return {};
}

} // namespace

struct PluginManager::Impl {
    ManagerOptions options;
    mutable std::shared_mutex mutex;
    std::vector<std::shared_ptr<Entry>> entries;
    std::map<PluginAbi, std::unique_ptr<AbiAdapter>> adapters;
    std::vector<std::shared_ptr<Entry>> load_sequence; ///< loaded plugins, in load order
    std::map<std::string, std::shared_ptr<const CompiledPlugin>> cache; ///< by module hashes
    CacheStats stats;
    std::mutex load_mutex;
    AuditLog audit;
    std::mutex listeners_mutex;
    std::vector<std::function<void(const ManagerEvent&)>> listeners;
    /// The folders open() read, for watch() to find plugins added to them.
    std::vector<std::string> opened;
    /// Folder watching: the inotify descriptor, the plugin folder of each watch (or, in
    /// `roots`, the opened folder), the thread. Only the watcher thread changes them once it
    /// runs.
    int inotify_fd = -1;
    std::map<int, std::string> watched;
    std::map<int, std::string> roots;
    std::thread watcher;
    std::atomic<bool> stop_watching{false};
    /// Why the state database's tables could not be prepared; set once, at construction.
    std::optional<Error> state_error;

    /// The state_error as a result, for the members that need the state database.
    Result<void> state_ready() const {
        if (state_error) return tl::unexpected(*state_error);
        return {};
    }

    /// The entry a name (its highest loadable version) or a path stands for; null if none.
    std::shared_ptr<Entry> find(std::string_view name_or_path) const;
    /// The highest version of `name` that `range` allows and that did not fail.
    std::shared_ptr<Entry> resolve(const std::string& name, const VersionRange& range) const;
    /// "installed: 1.0.0, 2.0.0 (failed)" or "not installed", for an error that found no version.
    std::string installed(const std::string& name) const;
    Result<void> order(const std::shared_ptr<Entry>& entry, std::vector<std::string>& chain,
                       std::vector<std::shared_ptr<Entry>>& out) const;
    Result<std::vector<std::shared_ptr<Entry>>> order_of(std::string_view name) const;
    /// Checks, compiles and instantiates one entry whose dependencies are loaded; `run` false
    /// stops before instantiating. The compiled plugin goes to `compiled` when given.
    Result<std::unique_ptr<AbiInstance>>
    build(const std::shared_ptr<Entry>& entry, bool run,
          std::shared_ptr<const CompiledPlugin>* compiled = nullptr);
    Result<void> load_locked(std::string_view name, std::vector<ManagerEvent>& events);
    void unload_locked(const std::shared_ptr<Entry>& entry, std::vector<ManagerEvent>& events);
    void emit(const std::vector<ManagerEvent>& events);
    void add(PluginInfo info);
    /// Reads the plugin at `p` (a folder, a .wasm or a manifest) and adds it; its name.
    std::string discover(const fs::path& p);
    /// Discovers the plugins among entries of an opened folder (see open()).
    void discover_among(const std::vector<fs::path>& paths);
    /// The watcher's sorting of a batch of events: files and folders that `appeared` in opened
    /// folders become plugins (or, when known, reloads in `changed`); a watched folder without
    /// a plugin yet becomes one once it holds a manifest.
    void sort_out(const std::set<fs::path>& appeared, std::set<std::string>& changed);
    /// grant() and revoke(): `change` applied to the plugin's grants, stored, and given to
    /// its running instances.
    Result<void> change_grants(std::string_view name,
                               const std::function<void(Permissions&)>& change);
    /// What the manager knows of the plugin at `p`, read afresh.
    static PluginInfo read_plugin(const fs::path& p);
    /// build() for a plugin as `info` describes it, with `granted` added to its permissions.
    Result<std::unique_ptr<AbiInstance>>
    build_from(const PluginInfo& info, const Permissions& granted, bool run,
               std::shared_ptr<const CompiledPlugin>* compiled_out = nullptr);
};

std::string PluginManager::Impl::discover(const fs::path& p) {
    PluginInfo info = read_plugin(p);
    std::string name = info.name;
    add(std::move(info));
    return name;
}

PluginInfo PluginManager::Impl::read_plugin(const fs::path& p) {
    std::error_code ec;
    const bool dir = fs::is_directory(p, ec);
    PluginInfo info;
    info.path = p.string();
    info.name = dir ? p.filename().string() : p.stem().string();
    auto manifest =
        dir ? PackageManifest::from_folder(p.string()) : PackageManifest::from_file(p.string());
    if (!manifest) {
        info.state = PluginState::failed;
        info.error = manifest.error().message;
    } else {
        if (!manifest->name.empty()) info.name = manifest->name;
        info.version = manifest->version.to_string();
        info.abi = manifest->abi;
        info.manifest = std::make_shared<const PackageManifest>(std::move(*manifest));
        if (auto ok = describe_module(info); !ok) {
            info.state = PluginState::failed;
            info.error = ok.error().message;
        }
    }
    return info;
}

std::shared_ptr<Entry> PluginManager::Impl::find(std::string_view name_or_path) const {
    std::shared_ptr<Entry> best;
    // A name has no slash; anything else is a path, found however it is spelled.
    const bool path = name_or_path.find('/') != std::string_view::npos;
    const std::string canonical = path ? canonical_path(name_or_path) : std::string();
    for (const auto& e : entries) {
        if (e->info.path == name_or_path || (path && e->canonical == canonical)) return e;
        if (e->info.name != name_or_path) continue;
        // Prefer a plugin that can run, then the highest version.
        auto rank = [](const Entry& x) { return x.info.state != PluginState::failed; };
        if (!best || rank(*e) > rank(*best) ||
            (rank(*e) == rank(*best) && best->info.manifest && e->info.manifest &&
             e->info.manifest->version > best->info.manifest->version))
            best = e;
    }
    return best;
}

std::shared_ptr<Entry> PluginManager::Impl::resolve(const std::string& name,
                                                    const VersionRange& range) const {
    std::shared_ptr<Entry> best;
    for (const auto& e : entries)
        if (e->info.name == name && e->info.manifest && e->info.state != PluginState::failed &&
            e->info.state != PluginState::disabled && range.matches(e->info.manifest->version) &&
            (!best || e->info.manifest->version > best->info.manifest->version))
            best = e;
    return best;
}

std::string PluginManager::Impl::installed(const std::string& name) const {
    std::vector<std::string> versions;
    for (const auto& e : entries)
        if (e->info.name == name)
            versions.push_back(e->info.version.empty()
                                   ? "failed"
                                   : e->info.version +
                                         (e->info.state == PluginState::failed     ? " (failed)"
                                          : e->info.state == PluginState::disabled ? " (disabled)"
                                                                                   : ""));
    return versions.empty() ? "not installed"
                            : fmt::format("installed: {}", fmt::join(versions, ", "));
}

Result<void> PluginManager::Impl::order(const std::shared_ptr<Entry>& entry,
                                        std::vector<std::string>& chain,
                                        std::vector<std::shared_ptr<Entry>>& out) const {
    if (std::find(out.begin(), out.end(), entry) != out.end()) return {};
    const std::string& name = entry->info.name;
    if (std::find(chain.begin(), chain.end(), name) != chain.end()) {
        std::string text;
        auto from = std::find(chain.begin(), chain.end(), name);
        for (auto it = from; it != chain.end(); ++it)
            text += *it + " -> ";
        return make_error(ErrorKind::invalid, fmt::format("dependency cycle: {}{}", text, name));
    }
    chain.push_back(name);
    if (entry->info.manifest)
        for (const auto& [dep, range] : entry->info.manifest->dependencies) {
            auto found = resolve(dep, range);
            if (!found) {
                std::string path;
                for (const std::string& c : chain)
                    path += c + " -> ";
                return make_error(ErrorKind::invalid,
                                  fmt::format("unsatisfiable dependency: {}{} {} ({})", path, dep,
                                              range.text, installed(dep)));
            }
            if (auto ok = order(found, chain, out); !ok) return ok;
        }
    chain.pop_back();
    out.push_back(entry);
    return {};
}

Result<std::vector<std::shared_ptr<Entry>>>
PluginManager::Impl::order_of(std::string_view name) const {
    auto entry = find(name);
    if (!entry) return make_error(ErrorKind::usage, fmt::format("no plugin {}", name));
    std::vector<std::string> chain;
    std::vector<std::shared_ptr<Entry>> out;
    if (auto ok = order(entry, chain, out); !ok) return tl::unexpected(ok.error());
    return out;
}

Result<std::unique_ptr<AbiInstance>>
PluginManager::Impl::build(const std::shared_ptr<Entry>& entry, bool run,
                           std::shared_ptr<const CompiledPlugin>* compiled) {
    PluginInfo info;
    Permissions granted;
    {
        std::shared_lock lock(mutex);
        info = entry->info;
        granted = entry->granted;
    }
    return build_from(info, granted, run, compiled);
}

Result<std::unique_ptr<AbiInstance>>
PluginManager::Impl::build_from(const PluginInfo& info, const Permissions& granted, bool run,
                                std::shared_ptr<const CompiledPlugin>* compiled_out) {
    if (!info.manifest) return make_error(ErrorKind::invalid, info.error);
    const PackageManifest& package = *info.manifest;
    if (package.requires_kiln) {
        auto kiln = Version::parse(options.kiln_version);
        if (kiln && !package.requires_kiln->matches(*kiln))
            return make_error(ErrorKind::invalid,
                              fmt::format("{}: requires.kiln: \"{}\" does not allow Kiln {}",
                                          package.file, package.requires_kiln->text,
                                          options.kiln_version));
    }
    auto adapter = adapters.find(info.abi);
    if (adapter == adapters.end())
        return make_error(
            ErrorKind::unlinkable,
            fmt::format("no adapter for the {} ABI in this build", abi_name(info.abi)));
    PackageManifest effective = package;
    effective.permissions.merge(granted);
    auto getenv = options.getenv ? options.getenv
                                 : [](const std::string& name) -> std::optional<std::string> {
        const char* v = std::getenv(name.c_str());
        return v ? std::optional<std::string>(v) : std::nullopt;
    };
    auto manifest = effective.to_extism(getenv);
    if (!manifest)
        return make_error(manifest.error().kind,
                          fmt::format("{}: {}", package.file, manifest.error().message));
    adapter->second->adjust(*manifest);
    // Each plugin linked by name lends its module, under the link's name, ahead of this
    // plugin's own modules: instantiated first, its exports satisfy their imports.
    std::vector<Manifest::Wasm> linked;
    for (const PackageManifest::Link& link : package.links) {
        std::shared_lock lock(mutex);
        auto other = resolve(link.plugin, link.range);
        if (!other)
            return make_error(ErrorKind::invalid,
                              fmt::format("{}: wasm: links plugin {} {} ({})", package.file,
                                          link.plugin, link.range.text, installed(link.plugin)));
        const PackageManifest& lent = *other->info.manifest;
        if (lent.wasm.size() != 1 || !lent.links.empty())
            return make_error(ErrorKind::invalid,
                              fmt::format("{}: wasm: links plugin {}, which is not one module "
                                          "of its own (it has {} and links {}); only such a "
                                          "plugin can be linked",
                                          package.file, link.plugin, lent.wasm.size(),
                                          lent.links.size()));
        Manifest::Wasm module = lent.wasm.front();
        module.name = link.module;
        linked.push_back(std::move(module));
    }
    manifest->wasm.insert(manifest->wasm.begin(), linked.begin(), linked.end());
    // The modules are read (and their hashes checked) once; the cache key is their sha256s
    // with everything else the compiled plugin holds.
    if (sodium_init() < 0) return make_error(ErrorKind::io, "libsodium failed to start");
    std::string key = abi_name(info.abi);
    for (Manifest::Wasm& w : manifest->wasm) {
        auto bytes = plugin::fetch_wasm(w);
        if (!bytes) return tl::unexpected(bytes.error());
        key += "|" + w.name + ":" + plugin::sha256_hex(*bytes);
        // The file's name stays for messages.
        std::string path;
        if (const auto* file = std::get_if<Manifest::WasmFile>(&w.source)) path = file->path;
        if (const auto* held = std::get_if<Manifest::WasmBytes>(&w.source)) path = held->path;
        w.source = Manifest::WasmBytes{std::move(*bytes), std::move(path)};
        w.hash.clear();
    }
    Manifest rest = *manifest;
    rest.wasm.clear();
    key += "|" + rest.to_json();
    // The cache is only touched under load_mutex, which every caller of build() holds.
    std::shared_ptr<const CompiledPlugin> compiled;
    if (auto hit = cache.find(key); hit != cache.end()) {
        compiled = hit->second;
        ++stats.hits;
    } else {
        PluginOptions popts = options.plugin_options;
        PluginOptions extra = adapter->second->options(info);
        popts.wasi = popts.wasi || extra.wasi;
        popts.functions.insert(popts.functions.end(), extra.functions.begin(),
                               extra.functions.end());
        popts.name = info.name;
        auto made = CompiledPlugin::create(options.engine, std::move(*manifest), std::move(popts));
        if (!made) return tl::unexpected(made.error());
        compiled = *made;
        cache.emplace(key, compiled);
        ++stats.compiled;
    }
    if (compiled_out) *compiled_out = compiled;
    if (!run) return std::unique_ptr<AbiInstance>();
    return adapter->second->instantiate(AbiLoad{info, compiled, effective.permissions,
                                                options.kiln_version, options.lifecycle_timeout});
}

Result<void> PluginManager::Impl::load_locked(std::string_view name,
                                              std::vector<ManagerEvent>& events) {
    std::vector<std::shared_ptr<Entry>> order;
    {
        std::shared_lock lock(mutex);
        auto entry = find(name);
        if (!entry) return make_error(ErrorKind::usage, fmt::format("no plugin {}", name));
        if (entry->info.state == PluginState::failed)
            return make_error(ErrorKind::invalid, fmt::format("plugin {} failed: {}",
                                                              entry->info.name, entry->info.error));
        if (entry->info.state == PluginState::disabled)
            return make_error(ErrorKind::usage,
                              fmt::format("plugin {} is disabled", entry->info.name));
        auto o = order_of(name);
        if (!o) return tl::unexpected(o.error());
        order = std::move(*o);
    }
    for (const auto& entry : order) {
        {
            std::shared_lock lock(mutex);
            if (entry->loaded) continue;
        }
        auto instance = build(entry, true);
        std::unique_lock lock(mutex);
        if (!instance) {
            entry->info.state = PluginState::failed;
            entry->info.error = instance.error().message;
            events.push_back({ManagerEvent::Kind::failed, entry->info.name, entry->info.error});
            if (entry == order.back()) return tl::unexpected(instance.error());
            return make_error(instance.error().kind,
                              fmt::format("{} needs {}, which failed: {}", order.back()->info.name,
                                          entry->info.name, instance.error().message));
        }
        auto loaded = std::make_shared<Loaded>();
        loaded->instance = std::move(*instance);
        entry->loaded = std::move(loaded);
        entry->info.state = PluginState::loaded;
        load_sequence.push_back(entry);
        events.push_back({ManagerEvent::Kind::loaded, entry->info.name, {}});
    }
    return {};
}

void PluginManager::Impl::unload_locked(const std::shared_ptr<Entry>& entry,
                                        std::vector<ManagerEvent>& events) {
    // Dependents first: every loaded plugin whose requirements resolve to this one.
    std::vector<std::shared_ptr<Entry>> dependents;
    {
        std::shared_lock lock(mutex);
        if (!entry->loaded) return;
        for (const auto& e : load_sequence) {
            if (e == entry || !e->info.manifest) continue;
            for (const auto& [dep, range] : e->info.manifest->dependencies)
                if (dep == entry->info.name && range.matches(entry->info.manifest->version))
                    dependents.push_back(e);
        }
    }
    for (auto it = dependents.rbegin(); it != dependents.rend(); ++it)
        unload_locked(*it, events);
    std::shared_ptr<Loaded> loaded;
    {
        std::unique_lock lock(mutex);
        loaded = std::move(entry->loaded);
        entry->loaded.reset();
        if (entry->info.state == PluginState::loaded) entry->info.state = PluginState::available;
        std::erase(load_sequence, entry);
    }
    if (!loaded) return;
    {
        // Waits for the call in flight, if any.
        std::lock_guard call(loaded->call_mutex);
        loaded->instance->shutdown();
        loaded->release();
    }
    events.push_back({ManagerEvent::Kind::unloaded, entry->info.name, {}});
}

void PluginManager::Impl::emit(const std::vector<ManagerEvent>& events) {
    if (events.empty()) return;
    std::vector<std::function<void(const ManagerEvent&)>> copy;
    {
        std::lock_guard lock(listeners_mutex);
        copy = listeners;
    }
    for (const ManagerEvent& e : events)
        for (const auto& l : copy)
            l(e);
}

void PluginManager::Impl::add(PluginInfo info) {
    // What was decided about this plugin in an earlier run: read before the lock is taken.
    Permissions granted;
    bool disabled = false;
    if (options.state && !state_error) {
        auto stored = manager::load_grants(*options.state, info.name);
        auto off = manager::is_disabled(*options.state, info.name);
        if (stored && off) {
            granted = std::move(*stored);
            disabled = *off;
        } else if (info.state != PluginState::failed) {
            info.state = PluginState::failed;
            info.error = (stored ? off.error() : stored.error()).message;
        }
    }
    std::unique_lock lock(mutex);
    if (info.state != PluginState::failed && info.manifest)
        for (const auto& e : entries) {
            if (e->info.name != info.name || !e->info.manifest ||
                e->info.state == PluginState::failed ||
                e->info.manifest->version != info.manifest->version)
                continue;
            info.state = PluginState::failed;
            info.error = fmt::format("{}: name: \"{}\" {} is also at {}; expected a name "
                                     "(or version) of its own",
                                     info.manifest->file, info.name, info.version, e->info.path);
            break;
        }
    // A disabled plugin keeps the reason it would fail for, shown again once enabled.
    if (disabled) info.state = PluginState::disabled;
    auto entry = std::make_shared<Entry>();
    entry->canonical = canonical_path(info.path);
    entry->info = std::move(info);
    entry->granted = std::move(granted);
    entries.push_back(std::move(entry));
}

PluginManager::PluginManager() : PluginManager(ManagerOptions()) {}

PluginManager::PluginManager(ManagerOptions options) : m_impl(std::make_unique<Impl>()) {
    m_impl->options = std::move(options);
    if (const auto& db = m_impl->options.state) {
        if (auto ready = manager::prepare_tables(*db); !ready)
            m_impl->state_error = ready.error();
        else
            m_impl->audit.set_database(db);
    }
    add_adapter(make_extism_adapter());
}

PluginManager::~PluginManager() {
    stop_watching();
    unload_all();
}

namespace {

constexpr uint32_t plugin_folder_events = IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM;

} // namespace

void PluginManager::Impl::discover_among(const std::vector<fs::path>& paths) {
    // What is a plugin: a folder holding a manifest, an Extism manifest (.json, .toml), a bare
    // .wasm. Not: hidden entries, folders without a manifest (data, build output), actor graphs
    // (*.graph.json, which live beside their actors), and a .wasm that a manifest among them
    // names (it is that plugin's module, not a plugin of its own): manifests go first.
    std::set<std::string> named_modules;
    std::vector<fs::path> modules;
    for (const fs::path& p : paths) {
        const std::string file = p.filename().string();
        const std::string ext = p.extension().string();
        std::error_code ec;
        if (file.starts_with(".") || file.ends_with(".graph.json")) continue;
        if (fs::is_directory(p, ec)) {
            if (!PackageManifest::file_in_folder(p.string()).empty()) discover(p);
        } else if (ext == ".wasm") {
            modules.push_back(p);
        } else if (ext == ".json" || ext == ".toml") {
            discover(p);
            std::shared_lock lock(mutex);
            if (auto e = find(p.string()))
                for (std::string& m : module_files(e->info))
                    named_modules.insert(std::move(m));
        }
    }
    for (const fs::path& p : modules)
        if (!named_modules.contains(canonical_path(p))) discover(p);
}

Result<void> PluginManager::watch(ReloadOptions options) {
    if (m_impl->inotify_fd >= 0) return {};
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0) return make_error(ErrorKind::io, "inotify: cannot start");
    {
        std::shared_lock lock(m_impl->mutex);
        for (const auto& e : m_impl->entries) {
            std::error_code ec;
            if (!fs::is_directory(e->info.path, ec)) continue;
            int wd = inotify_add_watch(fd, e->info.path.c_str(), plugin_folder_events);
            if (wd >= 0) m_impl->watched[wd] = e->info.path;
        }
        // The opened folders: their single-file plugins, and plugins added to them later.
        for (const std::string& folder : m_impl->opened) {
            int wd = inotify_add_watch(fd, folder.c_str(), plugin_folder_events | IN_CREATE);
            if (wd >= 0 && !m_impl->watched.contains(wd)) m_impl->roots[wd] = folder;
        }
    }
    m_impl->inotify_fd = fd;
    m_impl->stop_watching = false;
    m_impl->watcher = std::thread([this, options] {
        Impl& impl = *m_impl;
        alignas(inotify_event) char buffer[8192];
        while (!impl.stop_watching) {
            pollfd p{impl.inotify_fd, POLLIN, 0};
            if (poll(&p, 1, 50) <= 0) continue;
            // A change is usually several events (write, then rename): gather them for a moment
            // so that each plugin is reloaded once, with its files complete.
            std::set<std::string> changed;
            std::set<fs::path> appeared; // files and folders of opened folders
            for (int quiet = 0; quiet < 2 && !impl.stop_watching;) {
                ssize_t n = read(impl.inotify_fd, buffer, sizeof buffer);
                if (n <= 0) {
                    ++quiet;
                    std::this_thread::sleep_for(std::chrono::milliseconds(25));
                    continue;
                }
                quiet = 0;
                for (ssize_t at = 0; at < n;) {
                    auto* event = reinterpret_cast<inotify_event*>(buffer + at);
                    if (auto it = impl.watched.find(event->wd); it != impl.watched.end())
                        changed.insert(it->second);
                    else if (auto root = impl.roots.find(event->wd);
                             root != impl.roots.end() && event->len > 0 &&
                             !(event->mask & (IN_DELETE | IN_MOVED_FROM)))
                        appeared.insert(fs::path(root->second) / event->name);
                    at += ssize_t(sizeof(inotify_event) + event->len);
                }
            }
            impl.sort_out(appeared, changed);
            for (const std::string& path : changed)
                (void)reload(path,
                             options); // a failure is a `failed` event; the old version serves on
        }
    });
    return {};
}

void PluginManager::Impl::sort_out(const std::set<fs::path>& appeared,
                                   std::set<std::string>& changed) {
    // Known plugins, and the modules single-file manifests name, by canonical path.
    std::map<std::string, std::string> known;
    {
        std::shared_lock lock(mutex);
        for (const auto& e : entries) {
            known[e->canonical] = e->info.path;
            if (!fs::is_directory(e->info.path))
                for (std::string& m : module_files(e->info))
                    known[std::move(m)] = e->info.path;
        }
    }
    std::vector<fs::path> fresh;
    for (const fs::path& p : appeared) {
        std::error_code ec;
        if (auto k = known.find(canonical_path(p)); k != known.end()) {
            changed.insert(k->second); // a single-file plugin, or a module its manifest names
            continue;
        }
        // A new folder is watched from now on, to become a plugin once it holds a manifest.
        if (fs::is_directory(p, ec) && !p.filename().string().starts_with(".")) {
            int wd = inotify_add_watch(inotify_fd, p.c_str(), plugin_folder_events);
            if (wd >= 0) watched[wd] = p.string();
        }
        fresh.push_back(p);
    }
    discover_among(fresh);
    // A folder watched before its manifest came: the first change with a manifest adds it.
    for (auto it = changed.begin(); it != changed.end();) {
        if (!known.contains(canonical_path(*it)) && !PackageManifest::file_in_folder(*it).empty()) {
            discover(*it);
            it = changed.erase(it);
        } else if (!known.contains(canonical_path(*it))) {
            it = changed.erase(it); // still no plugin
        } else {
            ++it;
        }
    }
}

void PluginManager::stop_watching() {
    if (m_impl->inotify_fd < 0) return;
    m_impl->stop_watching = true;
    if (m_impl->watcher.joinable()) m_impl->watcher.join();
    close(m_impl->inotify_fd);
    m_impl->inotify_fd = -1;
    m_impl->watched.clear();
    m_impl->roots.clear();
}

Result<void> PluginManager::open(const std::string& folder) {
    KILN_CHECK(m_impl->state_ready());
    std::error_code ec;
    fs::directory_iterator it(folder, ec);
    if (ec)
        return make_error(ErrorKind::io, fmt::format("{}: cannot open: {}", folder, ec.message()));
    std::vector<fs::path> paths;
    for (const auto& d : it)
        paths.push_back(d.path());
    std::sort(paths.begin(), paths.end());
    m_impl->discover_among(paths);
    {
        std::unique_lock lock(m_impl->mutex);
        if (std::find(m_impl->opened.begin(), m_impl->opened.end(), folder) == m_impl->opened.end())
            m_impl->opened.push_back(folder);
    }
    if (m_impl->options.eager) (void)load_all();
    return {};
}

Result<std::string> PluginManager::add(const std::string& path) {
    KILN_CHECK(m_impl->state_ready());
    std::error_code ec;
    if (!fs::exists(path, ec))
        return make_error(ErrorKind::io, fmt::format("{}: cannot open", path));
    {
        // The same plugin reached by another spelling of its path is not a second plugin.
        std::shared_lock lock(m_impl->mutex);
        const std::string canonical = canonical_path(path);
        for (const auto& e : m_impl->entries)
            if (e->canonical == canonical) return e->info.name;
    }
    std::string name = m_impl->discover(path);
    if (m_impl->options.eager) (void)load(path);
    return name;
}

const ManagerOptions& PluginManager::options() const {
    return m_impl->options;
}

std::vector<PluginInfo> PluginManager::list() const {
    std::vector<PluginInfo> out;
    {
        std::shared_lock lock(m_impl->mutex);
        for (const auto& e : m_impl->entries)
            out.push_back(e->info);
    }
    std::stable_sort(out.begin(), out.end(), [](const PluginInfo& a, const PluginInfo& b) {
        if (a.name != b.name) return a.name < b.name;
        if (a.manifest && b.manifest) return a.manifest->version < b.manifest->version;
        return false;
    });
    return out;
}

std::optional<PluginInfo> PluginManager::info(std::string_view name_or_path) const {
    std::shared_lock lock(m_impl->mutex);
    auto e = m_impl->find(name_or_path);
    if (!e) return std::nullopt;
    return e->info;
}

Result<std::vector<std::string>> PluginManager::load_order(std::string_view name) const {
    std::shared_lock lock(m_impl->mutex);
    auto order = m_impl->order_of(name);
    if (!order) return tl::unexpected(order.error());
    std::vector<std::string> out;
    for (const auto& e : *order)
        out.push_back(e->info.name);
    return out;
}

Result<void> PluginManager::validate(std::string_view name) {
    std::shared_ptr<Entry> entry;
    {
        std::shared_lock lock(m_impl->mutex);
        entry = m_impl->find(name);
        if (!entry) return make_error(ErrorKind::usage, fmt::format("no plugin {}", name));
        if (entry->info.state == PluginState::failed)
            return make_error(ErrorKind::invalid, entry->info.error);
    }
    // Its requirements and its own build (config, hashes, compiling, the adapter) are checked
    // both, so that every problem is named, a line each.
    Result<void> result;
    auto note = [&](const Error& e) {
        if (result)
            result = tl::unexpected(e);
        else
            result.error().message += "\n" + e.message;
    };
    bool links = false;
    {
        std::shared_lock lock(m_impl->mutex);
        if (auto o = m_impl->order_of(name); !o) note(o.error());
        links = entry->info.manifest && !entry->info.manifest->links.empty();
    }
    // Linking needs what it requires: with that missing, building would only say it again.
    if (result || !links) {
        std::lock_guard load(m_impl->load_mutex);
        if (auto built = m_impl->build(entry, false); !built) note(built.error());
    }
    if (!result) {
        std::unique_lock lock(m_impl->mutex);
        entry->info.state = PluginState::failed;
        entry->info.error = result.error().message;
    }
    return result;
}

Result<void> PluginManager::load(std::string_view name) {
    std::vector<ManagerEvent> events;
    Result<void> result;
    {
        std::lock_guard load(m_impl->load_mutex);
        result = m_impl->load_locked(name, events);
    }
    m_impl->emit(events);
    return result;
}

Result<std::shared_ptr<const CompiledPlugin>> PluginManager::compiled(std::string_view name) {
    std::vector<ManagerEvent> events;
    std::shared_ptr<const CompiledPlugin> compiled;
    Result<void> result;
    {
        std::lock_guard load(m_impl->load_mutex);
        result = m_impl->load_locked(name, events);
        if (result) {
            std::shared_ptr<Entry> entry;
            {
                std::shared_lock lock(m_impl->mutex);
                entry = m_impl->find(name);
            }
            // Loaded just now, so its compiled plugin is in the cache.
            auto built = m_impl->build(entry, false, &compiled);
            if (!built) result = tl::unexpected(built.error());
        }
    }
    m_impl->emit(events);
    if (!result) return tl::unexpected(result.error());
    return compiled;
}

Result<void> PluginManager::load_all() {
    Result<void> first;
    for (const PluginInfo& p : list()) {
        if (p.state != PluginState::available) continue;
        auto ok = load(p.path);
        if (!ok && first) first = ok;
    }
    return first;
}

Result<void> PluginManager::reload(std::string_view name, ReloadOptions options) {
    std::vector<ManagerEvent> events;
    Result<void> result;
    {
        std::lock_guard load(m_impl->load_mutex);
        std::shared_ptr<Entry> entry;
        Permissions granted;
        // Stable while load_mutex is held: only loads, unloads and reloads replace it.
        std::shared_ptr<Loaded> old;
        {
            std::shared_lock lock(m_impl->mutex);
            entry = m_impl->find(name);
            if (!entry) return make_error(ErrorKind::usage, fmt::format("no plugin {}", name));
            granted = entry->granted;
            old = entry->loaded;
        }
        // The new version is read and built beside the running one, which serves meanwhile and
        // keeps serving if the new one fails.
        PluginInfo fresh = Impl::read_plugin(entry->info.path);
        Result<std::unique_ptr<AbiInstance>> instance = make_error(ErrorKind::invalid, fresh.error);
        if (fresh.state != PluginState::failed)
            instance = m_impl->build_from(fresh, granted, old != nullptr);
        // Vars are taken once the old instance's call in flight has ended; calls that come
        // meanwhile wait on its lock and, finding it closed, go to the new one.
        std::unique_lock<std::mutex> handover;
        if (instance && *instance && old && options.keep_vars) {
            handover = std::unique_lock(old->call_mutex);
            if (auto vars = old->instance->vars()) {
                if (auto set = (*instance)->set_vars(std::move(*vars)); !set) {
                    (*instance)->shutdown();
                    instance = make_error(set.error().kind,
                                          fmt::format("{}: the new version cannot keep the vars: "
                                                      "{}",
                                                      entry->info.name, set.error().message));
                }
            }
        }
        if (!instance) {
            events.push_back(
                {ManagerEvent::Kind::failed, entry->info.name, instance.error().message});
            result = tl::unexpected(instance.error());
        } else {
            {
                std::unique_lock lock(m_impl->mutex);
                entry->loaded.reset();
                fresh.state = entry->info.state == PluginState::disabled ? PluginState::disabled
                                                                         : PluginState::available;
                if (*instance) {
                    auto loaded = std::make_shared<Loaded>();
                    loaded->instance = std::move(*instance);
                    entry->loaded = std::move(loaded);
                    fresh.state = PluginState::loaded;
                }
                entry->info = std::move(fresh);
                entry->canonical = canonical_path(entry->info.path);
            }
            if (old) {
                // New calls already go to the new instance; the old one ends with its last call.
                std::unique_lock call =
                    handover.owns_lock() ? std::move(handover) : std::unique_lock(old->call_mutex);
                old->instance->shutdown();
                old->release();
            }
            events.push_back({ManagerEvent::Kind::reloaded, entry->info.name, {}});
        }
    }
    m_impl->emit(events);
    return result;
}

Result<void> PluginManager::unload(std::string_view name) {
    std::vector<ManagerEvent> events;
    {
        std::lock_guard load(m_impl->load_mutex);
        std::shared_ptr<Entry> entry;
        {
            std::shared_lock lock(m_impl->mutex);
            entry = m_impl->find(name);
        }
        if (!entry) return make_error(ErrorKind::usage, fmt::format("no plugin {}", name));
        m_impl->unload_locked(entry, events);
    }
    m_impl->emit(events);
    return {};
}

void PluginManager::unload_all() {
    std::vector<ManagerEvent> events;
    {
        std::lock_guard load(m_impl->load_mutex);
        while (true) {
            std::shared_ptr<Entry> last;
            {
                std::shared_lock lock(m_impl->mutex);
                if (m_impl->load_sequence.empty()) break;
                last = m_impl->load_sequence.back();
            }
            m_impl->unload_locked(last, events);
        }
    }
    m_impl->emit(events);
}

Result<std::string> PluginManager::call(std::string_view name, std::string_view target,
                                        std::string_view input) {
    Result<std::string> out;
    KILN_CHECK(with_instance(name, [&](AbiInstance& i) { out = i.call(target, input); }));
    return out;
}

Result<std::string> PluginManager::call(std::string_view name, std::string_view target,
                                        std::string_view input, CallContext& context) {
    Result<std::string> out;
    KILN_CHECK(with_instance(name, [&](AbiInstance& i) { out = i.call(target, input, context); }));
    return out;
}

Result<bool> PluginManager::has(std::string_view name, std::string_view target) {
    bool found = false;
    KILN_CHECK(with_instance(name, [&](AbiInstance& i) { found = i.has(target); }));
    return found;
}

Result<void> PluginManager::with_instance(std::string_view name,
                                          const std::function<void(AbiInstance&)>& body) {
    // A plugin unloaded or reloaded between the lookup and the call is looked up again; each
    // retry means another unload or reload happened meanwhile.
    for (int attempt = 0; attempt < 1000; ++attempt) {
        std::shared_ptr<Loaded> loaded;
        {
            std::shared_lock lock(m_impl->mutex);
            auto entry = m_impl->find(name);
            if (!entry) return make_error(ErrorKind::usage, fmt::format("no plugin {}", name));
            loaded = entry->loaded;
        }
        if (!loaded) {
            if (auto ok = load(name); !ok) return tl::unexpected(ok.error());
            continue;
        }
        std::lock_guard call(loaded->call_mutex);
        if (loaded->closed) continue;
        body(*loaded->instance);
        return {};
    }
    return make_error(ErrorKind::usage,
                      fmt::format("plugin {} was unloaded while it was being called", name));
}

Result<void> PluginManager::set_enabled(std::string_view name, bool enabled) {
    KILN_CHECK(m_impl->state_ready());
    std::string plugin;
    {
        std::shared_lock lock(m_impl->mutex);
        auto entry = m_impl->find(name);
        if (!entry) return make_error(ErrorKind::usage, fmt::format("no plugin {}", name));
        plugin = entry->info.name;
    }
    if (m_impl->options.state)
        KILN_CHECK(manager::store_enabled(*m_impl->options.state, plugin, enabled));
    // Every version of the plugin: a disabled one is unloaded first (with what requires it).
    std::vector<std::shared_ptr<Entry>> versions;
    {
        std::shared_lock lock(m_impl->mutex);
        for (const auto& e : m_impl->entries)
            if (e->info.name == plugin) versions.push_back(e);
    }
    if (!enabled)
        for (const auto& e : versions)
            (void)unload(e->info.path);
    std::unique_lock lock(m_impl->mutex);
    for (const auto& e : versions) {
        PluginState& state = e->info.state;
        if (!enabled)
            state = PluginState::disabled;
        else if (state == PluginState::disabled)
            state = e->info.error.empty() ? PluginState::available : PluginState::failed;
    }
    return {};
}

Result<void> PluginManager::grant(std::string_view name, const Permissions& more) {
    return m_impl->change_grants(name, [&](Permissions& p) { manager::add_grants(p, more); });
}

Result<void> PluginManager::revoke(std::string_view name, const Permissions& less) {
    return m_impl->change_grants(name, [&](Permissions& p) { p.remove(less); });
}

Result<void> PluginManager::Impl::change_grants(std::string_view name,
                                                const std::function<void(Permissions&)>& change) {
    KILN_CHECK(state_ready());
    std::vector<std::pair<std::shared_ptr<Loaded>, Permissions>> running;
    {
        std::unique_lock lock(mutex);
        auto entry = find(name);
        if (!entry) return make_error(ErrorKind::usage, fmt::format("no plugin {}", name));
        Permissions granted = entry->granted;
        change(granted);
        // Stored first: a grant the database refused is not granted.
        if (options.state)
            KILN_CHECK(manager::store_grants(*options.state, entry->info.name, granted));
        for (const auto& e : entries) {
            if (e->info.name != entry->info.name) continue;
            e->granted = granted;
            if (!e->loaded || !e->info.manifest) continue;
            Permissions effective = e->info.manifest->permissions;
            effective.merge(granted);
            running.emplace_back(e->loaded, std::move(effective));
        }
    }
    // A loaded instance checks the new permissions from its next host call (its links, such
    // as WASI's folders, stay as they were made).
    for (auto& [loaded, permissions] : running)
        loaded->set_permissions(permissions);
    return {};
}

Result<void> PluginManager::check_state() const {
    return m_impl->state_ready();
}

Result<Permissions> PluginManager::granted(std::string_view name) const {
    std::shared_lock lock(m_impl->mutex);
    auto entry = m_impl->find(name);
    if (!entry) return make_error(ErrorKind::usage, fmt::format("no plugin {}", name));
    return entry->granted;
}

Result<Permissions> PluginManager::permissions(std::string_view name) const {
    std::shared_lock lock(m_impl->mutex);
    auto entry = m_impl->find(name);
    if (!entry) return make_error(ErrorKind::usage, fmt::format("no plugin {}", name));
    Permissions p = entry->info.manifest ? entry->info.manifest->permissions : Permissions{};
    p.merge(entry->granted);
    return p;
}

Result<void> PluginManager::check(std::string_view name, Permission permission,
                                  std::string_view argument) {
    std::shared_ptr<Entry> entry;
    Permissions p;
    {
        std::shared_lock lock(m_impl->mutex);
        entry = m_impl->find(name);
        if (!entry) return make_error(ErrorKind::usage, fmt::format("no plugin {}", name));
        if (entry->info.manifest) p = entry->info.manifest->permissions;
        p.merge(entry->granted);
    }
    return check_permission(entry->info.name, p, permission, argument, m_impl->audit, entry->rate);
}

AuditLog& PluginManager::audit() {
    return m_impl->audit;
}

void PluginManager::on_event(std::function<void(const ManagerEvent&)> listener) {
    std::lock_guard lock(m_impl->listeners_mutex);
    m_impl->listeners.push_back(std::move(listener));
}

void PluginManager::add_adapter(std::unique_ptr<AbiAdapter> adapter) {
    std::lock_guard load(m_impl->load_mutex);
    const PluginAbi abi = adapter->abi();
    m_impl->adapters[abi] = std::move(adapter);
}

PluginManager::CacheStats PluginManager::cache_stats() const {
    std::lock_guard load(m_impl->load_mutex);
    return m_impl->stats;
}

const char* plugin_state_name(PluginState state) {
    switch (state) {
    case PluginState::available: return "available";
    case PluginState::loaded: return "loaded";
    case PluginState::failed: return "failed";
    case PluginState::disabled: return "disabled";
    }
    return "unknown";
}

} // namespace kiln
