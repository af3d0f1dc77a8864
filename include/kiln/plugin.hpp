// Plugins speaking the Extism ABI: bytes in, bytes out, with a manifest of permissions and
// limits. Plugins built with Extism's guest kits run unmodified.
//
//   kiln::Engine engine;
//   auto plugin = kiln::Plugin::create(engine, kiln::Manifest::from_file("p.json").value());
//   auto out = plugin->call("count_vowels", "Hello, world!");   // Result<std::string>
#pragma once

#include <kiln/engine.hpp>
#include <kiln/error.hpp>
#include <kiln/func.hpp>
#include <kiln/types.hpp>
#include <kiln/value.hpp>
#include <kiln/wasi.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace kiln {

/// Extism's manifest (JSON, or the same structure in TOML), plus Kiln's own fields. Pure data:
/// to_json() writes what from_json() reads back to an equal Manifest.
struct Manifest {
    /// A module read from a file.
    struct WasmFile {
        std::string path;
        bool operator==(const WasmFile&) const = default;
    };
    /// A module given inline ("data", base64, in JSON).
    struct WasmBytes {
        std::vector<uint8_t> data;
        /// The file they were read from, if any (Manifest::from_file of a module): kept so that
        /// to_json() and messages name the file instead of embedding the bytes.
        std::string path;
        bool operator==(const WasmBytes&) const = default;
    };
    /// A module downloaded with this request (the embedder chose it: no allowlist applies).
    struct WasmUrl {
        std::string url;
        std::string method = "GET";
        std::map<std::string, std::string> headers;
        bool operator==(const WasmUrl&) const = default;
    };
    /// One module and where it comes from; `hash` (sha256, hex) is checked before compiling.
    /// Several modules are linked by name; the main one is named "main", else it is the last.
    struct Wasm {
        std::variant<WasmFile, WasmBytes, WasmUrl> source;
        std::string name;
        std::string hash;
        bool operator==(const Wasm&) const = default;
    };
    std::vector<Wasm> wasm;
    /// Kiln: what logs and call events call the plugin; from_file() gives the file's stem.
    std::string name;
    /// Pages of 64 KiB for all the memory a plugin holds: every linear memory of every module
    /// and its kernel memory. None: default_max_pages.
    std::optional<uint32_t> max_pages;
    /// The bound without max_pages: 4 GiB, what one 32-bit memory can hold.
    static constexpr uint32_t default_max_pages = 65536;
    uint64_t max_http_response_bytes = 50u << 20;
    uint64_t max_var_bytes = 1u << 20; ///< 0 disables vars
    std::map<std::string, std::string> config;
    /// Hosts an HTTP request may reach, as globs ("*.example.com": `*` any run of characters,
    /// `?` one); empty denies all.
    std::vector<std::string> allowed_hosts;
    /// Needs WASI. In JSON an object {"[ro:]HOST": "GUEST"}, keys in parse_preopen's syntax.
    std::vector<WasiPreopen> allowed_paths;
    /// Per call, at least 1 (a value too long for the clock saturates); none: no timeout.
    std::optional<uint64_t> timeout_ms;
    std::optional<uint64_t> fuel; ///< Kiln: fuel per call

    /// Parses a JSON manifest. Unknown fields, wrong types and limits out of range are errors
    /// naming the field's path (e.g. `wasm[0].hash: expected a string`). Relative paths are
    /// taken from `base_dir`.
    static Result<Manifest> from_json(std::string_view text, const std::string& base_dir = "");
    /// The same structure written in TOML.
    static Result<Manifest> from_toml(std::string_view text, const std::string& base_dir = "");
    /// A module (a manifest with just that module, as the bytes read: the file is read once),
    /// a .toml manifest, or a JSON one (named .json or starting with '{'); anything else is a
    /// malformed error saying how the file starts. File errors are io errors naming the path.
    static Result<Manifest> from_file(const std::string& path);
    /// A manifest with one module given as bytes.
    static Manifest from_bytes(std::vector<uint8_t> wasm);
    /// The manifest as JSON (inline modules in base64); from_json() reads it back equal.
    std::string to_json() const;

    bool operator==(const Manifest&) const = default;
};

