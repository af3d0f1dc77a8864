/* relay actor for bench/actors.cpp: passes the message on `in` to `out` unchanged. Built with
 * the C actor kit, freestanding. */
#include <kiln/actor.h>

static const kiln_actor_port_t inports[] = {{"in", "Any", "a message", true}};
static const kiln_actor_port_t outports[] = {{"out", "Any", "the same message", false}};
static const kiln_actor_metadata_t metadata = {
    "Relay", "Passes messages on", inports, 1, outports, 1, 0};
KILN_ACTOR_METADATA(metadata)

static int32_t relay(const kiln_actor_context_t* ctx, kiln_actor_result_t* result) {
    kiln_actor_output(result, "out", ctx->message.kind, ctx->message.data);
    return 0;
}
KILN_ACTOR_PROCESS(relay)
