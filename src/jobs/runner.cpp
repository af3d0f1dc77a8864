// JobRunner: worker threads that claim queued jobs from the database and run them in plugin
// instances kept per plugin (up to its concurrent_jobs), and one watchdog thread that carries
// out what is asked of running jobs (pause, cancel, a worker's stop, periodic snapshots,
// timeouts), writes their progress and logs, and hands back to the queue the jobs of workers
// that died.
#include "jobs/context.hpp"
#include "jobs/instance.hpp"
#include "jobs/owner.hpp"
#include "jobs/store.hpp"

#include "base/result.hpp"
#include "hostfns/library.hpp"
#include "plugin/fetch.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <set>
#include <thread>

namespace kiln {

using namespace jobs;

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

/// The sha256 of a compiled plugin's modules: the module's own for one, else of their names and
/// hashes in link order.
std::string module_hash(const CompiledPlugin& compiled) {
    const auto& wasm = compiled.manifest().wasm;
    auto bytes_of = [](const Manifest::Wasm& w) -> std::span<const uint8_t> {
        if (auto* b = std::get_if<Manifest::WasmBytes>(&w.source)) return b->data;
        return {};
    };
    if (wasm.size() == 1) return plugin::sha256_hex(bytes_of(wasm[0]));
    std::string all;
    for (const Manifest::Wasm& w : wasm)
        all += w.name + ":" + plugin::sha256_hex(bytes_of(w)) + "\n";
    return plugin::sha256_hex(std::span(reinterpret_cast<const uint8_t*>(all.data()), all.size()));
}

/// The first characters of a hash, for messages.
std::string short_hash(const std::string& hash) {
    return hash.substr(0, 12);
}

/// Adds the job functions to a host library's kiln:host/v1, once per library.
void add_job_functions(HostLibrary& host) {
    static std::mutex mutex;
    static std::vector<std::weak_ptr<HostLibrary::Impl>> done;
    std::lock_guard lock(mutex);
    std::erase_if(done, [](const auto& w) { return w.expired(); });
    for (const auto& w : done)
        if (w.lock() == host.impl()) return;
    done.push_back(host.impl());
    host.impl()->add_module_extension(
        [](const std::shared_ptr<hostfns::PluginHost>&) { return job_functions(); });
}

} // namespace

/// One plugin as the runner uses it: its compiled form, its jobs, and the instances kept to
/// run them.
struct PluginSlot {
    std::string name;
    PluginAbi abi = PluginAbi::extism;
    std::string version;
    std::string hash;
    uint32_t limit = 0;
    PluginInfo info;
    std::string kiln_version;                       ///< the manager's, given to `initialize`
    std::chrono::milliseconds lifecycle_timeout{0}; ///< the manager's
    Permissions permissions;
    std::shared_ptr<const CompiledPlugin> compiled;
    std::shared_ptr<HostLibrary::Impl> host;
    std::vector<Contribution> declared; ///< jobs its manifest declares
    std::set<std::string> exports;

    std::mutex mutex; ///< guards what follows
    std::vector<std::unique_ptr<JobInstance>> idle;
    std::map<std::string, RegisteredJob> registered;
    bool initialised = false; ///< an instance was made, so its registrations are known

    Result<std::unique_ptr<JobInstance>> make() {
        // Each instance has a host function context of its own, so that they run side by side.
        const AbiLoad abi_load{info, compiled, permissions, kiln_version, lifecycle_timeout};
        InstanceLoad load{compiled, host->context_for(abi_load), extism_initialize_input(abi_load),
                          lifecycle_timeout};
        if (abi != PluginAbi::spacedrive) return make_extism_instance(std::move(load));
        bool first = false;
        {
            std::lock_guard lock(mutex);
            first = !initialised;
        }
        return make_spacedrive_instance(std::move(load), [this, first](RegisteredJob job) {
            if (!first) return;
            std::lock_guard lock(mutex);
            registered.emplace(job.name, std::move(job));
        });
    }

    /// An idle instance, or a new one.
    Result<std::unique_ptr<JobInstance>> acquire() {
        {
            std::lock_guard lock(mutex);
            if (!idle.empty()) {
                auto instance = std::move(idle.back());
                idle.pop_back();
                return instance;
            }
        }
        KILN_TRY(instance, make());
        std::lock_guard lock(mutex);
        initialised = true;
        return instance;
    }

