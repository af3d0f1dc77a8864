/* The C API's jobs (include/kiln/kiln.h), from C, on job_counter (argv[1]: its plugin folder)
 * and a job database in a fresh temporary folder: dispatch, run, status, the job as JSON, pause,
 * resume, cancel, workers and waiting, options, listing and logs, and wrong arguments. Exits
 * non-zero after printing each failed check. */
#define _POSIX_C_SOURCE 200809L

#include "check.h"

#include <kiln/kiln.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void run_jobs(kiln_jobs_t* jobs) {
    char id[KILN_JOB_ID_SIZE];
    kiln_job_status_t status = KILN_JOB_FAILED;
    double fraction = -1;
    if (!CHECK_OK(kiln_jobs_dispatch(jobs, "job_counter", "count", NULL,
                                     "{\"target\":7,\"every\":2}", id)))
        return;
    CHECK(strlen(id) == 36);
    CHECK_OK(kiln_jobs_status(jobs, id, &status, &fraction));
    CHECK(status == KILN_JOB_QUEUED);
    CHECK_OK(kiln_jobs_run(jobs, id, &status));
    CHECK(status == KILN_JOB_COMPLETED);
    CHECK_OK(kiln_jobs_status(jobs, id, &status, &fraction));
    CHECK(status == KILN_JOB_COMPLETED && fraction == 1.0);
    char* json = NULL;
    if (CHECK_OK(kiln_jobs_info_json(jobs, id, &json))) {
        CHECK(strstr(json, "\"status\":\"completed\"") != NULL);
        CHECK(strstr(json, "\"checkpoint\":\"{\\\"step\\\":7,") != NULL);
        kiln_string_delete(json);
    }

    /* Pause, resume and cancel a queued job; a cancelled one cannot be paused. */
    CHECK_OK(kiln_jobs_dispatch(jobs, "job_counter", NULL, "noop", NULL, id));
    CHECK_OK(kiln_jobs_pause(jobs, id, &status));
    CHECK(status == KILN_JOB_PAUSED);
    CHECK_OK(kiln_jobs_resume(jobs, id, &status));
    CHECK(status == KILN_JOB_QUEUED);
    CHECK_OK(kiln_jobs_cancel(jobs, id, &status));
    CHECK(status == KILN_JOB_CANCELLED);
    kiln_error_t* e = CHECK_ERROR(kiln_jobs_pause(jobs, id, NULL), KILN_ERROR_USAGE);
    if (e) {
        CHECK(strstr(kiln_error_message(e), "is cancelled: it cannot be paused") != NULL);
        kiln_error_delete(e);
    }

    /* Workers run what is queued. */
    CHECK_OK(kiln_jobs_dispatch(jobs, "job_counter", "count", NULL, "{\"target\":3}", id));
    CHECK_OK(kiln_jobs_start(jobs));
    CHECK_OK(kiln_jobs_wait(jobs, id, 30000, &status));
    CHECK(status == KILN_JOB_COMPLETED);

    /* Options over the declaration's, the list (all, and by status) and a job's log. */
    kiln_job_options_t options = {0};
    options.max_attempts = 3;
    options.timeout_ms = 60000;
    char retried[KILN_JOB_ID_SIZE];
    CHECK_OK(kiln_jobs_dispatch_with(jobs, "job_counter", "count", NULL, "{\"target\":2}", &options,
                                     retried));
    CHECK_OK(kiln_jobs_wait(jobs, retried, 30000, &status));
    CHECK(status == KILN_JOB_COMPLETED);
    if (CHECK_OK(kiln_jobs_info_json(jobs, retried, &json))) {
        CHECK(strstr(json, "\"max_attempts\":3") != NULL);
        kiln_string_delete(json);
    }
    if (CHECK_OK(kiln_jobs_list_json(jobs, -1, &json))) {
        CHECK(json[0] == '[' && strstr(json, retried) != NULL && strstr(json, id) != NULL);
        kiln_string_delete(json);
    }
    if (CHECK_OK(kiln_jobs_list_json(jobs, KILN_JOB_CANCELLED, &json))) {
        CHECK(strstr(json, retried) == NULL && strstr(json, "\"status\":\"cancelled\"") != NULL);
        kiln_string_delete(json);
    }
    if (CHECK_OK(kiln_jobs_logs_json(jobs, retried, &json))) {
        CHECK(json[0] == '[' && strstr(json, "\"message\":") != NULL);
        kiln_string_delete(json);
    }
    kiln_error_delete(CHECK_ERROR(kiln_jobs_list_json(jobs, 42, &json), KILN_ERROR_USAGE));

    /* Wrong arguments. */
    kiln_error_delete(
        CHECK_ERROR(kiln_jobs_status(jobs, "not-an-id", NULL, NULL), KILN_ERROR_USAGE));
    kiln_error_delete(CHECK_ERROR(
        kiln_jobs_dispatch(jobs, "job_counter", "count", "count", NULL, id), KILN_ERROR_USAGE));
    kiln_error_delete(CHECK_ERROR(kiln_jobs_dispatch(jobs, "nothing", "count", NULL, NULL, id),
                                  KILN_ERROR_USAGE));
    kiln_error_delete(CHECK_ERROR(kiln_jobs_run(NULL, id, NULL), KILN_ERROR_USAGE));
    CHECK(strcmp(kiln_job_status_name(KILN_JOB_PAUSED), "paused") == 0);
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s PLUGIN_FOLDER\n", argv[0]);
        return 2;
    }
    char folder[] = "/tmp/kiln-capi-jobs-XXXXXX";
    if (!mkdtemp(folder)) {
        perror("mkdtemp");
        return 2;
    }
    char db[128];
    snprintf(db, sizeof db, "%s/state.db", folder);
    kiln_engine_t* engine = kiln_engine_new(NULL);
    kiln_manager_t* manager = NULL;
    kiln_jobs_t* jobs = NULL;
    kiln_jobs_config_t config = {0};
    config.db_path = db;
    config.concurrency = 2;
    if (CHECK_OK(kiln_manager_new(engine, NULL, &manager)) &&
        CHECK_OK(kiln_jobs_new(manager, &config, &jobs)) &&
        CHECK_OK(kiln_manager_open(manager, argv[1])))
        run_jobs(jobs);
    kiln_jobs_delete(jobs);
    kiln_manager_delete(manager);
    kiln_engine_delete(engine);
    /* The database and its WAL files. */
    char path[300];
    for (const char* const* suffix = (const char* const[]){"", "-wal", "-shm", NULL}; *suffix;
         ++suffix) {
        snprintf(path, sizeof path, "%s%s", db, *suffix);
        remove(path);
    }
    remove(folder);
    if (failures) fprintf(stderr, "%d checks failed\n", failures);
    return failures ? 1 : 0;
}
