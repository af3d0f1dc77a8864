// A job meets another version of its plugin (refused, or migrated with migrate_state), a
// snapshot that cannot be restored, damaged rows in the database, and a full disk.
#include "job_test_util.hpp"

#include <sys/resource.h>
#include <sys/wait.h>

#include <csignal>

namespace kiln::job_test {
namespace {

/// Runs job_counter's count until it has a checkpoint, then pauses it; its id.
JobId paused_count(JobEnv& env, JobOptions options = {}) {
    JobId id = env.dispatch({.plugin = "job_counter",
                             .job = "count",
                             .state = counter_state(200, 10, 50000, JobEnv::guest_path()),
                             .options = options});
    env.runner->start();
    env.wait_until(id, [](const JobInfo& j) { return j.checkpoint.has_value(); });
    EXPECT_TRUE(env.store->pause(id));
    JobInfo j = env.wait_until(id, [](const JobInfo& j) { return j.status == JobStatus::paused; });
    EXPECT_EQ(j.status, JobStatus::paused);
    return id;
}

TEST(Versions, ADifferentModuleWithoutMigrateStateIsRefused) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = paused_count(env);
    const std::string old_hash = env.get(id).module_hash;
    env.install("v2-plain", "job_counter");
    env.restart();
    ASSERT_TRUE(env.store->resume(id));
    ASSERT_EQ(env.runner->run(id).value(), JobStatus::failed);
    JobInfo j = env.get(id);
    const std::string prefix = "it was started with job_counter 1.0.0 (module sha256 " +
                               old_hash.substr(0, 12) +
                               "...) and cannot resume on 2.0.0 (module "
                               "sha256 ";
    EXPECT_EQ(j.error.substr(0, prefix.size()), prefix);
    EXPECT_EQ(j.error.substr(prefix.size() + 12), "...): the plugin exports no migrate_state");
    EXPECT_NE(j.error.substr(prefix.size(), 12), old_hash.substr(0, 12));
    EXPECT_EQ(j.module_hash, old_hash);   // still what it ran with
    EXPECT_EQ(j.plugin_version, "1.0.0"); // still the version it ran with
    EXPECT_EQ(j.attempts, 2u);            // not retried
}

TEST(Versions, MigrateStateCarriesTheCheckpointOver) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = paused_count(env);
    const uint64_t at = *json_number(*env.get(id).checkpoint, "step");
    env.install("v2", "job_counter");
    env.restart();
    ASSERT_TRUE(env.store->resume(id));
    ASSERT_EQ(env.runner->run(id).value(), JobStatus::completed);
    JobInfo j = env.get(id);
    EXPECT_EQ(j.plugin_version, "2.0.0");
    ASSERT_TRUE(j.checkpoint);
    EXPECT_NE(j.checkpoint->find("\"migrated_from\":\"1.0.0\""), std::string::npos)
        << *j.checkpoint;
    EXPECT_EQ(json_number(*j.checkpoint, "step"), 200u) << *j.checkpoint << env.log_text(id);
    EXPECT_NE(env.log_text(id).find("info state migrated from 1.0.0 to 2.0.0"), std::string::npos);
    std::vector<uint64_t> steps = read_steps(env.steps_file());
    ASSERT_EQ(steps.size(), 200u); // resumed after `at`, nothing done twice
    for (size_t i = 0; i < steps.size(); ++i)
        ASSERT_EQ(steps[i], i + 1) << "resumed at " << at;
}

TEST(Versions, ASnapshotOfAnotherVersionFallsBackToTheCheckpoint) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = paused_count(env, {.snapshots = true});
    JobInfo before = env.get(id);
    ASSERT_TRUE(before.has_snapshot);
    ASSERT_TRUE(before.checkpoint);
    env.install("v2", "job_counter");
    env.restart();
    ASSERT_TRUE(env.store->resume(id));
    ASSERT_EQ(env.runner->run(id).value(), JobStatus::completed);
    JobInfo j = env.get(id);
    ASSERT_EQ(j.warnings.size(), 1u);
    EXPECT_EQ(j.warnings[0].substr(0, 44), "its snapshot was taken with job_counter 1.0.");
    EXPECT_NE(j.warnings[0].find("resuming from the last checkpoint"), std::string::npos);
    EXPECT_EQ(json_number(*j.checkpoint, "step"), 200u);
    // Every step ran, those after the checkpoint perhaps twice.
    std::vector<uint64_t> steps = read_steps(env.steps_file());
    std::vector<bool> seen(201);
    for (uint64_t s : steps)
        seen.at(s) = true;
    for (uint64_t s = 1; s <= 200; ++s)
        EXPECT_TRUE(seen[s]) << s;
}

