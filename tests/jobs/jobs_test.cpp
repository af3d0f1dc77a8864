// Jobs of an Extism-ABI plugin (fixtures/job_counter): ids, the store, running to the end,
// checkpoints, pause, resume, cancel, retries and concurrency limits.
#include "job_test_util.hpp"

#include <cstring>
#include <set>

namespace kiln::job_test {
namespace {

TEST(JobId, ReadsAndWritesTheUuidForm) {
    auto id = JobId::parse("123E4567-e89b-12d3-a456-426614174000");
    ASSERT_TRUE(id);
    EXPECT_EQ(id->bytes[0], 0x12);
    EXPECT_EQ(id->bytes[1], 0x3e);
    EXPECT_EQ(id->bytes[15], 0x00);
    EXPECT_EQ(id->to_string(), "123e4567-e89b-12d3-a456-426614174000");
    for (const char* bad :
         {"", "123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400g",
          "123e4567-e89b-12d3-a456-4266141740000", "123e4567+e89b-12d3-a456-426614174000"})
        EXPECT_FALSE(JobId::parse(bad)) << bad;
}

TEST(JobId, NewIdsAreVersion7DifferAndSortByTime) {
    std::set<std::string> seen;
    JobId last = JobId::random();
    for (int i = 0; i < 1000; ++i) {
        JobId id = JobId::random();
        EXPECT_EQ(id.bytes[6] >> 4, 7);
        EXPECT_EQ(id.bytes[8] >> 6, 2);
        // The first 48 bits, the time in milliseconds, never go back.
        EXPECT_GE(std::memcmp(id.bytes.data(), last.bytes.data(), 6), 0);
        seen.insert(id.to_string());
        last = id;
    }
    EXPECT_EQ(seen.size(), 1000u);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    uint64_t stamp = 0;
    for (int i = 0; i < 6; ++i)
        stamp = stamp << 8 | last.bytes[size_t(i)];
    EXPECT_LE(uint64_t(ms) - stamp, 1000u);
}

TEST(JobStatusNames, RoundTrip) {
    for (JobStatus s : {JobStatus::queued, JobStatus::running, JobStatus::paused,
                        JobStatus::completed, JobStatus::failed, JobStatus::cancelled})
        EXPECT_EQ(parse_job_status(job_status_name(s)), s);
    EXPECT_FALSE(parse_job_status("done"));
    EXPECT_TRUE(is_final(JobStatus::cancelled));
    EXPECT_FALSE(is_final(JobStatus::paused));
}

TEST(Jobs, DispatchRecordsTheJobQueued) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = env.dispatch({.plugin = "job_counter", .job = "count", .state = "{\"target\":3}"});
    JobInfo j = env.get(id);
    EXPECT_EQ(j.status, JobStatus::queued);
    EXPECT_EQ(j.plugin, "job_counter");
    EXPECT_EQ(j.job, "count");
    EXPECT_EQ(j.export_name, "count");
    EXPECT_EQ(j.plugin_version, "1.0.0");
    EXPECT_EQ(j.module_hash.size(), 64u);
    EXPECT_EQ(j.state, "{\"target\":3}");
    EXPECT_FALSE(j.checkpoint);
    EXPECT_EQ(j.attempts, 0u);
    auto all = env.store->list();
    ASSERT_TRUE(all);
    ASSERT_EQ(all->size(), 1u);
    EXPECT_EQ((*all)[0].id, id);
}

TEST(Jobs, DispatchRefusesWhatDoesNotExist) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    auto no_plugin = env.runner->dispatch({.plugin = "nothing", .job = "count"});
    ASSERT_FALSE(no_plugin);
    EXPECT_EQ(no_plugin.error().message, "no plugin nothing");
    auto no_job = env.runner->dispatch({.plugin = "job_counter", .job = "sleep"});
    ASSERT_FALSE(no_job);
    EXPECT_EQ(no_job.error().message,
              "plugin job_counter has no job sleep (its jobs: count, spin, flaky, noop)");
    auto no_export = env.runner->dispatch({.plugin = "job_counter", .export_name = "nope"});
    ASSERT_FALSE(no_export);
    EXPECT_EQ(no_export.error().message, "plugin job_counter has no export nope");
    // "PLUGIN:JOB" names the job too.
    EXPECT_TRUE(env.runner->dispatch({.plugin = "job_counter", .job = "job_counter:noop"}));
}