    void release(std::unique_ptr<JobInstance> instance) {
        if (!instance->reusable()) return;
        std::lock_guard lock(mutex);
        // Kept for the plugin's next jobs, up to as many as may run at once.
        if (idle.size() < std::max<uint32_t>(limit, 1)) idle.push_back(std::move(instance));
    }
};

/// A job running in this runner, as the watchdog sees it.
struct RunningJob {
    std::shared_ptr<JobContext> context;
    JobOptions options;
    JobInstance* instance = nullptr; ///< while its call runs
    Clock::time_point run_start = Clock::now();
    Clock::time_point last_snapshot = Clock::now();
    std::optional<Clock::time_point> signal_at; ///< when a stop was first seen
    bool interrupted = false;                   ///< the watchdog stopped its call
    bool timed_out = false;

    bool snapshots() const { return options.snapshots || options.snapshot_every_ms > 0; }
};

struct JobRunner::Impl {
    PluginManager& manager;
    std::shared_ptr<HostLibrary::Impl> host;
    JobStore store;
    RunnerOptions options;
    std::string owner = new_owner();

    std::mutex mutex;                 ///< guards what follows
    std::condition_variable wake;     ///< a job was queued, or the runner stops
    std::condition_variable finished; ///< a job's run ended
    bool started = false;
    bool stopping = false; ///< workers stop taking jobs
    bool closing = false;  ///< the watchdog stops
    std::vector<std::thread> workers;
    std::map<JobId, std::shared_ptr<RunningJob>> running;

    std::mutex slots_mutex;
    std::map<std::string, std::shared_ptr<PluginSlot>, std::less<>> slots;
    /// Plugins reloaded or unloaded since their slot was made (shared with the manager's
    /// listener, which may outlive the runner).
    struct Stale {
        std::mutex mutex;
        std::set<std::string> names;
    };
    std::shared_ptr<Stale> stale = std::make_shared<Stale>();

    std::thread watchdog;

    Impl(PluginManager& m, std::shared_ptr<HostLibrary::Impl> h, JobStore s, RunnerOptions o)
        : manager(m), host(std::move(h)), store(std::move(s)), options(o) {
        options.concurrency = std::max<uint32_t>(options.concurrency, 1);
    }

    JobStore::Impl& db() { return *store.impl(); }

    Result<std::shared_ptr<PluginSlot>> slot_for(const std::string& name);
    /// A request checked and resolved into the job to insert.
    Result<NewJob> prepare(const JobRequest& request);
    uint32_t limit_of(const std::string& name);
    void worker();
    void watch();
    /// Runs a claimed job to the end of this run; the status it ended with. An error when that
    /// end could not be written (the job then stays the runner's until it is recovered). With
    /// `next`, the next job is claimed into it in the run's last transaction.
    Result<JobStatus> execute(JobInfo info, std::optional<JobInfo>* next = nullptr);
    /// Ends the run of `info` with `result`, writing what its context gathered (and claiming
    /// the next job into `next`, when given).
    Result<JobStatus> end_run(const JobInfo& info, const std::shared_ptr<JobContext>& context,
                              RunResult result, std::optional<JobInfo>* next = nullptr);
    /// Whether a plugin has room for one more job (its concurrent_jobs).
    JobStore::Impl::Room room = [this](const std::string& plugin, int64_t running) {
        return running < int64_t(limit_of(plugin));
    };
    /// A failed run: queued again while attempts are left and `retry` allows, else failed.
    RunResult failure(const JobInfo& info, std::string error, bool retry);
};

