// Jobs as JSON: the objects of `kiln job list|status --json` and of the C API's
// kiln_jobs_info_json, one shape for both (docs/jobs.md).
#include <kiln/jobs.hpp>

#include <nlohmann/json.hpp>

namespace kiln {

namespace {

using json = nlohmann::ordered_json;

int64_t ms(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

json object(const JobInfo& j) {
    json out = {{"id", j.id.to_string()},
                {"plugin", j.plugin},
                {"job", j.job},
                {"export", j.export_name},
                {"version", j.plugin_version},
                {"module_hash", j.module_hash},
                {"status", job_status_name(j.status)}};
    if (j.requested) out["requested"] = job_status_name(*j.requested);
    out["progress"] = {{"fraction", j.progress.fraction},
                       {"message", j.progress.message},
                       {"items_done", j.progress.items_done},
                       {"items_total", j.progress.items_total},
                       {"bytes", j.progress.bytes}};
    out["state"] = j.state;
    out["checkpoint"] = j.checkpoint ? json(*j.checkpoint) : json(nullptr);
    out["snapshot"] = j.has_snapshot;
    out["warnings"] = j.warnings;
    out["error"] = j.error;
    out["attempts"] = j.attempts;
    out["max_attempts"] = j.options.max_attempts;
    out["retry_ms"] = j.retry_at ? json(ms(*j.retry_at)) : json(nullptr);
    out["created_ms"] = ms(j.created);
    out["started_ms"] = j.started ? json(ms(*j.started)) : json(nullptr);
    out["finished_ms"] = j.finished ? json(ms(*j.finished)) : json(nullptr);
    out["run_ms"] = j.run_time.count();
    return out;
}

// A plugin's text (its messages, states) may hold bytes that are not UTF-8.
std::string dump(const json& j, int indent) {
    return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

} // namespace

std::string job_json(const JobInfo& job, int indent) {
    return dump(object(job), indent);
}

std::string job_logs_json(const std::vector<JobLogEntry>& logs, int indent) {
    json out = json::array();
    for (const JobLogEntry& e : logs)
        out.push_back({{"time_ms", ms(e.time)},
                       {"level", log_level_name(e.level)},
                       {"warning", e.warning},
                       {"message", e.message}});
    return dump(out, indent);
}

std::string jobs_json(const std::vector<JobInfo>& jobs, int indent) {
    json out = json::array();
    for (const JobInfo& j : jobs)
        out.push_back(object(j));
    return dump(out, indent);
}

} // namespace kiln
