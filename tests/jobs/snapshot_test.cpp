// Transparent snapshots: job_counter's spin export makes no job host call, yet it is paused in
// the middle of its call, stored, restored (in this runner or a new one) and finishes with the
// result of an uninterrupted run.
#include "job_test_util.hpp"

namespace kiln::job_test {
namespace {

constexpr uint64_t target = 3000;
constexpr uint64_t work = 20000;

/// The output of spin run without interruption.
std::string uninterrupted(JobEnv& env) {
    JobId id = env.dispatch({.plugin = "job_counter",
                             .job = "spin",
                             .state = counter_state(target, 0, work, JobEnv::guest_path("ref"))});
    auto ended = env.runner->run(id);
    EXPECT_TRUE(ended && *ended == JobStatus::completed);
    JobInfo j = env.get(id);
    EXPECT_TRUE(j.checkpoint);
    return j.checkpoint.value_or("");
}

JobId start_spin(JobEnv& env, JobOptions options = {.snapshots = true}) {
    JobId id = env.dispatch({.plugin = "job_counter",
                             .job = "spin",
                             .state = counter_state(target, 0, work, JobEnv::guest_path()),
                             .options = options});
    env.runner->start();
    // Let it get some way into its one call.
    env.wait_until(id, [&](const JobInfo&) { return read_steps(env.steps_file()).size() >= 200; });
    return id;
}

void expect_all_steps(const JobEnv& env) {
    // Steps after the snapshot ran again after it (their lines are written twice), but none is
    // missing.
    std::vector<uint64_t> steps = read_steps(env.steps_file());
    std::vector<bool> seen(target + 1);
    for (uint64_t s : steps)
        if (s <= target) seen[s] = true;
    for (uint64_t s = 1; s <= target; ++s)
        ASSERT_TRUE(seen[s]) << "step " << s << " never ran";
}

TEST(Snapshots, APauseSuspendsTheCallAndAResumeContinuesIt) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    const std::string expected = uninterrupted(env);
    JobId id = start_spin(env);
    ASSERT_TRUE(env.store->pause(id));
    JobInfo paused =
        env.wait_until(id, [](const JobInfo& j) { return j.status == JobStatus::paused; });
    ASSERT_EQ(paused.status, JobStatus::paused);
    EXPECT_TRUE(paused.has_snapshot);
    EXPECT_FALSE(paused.checkpoint); // the guest saved nothing itself
    const size_t at_pause = read_steps(env.steps_file()).size();
    EXPECT_LT(at_pause, target);
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(read_steps(env.steps_file()).size(), at_pause);

    ASSERT_TRUE(env.store->resume(id));
    JobInfo done = env.wait_until(id, [](const JobInfo& j) { return is_final(j.status); });
    ASSERT_EQ(done.status, JobStatus::completed) << done.error;
    EXPECT_EQ(done.checkpoint.value_or(""), expected);
    EXPECT_FALSE(done.has_snapshot); // dropped once the job ended
    expect_all_steps(env);
}

TEST(Snapshots, ANewProcessRestoresTheSnapshot) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    const std::string expected = uninterrupted(env);
    JobId id = start_spin(env);
    ASSERT_TRUE(env.store->pause(id));
    ASSERT_EQ(
        env.wait_until(id, [](const JobInfo& j) { return j.status == JobStatus::paused; }).status,
        JobStatus::paused);
    env.restart(); // a new manager, runner and instances
    ASSERT_TRUE(env.store->resume(id));
    auto ended = env.runner->run(id);
    ASSERT_TRUE(ended) << ended.error().message;
    EXPECT_EQ(*ended, JobStatus::completed);
    EXPECT_EQ(env.get(id).checkpoint.value_or(""), expected);
    expect_all_steps(env);
}

TEST(Snapshots, AStoppingWorkerSnapshotsItsJobsForTheNext) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    const std::string expected = uninterrupted(env);
    JobId id = start_spin(env);
    env.runner->stop();
    JobInfo queued = env.get(id);
    EXPECT_EQ(queued.status, JobStatus::queued);
    EXPECT_TRUE(queued.has_snapshot);
    env.restart();
    env.runner->start();
    JobInfo done = env.wait_until(id, [](const JobInfo& j) { return is_final(j.status); });
    EXPECT_EQ(done.status, JobStatus::completed);
    EXPECT_EQ(done.checkpoint.value_or(""), expected);
}

TEST(Snapshots, PeriodicSnapshotsAreStoredWhileTheJobRuns) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    const std::string expected = uninterrupted(env);
    JobId id = start_spin(env, {.snapshot_every_ms = 30});
    JobInfo j = env.wait_until(id, [](const JobInfo& j) { return j.has_snapshot; });
    EXPECT_TRUE(j.has_snapshot);
    EXPECT_EQ(j.status, JobStatus::running);
    JobInfo done = env.wait_until(id, [](const JobInfo& j) { return is_final(j.status); });
    EXPECT_EQ(done.status, JobStatus::completed);
    // Suspended and resumed many times, the call still ends as an uninterrupted one.
    EXPECT_EQ(done.checkpoint.value_or(""), expected);
}

TEST(Snapshots, ACancelStopsAJobWithSnapshotsAtOnce) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = start_spin(env);
    const auto asked = std::chrono::steady_clock::now();
    ASSERT_TRUE(env.store->cancel(id));
    JobInfo j = env.wait_until(id, [](const JobInfo& j) { return is_final(j.status); });
    EXPECT_EQ(j.status, JobStatus::cancelled);
    EXPECT_FALSE(j.has_snapshot);
    EXPECT_LT(std::chrono::steady_clock::now() - asked, 250ms); // well within the grace
}

TEST(Snapshots, ACheckpointReplacesAnOlderSnapshot) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    // count checkpoints every 50 steps and is snapshotted every 20 ms: whichever came last is
    // what a resume starts from, so no step before it runs again.
    JobId id = env.dispatch({.plugin = "job_counter",
                             .job = "count",
                             .state = counter_state(1500, 50, 20000, JobEnv::guest_path()),
                             .options = JobOptions{.snapshot_every_ms = 20}});
    env.runner->start();
    env.wait_until(id, [](const JobInfo& j) { return j.progress.items_done >= 300; });
    env.runner->stop();
    env.restart();
    env.runner->start();
    JobInfo done = env.wait_until(id, [](const JobInfo& j) { return is_final(j.status); });
    ASSERT_EQ(done.status, JobStatus::completed) << done.error;
    std::vector<uint64_t> steps = read_steps(env.steps_file());
    // Stopped with a snapshot or after the guest's own stop: either way every step ran once.
    ASSERT_EQ(steps.size(), 1500u) << env.log_text(id);
    for (size_t i = 0; i < steps.size(); ++i)
        ASSERT_EQ(steps[i], i + 1);
}

} // namespace
} // namespace kiln::job_test
