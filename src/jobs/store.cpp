// The job tables of the state database. Every write is one transaction (BEGIN IMMEDIATE), so a
// job's row changes whole; a checkpoint is committed before the host function that saved it
// returns (WAL with synchronous=NORMAL: a killed process loses nothing, a power cut at most the
// last transaction).
#include "jobs/store.hpp"

#include "base/result.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>

namespace kiln {

namespace jobs {

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace jobs

namespace {

using json = nlohmann::json;
using jobs::now_ms;

// Version 1 of the component "jobs". A job's options are JSON, so that new ones need no
// migration; times are milliseconds since the epoch.
constexpr const char* schema_v1 = R"(
CREATE TABLE jobs(
  id TEXT PRIMARY KEY,
  plugin TEXT NOT NULL,
  job TEXT NOT NULL,
  export TEXT NOT NULL,
  version TEXT NOT NULL,
  module_hash TEXT NOT NULL,
  status TEXT NOT NULL,
  request TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  checkpoint TEXT,
  fraction REAL NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT '',
  items_done INTEGER NOT NULL DEFAULT 0,
  items_total INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  attempts INTEGER NOT NULL DEFAULT 0,
  options TEXT NOT NULL DEFAULT '{}',
  retry_at INTEGER NOT NULL DEFAULT 0,
  owner TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  run_ms INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_by_status ON jobs(status);
CREATE TABLE job_logs(
  job TEXT NOT NULL,
  at INTEGER NOT NULL,
  level INTEGER NOT NULL,
  warning INTEGER NOT NULL DEFAULT 0,
  message TEXT NOT NULL
);
CREATE INDEX job_logs_by_job ON job_logs(job);
CREATE TABLE job_snapshots(
  job TEXT PRIMARY KEY,
  module_hash TEXT NOT NULL,
  taken_at INTEGER NOT NULL,
  data BLOB NOT NULL
);
)";

constexpr const char* columns =
    "id, plugin, job, export, version, module_hash, status, request, state, checkpoint, "
    "fraction, message, items_done, items_total, bytes, error, attempts, options, created_at, "
    "started_at, finished_at, run_ms, "
    "EXISTS(SELECT 1 FROM job_snapshots WHERE job_snapshots.job = jobs.id), retry_at";

std::string options_json(const JobOptions& o) {
    json j = {{"max_attempts", o.max_attempts},
              {"retry_backoff_ms", o.retry_backoff.count()},
              {"snapshots", o.snapshots},
              {"snapshot_every_ms", o.snapshot_every_ms},
              {"timeout_ms", o.timeout_ms}};
    if (!o.library_id.empty()) j["library_id"] = o.library_id;
    return j.dump();
}

/// The options of a row; what cannot be read keeps its default (the row is Kiln's own).
JobOptions parse_options(const std::string& text) {
    JobOptions o;
    json j = json::parse(text, nullptr, false);
    if (!j.is_object()) return o;
    auto get = [&](const char* key, auto& out) {
        auto it = j.find(key);
        if (it == j.end()) return;
        using T = std::decay_t<decltype(out)>;
        if constexpr (std::is_same_v<T, bool>) {
            if (it->is_boolean()) out = it->template get<bool>();
        } else if constexpr (std::is_same_v<T, std::string>) {
            if (it->is_string()) out = it->template get<std::string>();
        } else {
            if (it->is_number_unsigned()) out = T(it->template get<uint64_t>());
        }
    };
    get("max_attempts", o.max_attempts);
    uint64_t backoff = uint64_t(o.retry_backoff.count());
    get("retry_backoff_ms", backoff);
    o.retry_backoff = std::chrono::milliseconds(backoff);
    get("snapshots", o.snapshots);
    get("snapshot_every_ms", o.snapshot_every_ms);
    get("timeout_ms", o.timeout_ms);
    get("library_id", o.library_id);
    return o;
}

std::chrono::system_clock::time_point time_of(int64_t ms) {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

tl::unexpected<Error> bad_row(const std::string& id, std::string_view what) {
    return make_error(ErrorKind::malformed, fmt::format("job {}: unreadable row: {}", id, what));
}

/// A row of `columns`.
Result<JobInfo> read_row(const SqlRow& r) {
    JobInfo j;
    const std::string id = r.text(0);
    auto parsed = JobId::parse(id);
    if (!parsed) return bad_row(id, "id: not a UUID");
    j.id = *parsed;
    j.plugin = r.text(1);
    j.job = r.text(2);
    j.export_name = r.text(3);
    j.plugin_version = r.text(4);
    j.module_hash = r.text(5);
    auto status = parse_job_status(r.text(6));
    if (!status) return bad_row(id, fmt::format("status: \"{}\" is no job status", r.text(6)));
    j.status = *status;
    const std::string request = r.text(7);
    if (request == "pause") j.requested = JobStatus::paused;
    if (request == "cancel") j.requested = JobStatus::cancelled;
    j.state = r.text(8);
    if (!r.is_null(9)) j.checkpoint = r.text(9);
    j.progress.fraction = r.real(10);
    j.progress.message = r.text(11);
    j.progress.items_done = uint64_t(std::max<int64_t>(0, r.integer(12)));
    j.progress.items_total = uint64_t(std::max<int64_t>(0, r.integer(13)));
    j.progress.bytes = uint64_t(std::max<int64_t>(0, r.integer(14)));
    j.error = r.text(15);
    j.attempts = uint32_t(std::max<int64_t>(0, r.integer(16)));
    j.options = parse_options(r.text(17));
    j.created = time_of(r.integer(18));
    if (!r.is_null(19)) j.started = time_of(r.integer(19));
    if (!r.is_null(20)) j.finished = time_of(r.integer(20));
    j.run_time = std::chrono::milliseconds(r.integer(21));
    j.has_snapshot = r.integer(22) != 0;
    if (r.integer(23) > 0) j.retry_at = time_of(r.integer(23));
    return j;
}

Result<void> write_logs(SqlConnection& sql, const std::string& id,
                        const std::vector<JobLogEntry>& logs) {
    for (const JobLogEntry& e : logs) {
        using namespace std::chrono;
        int64_t at = duration_cast<milliseconds>(e.time.time_since_epoch()).count();
        KILN_CHECK(sql.exec("INSERT INTO job_logs(job, at, level, warning, message) "
                            "VALUES (?, ?, ?, ?, ?)",
                            {id, at, int64_t(e.level), int64_t(e.warning), e.message}));
    }
    return {};
}

Result<void> write_progress(SqlConnection& sql, const std::string& id, const JobProgress& p) {
    KILN_CHECK(sql.exec("UPDATE jobs SET fraction = ?, message = ?, items_done = ?, "
                        "items_total = ?, bytes = ? WHERE id = ?",
                        {p.fraction, p.message, int64_t(p.items_done), int64_t(p.items_total),
                         int64_t(p.bytes), id}));
    return {};
}

/// Writes what is pending, and forgets it once the transaction that holds it commits.
Result<void> write_pending(SqlConnection& sql, const std::string& id, const jobs::Pending& p) {
    if (p.progress_changed) KILN_CHECK(write_progress(sql, id, p.progress));
    return write_logs(sql, id, p.logs);
}

void written(jobs::Pending& p) {
    p.progress_changed = false;
    p.logs.clear();
}

tl::unexpected<Error> no_job(const JobId& id) {
    return make_error(ErrorKind::usage, fmt::format("no job {}", id.to_string()));
}

} // namespace

Result<void> JobStore::Impl::init() {
    return db->schema("jobs", 1, {schema_v1});
}

Result<void> JobStore::Impl::insert(std::span<const jobs::NewJob> jobs) {
    const int64_t now = now_ms();
    return db->transaction([&](SqlConnection& sql) -> Result<void> {
        for (const jobs::NewJob& j : jobs)
            KILN_CHECK(sql.exec("INSERT INTO jobs(id, plugin, job, export, version, module_hash, "
                                "status, state, options, created_at) "
                                "VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?)",
                                {j.id.to_string(), j.plugin, j.job, j.export_name, j.version,
                                 j.module_hash, j.state, options_json(j.options), now}));
        return {};
    });
}

Result<JobInfo> JobStore::Impl::get(const JobId& id) const {
    KILN_TRY(row, db->query_one(fmt::format("SELECT {} FROM jobs WHERE id = ?", columns),
                                {id.to_string()}));
    if (!row) return no_job(id);
    KILN_TRY(info, read_row(*row));
    KILN_TRY(warnings, db->query("SELECT message FROM job_logs WHERE job = ? AND warning = 1 "
                                 "ORDER BY rowid",
                                 {id.to_string()}));
    for (const SqlRow& w : warnings)
        info.warnings.push_back(w.text(0));
    return info;
}

Result<std::vector<JobInfo>> JobStore::Impl::list(std::optional<JobStatus> status) const {
    std::vector<SqlRow> rows;
    if (status) {
        KILN_TRY(r,
                 db->query(fmt::format("SELECT {} FROM jobs WHERE status = ? ORDER BY rowid DESC",
                                       columns),
                           {std::string(job_status_name(*status))}));
        rows = std::move(r);
    } else {
        KILN_TRY(r, db->query(fmt::format("SELECT {} FROM jobs ORDER BY rowid DESC", columns)));
        rows = std::move(r);
    }
    std::vector<JobInfo> out;
    for (const SqlRow& row : rows) {
        auto info = read_row(row);
        if (info) {
            out.push_back(std::move(*info));
            continue;
        }
        // A row Kiln cannot read is listed as failed with the reason, rather than hidden or
        // failing the whole list.
        JobInfo broken;
        if (auto id = JobId::parse(row.text(0))) broken.id = *id;
        broken.plugin = row.text(1);
        broken.job = row.text(2);
        broken.status = JobStatus::failed;
        broken.error = info.error().message;
        out.push_back(std::move(broken));
    }
    return out;
}

Result<std::vector<JobLogEntry>> JobStore::Impl::logs(const JobId& id) const {
    KILN_TRY(exists, db->query_one("SELECT 1 FROM jobs WHERE id = ?", {id.to_string()}));
    if (!exists) return no_job(id);
    KILN_TRY(rows, db->query("SELECT at, level, warning, message FROM job_logs WHERE job = ? "
                             "ORDER BY rowid",
                             {id.to_string()}));
    std::vector<JobLogEntry> out;
    for (const SqlRow& r : rows) {
        JobLogEntry e;
        e.time = time_of(r.integer(0));
        e.level = LogLevel(std::clamp<int64_t>(r.integer(1), 0, int64_t(LogLevel::error)));
        e.warning = r.integer(2) != 0;
        e.message = r.text(3);
        out.push_back(std::move(e));
    }
    return out;
}

namespace {

/// Runs `change` on the job's status and request in one transaction: it gets them and returns
/// the status to report, or an error.
Result<JobStatus> change_job(
    StateDb& db, const JobId& id,
    const std::function<Result<JobStatus>(SqlConnection&, JobStatus, const std::string& request)>&
        change) {
    JobStatus result = JobStatus::queued;
    KILN_CHECK(db.transaction([&](SqlConnection& sql) -> Result<void> {
        KILN_TRY(row,
                 sql.query_one("SELECT status, request FROM jobs WHERE id = ?", {id.to_string()}));
        if (!row) return no_job(id);
        auto status = parse_job_status(row->text(0));
        if (!status) return bad_row(id.to_string(), "status: not a job status");
        KILN_TRY(r, change(sql, *status, row->text(1)));
        result = r;
        return {};
    }));
    return result;
}

tl::unexpected<Error> already_final(const JobId& id, JobStatus status, std::string_view verb) {
    return make_error(ErrorKind::usage, fmt::format("job {} is {}: it cannot be {}", id.to_string(),
                                                    job_status_name(status), verb));
}

} // namespace

Result<JobStatus> JobStore::Impl::pause(const JobId& id) {
    return change_job(
        *db, id,
        [&](SqlConnection& sql, JobStatus status, const std::string&) -> Result<JobStatus> {
            if (is_final(status)) return already_final(id, status, "paused");
            if (status == JobStatus::queued) {
                KILN_CHECK(sql.exec("UPDATE jobs SET status = 'paused', request = '' WHERE id = ?",
                                    {id.to_string()}));
                return JobStatus::paused;
            }
            if (status == JobStatus::running)
                KILN_CHECK(
                    sql.exec("UPDATE jobs SET request = 'pause' WHERE id = ? AND request = ''",
                             {id.to_string()}));
            return status;
        });
}

Result<JobStatus> JobStore::Impl::resume(const JobId& id) {
    return change_job(
        *db, id,
        [&](SqlConnection& sql, JobStatus status, const std::string& request) -> Result<JobStatus> {
            if (is_final(status)) return already_final(id, status, "resumed");
            if (status == JobStatus::paused) {
                KILN_CHECK(sql.exec("UPDATE jobs SET status = 'queued', request = '', retry_at = 0 "
                                    "WHERE id = ?",
                                    {id.to_string()}));
                return JobStatus::queued;
            }
            if (status == JobStatus::running && request == "pause")
                KILN_CHECK(sql.exec("UPDATE jobs SET request = '' WHERE id = ?", {id.to_string()}));
            return status;
        });
}

Result<JobStatus> JobStore::Impl::cancel(const JobId& id) {
    return change_job(
        *db, id,
        [&](SqlConnection& sql, JobStatus status, const std::string&) -> Result<JobStatus> {
            if (is_final(status)) return already_final(id, status, "cancelled");
            if (status == JobStatus::running) {
                KILN_CHECK(
                    sql.exec("UPDATE jobs SET request = 'cancel' WHERE id = ?", {id.to_string()}));
                return status;
            }
            KILN_CHECK(
                sql.exec("UPDATE jobs SET status = 'cancelled', request = '', finished_at = ? "
                         "WHERE id = ?",
                         {now_ms(), id.to_string()}));
            KILN_CHECK(sql.exec("DELETE FROM job_snapshots WHERE job = ?", {id.to_string()}));
            return JobStatus::cancelled;
        });
}

namespace {

/// Marks the job of `row` running for `owner`, in the claiming transaction.
Result<JobInfo> take(SqlConnection& sql, const SqlRow& row, const std::string& owner) {
    KILN_TRY(info, read_row(row));
    const int64_t now = now_ms();
    KILN_CHECK(sql.exec("UPDATE jobs SET status = 'running', owner = ?, attempts = attempts + 1, "
                        "started_at = coalesce(started_at, ?) WHERE id = ?",
                        {owner, now, info.id.to_string()}));
    info.status = JobStatus::running;
    info.attempts++;
    if (!info.started) info.started = time_of(now);
    return info;
}

} // namespace

namespace {

/// claim_next inside a transaction.
Result<std::optional<JobInfo>> claim_in(SqlConnection& sql, const std::string& owner,
                                        const JobStore::Impl::Room& room) {
    // The oldest first (rowids grow with each insert), through the status index.
    KILN_TRY(rows, sql.query("SELECT rowid, plugin FROM jobs WHERE status = 'queued' AND "
                             "retry_at <= ? ORDER BY rowid LIMIT 32",
                             {now_ms()}));
    std::vector<std::string> full; // plugins found at their limit in this transaction
    for (const SqlRow& row : rows) {
        const std::string plugin = row.text(1);
        if (std::find(full.begin(), full.end(), plugin) != full.end()) continue;
        // Few jobs run at once: the status index finds them, the plugin is checked on each.
        KILN_TRY(n, sql.query_one("SELECT count(*) FROM jobs WHERE status = 'running' AND "
                                  "plugin = ?",
                                  {plugin}));
        if (!room(plugin, n ? n->integer(0) : 0)) {
            full.push_back(plugin);
            continue;
        }
        KILN_TRY(job, sql.query_one(fmt::format("SELECT {} FROM jobs WHERE rowid = ?", columns),
                                    {row.integer(0)}));
        if (!job) continue;
        KILN_TRY(info, take(sql, *job, owner));
        return std::optional<JobInfo>(std::move(info));
    }
    return std::optional<JobInfo>();
}

} // namespace

Result<std::optional<JobInfo>> JobStore::Impl::claim_next(const std::string& owner,
                                                          const Room& room) {
    std::optional<JobInfo> claimed;
    KILN_CHECK(db->transaction([&](SqlConnection& sql) -> Result<void> {
        KILN_TRY(next, claim_in(sql, owner, room));
        claimed = std::move(next);
        return {};
    }));
    return claimed;
}

Result<JobInfo> JobStore::Impl::claim(const JobId& id, const std::string& owner) {
    std::optional<JobInfo> claimed;
    KILN_CHECK(db->transaction([&](SqlConnection& sql) -> Result<void> {
        KILN_TRY(row, sql.query_one(fmt::format("SELECT {} FROM jobs WHERE id = ?", columns),
                                    {id.to_string()}));
        if (!row) return no_job(id);
        if (row->text(6) != "queued")
            return make_error(ErrorKind::usage, fmt::format("job {} is {}, not queued",
                                                            id.to_string(), row->text(6)));
        KILN_TRY(info, take(sql, *row, owner));
        claimed = std::move(info);
        return {};
    }));
    return std::move(*claimed);
}

Result<void> JobStore::Impl::flush(const JobId& id, jobs::Pending& pending) {
    if (!pending.progress_changed && pending.logs.empty()) return {};
    KILN_CHECK(db->transaction(
        [&](SqlConnection& sql) { return write_pending(sql, id.to_string(), pending); }));
    written(pending);
    return {};
}

Result<void> JobStore::Impl::checkpoint(const JobId& id, std::string_view state,
                                        jobs::Pending& pending) {
    KILN_CHECK(db->transaction([&](SqlConnection& sql) -> Result<void> {
        KILN_CHECK(write_pending(sql, id.to_string(), pending));
        KILN_CHECK(sql.exec("UPDATE jobs SET checkpoint = ? WHERE id = ?",
                            {std::string(state), id.to_string()}));
        // A snapshot older than the checkpoint would resume before it, and run its steps again.
        KILN_CHECK(sql.exec("DELETE FROM job_snapshots WHERE job = ?", {id.to_string()}));
        return {};
    }));
    written(pending);
    return {};
}

Result<std::optional<JobInfo>> JobStore::Impl::finish(const JobId& id, const std::string& owner,
                                                      const jobs::RunResult& r, int64_t run_ms,
                                                      jobs::Pending& pending, const Room* room) {
    const std::string key = id.to_string();
    std::optional<JobInfo> next;
    KILN_CHECK(db->transaction([&](SqlConnection& sql) -> Result<void> {
        const bool final = is_final(r.status);
        // Only while this owner holds it: a job another worker took over (this one was taken
        // for dead) is that one's.
        KILN_TRY(changed,
                 sql.exec("UPDATE jobs SET status = ?, request = '', owner = '', error = ?, "
                          "retry_at = ?, finished_at = CASE WHEN ? THEN ? END, "
                          "run_ms = run_ms + ? WHERE id = ? AND owner = ?",
                          {std::string(job_status_name(r.status)), r.error, r.retry_at,
                           int64_t(final), now_ms(), run_ms, key, owner}));
        if (changed) {
            KILN_CHECK(write_pending(sql, key, pending));
            if (r.checkpoint)
                KILN_CHECK(
                    sql.exec("UPDATE jobs SET checkpoint = ? WHERE id = ?", {*r.checkpoint, key}));
            if (r.drop_snapshot || final)
                KILN_CHECK(sql.exec("DELETE FROM job_snapshots WHERE job = ?", {key}));
        }
        if (room) {
            KILN_TRY(claimed, claim_in(sql, owner, *room));
            next = std::move(claimed);
        }
        return {};
    }));
    written(pending);
    return next;
}

Result<void> JobStore::Impl::set_version(const JobId& id, const std::string& version,
                                         const std::string& hash,
                                         const std::optional<std::string>& checkpoint) {
    return db->transaction([&](SqlConnection& sql) -> Result<void> {
        KILN_CHECK(sql.exec("UPDATE jobs SET version = ?, module_hash = ? WHERE id = ?",
                            {version, hash, id.to_string()}));
        if (checkpoint)
            KILN_CHECK(sql.exec("UPDATE jobs SET checkpoint = ? WHERE id = ?",
                                {*checkpoint, id.to_string()}));
        return {};
    });
}

Result<void> JobStore::Impl::add_logs(const JobId& id, const std::vector<JobLogEntry>& logs) {
    if (logs.empty()) return {};
    return db->transaction(
        [&](SqlConnection& sql) { return write_logs(sql, id.to_string(), logs); });
}

Result<void> JobStore::Impl::save_snapshot(const JobId& id, const std::string& module_hash,
                                           std::span<const uint8_t> bytes) {
    KILN_CHECK(
        db->exec("INSERT INTO job_snapshots(job, module_hash, taken_at, data) "
                 "VALUES (?, ?, ?, ?) ON CONFLICT(job) DO UPDATE SET "
                 "module_hash = excluded.module_hash, taken_at = excluded.taken_at, "
                 "data = excluded.data",
                 {id.to_string(), module_hash, now_ms(), SqlBlob(bytes.begin(), bytes.end())}));
    return {};
}

Result<std::optional<jobs::StoredSnapshot>> JobStore::Impl::load_snapshot(const JobId& id) const {
    KILN_TRY(row, db->query_one("SELECT module_hash, data FROM job_snapshots WHERE job = ?",
                                {id.to_string()}));
    if (!row) return std::optional<jobs::StoredSnapshot>();
    return jobs::StoredSnapshot{row->text(0), row->blob(1)};
}

Result<void> JobStore::Impl::drop_snapshot(const JobId& id) {
    KILN_CHECK(db->exec("DELETE FROM job_snapshots WHERE job = ?", {id.to_string()}));
    return {};
}

Result<std::vector<std::pair<JobId, std::string>>>
JobStore::Impl::requests(const std::string& owner) const {
    KILN_TRY(rows, db->query("SELECT id, request FROM jobs WHERE owner = ? AND status = 'running' "
                             "AND request != ''",
                             {owner}));
    std::vector<std::pair<JobId, std::string>> out;
    for (const SqlRow& r : rows)
        if (auto id = JobId::parse(r.text(0))) out.emplace_back(*id, r.text(1));
    return out;
}

Result<std::vector<std::pair<JobId, std::string>>> JobStore::Impl::running() const {
    KILN_TRY(rows, db->query("SELECT id, owner FROM jobs WHERE status = 'running'"));
    std::vector<std::pair<JobId, std::string>> out;
    for (const SqlRow& r : rows)
        if (auto id = JobId::parse(r.text(0))) out.emplace_back(*id, r.text(1));
    return out;
}

Result<bool> JobStore::Impl::recover(const JobId& id, const std::string& dead_owner,
                                     bool resumable) {
    bool recovered = false;
    const std::string key = id.to_string();
    KILN_CHECK(db->transaction([&](SqlConnection& sql) -> Result<void> {
        KILN_TRY(row, sql.query_one("SELECT request FROM jobs WHERE id = ? AND status = 'running' "
                                    "AND owner = ?",
                                    {key, dead_owner}));
        if (!row) return {};
        recovered = true;
        const std::string request = row->text(0);
        // What was asked of the job while its worker was gone is carried out now.
        std::string status = request == "cancel"  ? "cancelled"
                             : request == "pause" ? "paused"
                             : resumable          ? "queued"
                                                  : "failed";
        std::string message =
            status == "failed"
                ? "its worker stopped while it ran, and the job cannot resume"
                : fmt::format("its worker stopped while it ran; {}",
                              status == "queued" ? "resuming from its last snapshot or checkpoint"
                                                 : "it is now " + status);
        const bool final = status != "queued" && status != "paused";
        KILN_CHECK(sql.exec("UPDATE jobs SET status = ?, request = '', owner = '', "
                            "finished_at = CASE WHEN ? THEN ? END, "
                            "error = CASE WHEN ? = 'failed' THEN ? ELSE error END WHERE id = ?",
                            {status, int64_t(final), now_ms(), status, message, key}));
        KILN_CHECK(write_logs(
            sql, key,
            {JobLogEntry{std::chrono::system_clock::now(), LogLevel::warn, true, message}}));
        return {};
    }));
    return recovered;
}

// ---- JobStore ------------------------------------------------------------------------------

JobStore::JobStore(std::shared_ptr<Impl> impl) : m_impl(std::move(impl)) {}

Result<JobStore> JobStore::open(const std::string& path) {
    KILN_TRY(db, StateDb::open(path));
    return open(std::move(db));
}

Result<JobStore> JobStore::open(std::shared_ptr<StateDb> db) {
    auto impl = std::make_shared<Impl>();
    impl->db = std::move(db);
    KILN_CHECK(impl->init());
    return JobStore(std::move(impl));
}

Result<std::vector<JobInfo>> JobStore::list(std::optional<JobStatus> status) const {
    return m_impl->list(status);
}

Result<JobInfo> JobStore::get(const JobId& id) const {
    return m_impl->get(id);
}

Result<std::vector<JobLogEntry>> JobStore::logs(const JobId& id) const {
    return m_impl->logs(id);
}

Result<JobStatus> JobStore::pause(const JobId& id) {
    return m_impl->pause(id);
}

Result<JobStatus> JobStore::resume(const JobId& id) {
    return m_impl->resume(id);
}

Result<JobStatus> JobStore::cancel(const JobId& id) {
    return m_impl->cancel(id);
}

const std::shared_ptr<StateDb>& JobStore::db() const {
    return m_impl->db;
}

} // namespace kiln
