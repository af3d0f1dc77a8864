// The plugin manager: a set of plugins found in folders, each with a package manifest (kiln.yaml,
// kiln.toml or kiln.json; Zeno's manifest.yaml and Spacedrive's manifest.json as they are), its
// permissions, its lifecycle and its dependencies. See docs/manager.md.
//
//   kiln::PluginManager manager;
//   manager.open("plugins");                      // reads manifests, runs no plugin code
//   for (const auto& p : manager.list()) ...      // name, version, ABI, state, error
//   auto out = manager.call("greeter", "greet", "World");   // loads on first use
#pragma once

#include <kiln/engine.hpp>
#include <kiln/error.hpp>
#include <kiln/plugin.hpp>
#include <kiln/state_db.hpp>

#include <chrono>
#include <compare>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

/// A semantic version (semver.org 2.0): MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD].
struct Version {
    uint64_t major = 0;
    uint64_t minor = 0;
    uint64_t patch = 0;
    std::string prerelease; ///< dot-separated identifiers; empty for a release
    std::string build;      ///< ignored by comparisons

    /// Parses a full version ("1.2.3", "1.0.0-rc.1+b5"); an error says what is wrong.
    static Result<Version> parse(std::string_view text);
    std::string to_string() const;
    /// Precedence as semver defines it (build metadata ignored).
    std::strong_ordering operator<=>(const Version& other) const;
    bool operator==(const Version& other) const { return (*this <=> other) == 0; }
};

/// A set of versions: comparators joined by spaces or commas (all must hold), alternatives
/// joined by "||". Comparators: =, >, >=, <, <=, ^ (same leftmost non-zero part), ~ (same minor),
/// a partial version ("1.2" means 1.2.x), "*" (any). "^1.2", ">=0.2, <1", "1.x || 2.x".
struct VersionRange {
    std::string text; ///< as written

    static Result<VersionRange> parse(std::string_view text);
    bool matches(const Version& version) const;

    struct Comparator {
        enum class Op { eq, gt, ge, lt, le };
        Op op = Op::eq;
        Version version;
    };
    std::vector<std::vector<Comparator>> alternatives;
};

/// The guest ABI a plugin speaks. `automatic` is detected from the module's imports and exports.
enum class PluginAbi { automatic, extism, zeno, spacedrive, reflow };

/// "auto", "extism", "zeno", "spacedrive", "reflow".
const char* abi_name(PluginAbi abi);

/// What a plugin is allowed to do. Nothing is granted by default; each family is one field.
struct Permissions {
    /// A path prefix, read-only unless `write`.
    struct Path {
        std::string prefix;
        bool write = false;
        bool operator==(const Path&) const = default;
    };
    /// URL or host globs: "*", "*.example.com", "https://api.example.com/*", an exact URL.
    std::vector<std::string> network;
    std::vector<Path> filesystem;
    std::vector<std::string> env;       ///< variable names
    std::vector<std::string> databases; ///< connection names; "rw:NAME" may write too
    bool kv_read = false;
    bool kv_write = false;
    bool scope_read = false;
    bool scope_write = false;
    std::vector<std::string> publish;    ///< event topics (globs) the plugin may publish to
    std::vector<std::string> subscribe;  ///< event topics (globs) it may subscribe to
    std::vector<std::string> operations; ///< host operation name prefixes ("query:", "action:")
    std::vector<std::string> libraries;  ///< Spacedrive library ids, "*" for any
    bool ui = false;                     ///< may contribute UI blocks
    uint32_t max_concurrent_jobs = 0;    ///< jobs running at once; 0 allows none
    uint32_t calls_per_minute = 0;       ///< host calls per minute; 0: no rate limit

    /// Adds what `other` grants.
    void merge(const Permissions& other);
    /// Takes away what `other` grants (a path prefix whatever its mode; jobs and rate: reset).
    void remove(const Permissions& other);
    bool operator==(const Permissions&) const = default;
};

