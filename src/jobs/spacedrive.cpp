// Spacedrive's extension ABI (docs/jobs.md, "Spacedrive extensions"): wasm32-unknown-unknown
// modules importing module `spacedrive`, initialised by `plugin_init` (which registers their jobs
// with register_job), running one job at a time per instance through an export
// `(ctx_ptr, ctx_len, state_ptr, state_len) -> i32` (0 completed, 1 interrupted, 2 failed). The
// host writes the context and the state with the guest's `wasm_alloc`; a job's imports name it
// by a pointer to its 16 UUID bytes, checked against the job the instance runs.
#include "jobs/instance.hpp"

#include "base/result.hpp"
#include "hostfns/families.hpp"
#include "hostfns/guest.hpp"
#include "hostfns/library.hpp"
#include "plugin/state.hpp"

#include <kiln/hostfns.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <set>

namespace kiln {

namespace jobs {

namespace {

constexpr const char* module_name = "spacedrive";

/// What the imports of one Spacedrive instance work on (its host data).
struct SpacedriveBinding {
    JobContext* job = nullptr; ///< the job running; null for a call outside jobs
    JobId job_id;              ///< the id the guest was given
    /// While plugin_init runs: where register_job sends the jobs.
    std::function<void(RegisteredJob)> on_register;
    std::set<std::string> registered;
    /// Outside jobs (a manager's call): the last checkpoint, the call's result.
    std::optional<std::string> loose_checkpoint;
    std::string last_error; ///< the last line logged at level 3, for a failure's message
};

SpacedriveBinding* binding_of(CurrentPlugin& p) {
    return p.host_data<SpacedriveBinding>();
}

/// A line of the job's log, or of the plugin's outside jobs.
void say(CurrentPlugin& p, SpacedriveBinding* b, LogLevel level, std::string_view line,
         bool warning = false) {
    if (b && b->job)
        b->job->log(level, line, warning);
    else
        plugin::emit_log(plugin::current(p.caller()), level, line);
}

uint32_t u32(const Value& v) {
    return uint32_t(v.as_i32());
}

/// Whether `ptr` points at the 16 bytes of the id of the job the instance runs.
bool names_the_job(CurrentPlugin& p, SpacedriveBinding& b, const Value& ptr,
                   std::string_view function) {
    auto id = hostfns::read_guest(p.caller(), u32(ptr), 16, fmt::format("{}: job id", function));
    if (!id) {
        say(p, &b, LogLevel::error, id.error().message);
        return false;
    }
    if (std::memcmp(id->data(), b.job_id.bytes.data(), 16) != 0) {
        JobId other;
        std::memcpy(other.bytes.data(), id->data(), 16);
        say(p, &b, LogLevel::error,
            fmt::format("{}: job {} is not the one this instance runs ({})", function,
                        other.to_string(), b.job_id.to_string()));
        return false;
    }
    return true;
}

/// The guest's text at (ptr, len), or nullopt (logged) when it is not within its memory.
std::optional<std::string> text(CurrentPlugin& p, SpacedriveBinding* b, const Value& ptr,
                                const Value& len, std::string_view what) {
    auto s = hostfns::read_guest(p.caller(), u32(ptr), u32(len), what);
    if (!s) {
        say(p, b, LogLevel::error, s.error().message);
        return std::nullopt;
    }
    return std::move(*s);
}

PluginFunction import(std::string name, std::vector<ValType> params, std::vector<ValType> results,
                      std::function<void(CurrentPlugin&, SpacedriveBinding*, std::span<const Value>,
                                         std::span<Value>)>
                          body) {
    return PluginFunction{
        module_name, std::move(name), FuncType{std::move(params), std::move(results)},
        [body = std::move(body)](CurrentPlugin& p, std::span<const Value> a, std::span<Value> r) {
            body(p, binding_of(p), a, r);
        }};
}

} // namespace

std::vector<PluginFunction> spacedrive_functions() {
    using V = ValType;
    std::vector<PluginFunction> fns;
    fns.push_back(import("spacedrive_log", {V::i32, V::i32, V::i32}, {},
                         [](CurrentPlugin& p, SpacedriveBinding* b, auto a, auto) {
                             auto line = text(p, b, a[1], a[2], "spacedrive_log");
                             if (!line) return;
                             // 0 debug, 1 info, 2 warn, 3 error; anything else is info.
                             static const LogLevel levels[] = {LogLevel::debug, LogLevel::info,
                                                               LogLevel::warn, LogLevel::error};
                             const int32_t n = a[0].as_i32();
                             const LogLevel level = n >= 0 && n < 4 ? levels[n] : LogLevel::info;
                             if (b && level == LogLevel::error) b->last_error = *line;
                             say(p, b, level, *line);
                         }));
    fns.push_back(
        import("register_job", {V::i32, V::i32, V::i32, V::i32, V::i32}, {V::i32},
               [](CurrentPlugin& p, SpacedriveBinding* b, auto a, auto r) {
                   r[0] = Value::i32(1);
                   auto name = text(p, b, a[0], a[1], "register_job: name");
                   auto exported = text(p, b, a[2], a[3], "register_job: export");
                   if (!b || !name || !exported) return;
                   if (!b->on_register) {
                       say(p, b, LogLevel::error,
                           fmt::format("register_job({}) outside plugin_init is ignored", *name));
                       return;
                   }
                   if (!b->registered.insert(*name).second) {
                       say(p, b, LogLevel::error,
                           fmt::format("register_job: {} is registered already", *name));
                       return;
                   }
                   b->on_register(RegisteredJob{*name, *exported, a[4].as_i32() != 0});
                   r[0] = Value::i32(0);
               }));
    fns.push_back(import("job_report_progress", {V::i32, V::f32, V::i32, V::i32}, {},
                         [](CurrentPlugin& p, SpacedriveBinding* b, auto a, auto) {
                             if (!b || !names_the_job(p, *b, a[0], "job_report_progress")) return;
                             auto message = text(p, b, a[2], a[3], "job_report_progress");
                             if (b->job && message) b->job->progress(a[1].as_f32(), *message);
                         }));
    fns.push_back(import("job_checkpoint", {V::i32, V::i32, V::i32}, {V::i32},
                         [](CurrentPlugin& p, SpacedriveBinding* b, auto a, auto r) {
                             r[0] = Value::i32(1);
                             if (!b || !names_the_job(p, *b, a[0], "job_checkpoint")) return;
                             auto state = text(p, b, a[1], a[2], "job_checkpoint: state");
                             if (!state) return;
                             if (!b->job) {
                                 b->loose_checkpoint = std::move(*state);
                                 r[0] = Value::i32(0);
                                 return;
                             }
                             r[0] = Value::i32(b->job->checkpoint(*state) ? 0 : 1);
                         }));
    fns.push_back(import("job_check_interrupt", {V::i32}, {V::i32},
                         [](CurrentPlugin& p, SpacedriveBinding* b, auto a, auto r) {
                             // A job id that is not the running job's: nothing to go on with.
                             if (!b || !names_the_job(p, *b, a[0], "job_check_interrupt")) {
                                 r[0] = Value::i32(2);
                                 return;
                             }
                             r[0] = Value::i32(b->job ? b->job->check_interrupt() : 0);
                         }));
    fns.push_back(import("job_increment_items", {V::i32, V::i64}, {},
                         [](CurrentPlugin& p, SpacedriveBinding* b, auto a, auto) {
                             if (b && names_the_job(p, *b, a[0], "job_increment_items") && b->job)
                                 b->job->add_items(uint64_t(a[1].as_i64()));
                         }));
    fns.push_back(import("job_increment_bytes", {V::i32, V::i64}, {},
                         [](CurrentPlugin& p, SpacedriveBinding* b, auto a, auto) {
                             if (b && names_the_job(p, *b, a[0], "job_increment_bytes") && b->job)
                                 b->job->add_bytes(uint64_t(a[1].as_i64()));
                         }));
    fns.push_back(import("job_add_warning", {V::i32, V::i32, V::i32}, {},
                         [](CurrentPlugin& p, SpacedriveBinding* b, auto a, auto) {
                             if (!b || !names_the_job(p, *b, a[0], "job_add_warning")) return;
                             if (auto w = text(p, b, a[1], a[2], "job_add_warning"))
                                 say(p, b, LogLevel::warn, *w, true);
                         }));
    return fns;
}

namespace {

using json = nlohmann::json;

/// One Spacedrive instance: its Plugin, its imports' binding and host context, and the
/// buffers of the job call it runs.
class SpacedriveCore {
public:
    SpacedriveCore(Plugin plugin, std::shared_ptr<const CompiledPlugin> compiled,
                   std::unique_ptr<InstanceHost> host, std::chrono::milliseconds lifecycle_timeout)
        : m_plugin(std::move(plugin)), m_compiled(std::move(compiled)), m_host(std::move(host)),
          m_cancel(m_plugin.cancel_handle()), m_lifecycle_timeout(lifecycle_timeout) {
        attach();
    }