TEST(Jobs, RunsToTheEndWithProgressLogsAndCheckpoints) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = env.dispatch({.plugin = "job_counter",
                             .job = "count",
                             .state = counter_state(25, 10, 0, JobEnv::guest_path())});
    auto ended = env.runner->run(id);
    ASSERT_TRUE(ended) << ended.error().message;
    EXPECT_EQ(*ended, JobStatus::completed);
    JobInfo j = env.get(id);
    EXPECT_EQ(j.status, JobStatus::completed);
    EXPECT_EQ(j.progress.fraction, 1.0);
    EXPECT_EQ(j.progress.message, "step 25 of 25");
    EXPECT_EQ(j.progress.items_done, 25u);
    EXPECT_EQ(j.progress.items_total, 25u);
    ASSERT_TRUE(j.checkpoint); // the export's output, its final state
    EXPECT_EQ(json_number(*j.checkpoint, "step"), 25u);
    EXPECT_EQ(j.attempts, 1u);
    EXPECT_TRUE(j.started && j.finished);
    EXPECT_FALSE(j.has_snapshot);
    std::vector<uint64_t> steps = read_steps(env.steps_file());
    ASSERT_EQ(steps.size(), 25u);
    for (uint64_t i = 0; i < 25; ++i)
        EXPECT_EQ(steps[i], i + 1);
    const std::string log = env.log_text(id);
    EXPECT_NE(log.find("info count: starting\n"), std::string::npos) << log;
    EXPECT_NE(log.find("info count: done\n"), std::string::npos) << log;
}

TEST(Jobs, ACheckpointIsInTheDatabaseBeforeTheGuestGoesOn) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    // Slow steps, a checkpoint every 5: read the row while the job runs.
    JobId id = env.dispatch({.plugin = "job_counter",
                             .job = "count",
                             .state = counter_state(2000, 5, 200000, JobEnv::guest_path())});
    std::thread t([&] { (void)env.runner->run(id); });
    JobInfo j = env.wait_until(id, [](const JobInfo& j) { return j.checkpoint.has_value(); });
    ASSERT_TRUE(j.checkpoint);
    uint64_t saved = *json_number(*j.checkpoint, "step");
    EXPECT_EQ(saved % 5, 0u);
    // The guest wrote that step before checkpointing it.
    auto steps = read_steps(env.steps_file());
    EXPECT_GE(steps.size(), saved);
    ASSERT_TRUE(env.store->cancel(id));
    t.join();
}

TEST(Jobs, PauseResumeAndNoStepRunsTwiceAfterItsCheckpoint) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = env.dispatch({.plugin = "job_counter",
                             .job = "count",
                             .state = counter_state(400, 1, 100000, JobEnv::guest_path())});
    env.runner->start();
    env.wait_until(id, [](const JobInfo& j) { return j.progress.items_done >= 20; });
    auto asked = env.store->pause(id);
    ASSERT_TRUE(asked) << asked.error().message;
    JobInfo paused =
        env.wait_until(id, [](const JobInfo& j) { return j.status == JobStatus::paused; });
    ASSERT_EQ(paused.status, JobStatus::paused);
    ASSERT_TRUE(paused.checkpoint);
    const uint64_t at = *json_number(*paused.checkpoint, "step");
    EXPECT_GE(at, 20u);
    EXPECT_LT(at, 400u);
    const size_t lines_when_paused = read_steps(env.steps_file()).size();
    // Paused stays paused.
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(env.get(id).status, JobStatus::paused);
    EXPECT_EQ(read_steps(env.steps_file()).size(), lines_when_paused);

    auto resumed = env.store->resume(id);
    ASSERT_TRUE(resumed);
    EXPECT_EQ(*resumed, JobStatus::queued);
    JobInfo done =
        env.wait_until(id, [](const JobInfo& j) { return j.status == JobStatus::completed; });
    ASSERT_EQ(done.status, JobStatus::completed);
    EXPECT_EQ(done.attempts, 2u);
    std::vector<uint64_t> steps = read_steps(env.steps_file());
    ASSERT_EQ(steps.size(), 400u);
    for (uint64_t i = 0; i < 400; ++i)
        EXPECT_EQ(steps[i], i + 1);
}