/// The permission one host call needs.
enum class Permission {
    network,     ///< argument: the URL (or host)
    file_read,   ///< argument: the path
    file_write,  ///< argument: the path
    env,         ///< argument: the variable name
    database,    ///< argument: the connection name, "rw:NAME" to write
    kv_read,     ///< no argument
    kv_write,    ///< no argument
    scope_read,  ///< no argument
    scope_write, ///< no argument
    publish,     ///< argument: the topic
    subscribe,   ///< argument: the topic
    operation,   ///< argument: the operation name
    library,     ///< argument: the library id
    ui,          ///< no argument
    jobs,        ///< argument: how many jobs would run at once, in decimal
};

/// "network", "file_read", ... as grants, audit records and `kiln plugin grant` name them.
const char* permission_name(Permission permission);

/// Whether `permissions` allow `permission` with `argument`: the one check every host function
/// family makes (the rate limit, which needs a clock, is the manager's).
bool allows(const Permissions& permissions, Permission permission, std::string_view argument);

/// Parses a grant as `kiln plugin grant` takes it: FAMILY[:ARGUMENT] ("network:*.example.com",
/// "fs:rw:data", "env:HOME", "kv:write", "jobs:4", "rate:60") into what it grants.
Result<Permissions> parse_grant(std::string_view text);

/// Each grant of `permissions` as parse_grant() reads it ("network:*.example.com", "fs:rw:data",
/// "kv:read", "jobs:4", "rate:60", ...), one text per value, in the order of the fields.
std::vector<std::string> grant_texts(const Permissions& permissions);

/// Limits a package manifest sets; each maps onto the Extism manifest's field of that name.
struct PackageLimits {
    std::optional<uint64_t> memory_bytes;
    std::optional<uint64_t> timeout_ms;
    std::optional<uint64_t> fuel;
    std::optional<uint64_t> http_response_bytes;
    std::optional<uint64_t> var_bytes;
};

/// Something a plugin declares it offers, known before its wasm is loaded.
struct Contribution {
    enum class Kind { slot, command, event, ui, job };
    Kind kind = Kind::command;
    std::string id;          ///< slot name, command id, event topic, block id, job name
    std::string title;       ///< description, title or name
    std::string export_name; ///< the export serving it, where the manifest names one
    // Jobs only (docs/jobs.md): how the job runs unless its dispatch says otherwise.
    bool snapshots = false;         ///< transparent snapshots when paused or stopped
    uint64_t snapshot_every_ms = 0; ///< and periodically
    uint32_t retries = 0;           ///< runs after a failed one
};

/// "slot", "command", "event", "ui", "job".
const char* contribution_kind_name(Contribution::Kind kind);

/// A plugin's package manifest, whichever file it came from.
struct PackageManifest {
    enum class Dialect { kiln, zeno, spacedrive, extism, bare_wasm };
    Dialect dialect = Dialect::kiln;
    std::string file;   ///< the manifest (or bare .wasm) read
    std::string folder; ///< what relative paths are taken from

    std::string name;
    Version version;
    std::string description;
    std::string author;
    std::string license;
    std::string homepage;
    std::vector<Manifest::Wasm> wasm; ///< paths made absolute
    /// Another installed plugin whose module is linked into this one by its name (Extism's
    /// multi-module linking): a `wasm` entry {plugin: NAME, version: RANGE, name: MODULE}.
    struct Link {
        std::string plugin; ///< the plugin whose (single) module is linked
        VersionRange range; ///< the versions it may be ("*" unless given)
        std::string module; ///< the import module name it is linked as; default: `plugin`
    };
    /// Linked before the modules of `wasm`, in this order.
    std::vector<Link> links;
    PluginAbi abi = PluginAbi::automatic;
    std::optional<VersionRange> requires_kiln;
    std::map<std::string, VersionRange> dependencies; ///< `requires` other than kiln, by name
    Permissions permissions;
    PackageLimits limits;
    /// Values as written, with ${VAR} and ${VAR:-default} resolved by resolve_config().
    std::map<std::string, std::string> config;
    std::string config_schema; ///< JSON text of the schema, empty without one
    std::vector<Contribution> contributes;
    /// Keys of a foreign manifest Kiln keeps without using, as a JSON object's text.
    std::string foreign;
    /// One line per foreign key that is kept but not used.
    std::vector<std::string> warnings;
    /// The Extism manifest as read, for that dialect (it runs as it is).
    std::optional<Manifest> extism;