TEST(Versions, AJobThatNeverRanStartsOnTheNewVersion) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = env.dispatch({.plugin = "job_counter", .job = "noop"});
    env.install("v2-plain", "job_counter");
    env.restart();
    ASSERT_EQ(env.runner->run(id).value(), JobStatus::completed);
    EXPECT_EQ(env.get(id).plugin_version, "2.0.0");
}

TEST(DamagedRows, ACheckpointThatIsNotJsonFailsTheJobClearly) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = env.dispatch({.plugin = "job_counter", .job = "count"});
    ASSERT_TRUE(env.store->db()->exec("UPDATE jobs SET checkpoint = ? WHERE id = ?",
                                      {std::string("{\"step\":4, \"tar"), id.to_string()}));
    ASSERT_EQ(env.runner->run(id).value(), JobStatus::failed);
    EXPECT_EQ(env.get(id).error,
              "its checkpoint in the database is not JSON (damaged?): it cannot resume");
}

TEST(DamagedRows, ASnapshotThatCannotBeReadFallsBackWithAWarning) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = paused_count(env, {.snapshots = true});
    ASSERT_TRUE(env.get(id).has_snapshot);
    ASSERT_TRUE(env.store->db()->exec("UPDATE job_snapshots SET data = ? WHERE job = ?",
                                      {SqlBlob{'K', 'I', 'L', 'N', 0, 1, 2}, id.to_string()}));
    ASSERT_TRUE(env.store->resume(id));
    ASSERT_EQ(env.runner->run(id).value(), JobStatus::completed);
    JobInfo j = env.get(id);
    ASSERT_EQ(j.warnings.size(), 1u);
    EXPECT_EQ(j.warnings[0].substr(0, 31), "its snapshot cannot be restored");
    EXPECT_NE(j.warnings[0].find("resuming from the last checkpoint"), std::string::npos);
}

TEST(DamagedRows, ARowThatCannotBeReadIsReportedNotHidden) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = env.dispatch({.plugin = "job_counter", .job = "noop"});
    JobId other = env.dispatch({.plugin = "job_counter", .job = "noop"});
    ASSERT_TRUE(env.store->db()->exec("UPDATE jobs SET status = 'half-done' WHERE id = ?",
                                      {id.to_string()}));
    auto one = env.store->get(id);
    ASSERT_FALSE(one);
    EXPECT_EQ(one.error().message,
              "job " + id.to_string() + ": unreadable row: status: \"half-done\" is no job status");
    auto all = env.store->list();
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 2u);
    EXPECT_EQ((*all)[1].id, id);
    EXPECT_EQ((*all)[1].status, JobStatus::failed);
    EXPECT_EQ((*all)[1].error, one.error().message);
    // The readable job runs; the other is never taken.
    env.runner->start();
    EXPECT_EQ(env.wait_until(other, [](const JobInfo& j) { return is_final(j.status); }).status,
              JobStatus::completed);
    EXPECT_FALSE(env.runner->run(id));
}

/// A full disk: a child process whose files may not grow past 256 KiB runs a job that
/// checkpoints at every step. The checkpoint that does not fit is refused to the guest, which
/// fails; the end of the run cannot be written either, so the job stays with the dead child
/// until a runner hands it back to the queue, its last checkpoint whole.
TEST(FullDisk, ACheckpointThatCannotBeWrittenIsAnErrorForTheGuest) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = env.dispatch(
        {.plugin = "job_counter", .job = "count", .state = counter_state(1000000, 1, 0)});
    // The tables exist and the WAL is empty before the limit.
    ASSERT_TRUE(env.store->db()->exec("PRAGMA wal_checkpoint(TRUNCATE)"));
    env.close();
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        signal(SIGXFSZ, SIG_IGN); // a write past the limit fails with EFBIG instead
        rlimit limit{256 * 1024, 256 * 1024};
        setrlimit(RLIMIT_FSIZE, &limit);
        env.open();
        auto ended = env.runner->run(id);
        const bool ok =
            !ended && ended.error().message.find("ended failed (checkpoint failed) but that "
                                                 "could not be recorded") != std::string::npos;
        if (!ok)
            fprintf(stderr, "child: %s\n", ended ? "completed" : ended.error().message.c_str());
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
    env.open();
    JobInfo j = env.wait_until(id, [](const JobInfo& j) { return j.status == JobStatus::queued; });
    EXPECT_EQ(j.status, JobStatus::queued);
    ASSERT_TRUE(j.checkpoint);
    EXPECT_GT(json_number(*j.checkpoint, "step").value_or(0), 10u);
}

} // namespace
} // namespace kiln::job_test