TEST(Jobs, PauseAndResumeOfAQueuedJob) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = env.dispatch({.plugin = "job_counter", .job = "noop"});
    EXPECT_EQ(env.store->pause(id).value(), JobStatus::paused);
    EXPECT_EQ(env.store->pause(id).value(), JobStatus::paused);
    auto not_queued = env.runner->run(id);
    ASSERT_FALSE(not_queued);
    EXPECT_EQ(not_queued.error().message, "job " + id.to_string() + " is paused, not queued");
    EXPECT_EQ(env.store->resume(id).value(), JobStatus::queued);
    EXPECT_EQ(env.runner->run(id).value(), JobStatus::completed);
    auto again = env.store->pause(id);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().message,
              "job " + id.to_string() + " is completed: it cannot be paused");
}

TEST(Jobs, CancelAQueuedOrPausedJobAtOnce) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId a = env.dispatch({.plugin = "job_counter", .job = "noop"});
    EXPECT_EQ(env.store->cancel(a).value(), JobStatus::cancelled);
    JobInfo j = env.get(a);
    EXPECT_EQ(j.status, JobStatus::cancelled);
    EXPECT_TRUE(j.finished);
    JobId b = env.dispatch({.plugin = "job_counter", .job = "noop"});
    ASSERT_TRUE(env.store->pause(b));
    EXPECT_EQ(env.store->cancel(b).value(), JobStatus::cancelled);
    EXPECT_FALSE(env.store->resume(b));
    auto unknown = env.store->cancel(JobId::random());
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().kind, ErrorKind::usage);
}

TEST(Jobs, ACancelledJobSeesTwoAtItsNextCheck) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = env.dispatch({.plugin = "job_counter",
                             .job = "count",
                             .state = counter_state(100000, 0, 100000, JobEnv::guest_path())});
    std::thread t([&] {
        auto r = env.runner->run(id);
        EXPECT_EQ(r.value(), JobStatus::cancelled);
    });
    env.wait_until(id, [](const JobInfo& j) { return j.progress.items_done >= 5; });
    EXPECT_EQ(env.store->cancel(id).value(), JobStatus::running); // asked; carried out soon
    t.join();
    JobInfo j = env.get(id);
    EXPECT_EQ(j.status, JobStatus::cancelled);
    EXPECT_LT(j.progress.items_done, 100000u);
    // The guest returned on its own (it checks every step): no interruption was needed.
    EXPECT_EQ(j.error, "");
}

TEST(Jobs, AJobThatNeverChecksIsStoppedAfterTheCancelGrace) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    // spin makes no job host call; without snapshots it is interrupted after the grace.
    JobId id = env.dispatch({.plugin = "job_counter",
                             .job = "spin",
                             .state = counter_state(1000000000, 0, 1000),
                             .options = JobOptions{}});
    std::thread t([&] { (void)env.runner->run(id); });
    env.wait_until(id, [](const JobInfo& j) { return j.status == JobStatus::running; });
    std::this_thread::sleep_for(50ms);
    const auto asked = std::chrono::steady_clock::now();
    ASSERT_TRUE(env.store->cancel(id));
    t.join();
    const auto took = std::chrono::steady_clock::now() - asked;
    EXPECT_EQ(env.get(id).status, JobStatus::cancelled);
    EXPECT_GE(took, 250ms); // the grace (300 ms) minus a poll
    EXPECT_LT(took, 5s);
}

