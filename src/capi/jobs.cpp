// The C API of jobs (kiln.h, "jobs") over kiln::JobRunner and kiln::JobStore. A file of its
// own, so that a C host that never calls kiln_jobs_* links none of the job layer.
#include "capi/capi.hpp"

#include <kiln/hostfns.hpp>
#include <kiln/jobs.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>

struct kiln_jobs {
    std::unique_ptr<kiln::HostLibrary> host;
    std::unique_ptr<kiln::JobRunner> runner;
};

namespace {

using kiln::capi::give_string;
using kiln::capi::guarded;
using kiln::capi::new_error;
using kiln::capi::usage;

static_assert(int(KILN_JOB_QUEUED) == int(kiln::JobStatus::queued));
static_assert(int(KILN_JOB_RUNNING) == int(kiln::JobStatus::running));
static_assert(int(KILN_JOB_PAUSED) == int(kiln::JobStatus::paused));
static_assert(int(KILN_JOB_COMPLETED) == int(kiln::JobStatus::completed));
static_assert(int(KILN_JOB_FAILED) == int(kiln::JobStatus::failed));
static_assert(int(KILN_JOB_CANCELLED) == int(kiln::JobStatus::cancelled));

/// The id a C string names, or a usage error.
kiln::Result<kiln::JobId> parse_id(const char* id) {
    if (!id) return kiln::make_error(kiln::ErrorKind::usage, "id is NULL");
    auto parsed = kiln::JobId::parse(id);
    if (!parsed)
        return kiln::make_error(kiln::ErrorKind::usage,
                                std::string("\"") + id + "\" is not a job id");
    return *parsed;
}

void give_status(kiln::JobStatus status, kiln_job_status_t* out) {
    if (out) *out = kiln_job_status_t(status);
}

/// pause, resume and cancel: the checks, the change, the status.
template <typename F>
kiln_error* change(kiln_jobs* jobs, const char* id, kiln_job_status_t* status, F&& body) {
    return guarded([&]() -> kiln_error* {
        if (!jobs) return usage("jobs is NULL");
        auto parsed = parse_id(id);
        if (!parsed) return new_error(std::move(parsed.error()));
        auto now = body(jobs->runner->store(), *parsed);
        if (!now) return new_error(std::move(now.error()));
        give_status(*now, status);
        return nullptr;
    });
}

} // namespace

kiln_error_t* kiln_jobs_new(kiln_manager_t* manager, const kiln_jobs_config_t* config,
                            kiln_jobs_t** out) {
    return guarded([&]() -> kiln_error* {
        if (!manager) return usage("manager is NULL");
        if (!out) return usage("out is NULL");
        *out = nullptr;
        auto store = kiln::JobStore::open(config && config->db_path ? config->db_path : "");
        if (!store) return new_error(std::move(store.error()));
        kiln::RunnerOptions options;
        if (config && config->concurrency) options.concurrency = config->concurrency;
        kiln::HostOptions host_options;
        host_options.state = store->db();
        auto jobs = std::make_unique<kiln_jobs>();
        jobs->host = std::make_unique<kiln::HostLibrary>(std::move(host_options));
        jobs->runner = std::make_unique<kiln::JobRunner>(*manager->manager, *jobs->host,
                                                         std::move(*store), options);
        *out = jobs.release();
        return nullptr;
    });
}

void kiln_jobs_delete(kiln_jobs_t* jobs) {
    delete jobs;
}

kiln_error_t* kiln_jobs_start(kiln_jobs_t* jobs) {
    return guarded([&]() -> kiln_error* {
        if (!jobs) return usage("jobs is NULL");
        jobs->runner->start();
        return nullptr;
    });
}

kiln_error_t* kiln_jobs_dispatch(kiln_jobs_t* jobs, const char* plugin, const char* job,
                                 const char* export_name, const char* state,
                                 char id[KILN_JOB_ID_SIZE]) {
    return kiln_jobs_dispatch_with(jobs, plugin, job, export_name, state, nullptr, id);
}

kiln_error_t* kiln_jobs_dispatch_with(kiln_jobs_t* jobs, const char* plugin, const char* job,
                                      const char* export_name, const char* state,
                                      const kiln_job_options_t* options,
                                      char id[KILN_JOB_ID_SIZE]) {
    return guarded([&]() -> kiln_error* {
        if (!jobs) return usage("jobs is NULL");
        if (!plugin) return usage("plugin is NULL");
        if (!id) return usage("id is NULL");
        if (!job == !export_name) return usage("give a job or an export_name, not both");
        kiln::JobRequest request;
        request.plugin = plugin;
        if (job) request.job = job;
        if (export_name) request.export_name = export_name;
        if (state) request.state = state;
        if (options) {
            kiln::JobOptions o;
            o.max_attempts = std::max<uint32_t>(options->max_attempts, 1);
            o.retry_backoff = std::chrono::milliseconds(options->retry_backoff_ms);
            o.snapshots = options->snapshots || options->snapshot_every_ms;
            o.snapshot_every_ms = options->snapshot_every_ms;
            o.timeout_ms = options->timeout_ms;
            if (options->library_id) o.library_id = options->library_id;
            request.options = std::move(o);
        }
        auto dispatched = jobs->runner->dispatch(request);
        if (!dispatched) return new_error(std::move(dispatched.error()));
        const std::string text = dispatched->to_string();
        std::memcpy(id, text.c_str(), KILN_JOB_ID_SIZE);
        return nullptr;
    });
}