/// Changes to a manifest as a command line states them (`kiln call` flags).
struct ManifestOverrides {
    std::vector<std::string> config;        ///< KEY=VALUE, set (VALUE may be empty)
    std::vector<std::string> allowed_hosts; ///< globs, added
    std::vector<std::string> allowed_paths; ///< grants in parse_preopen's syntax, added
    /// NAME=FILE: modules linked before the main one, which stays last unless named "main".
    std::vector<std::string> links;
    std::optional<uint64_t> timeout_ms;
    std::optional<uint64_t> fuel;
    std::optional<uint32_t> max_pages;
    std::optional<uint64_t> max_var_bytes;
    std::optional<uint64_t> max_http_response_bytes;
};

/// Applies `overrides` to `manifest`; a usage error names the text that does not parse, and
/// leaves `manifest` unchanged.
Result<void> apply_overrides(Manifest& manifest, const ManifestOverrides& overrides);

class CurrentPlugin;

/// A host function plugins may import: in `ns` (default "extism:host/user") under `name`,
/// with a wasm signature; `fn` gets the calling plugin and the arguments, and writes results.
/// User data is whatever the callable captures.
struct PluginFunction {
    std::string ns = "extism:host/user";
    std::string name;
    FuncType type;
    std::function<void(CurrentPlugin&, std::span<const Value> args, std::span<Value> results)> fn;
};

/// The level of a plugin's log line (its log_* call, or WASI stdout: info, stderr: warn).
enum class LogLevel : uint8_t { trace, debug, info, warn, error };

/// "trace", "debug", "info", "warn", "error".
const char* log_level_name(LogLevel level);

/// Receives a plugin's log lines that pass its level: the plugin's name, the level, the line.
using LogSink = std::function<void(std::string_view plugin, LogLevel level, std::string_view line)>;

/// What an observer learns of one call. The views and `error` live as long as the callback.
struct CallEvent {
    std::string_view plugin;   ///< the plugin's name (PluginOptions::name)
    std::string_view function; ///< the export called
    std::chrono::nanoseconds duration{0};
    std::optional<uint64_t> fuel_used; ///< when the manifest meters fuel
    /// The linear memories of all the plugin's modules plus the kernel memory's peak during
    /// the call.
    uint64_t peak_memory_bytes = 0;
    const Error* error = nullptr; ///< why the call failed; null when it succeeded
    bool ok() const { return error == nullptr; }
};

/// Callbacks around each call (either may be empty), run on the calling thread. on_start sees
/// only plugin and function; on_end sees everything. Calls refused as re-entrant are not seen.
struct CallObserver {
    std::function<void(const CallEvent&)> on_start;
    std::function<void(const CallEvent&)> on_end;
};

/// How plugins are built from a manifest.
struct PluginOptions {
    bool wasi = false;                     ///< link WASI preview 1 (no env, no args)
    std::vector<PluginFunction> functions; ///< host functions offered to the plugin
    bool http_response_headers = false;    ///< let http_headers() return the headers
    /// Log level name for the plugin's log_* calls: trace, debug, info, warn, error, off.
    std::string log_level = "info";
    /// The plugin's name in logs and call events. Default: the manifest's name, else the main
    /// module's name, else the stem of its file or URL, else "plugin".
    std::string name;
    /// Where log lines go. Default: spdlog's "kiln.plugin" logger on stderr, as "NAME: LINE".
    LogSink log;
    /// Observers of every call of every instance; instances used on several threads (a pool)
    /// call them from each.
    std::vector<CallObserver> observers;
    /// Where WASI stdout and stderr go; default: the plugin's log (info and warn), by lines.
    std::optional<WasiStream> wasi_stdout, wasi_stderr;
    /// Link each function import that nothing defines to one that traps naming it when called
    /// (Linker::define_unknown_imports_as_traps), to try a plugin without its host functions.
    bool trap_unknown_imports = false;
};

