// Spacedrive-style extensions (fixtures/spacedrive_rust, fixtures/spacedrive_c): the counter job
// of Spacedrive's test extension, registered from plugin_init, run unmodified through the
// `spacedrive` imports: progress, items, bytes, checkpoints at its own points, an interrupt, a
// warning on resume, its exit codes, and transparent snapshots of its call.
#include "job_test_util.hpp"

namespace kiln::job_test {
namespace {

struct Extension {
    const char* name;
    bool available;
};

class SpacedriveJobs : public ::testing::TestWithParam<Extension> {
protected:
    void SetUp() override {
        if (!GetParam().available) GTEST_SKIP() << "no toolchain for " << GetParam().name;
        env = std::make_unique<JobEnv>(std::string("spacedrive/") + GetParam().name);
    }
    std::string plugin() const { return GetParam().name; }
    /// How many instances ran plugin_init, and plugin_cleanup, as the plugin's log says.
    size_t initialised() const {
        const std::string language = plugin() == "test-extension" ? "Rust" : "C";
        return env->plugin_log_count(plugin() + ": Test extension (" + language + ") initialising");
    }
    size_t cleaned_up() const {
        return env->plugin_log_count(plugin() + ": Test extension cleanup");
    }
    JobId counter(uint64_t target, uint64_t spin = 0, JobOptions options = {}) {
        std::string state =
            "{\"current\":0,\"target\":" + std::to_string(target) + ",\"processed\":[]";
        if (spin) state += ",\"spin\":" + std::to_string(spin);
        return env->dispatch(
            {.plugin = plugin(), .job = "counter", .state = state + "}", .options = options});
    }
    std::unique_ptr<JobEnv> env;
};

/// The `processed` list of a counter state: item_1 .. item_N.
std::string items(uint64_t n) {
    std::string out;
    for (uint64_t i = 1; i <= n; ++i)
        out += (i > 1 ? ",\"item_" : "\"item_") + std::to_string(i) + "\"";
    return out;
}

uint64_t item_bytes(uint64_t n) {
    uint64_t total = 0;
    for (uint64_t i = 1; i <= n; ++i)
        total += 5 + std::to_string(i).size();
    return total;
}

TEST_P(SpacedriveJobs, ItsJobIsKnownByTheNameItRegistered) {
    JobId id = counter(3);
    JobInfo j = env->get(id);
    EXPECT_EQ(j.job, "counter");
    EXPECT_EQ(j.export_name, "execute_test_counter");
    EXPECT_EQ(j.plugin_version, "0.1.0");
    // Spacedrive's full name, EXTENSION_ID:NAME, works too.
    EXPECT_TRUE(env->runner->dispatch({.plugin = plugin(), .job = plugin() + ":counter"}));
    auto unknown = env->runner->dispatch({.plugin = plugin(), .job = "test_counter"});
    ASSERT_FALSE(unknown);
    EXPECT_EQ(unknown.error().message,
              "plugin " + plugin() + " has no job test_counter (its jobs: counter)");
}

TEST_P(SpacedriveJobs, RunsWithProgressItemsBytesAndItsCheckpoints) {
    JobId id = counter(25);
    ASSERT_EQ(env->runner->run(id).value(), JobStatus::completed);
    JobInfo j = env->get(id);
    EXPECT_FLOAT_EQ(float(j.progress.fraction), 1.0f);
    EXPECT_EQ(j.progress.message, "Counted 25/25");
    EXPECT_EQ(j.progress.items_done, 25u);
    EXPECT_EQ(j.progress.bytes, item_bytes(25));
    // The final state is never returned: the last checkpoint is at 20, as in Spacedrive.
    ASSERT_TRUE(j.checkpoint);
    EXPECT_EQ(*j.checkpoint, "{\"current\":20,\"target\":25,\"processed\":[" + items(20) + "]}");
    const std::string log = env->log_text(id);
    EXPECT_NE(log.find("info Starting counter (current: 0, target: 25)\n"), std::string::npos)
        << log;
    EXPECT_NE(log.find("info Completed processing 25 items\n"), std::string::npos) << log;
    EXPECT_NE(log.find("info Job test_counter completed successfully\n"), std::string::npos) << log;
}

TEST_P(SpacedriveJobs, AnEmptyStateIsTheJobsDefault) {
    JobId id = env->dispatch({.plugin = plugin(), .job = "counter"});
    ASSERT_EQ(env->runner->run(id).value(), JobStatus::completed);
    EXPECT_NE(env->log_text(id).find("Starting counter (current: 0, target: 0)"),
              std::string::npos);
}

TEST_P(SpacedriveJobs, ExitCodeTwoFailsTheJobWithWhatItLogged) {
    JobId id = env->dispatch({.plugin = plugin(), .job = "counter", .state = "{\"target\":100}"});
    ASSERT_EQ(env->runner->run(id).value(), JobStatus::failed);
    JobInfo j = env->get(id);
    EXPECT_EQ(j.error.find("the job failed (exit code 2): Failed to deserialize state: "), 0u)
        << j.error;
}

TEST_P(SpacedriveJobs, AnInterruptSavesItsStateAndTheJobResumesFromIt) {
    JobId id = counter(2000, 100000);
    env->runner->start();
    env->wait_until(id, [](const JobInfo& j) { return j.progress.items_done >= 15; });
    ASSERT_TRUE(env->store->pause(id));
    JobInfo paused =
        env->wait_until(id, [](const JobInfo& j) { return j.status == JobStatus::paused; });
    ASSERT_EQ(paused.status, JobStatus::paused);
    ASSERT_TRUE(paused.checkpoint);
    const uint64_t at = *json_number(*paused.checkpoint, "current");
    EXPECT_GE(at, 15u);
    EXPECT_EQ(paused.progress.items_done, at);
    const std::string log = env->log_text(id);
    EXPECT_NE(log.find("warn Interrupted, saving state...\n"), std::string::npos) << log;
    EXPECT_NE(log.find("info Job interrupted, checkpoint saved\n"), std::string::npos) << log;

    ASSERT_TRUE(env->store->resume(id));
    env->wait_until(
        id, [](const JobInfo& j) { return j.progress.items_done >= 1000; }, 60s);
    ASSERT_TRUE(env->store->cancel(id));
    JobInfo j = env->wait_until(id, [](const JobInfo& j) { return is_final(j.status); });
    EXPECT_EQ(j.status, JobStatus::cancelled);
    ASSERT_EQ(j.warnings.size(), 1u);
    EXPECT_EQ(j.warnings[0], "resuming at item " + std::to_string(at));
}

TEST_P(SpacedriveJobs, ATransparentSnapshotPausesItsCallWhereItIs) {
    JobId id = counter(300, 100000, {.snapshots = true});
    env->runner->start();
    env->wait_until(id, [](const JobInfo& j) { return j.progress.items_done >= 15; });
    ASSERT_TRUE(env->store->pause(id));
    JobInfo paused =
        env->wait_until(id, [](const JobInfo& j) { return j.status == JobStatus::paused; });
    ASSERT_EQ(paused.status, JobStatus::paused);
    EXPECT_TRUE(paused.has_snapshot);
    // The guest was stopped by Kiln, not by its own interrupt check.
    EXPECT_EQ(env->log_text(id).find("Interrupted, saving state"), std::string::npos);
    env->restart();
    ASSERT_TRUE(env->store->resume(id));
    ASSERT_EQ(env->runner->run(id).value(), JobStatus::completed);
    JobInfo j = env->get(id);
    EXPECT_EQ(*j.checkpoint, "{\"current\":300,\"target\":300,\"processed\":[" + items(300) +
                                 "],\"spin\":100000}");
    EXPECT_EQ(j.progress.items_done, 300u);
    EXPECT_TRUE(j.warnings.empty()); // the same call went on: it never started again
    const std::string log = env->log_text(id);
    EXPECT_NE(log.find("Completed processing 300 items"), std::string::npos) << log;
}

TEST_P(SpacedriveJobs, AtMostConcurrentJobsInstancesEachInitialised) {
    RunnerOptions options = JobEnv::fast_options();
    options.concurrency = 4;
    env = std::make_unique<JobEnv>(std::string("spacedrive/") + GetParam().name, options);
    std::vector<JobId> ids;
    for (int i = 0; i < 4; ++i)
        ids.push_back(counter(30, 100000));
    env->runner->start();
    size_t most = 0;
    for (;;) {
        auto running = env->store->list(JobStatus::running);
        ASSERT_TRUE(running);
        most = std::max(most, running->size());
        if (env->store->list(JobStatus::completed)->size() == ids.size()) break;
        std::this_thread::sleep_for(2ms);
    }
    EXPECT_EQ(most, 2u); // concurrent_jobs: 2 in its manifest
}

TEST_P(SpacedriveJobs, EveryInstanceTheRunnerDiscardsRunsPluginCleanup) {
    RunnerOptions options = JobEnv::fast_options();
    options.concurrency = 4;
    env = std::make_unique<JobEnv>(std::string("spacedrive/") + GetParam().name, options);
    std::vector<JobId> ids;
    for (int i = 0; i < 4; ++i)
        ids.push_back(counter(30, 100000));
    env->runner->start();
    for (const JobId& id : ids)
        EXPECT_EQ(env->wait_until(id, [](const JobInfo& j) { return is_final(j.status); }).status,
                  JobStatus::completed);
    // The manager's own instance (loaded to compile the plugin), and the runner's: one or two
    // (concurrent_jobs: 2 in its manifest).
    const size_t made = initialised();
    EXPECT_GE(made, 2u);
    EXPECT_LE(made, 3u);
    EXPECT_EQ(cleaned_up(), 0u) << "kept for the next jobs";
    env->runner.reset();
    EXPECT_EQ(cleaned_up(), made - 1);
    ASSERT_TRUE(env->manager->unload(plugin()));
    EXPECT_EQ(cleaned_up(), made);
}

TEST_P(SpacedriveJobs, AnInstanceReplacedAfterATrapIsNotCleanedUp) {
    // Stopped by its timeout in the middle of an item: the call traps, and the plugin's next
    // call would get a fresh instance, which never ran plugin_init.
    JobOptions options;
    options.timeout_ms = 100;
    JobId id = counter(1000000, 1000000, options);
    ASSERT_EQ(env->runner->run(id).value(), JobStatus::failed);
    EXPECT_EQ(env->get(id).error, "timeout after 100 ms");
    EXPECT_EQ(initialised(), 2u); // the manager's instance and the runner's
    env->runner.reset();
    EXPECT_EQ(cleaned_up(), 0u);
    ASSERT_TRUE(env->manager->unload(plugin()));
    EXPECT_EQ(cleaned_up(), 1u);
}

TEST_P(SpacedriveJobs, TheManagerCallsAJobExportAsAOneOffJob) {
    auto out = env->manager->call(plugin(), "execute_test_counter",
                                  "{\"current\":0,\"target\":12,\"processed\":[]}");
    ASSERT_TRUE(out) << out.error().message;
    EXPECT_EQ(*out, "{\"current\":10,\"target\":12,\"processed\":[" + items(10) + "]}");
}

INSTANTIATE_TEST_SUITE_P(Extensions, SpacedriveJobs,
                         ::testing::Values(Extension{"test-extension", KILN_JOB_HAVE_RUST},
                                           Extension{"test-extension-c", KILN_JOB_HAVE_C}),
                         [](const auto& info) {
                             return std::string(info.param.available ? "" : "Unavailable") +
                                    (std::string(info.param.name) == "test-extension" ? "Rust"
                                                                                      : "C");
                         });

} // namespace
} // namespace kiln::job_test