    /// Runs plugin_init (its return value is ignored, as Spacedrive does; a trap fails).
    Result<void> init(std::function<void(RegisteredJob)> on_register) {
        m_binding->on_register = std::move(on_register);
        InstanceHost::Call call(*m_host);
        auto r = run_lifecycle(m_cancel, m_lifecycle_timeout, "plugin_init", [&] {
            return m_plugin.call_guest("plugin_init", [](Caller& c) -> Result<std::string> {
                auto f = c.get_export("plugin_init");
                if (!f || !f->func()) return std::string();
                KILN_TRY(typed, f->func()->typed<int32_t()>(c.store()));
                KILN_CHECK(typed.call(c.store()));
                return std::string();
            });
        });
        m_binding->on_register = nullptr;
        if (!r) return tl::unexpected(r.error());
        m_initialised = true;
        return {};
    }

    /// Starts `export_name` for job `id` (`job` null outside jobs) with `state`.
    Result<RunEnd> start(JobContext* job, const JobId& id, const std::string& library_id,
                         const std::string& export_name, const std::string& state) {
        m_binding->job = job;
        m_binding->job_id = id;
        m_binding->loose_checkpoint.reset();
        m_binding->last_error.clear();
        const std::string context =
            json{{"job_id", id.to_string()}, {"library_id", library_id}}.dump();
        InstanceHost::Call call(*m_host);
        auto r = m_plugin.call_guest(
            export_name,
            [&](Caller& c) -> Result<std::string> {
                auto f = c.get_export(export_name);
                if (!f || !f->func())
                    return make_error(ErrorKind::usage,
                                      fmt::format("no exported function \"{}\"", export_name));
                KILN_TRY(typed, (f->func()->typed<int32_t(int32_t, int32_t, int32_t, int32_t)>(
                                    c.store())));
                KILN_TRY(ctx_ptr, hostfns::write_guest(c, "wasm_alloc", context, false));
                uint32_t state_ptr = 0;
                // An empty state means the job's default: nothing to write.
                if (!state.empty()) {
                    KILN_TRY(p, hostfns::write_guest(c, "wasm_alloc", state, false));
                    state_ptr = p;
                }
                m_buffers = {{ctx_ptr, uint32_t(context.size())},
                             {state_ptr, uint32_t(state.size())}};
                KILN_TRY(rc, typed.call(c.store(), int32_t(ctx_ptr), int32_t(context.size()),
                                        int32_t(state_ptr), int32_t(state.size())));
                return std::to_string(rc);
            },
            /*resumable=*/true);
        if (r) return ended(job, std::stoi(*r));
        return failed(job, std::move(r.error()));
    }

