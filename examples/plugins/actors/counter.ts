// counter actor (AssemblyScript): counter.c's behaviour with the AssemblyScript kit. A String on
// `operation` ("increment", "decrement" or "reset"; anything else counts as increment) updates
// the state {"count": N} and the new count leaves on `value`; the state comes back replaced in
// the ActorResult.
import {
  Context, Json, Message, Metadata, Output, Port, runActor, writeMetadata,
} from "../../../pdk/assemblyscript/assembly/actor";
import { fail } from "../../../pdk/assemblyscript/assembly/index";

export function get_metadata(): i32 {
  return writeMetadata(new Metadata("Counter", "Counts up and down in its state")
    .inport(new Port("operation", "String", "increment, decrement or reset").required())
    .outport(new Port("value", "Integer", "the count after the operation")));
}

function count(ctx: Context, out: Output): i32 {
  let count: i64 = 0;
  const saved = ctx.state.get("count");
  if (saved !== null && !saved.isNull()) {
    if (!saved.isInt()) return fail("state count is not an integer");
    count = saved.intValue;
  }
  const operation = ctx.message.asString();
  if (operation == "reset") count = 0;
  else if (operation == "decrement") count--;
  else count++;
  out.send("value", Message.integer(count))
    .replaceState(Json.object().set("count", Json.int(count)));
  return 0;
}

export function process(): i32 {
  return runActor(count);
}