Result<std::shared_ptr<PluginSlot>> JobRunner::Impl::slot_for(const std::string& name) {
    {
        std::lock_guard lock(stale->mutex);
        if (stale->names.erase(name)) {
            std::lock_guard slots_lock(slots_mutex);
            slots.erase(name);
        }
    }
    std::lock_guard lock(slots_mutex);
    if (auto it = slots.find(name); it != slots.end()) return it->second;
    auto info = manager.info(name);
    if (!info) return make_error(ErrorKind::usage, fmt::format("no plugin {}", name));
    KILN_TRY(compiled, manager.compiled(name));
    KILN_TRY(permissions, manager.permissions(name));
    auto slot = std::make_shared<PluginSlot>();
    slot->name = info->name;
    slot->abi = info->abi;
    slot->version = info->version;
    slot->compiled = compiled;
    slot->host = host;
    slot->info = *info;
    slot->kiln_version = manager.options().kiln_version;
    slot->lifecycle_timeout = manager.options().lifecycle_timeout;
    slot->permissions = permissions;
    slot->hash = module_hash(*compiled);
    slot->limit = permissions.max_concurrent_jobs;
    slot->exports.insert(info->exports.begin(), info->exports.end());
    if (info->manifest)
        for (const Contribution& c : info->manifest->contributes)
            if (c.kind == Contribution::Kind::job) slot->declared.push_back(c);
    slots.emplace(name, slot);
    return slot;
}

uint32_t JobRunner::Impl::limit_of(const std::string& name) {
    {
        std::lock_guard lock(slots_mutex);
        if (auto it = slots.find(name); it != slots.end()) return it->second->limit;
    }
    auto permissions = manager.permissions(name);
    // A plugin the manager does not know is let through, to fail with that reason.
    return permissions ? permissions->max_concurrent_jobs : UINT32_MAX;
}

RunResult JobRunner::Impl::failure(const JobInfo& info, std::string error, bool retry) {
    RunResult r;
    r.drop_snapshot = true;
    r.error = std::move(error);
    if (retry && info.attempts < info.options.max_attempts) {
        const int64_t backoff = info.options.retry_backoff.count();
        const int64_t cap = 10 * 60 * 1000;
        int64_t wait = backoff;
        for (uint32_t i = 1; i < info.attempts && wait < cap; ++i)
            wait *= 2;
        r.status = JobStatus::queued;
        r.retry_at = now_ms() + std::min(wait, cap);
    } else {
        r.status = JobStatus::failed;
    }
    return r;
}

Result<JobStatus> JobRunner::Impl::end_run(const JobInfo& info,
                                           const std::shared_ptr<JobContext>& context,
                                           RunResult result, std::optional<JobInfo>* next) {
    if (!result.error.empty()) {
        std::string line = result.error;
        if (result.status == JobStatus::queued)
            line += fmt::format(" (attempt {} of {}; retrying in {} ms)", info.attempts,
                                info.options.max_attempts,
                                std::max<int64_t>(0, result.retry_at - now_ms()));
        context->log(LogLevel::error, line);
    }
    std::shared_ptr<RunningJob> job;
    {
        std::lock_guard lock(mutex);
        if (auto it = running.find(info.id); it != running.end()) job = it->second;
    }
    int64_t run_ms = 0;
    if (job)
        run_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - job->run_start)
                .count();
    Pending pending = context->take_pending();
    auto written = db().finish(info.id, owner, result, run_ms, pending, next ? &room : nullptr);
    {
        std::lock_guard lock(mutex);
        running.erase(info.id);
    }
    if (written && next) *next = std::move(*written);
    finished.notify_all();
    if (!written)
        return make_error(written.error().kind,
                          fmt::format("job {} ended {}{} but that could not be recorded: {}",
                                      info.id.to_string(), job_status_name(result.status),
                                      result.error.empty() ? "" : " (" + result.error + ")",
                                      written.error().message));
    return result.status;
}

