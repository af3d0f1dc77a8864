// accumulator actor (AssemblyScript): accumulator.c's behaviour with the AssemblyScript kit. Each
// Integer on `input` is added to the state key `sum` and counted in `count` through the host's
// state functions; the new sum leaves on `running` at once (__send_output), then `sum` and
// `count` leave with the result, which keeps the state as the host functions left it.
import {
  Context, getState, Json, Message, Metadata, Output, Port, runActor, send, setState,
  writeMetadata,
} from "../../../pdk/assemblyscript/assembly/actor";
import { fail } from "../../../pdk/assemblyscript/assembly/index";

export function get_metadata(): i32 {
  return writeMetadata(new Metadata("Accumulator", "Sums its input in the host's state")
    .inport(new Port("input", "Integer", "a number to add").required())
    .outport(new Port("running", "Integer", "the sum, sent during the call"))
    .outport(new Port("sum", "Integer", "the sum, with the result"))
    .outport(new Port("count", "Integer", "how many numbers were added")));
}

/** An integer key of the node's state as the host holds it now; 0 when unset. */
function stateOf(key: string): i64 {
  const v = getState(key);
  return v !== null && v.isInt() ? v.intValue : 0;
}

function accumulate(ctx: Context, out: Output): i32 {
  const value = ctx.message.asI64();
  if (value === null) return fail("input is not an integer");
  const sum = stateOf("sum") + value.value;
  const count = stateOf("count") + 1;
  if (!setState("sum", Json.int(sum)) || !setState("count", Json.int(count)) ||
      !send("running", Json.int(sum))) {
    return fail("out of kernel memory");
  }
  out.send("sum", Message.integer(sum)).send("count", Message.integer(count));
  return 0;
}

export function process(): i32 {
  return runActor(accumulate);
}