TEST(Jobs, FailedRunsAreRetriedWithBackoffFromTheLastCheckpoint) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobOptions options;
    options.max_attempts = 3;
    options.retry_backoff = 40ms;
    JobId id = env.dispatch({.plugin = "job_counter",
                             .job = "flaky",
                             .state = counter_state(0, 0, 0, "", 2),
                             .options = options});
    const auto start = std::chrono::steady_clock::now();
    env.runner->start();
    JobInfo j = env.wait_until(id, [](const JobInfo& j) { return is_final(j.status); });
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(j.status, JobStatus::completed);
    EXPECT_EQ(j.attempts, 3u);
    EXPECT_GE(took, 120ms); // 40 ms, then 80 ms
    ASSERT_TRUE(j.checkpoint);
    EXPECT_EQ(json_number(*j.checkpoint, "fails"), 0u);
    const std::string log = env.log_text(id);
    EXPECT_NE(log.find("flaky: failing as asked (attempt 1 of 3; retrying in"), std::string::npos)
        << log;
    EXPECT_NE(log.find("(attempt 2 of 3; retrying in"), std::string::npos) << log;
}

TEST(Jobs, ADeclaredJobKindRetriesAndGivesUpAfterItsAttempts) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    // flaky is declared with retries: 3, so 4 runs; it needs 5.
    JobId id = env.dispatch(
        {.plugin = "job_counter", .job = "flaky", .state = counter_state(0, 0, 0, "", 5)});
    EXPECT_EQ(env.get(id).options.max_attempts, 4u);
    // A shorter backoff than the default second, for the test's sake.
    ASSERT_TRUE(env.store->db()->exec(
        "UPDATE jobs SET options = json_set(options, '$.retry_backoff_ms', 5) WHERE id = ?",
        {id.to_string()}));
    // run() runs the retries too, one after the other.
    EXPECT_EQ(env.runner->run(id).value(), JobStatus::failed);
    JobInfo j = env.get(id);
    EXPECT_EQ(j.attempts, 4u);
    EXPECT_EQ(j.error, "flaky: failing as asked");
    EXPECT_EQ(json_number(*j.checkpoint, "fails"), 1u);
}

TEST(Jobs, InstancesRunInitializeAndShutdownAndATrappedOneIsNotReused) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    const std::string file = JobEnv::guest_path("lifecycle.txt");
    auto run = [&](uint64_t trap) {
        JobId id = env.dispatch({.plugin = "job_counter",
                                 .export_name = "lifecycle",
                                 .state = counter_state(0, 0, 0, file, trap)});
        EXPECT_TRUE(env.runner->run(id));
        return env.get(id);
    };
    JobInfo first = run(0);
    ASSERT_EQ(first.status, JobStatus::completed) << first.error;
    // `initialize` ran once, with the host's name and version in its input.
    EXPECT_EQ(first.checkpoint, "{\"initialised\":1,\"host\":1}");
    JobInfo trapped = run(1);
    EXPECT_EQ(trapped.status, JobStatus::failed);
    EXPECT_NE(trapped.error.find("unreachable"), std::string::npos) << trapped.error;
    // The trap replaced the instance's state: the next job runs on an instance that ran
    // `initialize` (not on a fresh one that never did), and the trapped one got no `shutdown`.
    JobInfo after = run(0);
    ASSERT_EQ(after.status, JobStatus::completed) << after.error;
    EXPECT_EQ(after.checkpoint, "{\"initialised\":1,\"host\":1}");
    EXPECT_FALSE(fs::exists(env.steps_file("lifecycle.txt")));
    // Discarding the instances (the runner ends) runs `shutdown` on the one kept idle.
    env.close();
    std::ifstream in(env.steps_file("lifecycle.txt"));
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str(), "shutdown 1\n");
}

TEST(Jobs, APluginRunsAtMostItsConcurrentJobs) {
    SKIP_WITHOUT_C();
    RunnerOptions options = JobEnv::fast_options();
    options.concurrency = 6;
    JobEnv env("v1/job_counter", options); // jobs: 2
    std::vector<JobId> ids;
    for (int i = 0; i < 6; ++i)
        ids.push_back(env.dispatch(
            {.plugin = "job_counter", .job = "count", .state = counter_state(40, 0, 200000)}));
    env.runner->start();
    size_t most = 0;
    for (;;) {
        auto running = env.store->list(JobStatus::running);
        ASSERT_TRUE(running);
        most = std::max(most, running->size());
        auto done = env.store->list(JobStatus::completed);
        if (done->size() == ids.size()) break;
        std::this_thread::sleep_for(2ms);
    }
    EXPECT_EQ(most, 2u);
}