    /// Continues the suspended call; `job` (null outside jobs) is the one it runs.
    Result<RunEnd> resume(JobContext* job) {
        m_binding->job = job;
        if (job) m_binding->job_id = job->id();
        InstanceHost::Call call(*m_host);
        auto r = m_plugin.resume();
        if (r) return ended(job, 0);
        // The export returned non-zero: the plugin layer's failure, with the return code kept.
        if (r.error().kind == ErrorKind::plugin && !r.error().trap)
            return ended(job, m_plugin.last_rc());
        return failed(job, std::move(r.error()));
    }

    void suspend() { m_cancel.suspend(); }
    void interrupt() { m_cancel.cancel(); }
    Result<std::vector<uint8_t>> snapshot() { return m_plugin.snapshot(); }

    Result<void> restore(std::span<const uint8_t> bytes) {
        KILN_TRY(restored, Plugin::restore(m_compiled, bytes));
        m_plugin = std::move(restored);
        m_cancel = m_plugin.cancel_handle();
        attach();
        m_initialised = true; // a snapshot of an instance that ran plugin_init
        // The buffers of the restored call are the snapshot's: not known here, so left to the
        // guest's heap.
        m_buffers.clear();
        return {};
    }

    void abandon() {
        // The next call gets a fresh instance, which never ran plugin_init.
        if (m_plugin.is_suspended()) m_initialised = false;
        m_plugin.drop_suspended();
        m_buffers.clear();
    }