/// What a host function sees of the plugin calling it: its kernel memory (blocks addressed by
/// i64 handles), vars and config, and its error.
class CurrentPlugin {
public:
    /// The bytes of the block starting at `handle`; nullopt when it is not a live block.
    std::optional<std::string> read(uint64_t handle) const;
    /// Allocates a block holding `bytes`; 0 when out of memory.
    uint64_t write(std::string_view bytes);
    uint64_t alloc(uint64_t size);
    void free(uint64_t handle);
    /// The length of the block starting at `handle`, 0 for anything else.
    uint64_t length(uint64_t handle) const;
    std::optional<std::string> config(const std::string& key) const;
    std::optional<std::string> var(const std::string& key) const;
    /// Sets (or with nullopt deletes) a var; false when it would exceed max_var_bytes.
    bool set_var(const std::string& key, std::optional<std::string_view> value);
    /// Makes the current call fail with this message once the host function returns.
    void set_error(std::string message);
    /// Suspends the plugin's call once this host function returns: Plugin::call (or resume)
    /// ends with ErrorKind::suspended, and Plugin::resume(results) continues after this host
    /// function with `results` as its results. Refused (a usage error) where the call cannot
    /// stop; see Caller::suspend.
    Result<void> suspend() { return m_caller.suspend(); }
    /// The wasm-level caller, for linear memory access.
    Caller& caller() { return m_caller; }
    /// The data of type T the host attached to this instance (Plugin::set_host_data), or null.
    template <typename T> T* host_data() const {
        return static_cast<T*>(host_data_slot(detail::data_key<T>));
    }

    struct State;
    CurrentPlugin(State& state, Caller& caller) : m_state(state), m_caller(caller) {}

private:
    void* host_data_slot(uint32_t key) const;
    State& m_state;
    Caller& m_caller;
};

/// Manifest and modules compiled once; shareable across threads; instantiated by Plugin.
class CompiledPlugin {
public:
    static Result<std::shared_ptr<const CompiledPlugin>>
    create(const Engine& engine, Manifest manifest, PluginOptions options = {});
    ~CompiledPlugin();
    const Manifest& manifest() const;
    /// The plugin's name (PluginOptions::name or its default).
    const std::string& name() const;

    struct Impl;
    explicit CompiledPlugin(std::unique_ptr<Impl> impl);
    const Impl& impl() const { return *m_impl; }

private:
    std::unique_ptr<Impl> m_impl;
};

/// Stops whatever call its plugin is running, from any thread (the call fails as cancelled),
/// for the plugin's whole life, across the fresh instances made after a trap or by reset().
/// A cancel while the plugin is idle is not kept for its next call.
class CancelHandle {
public:
    void cancel() const;
    /// Suspends the running call instead, resumably: it ends with ErrorKind::suspended, to be
    /// resumed or snapshotted. A call stopped inside a host function's nested wasm call cannot
    /// suspend and fails as cancelled.
    void suspend() const;

    struct Target;
    explicit CancelHandle(std::shared_ptr<Target> target) : m_target(std::move(target)) {}

private:
    std::shared_ptr<Target> m_target;
};

/// One instance of a plugin: memory, globals, vars and config persist across its calls. Use it
/// from one thread at a time.
class Plugin {
public:
    static Result<Plugin> create(std::shared_ptr<const CompiledPlugin> compiled);
    static Result<Plugin> create(const Engine& engine, Manifest manifest,
                                 PluginOptions options = {});
    Plugin(Plugin&&) noexcept;
    Plugin& operator=(Plugin&&) noexcept;
    ~Plugin();

