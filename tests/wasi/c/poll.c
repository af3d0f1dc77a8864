/* poll_oneoff: clock subscriptions behind nanosleep, usleep, clock_nanosleep and poll with a
 * timeout, and fd subscriptions behind poll on stdin and stdout. Sleeps are checked against the
 * monotonic clock (at least the time asked for), never printed. The harness feeds stdin through a
 * pipe that already holds all of tests/wasi/fixtures/stdin.txt and is closed, so it is readable at
 * once; stdout is a pipe too. With the argument "edge" it runs the node-divergent cases instead. */
#include <poll.h>
#include <time.h>

#include "wasi_test.h"

static long long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void took_at_least(const char* what, long long start, long long wanted_ms) {
    long long elapsed = now_ns() - start;
    printf("%s took at least %lld ms: %s\n", what, wanted_ms,
           elapsed >= wanted_ms * 1000000LL ? "yes" : "no");
}

/* The cases node's WASI gets wrong, kept apart so that node still checks the rest: it sleeps on
 * an absolute deadline as if it were relative, and drops the event of an fd subscription on a bad
 * descriptor instead of reporting badf in it. */
static int edge(void) {
    long long start = now_ns();
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_nsec += 40 * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_nsec -= 1000000000L;
        deadline.tv_sec += 1;
    }
    printf("clock_nanosleep TIMER_ABSTIME +40 ms: %d\n",
           clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL));
    took_at_least("clock_nanosleep TIMER_ABSTIME", start, 40);

    /* poll_oneoff reports a bad descriptor in that subscription's event (error badf), which
     * wasi-libc turns into POLLNVAL; the call as a whole succeeds. */
    struct pollfd bad = {.fd = 99, .events = POLLIN};
    printf("poll a closed fd: %d, revents POLLNVAL: %s\n", poll(&bad, 1, 0),
           (bad.revents & POLLNVAL) ? "yes" : "no");
    return 0;
}

int main(int argc, char** argv) {
    if (argc > 1 && strcmp(argv[1], "edge") == 0) return edge();

    long long start = now_ns();
    struct timespec req = {0, 50 * 1000000L};
    step("nanosleep 50 ms", nanosleep(&req, NULL));
    took_at_least("nanosleep", start, 50);

    start = now_ns();
    step("usleep 20000", usleep(20000));
    took_at_least("usleep", start, 20);

    start = now_ns();
    req.tv_nsec = 30 * 1000000L;
    printf("clock_nanosleep MONOTONIC 30 ms: %d\n",
           clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL));
    took_at_least("clock_nanosleep", start, 30);

    req.tv_sec = 0;
    req.tv_nsec = 0;
    step("nanosleep 0", nanosleep(&req, NULL));

    start = now_ns();
    printf("poll no fds, 30 ms: %d\n", poll(NULL, 0, 30));
    took_at_least("poll", start, 30);

    struct pollfd out = {.fd = 1, .events = POLLOUT};
    printf("poll stdout POLLOUT: %d, revents POLLOUT: %s\n", poll(&out, 1, 5000),
           (out.revents & POLLOUT) ? "yes" : "no");
    struct pollfd in = {.fd = 0, .events = POLLIN};
    printf("poll stdin POLLIN: %d, revents POLLIN: %s\n", poll(&in, 1, 5000),
           (in.revents & POLLIN) ? "yes" : "no");
    struct pollfd both[2] = {{.fd = 0, .events = POLLIN}, {.fd = 1, .events = POLLOUT}};
    printf("poll stdin and stdout: %d\n", poll(both, 2, 5000));
    char line[64] = {0};
    ssize_t n = read(0, line, sizeof line - 1);
    printf("then read stdin: %zd bytes, first line: %.*s\n", n, (int)strcspn(line, "\n"), line);
    return 0;
}