    /// Reads kiln.yaml, kiln.yml, kiln.toml, kiln.json, Zeno's manifest.yaml, a manifest.json
    /// (Spacedrive's with `wasm_file`, Extism's with `wasm`), another Extism manifest (.json,
    /// .toml) or a bare .wasm. Errors read "FILE: FIELD: what was expected".
    static Result<PackageManifest> from_file(const std::string& path);
    /// The manifest of a plugin folder: the first of kiln.yaml, kiln.yml, kiln.toml, kiln.json,
    /// manifest.yaml, manifest.json it holds.
    static Result<PackageManifest> from_folder(const std::string& folder);
    /// The manifest file of a plugin folder (kiln.yaml, ..., manifest.json, the first found);
    /// empty when there is none, so the folder is no plugin.
    static std::string file_in_folder(const std::string& folder);
    /// Parses manifest text of `dialect` ("yaml", "toml" or "json" by `syntax`).
    static Result<PackageManifest> parse(std::string_view text, std::string_view syntax,
                                         Dialect dialect, const std::string& file);

    /// The config with ${VAR} and ${VAR:-default} replaced from `getenv`, allowed only for
    /// variables the env permission names, then checked against config_schema (defaults
    /// filled in). Errors name the config key and the variable.
    Result<std::map<std::string, std::string>> resolve_config(
        const std::function<std::optional<std::string>(const std::string&)>& getenv) const;
    /// The Extism manifest this plugin runs with: its modules, its resolved config, the network
    /// and filesystem permissions as allowed_hosts and allowed_paths, and its limits.
    Result<Manifest>
    to_extism(const std::function<std::optional<std::string>(const std::string&)>& getenv) const;
};

/// "kiln", "zeno", "spacedrive", "extism", "wasm".
const char* dialect_name(PackageManifest::Dialect dialect);

/// One refused permission check.
struct AuditRecord {
    std::chrono::system_clock::time_point time;
    std::string plugin;
    std::string permission; ///< permission_name(), or "rate" for the rate limit
    std::string argument;
};

/// The audit log of denials, in memory or in the state database; a hook sees each record as it
/// is added.
class AuditLog {
public:
    void add(AuditRecord record);
    /// Every record so far, oldest first (of `plugin` only, unless empty).
    std::vector<AuditRecord> records(std::string_view plugin = {}) const;
    /// Called (on the denying thread) with each new record.
    void set_hook(std::function<void(const AuditRecord&)> hook);
    /// Keeps records in `db` (whose manager tables exist) from now on; a record that cannot be
    /// written stays in memory, and records() returns both.
    void set_database(std::shared_ptr<StateDb> db);

private:
    mutable std::mutex m_mutex;
    std::vector<AuditRecord> m_records;
    std::function<void(const AuditRecord&)> m_hook;
    std::shared_ptr<StateDb> m_db;
};