Result<JobStatus> JobRunner::Impl::execute(JobInfo info, std::optional<JobInfo>* next) {
    std::string state = info.checkpoint.value_or(info.state);
    auto context = std::make_shared<JobContext>(db(), info, state);
    auto job = std::make_shared<RunningJob>();
    job->context = context;
    job->options = info.options;
    {
        std::lock_guard lock(mutex);
        running[info.id] = job;
    }
    auto fail = [&](std::string error, bool retry) {
        return end_run(info, context, failure(info, std::move(error), retry), next);
    };

    auto slot = slot_for(info.plugin);
    if (!slot) return fail(fmt::format("plugin {}: {}", info.plugin, slot.error().message), false);
    PluginSlot& plugin = **slot;
    if (info.checkpoint && !json::accept(*info.checkpoint))
        return fail("its checkpoint in the database is not JSON (damaged?): it cannot resume",
                    false);

    auto snapshot = info.has_snapshot ? db().load_snapshot(info.id)
                                      : Result<std::optional<StoredSnapshot>>(std::nullopt);
    if (!snapshot) {
        context->log(LogLevel::warn,
                     fmt::format("its snapshot cannot be read ({}); resuming from the last "
                                 "checkpoint",
                                 snapshot.error().message),
                     true);
        snapshot = std::optional<StoredSnapshot>();
    }
    const bool resuming = info.checkpoint || *snapshot;

    auto instance = plugin.acquire();
    if (!instance)
        return fail(fmt::format("plugin {}: {}", info.plugin, instance.error().message), true);

    if (info.module_hash != plugin.hash) {
        if (resuming) {
            const std::string was = fmt::format("{} (module sha256 {}...)", info.plugin_version,
                                                short_hash(info.module_hash));
            const std::string now =
                fmt::format("{} (module sha256 {}...)", plugin.version, short_hash(plugin.hash));
            if (*snapshot) {
                context->log(LogLevel::warn,
                             fmt::format("its snapshot was taken with {} {} and cannot be restored "
                                         "on {}; resuming from the last checkpoint",
                                         info.plugin, was, now),
                             true);
                (void)db().drop_snapshot(info.id);
                snapshot->reset();
            }
            if (!(*instance)->has("migrate_state")) {
                plugin.release(std::move(*instance));
                return fail(fmt::format("it was started with {} {} and cannot resume on {}: the "
                                        "plugin exports no migrate_state",
                                        info.plugin, was, now),
                            false);
            }
            json input = {{"from_version", info.plugin_version}};
            json parsed = json::parse(state, nullptr, false);
            input["state"] = parsed.is_discarded() ? json(state) : parsed;
            auto migrated = (*instance)->call("migrate_state", input.dump());
            if (!migrated || !json::accept(*migrated)) {
                plugin.release(std::move(*instance));
                return fail(
                    fmt::format("migrate_state from {} failed: {}", was,
                                migrated ? "its output is not JSON" : migrated.error().message),
                    false);
            }
            state = *migrated;
            if (auto ok = db().set_version(info.id, plugin.version, plugin.hash, state); !ok) {
                plugin.release(std::move(*instance));
                return fail(ok.error().message, true);
            }
            context->set_state(state);
            context->log(LogLevel::info, fmt::format("state migrated from {} to {}",
                                                     info.plugin_version, plugin.version));
        } else {
            // Never run: it simply starts on the version there is now.
            (void)db().set_version(info.id, plugin.version, plugin.hash, std::nullopt);
        }
        info.plugin_version = plugin.version;
        info.module_hash = plugin.hash;
    }

    JobInstance& inst = **instance;
    // Runs one step of the call with the instance published to the watchdog.
    auto step = [&](auto&& body) {
        {
            std::lock_guard lock(mutex);
            job->instance = &inst;
        }
        auto r = body();
        std::lock_guard lock(mutex);
        job->instance = nullptr;
        return r;
    };

    Result<RunEnd> end = make_error(ErrorKind::usage, "not run");
    bool restored = false;
    if (*snapshot) {
        auto ok = inst.restore((*snapshot)->bytes);
        if (ok) {
            restored = true;
            std::lock_guard lock(mutex);
            job->last_snapshot = Clock::now();
        } else {
            context->log(LogLevel::warn,
                         fmt::format("its snapshot cannot be restored ({}); resuming from the last "
                                     "checkpoint",
                                     ok.error().message),
                         true);
            (void)db().drop_snapshot(info.id);
        }
    }
    if (restored)
        end = step([&] { return inst.resume(*context); });
    else
        end = step([&] { return inst.start(*context, info.export_name); });

    // Suspended by the watchdog: store the instance, then stop as asked or go on.
    std::optional<Signal> stopped_by_snapshot;
    while (end && end->kind == RunEnd::Kind::suspended) {
        auto bytes = inst.snapshot();
        Result<void> saved = bytes ? db().save_snapshot(info.id, plugin.hash, *bytes)
                                   : Result<void>(tl::unexpected(bytes.error()));
        {
            std::lock_guard lock(mutex);
            job->last_snapshot = Clock::now();
        }
        if (!saved) {
            context->log(LogLevel::warn, fmt::format("snapshot failed: {}", saved.error().message),
                         true);
            context->snapshots_failed();
        }
        Signal s = context->signalled();
        // Without a stored snapshot a pause would lose the call's work: it goes on instead,
        // until the guest stops or is stopped.
        if (s == Signal::cancel || (s != Signal::none && saved)) {
            inst.abandon();
            stopped_by_snapshot = s;
            break;
        }
        end = step([&] { return inst.resume(*context); });
    }

    const Signal signal = context->signalled();
    bool interrupted = false, timed_out = false;
    {
        std::lock_guard lock(mutex);
        interrupted = job->interrupted;
        timed_out = job->timed_out;
    }
    auto stopped = [&](Signal s, bool drop_snapshot) {
        RunResult r;
        r.drop_snapshot = drop_snapshot || s == Signal::cancel;
        r.status = s == Signal::cancel  ? JobStatus::cancelled
                   : s == Signal::pause ? JobStatus::paused
                                        : JobStatus::queued;
        return r;
    };

    RunResult result;
    if (stopped_by_snapshot) {
        result = stopped(*stopped_by_snapshot, false);
    } else if (end && end->kind == RunEnd::Kind::returned && !context->told()) {
        result.status = JobStatus::completed;
        if (!end->output.empty()) result.checkpoint = end->output;
    } else if (end) {
        // The guest stopped itself (after being told, or Spacedrive's 1): its checkpoint is
        // newer than any snapshot.
        result = stopped(signal == Signal::none ? Signal::pause : signal, true);
    } else if (interrupted && !timed_out && signal != Signal::none) {
        // Stopped after the grace: a yield resumes from the last snapshot or checkpoint.
        result = stopped(signal, false);
    } else if (timed_out) {
        result = failure(info, fmt::format("timeout after {} ms", info.options.timeout_ms), true);
    } else {
        result = failure(info, end.error().message, true);
    }
    plugin.release(std::move(*instance));
    return end_run(info, context, std::move(result), next);
}

