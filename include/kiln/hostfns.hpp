// The host function library: what plugins can do through the host, family by family (log,
// kv, scope, db, files, env, http, host operations), each checked against the plugin's
// permissions, and reached from every guest ABI Kiln speaks: the module `kiln:host/v1` of
// Extism-ABI plugins, the `env.host_*` imports of ZenoEngine's plugins. See docs/hostfns.md.
//
//   kiln::PluginManager manager;
//   kiln::HostLibrary host;
//   host.install(manager);        // the Extism (with kiln:host/v1) and Zeno adapters
//   manager.open("plugins");
#pragma once

#include <kiln/dispatch.hpp>
#include <kiln/error.hpp>
#include <kiln/manager.hpp>
#include <kiln/plugin.hpp>
#include <kiln/state_db.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace kiln {

/// One call of a host operation.
struct HostOperationCall {
    std::string_view plugin;  ///< the calling plugin's name
    std::string_view payload; ///< JSON text (empty when the plugin gave none)
    std::string_view library; ///< a Spacedrive library id (UUID text); empty when none
};

/// An operation the application offers plugins by name (`query:files.list`): JSON text out.
using HostOperation = std::function<Result<std::string>(const HostOperationCall& call)>;

/// How a HostLibrary is set up.
struct HostOptions {
    /// The environment the env family reads; default: the process environment.
    std::function<std::optional<std::string>(const std::string&)> getenv;
    /// What relative paths of the files family are taken from; empty: each plugin's folder.
    std::string files_root;
    /// Where kv keeps its data; null: StateDb::open(state_path) on first use.
    std::shared_ptr<StateDb> state;
    /// The state database's file when `state` is null; empty: $KILN_HOME/state.db.
    std::string state_path;
    /// Bytes of keys and values one plugin may keep in kv.
    uint64_t kv_quota = 16u << 20;
    /// 0: each kv set and delete is committed before it returns. Above 0: they are batched and
    /// committed within this many ms (a killed process loses at most that much; docs/hostfns.md).
    uint32_t kv_commit_delay_ms = 0;
    /// Rows one db query may return; more is an error.
    uint64_t db_max_rows = 10000;
    /// Bytes a files read may return.
    uint64_t max_file_bytes = 16u << 20;
    /// The event bus's bounds.
    EventBusOptions events;
};

/// The host functions offered to plugins, and the stores and registries behind them. Plugins
/// loaded through its adapters keep a reference to it: it lives until they are unloaded.
class HostLibrary {
public:
    explicit HostLibrary(HostOptions options = {});
    ~HostLibrary();
    HostLibrary(const HostLibrary&) = delete;
    HostLibrary& operator=(const HostLibrary&) = delete;

    /// Adds to `manager` the Extism adapter with `kiln:host/v1` (replacing its plain one) and
    /// the ZenoEngine adapter, and records denials in the manager's audit log.
    void install(PluginManager& manager);
    /// The audit log denials go to: the installed manager's, else the library's own.
    AuditLog& audit();
    /// The event bus and the commands, slots and UI blocks its plugins register.
    Dispatch& dispatch();

    /// Names a SQLite database for the db family: plugins granted `database: [NAME]` read it,
    /// and those granted `database: ["rw:NAME"]` write it too when `writable`. Opened (created
    /// if writable) on first use.
    void add_database(const std::string& name, const std::string& path, bool writable = false);
    /// Registers (or replaces) a host operation; plugins granted a prefix of its name call it.
    void add_operation(const std::string& name, HostOperation handler);
    /// Removes a host operation; false when there was none of that name.
    bool remove_operation(const std::string& name);

    struct Impl;
    /// What the adapters and other layers share (src/hostfns/library.hpp).
    const std::shared_ptr<Impl>& impl() const { return m_impl; }

private:
    std::shared_ptr<Impl> m_impl;
};

} // namespace kiln