    /// Calls the export `function` (type () -> i32 or () -> ()) with `input`; the output is
    /// what the plugin set. Fails on a trap, a set error, a non-zero return code, fuel, timeout,
    /// cancellation or the memory limit, with the plugin's message where it gave one.
    Result<std::string> call(std::string_view function, std::string_view input);
    /// The same, for bytes.
    Result<std::vector<uint8_t>> call(std::string_view function, std::span<const uint8_t> input);
    /// Runs `body` as one call named `function`, for guest ABIs whose exports take arguments
    /// and exchange pointers (ZenoEngine's, Spacedrive's): a fresh instance if the last call
    /// trapped, limits armed (fuel, timeout, cancellation), observers told and re-entry refused
    /// as for call(). `body` gets a Caller on the main module's instance, for its memory and
    /// exports (called with Func::call). A trap it returns reads as call() would say it, and the
    /// next call gets a fresh instance. A call of the export that stops suspended (its
    /// ErrorKind::suspended passed on by `body`) is dropped, unless `resumable`: then the plugin
    /// holds it for resume() (which gives "" or fails as call() does for the export's return
    /// code) or snapshot().
    Result<std::string> call_guest(std::string_view function,
                                   const std::function<Result<std::string>(Caller&)>& body,
                                   bool resumable = false);
    bool function_exists(std::string_view function) const;
    /// The names of the functions the plugin exports (its main module's), in name order.
    std::vector<std::string> functions() const;
    CancelHandle cancel_handle() const;
    /// Observes this instance's calls (after the PluginOptions observers).
    void add_observer(CallObserver observer);
    /// The name logs and call events give this plugin.
    const std::string& name() const;
    /// Merges `updates` into the config between calls: a value sets a key, nullopt deletes it.
    void update_config(const std::map<std::string, std::optional<std::string>>& updates);
    /// The instance's vars, to hand over to another instance (a reloaded version of it).
    std::map<std::string, std::string> vars() const;
    /// Replaces the instance's vars between calls; refused (nothing changed) when they would
    /// exceed the manifest's max_var_bytes.
    Result<void> set_vars(std::map<std::string, std::string> vars);
    /// A fresh instance (memory, globals, vars cleared; config kept).
    Result<void> reset();
    /// trace, debug, info, warn, error or off.
    Result<void> set_log_level(std::string_view level);
    /// The return code of the last call (0 on success).
    int32_t last_rc() const;
    /// Attaches data of type T for the host functions of this instance, which they reach with
    /// CurrentPlugin::host_data<T>() (one per type; a second replaces the first). Kept across
    /// calls and fresh instances; not part of snapshots.
    template <typename T> void set_host_data(std::shared_ptr<T> data) {
        set_host_data_slot(detail::data_key<T>, std::move(data));
    }

    /// True while a call is suspended (a host function called CurrentPlugin::suspend). The
    /// plugin refuses other calls until it is resumed or dropped.
    bool is_suspended() const;
    /// Continues the suspended call, as if the host function that suspended it returned
    /// `host_results`; the outcome is as for call(), and may be suspended again.
    Result<std::string> resume(std::span<const Value> host_results = {});
    /// Abandons the suspended call; the next call gets a fresh instance.
    void drop_suspended();
    /// True when the next call starts on a fresh instance, which ran none of the plugin's own
    /// initialisation exports: the last call trapped, hit a limit or was cancelled, a suspended
    /// call was dropped, or a command's `_start` ran. A host that runs a lifecycle export
    /// (Extism's `initialize`) runs it again then.
    bool next_call_is_fresh() const;

    /// Everything the instance holds, as an encoded snapshot: its store (memories, globals,
    /// tables, a suspended call), its WASI descriptors, vars, config and kernel memory. Refused
    /// from inside the plugin's own call.
    Result<std::vector<uint8_t>> snapshot() const;
    /// A plugin instance made from `compiled` with the state of a snapshot of an instance of
    /// the same plugin (modules checked by hash), here or in another process; a suspended call
    /// comes back suspended. The new instance is initialized as usual before its state is
    /// replaced.
    static Result<Plugin> restore(std::shared_ptr<const CompiledPlugin> compiled,
                                  std::span<const uint8_t> snapshot);

    struct Impl;

private:
    explicit Plugin(std::unique_ptr<Impl> impl);
    void set_host_data_slot(uint32_t key, std::shared_ptr<void> data);
    std::unique_ptr<Impl> m_impl;
};

/// Hands out instances of one compiled plugin, creating up to `max` and reusing returned ones.
class PluginPool {
public:
    PluginPool(std::shared_ptr<const CompiledPlugin> compiled, size_t max);
    ~PluginPool();

    /// An instance, given back to the pool when the lease is destroyed.
    class Lease {
    public:
        Plugin& operator*() { return *m_plugin; }
        Plugin* operator->() { return m_plugin.get(); }
        Lease(Lease&&) noexcept = default;
        ~Lease();

    private:
        friend class PluginPool;
        Lease(PluginPool* pool, std::unique_ptr<Plugin> plugin)
            : m_pool(pool), m_plugin(std::move(plugin)) {}
        PluginPool* m_pool;
        std::unique_ptr<Plugin> m_plugin;
    };

    /// Waits up to `timeout` for a free instance (a limit error when none came).
    Result<Lease> get(std::chrono::milliseconds timeout);

private:
    void give_back(std::unique_ptr<Plugin> plugin);
    std::shared_ptr<const CompiledPlugin> m_compiled;
    size_t m_max;
    size_t m_created = 0;
    std::vector<std::unique_ptr<Plugin>> m_free;
    std::mutex m_mutex;
    std::condition_variable m_cv;
};

} // namespace kiln