void JobRunner::Impl::worker() {
    std::optional<JobInfo> next; // claimed with the end of the last job
    for (;;) {
        bool stop;
        {
            std::lock_guard lock(mutex);
            stop = stopping;
        }
        if (stop) {
            // A job claimed as the runner stopped goes back to the queue untouched.
            if (next) {
                Pending none;
                RunResult back;
                back.status = JobStatus::queued;
                (void)db().finish(next->id, owner, back, 0, none);
            }
            return;
        }
        if (!next) {
            auto claimed = db().claim_next(owner, room);
            if (!claimed) fmt::print(stderr, "kiln: job runner: {}\n", claimed.error().message);
            if (claimed) next = std::move(*claimed);
        }
        if (next) {
            JobInfo job = std::move(*next);
            next.reset();
            if (auto ended = execute(std::move(job), &next); !ended)
                fmt::print(stderr, "kiln: {}\n", ended.error().message);
            continue;
        }
        std::unique_lock lock(mutex);
        if (stopping) continue;
        wake.wait_for(lock, options.poll);
    }
}

void JobRunner::Impl::watch() {
    const auto tick = std::chrono::milliseconds(10);
    auto next_poll = Clock::now();
    auto next_flush = Clock::now() + options.flush;
    auto next_recovery = Clock::now();
    for (;;) {
        {
            std::unique_lock lock(mutex);
            if (closing) return;
            wake.wait_for(lock, tick, [&] { return closing; });
            if (closing) return;
        }
        const auto now = Clock::now();

        // Requests from other processes (and from this one, through the database).
        if (now >= next_poll) {
            next_poll = now + options.poll;
            bool any;
            {
                std::lock_guard lock(mutex);
                any = !running.empty();
            }
            if (any)
                if (auto requests = db().requests(owner)) {
                    std::lock_guard lock(mutex);
                    for (auto& [id, job] : running) {
                        Signal want = Signal::none;
                        for (const auto& [rid, what] : *requests)
                            if (rid == id) want = what == "cancel" ? Signal::cancel : Signal::pause;
                        job->context->signal(want);
                    }
                }
        }

        // Stops, snapshots and timeouts of the calls running now.
        std::vector<std::shared_ptr<JobContext>> contexts;
        {
            std::lock_guard lock(mutex);
            for (auto& [id, job] : running) {
                contexts.push_back(job->context);
                const Signal s = job->context->signalled();
                if (s != Signal::none && !job->signal_at) job->signal_at = now;
                if (!job->instance) continue;
                if (s != Signal::none && job->snapshots()) {
                    job->instance->suspend();
                } else if ((s == Signal::cancel || s == Signal::yield) && !job->interrupted &&
                           now - *job->signal_at >= options.cancel_grace) {
                    job->interrupted = true;
                    job->instance->interrupt();
                }
                if (job->options.snapshot_every_ms &&
                    now - job->last_snapshot >=
                        std::chrono::milliseconds(job->options.snapshot_every_ms))
                    job->instance->suspend();
                if (job->options.timeout_ms && !job->interrupted &&
                    now - job->run_start >= std::chrono::milliseconds(job->options.timeout_ms)) {
                    job->interrupted = job->timed_out = true;
                    job->instance->interrupt();
                }
            }
        }

        if (now >= next_flush) {
            next_flush = now + options.flush;
            for (const auto& c : contexts)
                (void)c->flush();
        }

        // Jobs whose worker died: back to the queue.
        if (now >= next_recovery) {
            next_recovery = now + std::chrono::seconds(1);
            if (auto all = db().running()) {
                bool recovered = false;
                for (const auto& [id, who] : *all)
                    if (who != owner && !owner_alive(who))
                        if (auto r = db().recover(id, who, true); r && *r) recovered = true;
                if (recovered) wake.notify_all();
            }
        }
    }
}