kiln_error_t* kiln_jobs_run(kiln_jobs_t* jobs, const char* id, kiln_job_status_t* status) {
    return guarded([&]() -> kiln_error* {
        if (!jobs) return usage("jobs is NULL");
        auto parsed = parse_id(id);
        if (!parsed) return new_error(std::move(parsed.error()));
        auto ended = jobs->runner->run(*parsed);
        if (!ended) return new_error(std::move(ended.error()));
        give_status(*ended, status);
        return nullptr;
    });
}

kiln_error_t* kiln_jobs_wait(kiln_jobs_t* jobs, const char* id, uint64_t timeout_ms,
                             kiln_job_status_t* status) {
    return guarded([&]() -> kiln_error* {
        if (!jobs) return usage("jobs is NULL");
        auto parsed = parse_id(id);
        if (!parsed) return new_error(std::move(parsed.error()));
        const auto timeout = std::chrono::milliseconds(
            std::min<uint64_t>(timeout_ms, uint64_t(std::chrono::milliseconds::max().count())));
        auto info = jobs->runner->wait(*parsed, timeout);
        if (!info) return new_error(std::move(info.error()));
        give_status(info->status, status);
        return nullptr;
    });
}

kiln_error_t* kiln_jobs_status(const kiln_jobs_t* jobs, const char* id, kiln_job_status_t* status,
                               double* fraction) {
    return guarded([&]() -> kiln_error* {
        if (!jobs) return usage("jobs is NULL");
        auto parsed = parse_id(id);
        if (!parsed) return new_error(std::move(parsed.error()));
        auto info = jobs->runner->store().get(*parsed);
        if (!info) return new_error(std::move(info.error()));
        give_status(info->status, status);
        if (fraction) *fraction = info->progress.fraction;
        return nullptr;
    });
}

kiln_error_t* kiln_jobs_info_json(const kiln_jobs_t* jobs, const char* id, char** json) {
    return guarded([&]() -> kiln_error* {
        if (!jobs) return usage("jobs is NULL");
        if (!json) return usage("json is NULL");
        *json = nullptr;
        auto parsed = parse_id(id);
        if (!parsed) return new_error(std::move(parsed.error()));
        auto info = jobs->runner->store().get(*parsed);
        if (!info) return new_error(std::move(info.error()));
        return give_string(kiln::job_json(*info), json);
    });
}

kiln_error_t* kiln_jobs_list_json(const kiln_jobs_t* jobs, int status, char** json) {
    return guarded([&]() -> kiln_error* {
        if (!jobs) return usage("jobs is NULL");
        if (!json) return usage("json is NULL");
        *json = nullptr;
        if (status > KILN_JOB_CANCELLED) return usage(fmt::format("no job status {}", status));
        std::optional<kiln::JobStatus> only;
        if (status >= 0) only = kiln::JobStatus(status);
        auto list = jobs->runner->store().list(only);
        if (!list) return new_error(std::move(list.error()));
        return give_string(kiln::jobs_json(*list), json);
    });
}

kiln_error_t* kiln_jobs_logs_json(const kiln_jobs_t* jobs, const char* id, char** json) {
    return guarded([&]() -> kiln_error* {
        if (!jobs) return usage("jobs is NULL");
        if (!json) return usage("json is NULL");
        *json = nullptr;
        auto parsed = parse_id(id);
        if (!parsed) return new_error(std::move(parsed.error()));
        auto logs = jobs->runner->store().logs(*parsed);
        if (!logs) return new_error(std::move(logs.error()));
        return give_string(kiln::job_logs_json(*logs), json);
    });
}

kiln_error_t* kiln_jobs_pause(kiln_jobs_t* jobs, const char* id, kiln_job_status_t* status) {
    return change(jobs, id, status,
                  [](kiln::JobStore& store, const kiln::JobId& job) { return store.pause(job); });
}

kiln_error_t* kiln_jobs_resume(kiln_jobs_t* jobs, const char* id, kiln_job_status_t* status) {
    return change(jobs, id, status,
                  [](kiln::JobStore& store, const kiln::JobId& job) { return store.resume(job); });
}

kiln_error_t* kiln_jobs_cancel(kiln_jobs_t* jobs, const char* id, kiln_job_status_t* status) {
    return change(jobs, id, status,
                  [](kiln::JobStore& store, const kiln::JobId& job) { return store.cancel(job); });
}

const char* kiln_job_status_name(kiln_job_status_t status) {
    if (int(status) < 0 || int(status) > int(KILN_JOB_CANCELLED)) return "unknown";
    return kiln::job_status_name(kiln::JobStatus(status));
}
