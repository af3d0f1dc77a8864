/* counter actor (C): counts in the node's state. A String on `operation` ("increment",
 * "decrement" or "reset"; anything else counts as increment) updates {"count": N}, and the new
 * count leaves on `value`. The state travels in the ActorContext and comes back replaced in
 * the ActorResult, so the actor itself keeps nothing between messages. */
#include <kiln/actor.h>

static const kiln_actor_port_t inports[] = {
    {"operation", "String", "increment, decrement or reset", true},
};
static const kiln_actor_port_t outports[] = {
    {"value", "Integer", "the count after the operation", false},
};
static const kiln_actor_metadata_t metadata = {
    "Counter", "Counts up and down in its state", inports, 1, outports, 1, 0,
};
KILN_ACTOR_METADATA(metadata)

static int32_t counter(const kiln_actor_context_t* ctx, kiln_actor_result_t* result) {
    int64_t count = 0;
    kiln_json_t saved;
    if (kiln_actor_state_at_start(ctx, "count", &saved) && !kiln_json_to_i64(saved, &count))
        return kiln_fail("state count is not an integer");
    if (kiln_json_string_is(ctx->message.data, "reset"))
        count = 0;
    else if (kiln_json_string_is(ctx->message.data, "decrement"))
        count--;
    else
        count++;
    kiln_actor_state_i64(result, "count", count);
    kiln_actor_output_i64(result, "value", count);
    return 0;
}
KILN_ACTOR_PROCESS(counter)