TEST(Jobs, TheRunnerRunsAtMostItsConcurrency) {
    SKIP_WITHOUT_C();
    RunnerOptions options = JobEnv::fast_options();
    options.concurrency = 3;
    JobEnv env("wide/job_counter", options); // jobs: 8
    std::vector<JobId> ids;
    for (int i = 0; i < 8; ++i)
        ids.push_back(env.dispatch(
            {.plugin = "job_counter", .job = "count", .state = counter_state(40, 0, 200000)}));
    env.runner->start();
    size_t most = 0;
    for (;;) {
        auto running = env.store->list(JobStatus::running);
        ASSERT_TRUE(running);
        most = std::max(most, running->size());
        if (env.store->list(JobStatus::completed)->size() == ids.size()) break;
        std::this_thread::sleep_for(2ms);
    }
    EXPECT_EQ(most, 3u);
}

TEST(Jobs, StopSendsRunningJobsBackToTheQueue) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = env.dispatch({.plugin = "job_counter",
                             .job = "count",
                             .state = counter_state(100000, 1, 100000, JobEnv::guest_path())});
    env.runner->start();
    env.wait_until(id, [](const JobInfo& j) { return j.progress.items_done >= 5; });
    env.runner->stop();
    JobInfo j = env.get(id);
    EXPECT_EQ(j.status, JobStatus::queued);
    ASSERT_TRUE(j.checkpoint);
    // Another runner picks it up where it stopped.
    env.restart();
    env.runner->start();
    const uint64_t from = *json_number(*j.checkpoint, "step");
    env.wait_until(id, [&](const JobInfo& j) {
        return j.checkpoint && *json_number(*j.checkpoint, "step") > from + 3;
    });
    ASSERT_TRUE(env.store->cancel(id));
    env.wait_until(id, [](const JobInfo& j) { return is_final(j.status); });
    std::vector<uint64_t> steps = read_steps(env.steps_file());
    for (size_t i = 0; i < steps.size(); ++i)
        ASSERT_EQ(steps[i], i + 1) << "step " << i;
}

TEST(Jobs, JobsOfADeadWorkerAreResumed) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = env.dispatch({.plugin = "job_counter", .job = "noop"});
    // A row as a worker killed mid-run leaves it: running, owned by a process that is gone.
    ASSERT_TRUE(env.store->db()->exec(
        "UPDATE jobs SET status = 'running', owner = 'no-such-boot/1/1/1' WHERE id = ?",
        {id.to_string()}));
    env.runner->start();
    JobInfo j =
        env.wait_until(id, [](const JobInfo& j) { return j.status == JobStatus::completed; });
    EXPECT_EQ(j.status, JobStatus::completed);
    ASSERT_EQ(j.warnings.size(), 1u);
    EXPECT_EQ(j.warnings[0],
              "its worker stopped while it ran; resuming from its last snapshot or checkpoint");
}

TEST(Jobs, LiveProgressOfARunningJob) {
    SKIP_WITHOUT_C();
    JobEnv env("v1/job_counter");
    JobId id = env.dispatch(
        {.plugin = "job_counter", .job = "count", .state = counter_state(100000, 0, 100000)});
    EXPECT_FALSE(env.runner->live_progress(id));
    env.runner->start();
    std::optional<JobProgress> p;
    for (int i = 0; i < 2000 && !(p && p->items_done > 0); ++i) {
        std::this_thread::sleep_for(1ms);
        p = env.runner->live_progress(id);
    }
    ASSERT_TRUE(p);
    EXPECT_GT(p->items_done, 0u);
    EXPECT_EQ(p->items_total, 100000u);
    ASSERT_TRUE(env.store->cancel(id));
    env.wait_until(id, [](const JobInfo& j) { return is_final(j.status); });
}

} // namespace
} // namespace kiln::job_test