/// A calls-per-minute limit: the times of the calls of the last minute.
class RateLimit {
public:
    /// Counts a call made `now`; false (and not counted) when `per_minute` calls were made in
    /// the minute before it. 0: no limit.
    bool take(uint32_t per_minute,
              std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

private:
    std::mutex m_mutex;
    std::deque<std::chrono::steady_clock::time_point> m_recent;
};

/// The one check with its consequences, for the manager and every host function family:
/// allows(), then `rate` against `permissions.calls_per_minute`; a refusal is an
/// ErrorKind::denied error naming the plugin, and a record in `audit`.
Result<void> check_permission(std::string_view plugin, const Permissions& permissions,
                              Permission permission, std::string_view argument, AuditLog& audit,
                              RateLimit& rate);

/// Where a plugin is in its life.
enum class PluginState { available, loaded, failed, disabled };

/// "available", "loaded", "failed", "disabled".
const char* plugin_state_name(PluginState state);

/// What the manager knows of one plugin, without running it.
struct PluginInfo {
    std::string name;
    std::string version;                  ///< empty when its manifest could not be read
    PluginAbi abi = PluginAbi::automatic; ///< detected when the manifest says auto
    PluginState state = PluginState::available;
    std::string error;                               ///< why it failed
    std::string path;                                ///< its folder, .wasm or manifest
    std::shared_ptr<const PackageManifest> manifest; ///< null when it could not be read
    std::vector<std::string> imports;                ///< "module.name" of each function import
    std::vector<std::string> exports;                ///< function exports
};

/// One manager event: a plugin loaded, unloaded, failed (with the reason) or reloaded.
struct ManagerEvent {
    enum class Kind { loaded, unloaded, failed, reloaded };
    Kind kind = Kind::loaded;
    std::string plugin;
    std::string detail; ///< the reason of a failure
};

/// What a host passes with a call besides its input, and gets back after it.
struct CallContext {
    /// The caller's variables as a JSON object's text (a ZenoEngine script's scope), which the
    /// plugin reads and writes through the scope host functions; after the call, the scope as
    /// the plugin left it. Empty: the call has no scope.
    std::string scope;
};

/// The instance of a loaded plugin, as a guest ABI runs it.
class AbiInstance {
public:
    virtual ~AbiInstance() = default;
    /// Calls `target` (an export, a slot or a command, as the ABI has them) with `input`.
    /// Called by one thread at a time.
    virtual Result<std::string> call(std::string_view target, std::string_view input) = 0;
    /// The same with a call context; an ABI without host functions that use it ignores it.
    virtual Result<std::string> call(std::string_view target, std::string_view input,
                                     CallContext& context) {
        return call(target, input);
    }
    /// Whether `target` can be called.
    virtual bool has(std::string_view target) const = 0;
    /// Runs the plugin's shutdown export, if it has one.
    virtual void shutdown() = 0;
    /// The instance's vars, for a reload that hands them over; nullopt when the ABI has none.
    virtual std::optional<std::map<std::string, std::string>> vars() const { return std::nullopt; }
    /// Takes over the vars of the instance this one replaces.
    virtual Result<void> set_vars(std::map<std::string, std::string> /*vars*/) {
        return make_error(ErrorKind::usage, "this plugin's ABI has no vars to hand over");
    }
    /// The permissions it runs with changed (a grant or revoke at run time): host functions
    /// check the new ones from their next call. An ABI whose host functions check none
    /// ignores it; what the instance was linked with (WASI folders, HTTP hosts) stays.
    virtual void set_permissions(const Permissions& /*permissions*/) {}
};

/// What an adapter gets to instantiate one plugin.
struct AbiLoad {
    const PluginInfo& plugin;
    std::shared_ptr<const CompiledPlugin> compiled;
    Permissions permissions;       ///< what it runs with: its manifest's and the grants
    std::string_view host_version; ///< the Kiln version (ManagerOptions::kiln_version)
    /// How long a lifecycle export may run (ManagerOptions::lifecycle_timeout).
    std::chrono::milliseconds lifecycle_timeout{10000};
};

/// Runs `call`, one call of a plugin's lifecycle export (`initialize`, `shutdown`,
/// `plugin_init`, `plugin_cleanup`, ...), stopping it through `cancel` when it runs longer than
/// `limit` (0: no limit): a hook that never returns fails, as "`what` did not return within N
/// ms", instead of hanging a load, an unload or a runner's end.
Result<std::string> run_lifecycle(const CancelHandle& cancel, std::chrono::milliseconds limit,
                                  std::string_view what,
                                  const std::function<Result<std::string>()>& call);

/// The input of an Extism plugin's `initialize` export: {"host": {"name": "kiln", "version"},
/// "config": {...}} with the config the plugin runs with.
std::string extism_initialize_input(const AbiLoad& load);

/// The seam where a guest ABI plugs into the manager: the host functions it offers the
/// plugin, and how an instance is made, initialised, called and shut down.
class AbiAdapter {
public:
    virtual ~AbiAdapter() = default;
    virtual PluginAbi abi() const = 0;
    /// Host functions (and WASI) the plugin's modules are linked with.
    virtual PluginOptions options(const PluginInfo& plugin) const = 0;
    /// The ABI's say on the manifest the plugin runs with, made from its package manifest
    /// (ZenoEngine's plugins get WASI with no folders: their files go through host functions).
    virtual void adjust(Manifest& manifest) const {}
    /// A new instance, initialised (a trap in the init export fails the load).
    virtual Result<std::unique_ptr<AbiInstance>> instantiate(const AbiLoad& load) const = 0;
};

/// The Extism ABI: the kernel, WASI when the module imports it, `initialize` run at load when
/// exported (with extism_initialize_input()), `shutdown` at unload.
std::unique_ptr<AbiAdapter> make_extism_adapter();

/// How PluginManager::reload() replaces a loaded plugin.
struct ReloadOptions {
    /// Hand the running instance's vars to the new one, as they are after its last call: new
    /// calls wait for the handover rather than run on the new version without them. A new
    /// version whose max_var_bytes cannot hold them fails the reload (the old one serves on).
    bool keep_vars = false;
};

/// How a manager is set up.
struct ManagerOptions {
    Engine engine;
    /// Load every plugin when its folder is opened, instead of on first use.
    bool eager = false;
    /// The Kiln version `requires.kiln` ranges are checked against.
    std::string kiln_version = "0.1.0";
    /// Environment lookup for config ${VAR}; default: the process environment.
    std::function<std::optional<std::string>(const std::string&)> getenv;
    /// Log sink, log level and observers given to every plugin.
    PluginOptions plugin_options;
    /// Kiln's state database, where disabled plugins, grants and the audit log are kept (the
    /// schema component "manager"); null keeps them in memory, for this manager only. If its
    /// tables cannot be brought up to date, open(), add() and every change of state return
    /// that error.
    std::shared_ptr<StateDb> state;
    /// How long one lifecycle export (initialize, shutdown, plugin_init, plugin_cleanup) may
    /// run, whatever the manifest's timeout; 0: no limit. A load whose hook runs past it
    /// fails; an unload goes on without the hook.
    std::chrono::milliseconds lifecycle_timeout{10000};
};

/// `plugins` as `kiln plugin list --json` prints them (docs/manager.md): an array of {"name",
/// "version", "abi", "state", "error" (failed only), "path", "contributes"}.
std::string plugins_json(const std::vector<PluginInfo>& plugins);
/// One plugin as `kiln plugin info --json` prints it: its list object with its manifest,
/// permissions, limits, config, `granted` (grant_texts), imports and exports.
std::string plugin_json(const PluginInfo& plugin, const Permissions& granted);
/// An audit record's time in UTC, to the millisecond: "2025-01-31T12:00:00.250Z".
std::string format_audit_time(std::chrono::system_clock::time_point time);
/// Audit records as `kiln plugin audit --json` prints them: an array of {"time", "plugin",
/// "permission", "argument"}.
std::string audit_json(const std::vector<AuditRecord>& records);

/// A set of plugins. Every member may be called from any thread.
class PluginManager {
public:
    PluginManager();
    explicit PluginManager(ManagerOptions options);
    /// Unloads every plugin in reverse dependency order.
    ~PluginManager();
    PluginManager(const PluginManager&) = delete;
    PluginManager& operator=(const PluginManager&) = delete;