    bool has(std::string_view name) const { return m_plugin.function_exists(name); }
    bool initialised() const { return m_initialised; }

    /// Runs plugin_cleanup, if exported (its return value says nothing the host acts on), once,
    /// on the instance that ran plugin_init: not on the fresh one that replaced it after a
    /// trap or an abandoned call, which has nothing to clean up.
    void cleanup() {
        if (!m_initialised || !has("plugin_cleanup")) return;
        m_initialised = false;
        InstanceHost::Call call(*m_host);
        (void)run_lifecycle(m_cancel, m_lifecycle_timeout, "plugin_cleanup", [&] {
            return m_plugin.call_guest("plugin_cleanup", [](Caller& c) -> Result<std::string> {
                KILN_TRY(typed,
                         c.get_export("plugin_cleanup")->func()->typed<int32_t()>(c.store()));
                KILN_CHECK(typed.call(c.store()));
                return std::string();
            });
        });
    }

    std::optional<std::string> loose_checkpoint() const { return m_binding->loose_checkpoint; }

private:
    void attach() {
        m_plugin.set_host_data(m_binding);
        m_host->attach(m_plugin);
    }

    /// The export returned `rc`: 0 completed, 1 interrupted, anything else failed.
    Result<RunEnd> ended(JobContext* job, int32_t rc) {
        m_binding->job = nullptr;
        free_buffers();
        if (rc == 0) return RunEnd{RunEnd::Kind::returned, {}};
        if (rc == 1) return RunEnd{RunEnd::Kind::interrupted, {}};
        std::string why = m_binding->last_error.empty() ? "" : ": " + m_binding->last_error;
        return make_error(ErrorKind::plugin,
                          fmt::format("the job failed (exit code {}){}", rc, why));
    }

    Result<RunEnd> failed(JobContext* job, Error error) {
        m_binding->job = nullptr;
        if (error.kind == ErrorKind::suspended) return RunEnd{RunEnd::Kind::suspended, {}};
        // A trap leaves the instance to be made afresh, buffers and all.
        if (error.trap) m_initialised = false;
        m_buffers.clear();
        return tl::unexpected(std::move(error));
    }

    /// Gives the context and state buffers back with wasm_free, as the guest only borrowed them.
    void free_buffers() {
        if (m_buffers.empty() || !m_plugin.function_exists("wasm_free")) {
            m_buffers.clear();
            return;
        }
        auto buffers = std::move(m_buffers);
        m_buffers.clear();
        auto freed = m_plugin.call_guest("wasm_free", [&](Caller& c) -> Result<std::string> {
            auto f = c.get_export("wasm_free");
            KILN_TRY(typed, (f->func()->typed<void(int32_t, int32_t)>(c.store())));
            for (const auto& [ptr, len] : buffers)
                if (ptr) KILN_CHECK(typed.call(c.store(), int32_t(ptr), int32_t(len)));
            return std::string();
        });
        if (!freed && freed.error().trap) m_initialised = false;
    }

    Plugin m_plugin;
    std::shared_ptr<const CompiledPlugin> m_compiled;
    std::unique_ptr<InstanceHost> m_host;
    CancelHandle m_cancel;
    std::shared_ptr<SpacedriveBinding> m_binding = std::make_shared<SpacedriveBinding>();
    std::vector<std::pair<uint32_t, uint32_t>> m_buffers; ///< (pointer, length) to wasm_free
    /// Whether the instance the plugin holds ran plugin_init (a trap or an abandoned call makes
    /// the next call's instance a fresh one) and has not been cleaned up.
    bool m_initialised = false;
    std::chrono::milliseconds m_lifecycle_timeout;
};

class SpacedriveJob final : public JobInstance {
public:
    explicit SpacedriveJob(std::unique_ptr<SpacedriveCore> core) : m_core(std::move(core)) {}
    /// The runner discards it (it keeps no more idle instances, the plugin changed, the runner
    /// ends): plugin_cleanup, as the manager's instance gets at unload.
    ~SpacedriveJob() override {
        m_core->abandon();
        m_core->cleanup();
    }

