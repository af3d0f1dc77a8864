/* sum_squares (C): a resumable job. Its state {"n": N, "i": I, "sum": S} says how far it got
 * summing the squares of 1..N modulo 1,000,000,007 (only "n" is needed to start); every 1,000
 * numbers it reports progress and saves a checkpoint, and it checks whether the host wants it to
 * pause or stop. Its output is the final state. Freestanding: no libc. kiln job run sum_squares:sum
 * --state '{"n":1000000}' --plugin-dir build/examples/plugins/jobs */
#include <kiln/pdk.h>

/* The number after "key": in the state, or `fallback`. */
static uint64_t field(const char* state, size_t len, const char* key, uint64_t fallback) {
    size_t klen = kiln_strlen(key);
    for (size_t i = 0; i + klen + 3 <= len; i++) {
        if (state[i] != '"') continue;
        size_t k = 0;
        while (k < klen && state[i + 1 + k] == key[k])
            k++;
        if (k != klen || state[i + 1 + klen] != '"' || state[i + 2 + klen] != ':') continue;
        size_t start = i + 3 + klen, end = start;
        while (end < len && state[end] >= '0' && state[end] <= '9')
            end++;
        int64_t v;
        return kiln_parse_i64(state + start, end - start, &v) && v >= 0 ? (uint64_t)v : fallback;
    }
    return fallback;
}

/* {"n":N,"i":I,"sum":S} into buf (64 bytes are enough); its length. */
static size_t format_state(char* buf, uint64_t n, uint64_t i, uint64_t sum) {
    size_t len = 0;
    const char* parts[] = {"{\"n\":", ",\"i\":", ",\"sum\":"};
    uint64_t values[] = {n, i, sum};
    for (int p = 0; p < 3; p++) {
        for (const char* c = parts[p]; *c; c++)
            buf[len++] = *c;
        len += kiln_fmt_u64(values[p], buf + len);
    }
    buf[len++] = '}';
    return len;
}

KILN_EXPORT(sum) {
    char state[256];
    uint64_t len = kiln_input_read(state, sizeof state);
    if (len > sizeof state) return kiln_fail("the state is longer than 256 bytes");
    uint64_t n = field(state, len, "n", 0), i = field(state, len, "i", 0);
    uint64_t sum = field(state, len, "sum", 0);
    char out[96];
    char message[64];
    while (i < n) {
        kiln_job_interrupt_t asked = kiln_job_check_interrupt();
        if (asked == KILN_JOB_CANCEL) return 0;
        if (asked == KILN_JOB_PAUSE) {
            size_t at = format_state(out, n, i, sum);
            return kiln_job_checkpoint_n(out, at) ? 0 : kiln_fail("checkpoint failed");
        }
        uint64_t end = i + 1000 < n ? i + 1000 : n;
        for (; i < end; i++)
            sum = (sum + (i + 1) * (i + 1)) % 1000000007u;
        size_t at = kiln_fmt_u64(i, message); /* "I of N" */
        const char* of = " of ";
        for (const char* c = of; *c; c++)
            message[at++] = *c;
        at += kiln_fmt_u64(n, message + at);
        message[at] = '\0';
        kiln_job_progress((double)i / (double)n, message);
        kiln_job_items(i, n);
        if (!kiln_job_checkpoint_n(out, format_state(out, n, i, sum)))
            return kiln_fail("checkpoint failed");
    }
    return kiln_output_set_bytes(out, format_state(out, n, i, sum)) ? 0 : kiln_fail("no memory");
}