void install_jobs(PluginManager& manager, HostLibrary& host) {
    add_job_functions(host);
    host.install(manager);
    manager.add_adapter(make_spacedrive_adapter(host));
}

JobRunner::JobRunner(PluginManager& manager, HostLibrary& host, JobStore store,
                     RunnerOptions options)
    : m_impl(std::make_unique<Impl>(manager, host.impl(), std::move(store), options)) {
    install_jobs(manager, host);
    std::weak_ptr<Impl::Stale> stale = m_impl->stale;
    manager.on_event([stale](const ManagerEvent& e) {
        if (e.kind != ManagerEvent::Kind::reloaded && e.kind != ManagerEvent::Kind::unloaded)
            return;
        if (auto s = stale.lock()) {
            std::lock_guard lock(s->mutex);
            s->names.insert(e.plugin);
        }
    });
    m_impl->watchdog = std::thread([impl = m_impl.get()] { impl->watch(); });
}

JobRunner::~JobRunner() {
    stop();
    {
        std::lock_guard lock(m_impl->mutex);
        m_impl->closing = true;
    }
    m_impl->wake.notify_all();
    m_impl->watchdog.join();
    retire_owner(m_impl->owner);
}

Result<NewJob> JobRunner::Impl::prepare(const JobRequest& request) {
    Impl& r = *this;
    KILN_TRY(slot, r.slot_for(request.plugin));
    KILN_CHECK(r.manager.check(request.plugin, Permission::jobs, "1"));
    NewJob job;
    job.id = JobId::random();
    job.plugin = slot->name;
    job.version = slot->version;
    job.module_hash = slot->hash;
    job.state = request.state;
    JobOptions defaults;
    if (!request.job.empty()) {
        std::string name = request.job;
        if (name.starts_with(slot->name + ":")) name = name.substr(slot->name.size() + 1);
        const Contribution* declared = nullptr;
        for (const Contribution& c : slot->declared)
            if (c.id == name) declared = &c;
        if (declared) {
            job.export_name = declared->export_name.empty() ? name : declared->export_name;
            defaults.snapshots = declared->snapshots;
            defaults.snapshot_every_ms = declared->snapshot_every_ms;
            defaults.max_attempts = declared->retries + 1;
        } else {
            if (slot->abi == PluginAbi::spacedrive) {
                // Its jobs are known once an instance has run plugin_init.
                KILN_TRY(instance, slot->acquire());
                slot->release(std::move(instance));
            }
            std::lock_guard lock(slot->mutex);
            auto it = slot->registered.find(name);
            if (it == slot->registered.end()) {
                std::vector<std::string> names;
                for (const Contribution& c : slot->declared)
                    names.push_back(c.id);
                for (const auto& [n, j] : slot->registered)
                    names.push_back(n);
                return make_error(
                    ErrorKind::usage,
                    fmt::format("plugin {} has no job {} ({})", slot->name, name,
                                names.empty()
                                    ? "it has no jobs"
                                    : "its jobs: " + fmt::format("{}", fmt::join(names, ", "))));
            }
            job.export_name = it->second.export_name;
        }
        job.job = name;
    } else if (!request.export_name.empty()) {
        if (!slot->exports.count(request.export_name))
            return make_error(ErrorKind::usage, fmt::format("plugin {} has no export {}",
                                                            slot->name, request.export_name));
        job.export_name = request.export_name;
    } else {
        return make_error(ErrorKind::usage, "a job request names a job or an export");
    }
    job.options = request.options.value_or(defaults);
    job.options.max_attempts = std::max<uint32_t>(job.options.max_attempts, 1);
    return job;
}