    Result<RunEnd> start(JobContext& job, const std::string& export_name) override {
        return m_core->start(&job, job.id(), job.library_id(), export_name, job.load_state());
    }
    Result<RunEnd> resume(JobContext& job) override { return m_core->resume(&job); }
    void suspend() override { m_core->suspend(); }
    void interrupt() override { m_core->interrupt(); }
    Result<std::vector<uint8_t>> snapshot() override { return m_core->snapshot(); }
    Result<void> restore(std::span<const uint8_t> bytes) override { return m_core->restore(bytes); }
    void abandon() override { m_core->abandon(); }
    bool has(std::string_view name) const override { return m_core->has(name); }
    bool reusable() const override { return m_core->initialised(); }
    Result<std::string> call(std::string_view name, std::string_view) override {
        return make_error(
            ErrorKind::usage,
            fmt::format("a Spacedrive extension's {} cannot be called with JSON", name));
    }

private:
    std::unique_ptr<SpacedriveCore> m_core;
};

Result<std::unique_ptr<SpacedriveCore>>
make_core(InstanceLoad load, const std::function<void(RegisteredJob)>& registered) {
    KILN_TRY(plugin, Plugin::create(load.compiled));
    auto core = std::make_unique<SpacedriveCore>(
        std::move(plugin), std::move(load.compiled),
        std::make_unique<InstanceHost>(std::move(load.context)), load.lifecycle_timeout);
    KILN_CHECK(core->init(registered ? registered : [](RegisteredJob) {}));
    return core;
}

} // namespace

Result<std::unique_ptr<JobInstance>>
make_spacedrive_instance(InstanceLoad load, const std::function<void(RegisteredJob)>& registered) {
    KILN_TRY(core, make_core(std::move(load), registered));
    return std::unique_ptr<JobInstance>(std::make_unique<SpacedriveJob>(std::move(core)));
}

namespace {

/// The manager's instance of a Spacedrive extension: a call runs an export as a job that is
/// kept nowhere (a fresh id, the input as its state), whose result is its last checkpoint.
class SpacedriveInstance final : public AbiInstance {
public:
    explicit SpacedriveInstance(std::unique_ptr<SpacedriveCore> core) : m_core(std::move(core)) {}

    Result<std::string> call(std::string_view target, std::string_view input) override {
        auto end = m_core->start(nullptr, JobId::random(), "00000000-0000-0000-0000-000000000000",
                                 std::string(target), std::string(input));
        if (!end) return tl::unexpected(end.error());
        if (end->kind == RunEnd::Kind::suspended) {
            m_core->abandon();
            return make_error(ErrorKind::usage,
                              fmt::format("{} was suspended outside a job runner", target));
        }
        return m_core->loose_checkpoint().value_or("");
    }
    bool has(std::string_view target) const override { return m_core->has(target); }
    void shutdown() override {
        // Spacedrive's own host never calls it yet; Kiln does, at unload.
        m_core->cleanup();
    }

private:
    std::unique_ptr<SpacedriveCore> m_core;
};

class SpacedriveAdapter final : public AbiAdapter {
public:
    explicit SpacedriveAdapter(std::shared_ptr<HostLibrary::Impl> library)
        : m_library(std::move(library)) {}

    PluginAbi abi() const override { return PluginAbi::spacedrive; }

    PluginOptions options(const PluginInfo& plugin) const override {
        PluginOptions o;
        o.functions = spacedrive_functions();
        o.functions.push_back(hostfns::spacedrive_call_import(m_library->plugin_host(plugin.name)));
        return o;
    }

    Result<std::unique_ptr<AbiInstance>> instantiate(const AbiLoad& load) const override {
        return hostfns::instantiate_hosted(
            *m_library, load, [&]() -> Result<std::unique_ptr<AbiInstance>> {
                // The hosted wrapper makes the plugin's context current for its calls.
                KILN_TRY(core,
                         make_core(InstanceLoad{load.compiled, nullptr, {}, load.lifecycle_timeout},
                                   {}));
                return std::unique_ptr<AbiInstance>(
                    std::make_unique<SpacedriveInstance>(std::move(core)));
            });
    }

private:
    std::shared_ptr<HostLibrary::Impl> m_library;
};

} // namespace

} // namespace jobs

std::unique_ptr<AbiAdapter> make_spacedrive_adapter(HostLibrary& host) {
    return std::make_unique<jobs::SpacedriveAdapter>(host.impl());
}

} // namespace kiln
