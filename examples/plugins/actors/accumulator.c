/* accumulator actor (C): keeps a running sum with the host's state functions. Each Integer on
 * `input` is added to the state key `sum` (__get_state, __set_state) and counted in `count`;
 * the new sum leaves on `running` at once (__send_output, before process returns), then `sum`
 * and `count` leave with the result, which keeps the state as the host functions left it. */
#include <kiln/actor.h>

static const kiln_actor_port_t inports[] = {
    {"input", "Integer", "a number to add", true},
};
static const kiln_actor_port_t outports[] = {
    {"running", "Integer", "the sum, sent during the call", false},
    {"sum", "Integer", "the sum, with the result", false},
    {"count", "Integer", "how many numbers were added", false},
};
static const kiln_actor_metadata_t metadata = {
    "Accumulator", "Sums its input in the host's state", inports, 1, outports, 3, 0,
};
KILN_ACTOR_METADATA(metadata)

static int32_t accumulate(const kiln_actor_context_t* ctx, kiln_actor_result_t* result) {
    int64_t value, sum = 0, count = 0;
    if (!kiln_json_to_i64(ctx->message.data, &value)) return kiln_fail("input is not an integer");
    (void)kiln_actor_get_state_i64("sum", &sum);
    (void)kiln_actor_get_state_i64("count", &count);
    sum += value;
    count++;
    if (!kiln_actor_set_state_i64("sum", sum) || !kiln_actor_set_state_i64("count", count) ||
        !kiln_actor_send_i64("running", sum))
        return kiln_fail("out of kernel memory");
    kiln_actor_output_i64(result, "sum", sum);
    kiln_actor_output_i64(result, "count", count);
    return 0;
}
KILN_ACTOR_PROCESS(accumulate)