    /// Adds the plugins of `folder`: each sub-folder with a manifest, each .wasm and each
    /// Extism manifest (.json, .toml). Runs no plugin code (unless the manager is eager). A bad
    /// plugin is listed as failed; only an unreadable folder is an error.
    Result<void> open(const std::string& folder);
    /// Adds one plugin: a folder with a manifest, a .wasm, or a manifest file; returns its name
    /// (a plugin that cannot be read is added as failed, and its name is still returned).
    Result<std::string> add(const std::string& path);
    /// Every plugin, sorted by name then version.
    std::vector<PluginInfo> list() const;
    /// The options it was made with.
    const ManagerOptions& options() const;
    /// The plugin of that name (its highest version), or the one at that path.
    std::optional<PluginInfo> info(std::string_view name_or_path) const;
    /// The plugins `name` needs, in load order, ending with `name`. A cycle or an unsatisfiable
    /// range is an error naming the chain.
    Result<std::vector<std::string>> load_order(std::string_view name) const;
    /// Every check of load without running plugin code: requires, config, module hashes,
    /// compiling (cached) and the adapter. The error names every problem found, a line each
    /// (as a manifest's own problems are), and the plugin is then listed as failed with it.
    Result<void> validate(std::string_view name);
    /// Loads `name` and what it requires (dependencies first). Loading a loaded plugin is a
    /// no-op; a plugin that failed stays failed with its reason.
    Result<void> load(std::string_view name);
    /// The compiled plugin `name` runs with (loading it first), its adapter's host functions
    /// linked in: for a host that makes instances of its own, as the job runner does.
    Result<std::shared_ptr<const CompiledPlugin>> compiled(std::string_view name);
    /// Loads every plugin that can be, in dependency order; the first error is returned.
    Result<void> load_all();
    /// Unloads `name` and, first, every loaded plugin that requires it.
    Result<void> unload(std::string_view name);
    /// Reads the plugin's manifest and modules again and builds the new version beside the
    /// running one: if that fails, the old version keeps serving and the error is returned (and
    /// sent as a failed event); otherwise new calls go to the new version, the call in flight
    /// finishes on the old one, which is then shut down. A plugin not loaded is only re-read.
    Result<void> reload(std::string_view name, ReloadOptions options = {});
    /// Unloads every plugin, in reverse dependency order.
    void unload_all();
    /// Watches the folders of the plugins found so far (inotify) and reloads a plugin when a
    /// file of its folder changes (see reload(), with `options`); until stop_watching() or the
    /// manager's end.
    Result<void> watch(ReloadOptions options = {});
    /// Stops watching folders.
    void stop_watching();
    /// Calls `target` of plugin `name`, loading it first if needed.
    Result<std::string> call(std::string_view name, std::string_view target,
                             std::string_view input);
    /// The same with a call context (a scope), which the call may change.
    Result<std::string> call(std::string_view name, std::string_view target, std::string_view input,
                             CallContext& context);
    /// Whether `target` of plugin `name` can be called (ZenoEngine slots are known once the
    /// plugin is loaded: it is loaded first if needed).
    Result<bool> has(std::string_view name, std::string_view target);
    /// Enables or disables every version of a plugin (by name, kept in the state database); a
    /// disabled plugin is unloaded, listed as disabled and never loaded.
    Result<void> set_enabled(std::string_view name, bool enabled);
    /// Grants `name` more permissions (kept in the state database, by name). A loaded instance's
    /// host functions check them from their next call (an application's "allow this plugin
    /// to ..."); what it was linked with at load (WASI folders, HTTP hosts) changes at its next
    /// load. revoke takes them back the same way.
    Result<void> grant(std::string_view name, const Permissions& more);
    /// Takes back what grant() gave (not what the manifest declares).
    Result<void> revoke(std::string_view name, const Permissions& less);
    /// The permissions `name` runs with: its manifest's plus grants.
    Result<Permissions> permissions(std::string_view name) const;
    /// What grant() gave `name`, without its manifest's permissions.
    Result<Permissions> granted(std::string_view name) const;
    /// The error of ManagerOptions::state's tables, if they could not be brought up to date.
    Result<void> check_state() const;
    /// The one permission check of host functions: a denial (or a call over the rate limit) is
    /// an error value and an audit record.
    Result<void> check(std::string_view name, Permission permission, std::string_view argument);
    AuditLog& audit();
    /// Adds a listener of loaded / unloaded / failed / reloaded events, called on the thread
    /// that caused them, outside the manager's locks.
    void on_event(std::function<void(const ManagerEvent&)> listener);
    /// Adds (or replaces) the adapter of a guest ABI.
    void add_adapter(std::unique_ptr<AbiAdapter> adapter);
    /// How many modules were compiled, and how many loads found theirs compiled already.
    struct CacheStats {
        size_t compiled = 0;
        size_t hits = 0;
    };
    CacheStats cache_stats() const;

    struct Impl;

private:
    /// Runs `body` with the instance of `name` under its call lock, loading it first if needed.
    Result<void> with_instance(std::string_view name,
                               const std::function<void(AbiInstance&)>& body);
    std::unique_ptr<Impl> m_impl;
};

} // namespace kiln
