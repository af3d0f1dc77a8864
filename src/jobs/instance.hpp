// One instance of a plugin that runs jobs, whatever its guest ABI: a job's export started with
// its state, suspended from another thread, snapshotted, restored and resumed. The runner keeps
// a few per plugin (its concurrent_jobs) and runs one job at a time in each.
#pragma once

#include "hostfns/context.hpp"
#include "jobs/context.hpp"

#include <kiln/jobs.hpp>
#include <kiln/plugin.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::jobs {

/// How a run of an export ended, when it did not fail.
struct RunEnd {
    enum class Kind {
        returned,    ///< the export returned as done (its output, if any, is the final state)
        interrupted, ///< the guest stopped itself, resumable (Spacedrive's exit code 1)
        suspended,   ///< Kiln suspended the call; it waits to be snapshotted or resumed
    };
    Kind kind = Kind::returned;
    std::string output;
};

/// The host functions of a plugin instance find the job it runs here (Plugin::set_host_data).
struct JobBinding {
    JobContext* job = nullptr;
};

/// What an instance made for jobs needs besides its compiled plugin: the context of the host
/// functions (kiln:host/v1 families, spacedrive_call), its own so that the plugin's instances
/// run jobs side by side.
struct InstanceLoad {
    std::shared_ptr<const CompiledPlugin> compiled;
    std::unique_ptr<hostfns::HostContext> context;
    std::string initialize_input; ///< an Extism plugin's `initialize` input (host and config)
    std::chrono::milliseconds lifecycle_timeout{0}; ///< ManagerOptions::lifecycle_timeout
};

/// The host function context of one instance, made current for each of its calls.
class InstanceHost {
public:
    explicit InstanceHost(std::unique_ptr<hostfns::HostContext> context)
        : m_context(std::move(context)), m_binding(std::make_shared<hostfns::InstanceContext>(
                                             hostfns::InstanceContext{m_context.get()})) {}
    /// Gives `plugin` the context (again after a restore replaced the instance).
    void attach(Plugin& plugin) const { plugin.set_host_data(m_binding); }

    /// The context's call in progress for the length of a call.
    class Call {
    public:
        explicit Call(const InstanceHost& host) : m_context(host.m_context.get()) {
            if (m_context) m_context->set_call(&m_call);
        }
        ~Call() {
            if (m_context) m_context->set_call(nullptr);
        }
        Call(const Call&) = delete;
        Call& operator=(const Call&) = delete;

    private:
        hostfns::HostContext* m_context;
        hostfns::HostCall m_call;
    };

private:
    std::unique_ptr<hostfns::HostContext> m_context;
    std::shared_ptr<hostfns::InstanceContext> m_binding;
};

/// An instance of a plugin, kept across the jobs it runs.
class JobInstance {
public:
    virtual ~JobInstance() = default;
    /// Runs `export_name` with the job's state (JobContext::load_state).
    virtual Result<RunEnd> start(JobContext& job, const std::string& export_name) = 0;
    /// Continues the suspended call (after a snapshot, or restore()).
    virtual Result<RunEnd> resume(JobContext& job) = 0;
    /// From any thread: suspends the running call at its next suspension point (ignored when
    /// none runs).
    virtual void suspend() = 0;
    /// From any thread: stops the running call (it fails as cancelled).
    virtual void interrupt() = 0;
    /// The instance with its suspended call, as bytes.
    virtual Result<std::vector<uint8_t>> snapshot() = 0;
    /// Replaces the instance by the one of a snapshot; its suspended call awaits resume().
    virtual Result<void> restore(std::span<const uint8_t> bytes) = 0;
    /// Abandons a suspended call.
    virtual void abandon() = 0;
    /// Whether the plugin exports `name`.
    virtual bool has(std::string_view name) const = 0;
    /// Calls an export outside any job (migrate_state): JSON in, JSON out.
    virtual Result<std::string> call(std::string_view name, std::string_view input) = 0;
    /// False once a trap or an abandoned call replaced the instance that ran the plugin's
    /// initialisation: the runner then discards it, and the next job gets an initialised one.
    virtual bool reusable() const = 0;
};

/// A job the plugin registered while it initialised (Spacedrive's register_job).
struct RegisteredJob {
    std::string name;
    std::string export_name;
    bool resumable = true;
};

/// The kiln:host/v1 job functions of Extism-ABI plugins.
std::vector<PluginFunction> job_functions();

/// The `spacedrive` imports but spacedrive_call (which is hostfns').
std::vector<PluginFunction> spacedrive_functions();

/// An Extism-ABI instance (`initialize` run when exported, with its host context current).
Result<std::unique_ptr<JobInstance>> make_extism_instance(InstanceLoad load);

/// A Spacedrive-ABI instance: `plugin_init` run, its register_job calls given to `registered`
/// (which may be empty).
Result<std::unique_ptr<JobInstance>>
make_spacedrive_instance(InstanceLoad load, const std::function<void(RegisteredJob)>& registered);

} // namespace kiln::jobs