Result<JobId> JobRunner::dispatch(const JobRequest& request) {
    KILN_TRY(job, m_impl->prepare(request));
    KILN_CHECK(m_impl->db().insert({&job, 1}));
    m_impl->wake.notify_all();
    return job.id;
}

Result<std::vector<JobId>> JobRunner::dispatch(std::span<const JobRequest> requests) {
    std::vector<NewJob> jobs;
    jobs.reserve(requests.size());
    for (const JobRequest& request : requests) {
        KILN_TRY(job, m_impl->prepare(request));
        jobs.push_back(std::move(job));
    }
    KILN_CHECK(m_impl->db().insert(jobs));
    m_impl->wake.notify_all();
    std::vector<JobId> ids;
    for (const NewJob& job : jobs)
        ids.push_back(job.id);
    return ids;
}

void JobRunner::start() {
    Impl& r = *m_impl;
    std::lock_guard lock(r.mutex);
    if (r.started || r.stopping) return;
    r.started = true;
    for (uint32_t i = 0; i < r.options.concurrency; ++i)
        r.workers.emplace_back([&r] { r.worker(); });
}

void JobRunner::stop() {
    Impl& r = *m_impl;
    std::vector<std::thread> workers;
    {
        std::lock_guard lock(r.mutex);
        r.stopping = true;
        for (auto& [id, job] : r.running)
            job->context->signal(Signal::yield);
        workers = std::move(r.workers);
    }
    r.wake.notify_all();
    for (std::thread& t : workers)
        t.join();
}

Result<JobStatus> JobRunner::run(const JobId& id) {
    Impl& r = *m_impl;
    KILN_TRY(info, r.db().claim(id, r.owner));
    for (;;) {
        KILN_TRY(ended, r.execute(std::move(info)));
        if (ended != JobStatus::queued) return ended;
        // Queued for a retry: run it again here once its backoff is over, unless the runner
        // stops (the queue keeps it) or someone else changed it meanwhile.
        KILN_TRY(queued, r.db().get(id));
        const auto wait = queued.retry_at ? *queued.retry_at - std::chrono::system_clock::now()
                                          : std::chrono::system_clock::duration(0);
        {
            std::unique_lock lock(r.mutex);
            r.wake.wait_for(lock, wait, [&] { return r.stopping; });
            if (r.stopping) return ended;
        }
        auto again = r.db().claim(id, r.owner);
        if (!again) {
            KILN_TRY(now, r.db().get(id));
            return now.status;
        }
        info = std::move(*again);
    }
}

Result<JobInfo> JobRunner::wait(const JobId& id, std::chrono::milliseconds timeout) {
    Impl& r = *m_impl;
    const auto until = Clock::now() + timeout;
    for (;;) {
        KILN_TRY(info, r.db().get(id));
        if (is_final(info.status) || info.status == JobStatus::paused || Clock::now() >= until)
            return info;
        std::unique_lock lock(r.mutex);
        r.finished.wait_for(lock, std::chrono::milliseconds(20));
    }
}

std::optional<JobProgress> JobRunner::live_progress(const JobId& id) const {
    std::lock_guard lock(m_impl->mutex);
    auto it = m_impl->running.find(id);
    if (it == m_impl->running.end()) return std::nullopt;
    return it->second->context->progress();
}

JobStore& JobRunner::store() {
    return m_impl->store;
}

} // namespace kiln
