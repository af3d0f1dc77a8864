/* Clocks (clock_time_get, clock_res_get): values are never printed, only properties that hold on
 * every machine. */
#include <time.h>
#include <wasi/api.h>

#include "wasi_test.h"

static long long ns(const struct timespec* t) {
    return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

int main(void) {
    struct timespec t, prev, res;

    step("clock_gettime REALTIME", clock_gettime(CLOCK_REALTIME, &t));
    printf("realtime after 2020-01-01: %s\n", t.tv_sec >= 1577836800 ? "yes" : "no");
    printf("realtime before 2200-01-01: %s\n", t.tv_sec < 7258118400LL ? "yes" : "no");
    printf("tv_nsec in range: %s\n", t.tv_nsec >= 0 && t.tv_nsec < 1000000000 ? "yes" : "no");
    time_t now = time(NULL);
    printf("time() agrees within 10s: %s\n", llabs((long long)now - t.tv_sec) <= 10 ? "yes" : "no");

    step("clock_gettime MONOTONIC", clock_gettime(CLOCK_MONOTONIC, &prev));
    int decreased = 0, advanced = 0;
    for (int i = 0; i < 1000; ++i) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (ns(&t) < ns(&prev)) decreased = 1;
        if (ns(&t) > ns(&prev)) advanced = 1;
        prev = t;
    }
    printf("monotonic never decreases over 1000 reads: %s\n", decreased ? "no" : "yes");
    /* A busy loop of a few milliseconds guarantees movement even on a coarse clock. */
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do
        clock_gettime(CLOCK_MONOTONIC, &t);
    while (ns(&t) - ns(&start) < 5000000 && !advanced);
    printf("monotonic advances: %s\n", ns(&t) > ns(&start) || advanced ? "yes" : "no");

    clockid_t ids[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID};
    const char* names[] = {"REALTIME", "MONOTONIC", "PROCESS_CPUTIME_ID"};
    for (int i = 0; i < 3; ++i) {
        int rc = clock_getres(ids[i], &res);
        if (rc != 0)
            printf("clock_getres %s: %s\n", names[i], errno_name(errno));
        else
            printf("clock_getres %s: positive %s, at most 1s %s\n", names[i],
                   ns(&res) > 0 ? "yes" : "no", ns(&res) <= 1000000000 ? "yes" : "no");
    }

    /* Process CPU time: readable, and it moves while the program computes. */
    struct timespec cpu0, cpu1;
    step("clock_gettime PROCESS_CPUTIME_ID", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0));
    volatile unsigned sink = 0;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        for (int i = 0; i < 100000; ++i)
            sink += (unsigned)i * 2654435761u;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (ns(&cpu1) <= ns(&cpu0) && ns(&t) - ns(&start) < 2000000000LL);
    (void)sink;
    printf("cpu time advances while computing: %s\n", ns(&cpu1) > ns(&cpu0) ? "yes" : "no");
    printf("cpu time not negative: %s\n", ns(&cpu0) >= 0 ? "yes" : "no");

    /* clockid_t is a pointer in wasi-libc, so an unknown id can only be asked for directly. */
    __wasi_timestamp_t stamp;
    printf("clock_time_get of clock id 99: %s\n", errno_name(__wasi_clock_time_get(99, 1, &stamp)));
    return 0;
}
