// Jobs of Extism-ABI plugins: the kiln:host/v1 job functions (kernel-memory handles in and out,
// as extism:host/env's own) and the instance that runs an export as a job: the state is its
// input, its output the final state.
#include "jobs/instance.hpp"

#include "base/result.hpp"

#include <fmt/format.h>

namespace kiln::jobs {

namespace {

constexpr const char* host_module = "kiln:host/v1";

/// The job the calling instance runs; null outside a job (the plugin called as a plugin).
JobContext* job_of(CurrentPlugin& plugin) {
    auto* binding = plugin.host_data<JobBinding>();
    return binding ? binding->job : nullptr;
}

PluginFunction
function(std::string name, FuncType type,
         std::function<void(CurrentPlugin&, std::span<const Value>, std::span<Value>)> fn) {
    return PluginFunction{host_module, std::move(name), std::move(type), std::move(fn)};
}

/// The bytes of a block the guest passed (0 or not a block: empty).
std::string block(CurrentPlugin& plugin, const Value& handle) {
    return plugin.read(uint64_t(handle.as_i64())).value_or("");
}

class ExtismJob final : public JobInstance {
public:
    ExtismJob(Plugin plugin, std::shared_ptr<const CompiledPlugin> compiled,
              std::unique_ptr<InstanceHost> host, std::chrono::milliseconds lifecycle_timeout)
        : m_plugin(std::move(plugin)), m_compiled(std::move(compiled)), m_host(std::move(host)),
          m_cancel(m_plugin.cancel_handle()), m_lifecycle_timeout(lifecycle_timeout) {
        attach();
    }
    /// The runner discards it (it keeps no more idle instances, the plugin changed, the runner
    /// ends): `shutdown`, as the manager's instance gets at unload, unless a suspended call was
    /// dropped or a trap left the instance in no state to run code.
    ~ExtismJob() override {
        if (!reusable() || !m_plugin.function_exists("shutdown")) return;
        InstanceHost::Call call(*m_host);
        // A failing shutdown cannot stop the discard; the plugin's log has said why.
        (void)run_lifecycle(m_cancel, m_lifecycle_timeout, "shutdown",
                            [&] { return m_plugin.call("shutdown", ""); });
    }

    Result<RunEnd> start(JobContext& job, const std::string& export_name) override {
        Bound bound(*m_binding, job);
        InstanceHost::Call call(*m_host);
        return outcome(m_plugin.call(export_name, job.load_state()));
    }

    Result<RunEnd> resume(JobContext& job) override {
        Bound bound(*m_binding, job);
        InstanceHost::Call call(*m_host);
        return outcome(m_plugin.resume());
    }

    void suspend() override { m_cancel.suspend(); }
    void interrupt() override { m_cancel.cancel(); }

    Result<std::vector<uint8_t>> snapshot() override { return m_plugin.snapshot(); }

    Result<void> restore(std::span<const uint8_t> bytes) override {
        KILN_TRY(restored, Plugin::restore(m_compiled, bytes));
        m_plugin = std::move(restored);
        m_cancel = m_plugin.cancel_handle();
        attach();
        return {};
    }

    void abandon() override { m_plugin.drop_suspended(); }

    bool has(std::string_view name) const override { return m_plugin.function_exists(name); }

    Result<std::string> call(std::string_view name, std::string_view input) override {
        InstanceHost::Call call(*m_host);
        return m_plugin.call(name, input);
    }

    /// Not once a call is left suspended, or the plugin would make a fresh instance (which
    /// never ran `initialize`) for the next call.
    bool reusable() const override {
        return !m_plugin.is_suspended() && !m_plugin.next_call_is_fresh();
    }

private:
    /// Points the host functions at `job` for the length of a call.
    struct Bound {
        Bound(JobBinding& b, JobContext& job) : binding(b) { binding.job = &job; }
        ~Bound() { binding.job = nullptr; }
        JobBinding& binding;
    };

    void attach() {
        m_plugin.set_host_data(m_binding);
        m_host->attach(m_plugin);
    }

    static Result<RunEnd> outcome(Result<std::string> r) {
        if (r) return RunEnd{RunEnd::Kind::returned, std::move(*r)};
        if (r.error().kind == ErrorKind::suspended) return RunEnd{RunEnd::Kind::suspended, {}};
        return tl::unexpected(std::move(r.error()));
    }

    Plugin m_plugin;
    std::shared_ptr<const CompiledPlugin> m_compiled;
    std::unique_ptr<InstanceHost> m_host;
    CancelHandle m_cancel;
    std::shared_ptr<JobBinding> m_binding = std::make_shared<JobBinding>();
    std::chrono::milliseconds m_lifecycle_timeout;
};

} // namespace

std::vector<PluginFunction> job_functions() {
    using V = ValType;
    std::vector<PluginFunction> fns;
    fns.push_back(function("job_progress", FuncType{{V::f64, V::i64}, {}},
                           [](CurrentPlugin& p, std::span<const Value> a, std::span<Value>) {
                               if (JobContext* job = job_of(p))
                                   job->progress(a[0].as_f64(), block(p, a[1]));
                           }));
    fns.push_back(function("job_checkpoint", FuncType{{V::i64}, {V::i32}},
                           [](CurrentPlugin& p, std::span<const Value> a, std::span<Value> r) {
                               JobContext* job = job_of(p);
                               r[0] = Value::i32(job && job->checkpoint(block(p, a[0])) ? 0 : 1);
                           }));
    fns.push_back(function("job_check_interrupt", FuncType{{}, {V::i32}},
                           [](CurrentPlugin& p, std::span<const Value>, std::span<Value> r) {
                               JobContext* job = job_of(p);
                               r[0] = Value::i32(job ? job->check_interrupt() : 0);
                           }));
    fns.push_back(function("job_items", FuncType{{V::i64, V::i64}, {}},
                           [](CurrentPlugin& p, std::span<const Value> a, std::span<Value>) {
                               if (JobContext* job = job_of(p))
                                   job->items(uint64_t(a[0].as_i64()), uint64_t(a[1].as_i64()));
                           }));
    fns.push_back(function("job_log", FuncType{{V::i32, V::i64}, {}},
                           [](CurrentPlugin& p, std::span<const Value> a, std::span<Value>) {
                               if (JobContext* job = job_of(p)) {
                                   int32_t level = std::clamp(a[0].as_i32(), 0, 4);
                                   job->log(LogLevel(level), block(p, a[1]));
                               }
                           }));
    fns.push_back(function("job_load_state", FuncType{{}, {V::i64}},
                           [](CurrentPlugin& p, std::span<const Value>, std::span<Value> r) {
                               JobContext* job = job_of(p);
                               std::string state = job ? job->load_state() : std::string();
                               r[0] = Value::i64(int64_t(state.empty() ? 0 : p.write(state)));
                           }));
    return fns;
}

Result<std::unique_ptr<JobInstance>> make_extism_instance(InstanceLoad load) {
    KILN_TRY(plugin, Plugin::create(load.compiled));
    auto host = std::make_unique<InstanceHost>(std::move(load.context));
    host->attach(plugin);
    if (plugin.function_exists("initialize")) {
        InstanceHost::Call call(*host);
        KILN_CHECK(run_lifecycle(plugin.cancel_handle(), load.lifecycle_timeout, "initialize",
                                 [&] { return plugin.call("initialize", load.initialize_input); }));
    }
    return std::unique_ptr<JobInstance>(std::make_unique<ExtismJob>(
        std::move(plugin), std::move(load.compiled), std::move(host), load.lifecycle_timeout));
}

} // namespace kiln::jobs
