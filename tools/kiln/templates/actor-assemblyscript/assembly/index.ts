// {{name}}: a Kiln actor (Reflow's actor ABI) in AssemblyScript. A String on `name` is answered
// on `greeting` with "GREETING, NAME!", GREETING being the node's config key `greeting` (its
// metadata in the graph), "Hello" by default; the node's state counts the greetings.
// kiln_pdk/actor.ts is the actor kit, on the plugin kit kiln_pdk/index.ts.
import {
  Context, Json, Message, Metadata, Output, Port, runActor, writeMetadata,
} from "./kiln_pdk/actor";
import { fail } from "./kiln_pdk/index";

export function get_metadata(): i32 {
  return writeMetadata(new Metadata("{{name}}", "Greets by name")
    .inport(new Port("name", "String", "who to greet").required())
    .outport(new Port("greeting", "String", "the greeting")));
}

function greet(ctx: Context, out: Output): i32 {
  const name = ctx.message.asString();
  if (name === null) return fail("name: expected a String");
  const configured = ctx.config.get("greeting");
  const text = configured !== null ? configured.asString() : null;
  const greeting = text !== null ? text : "Hello";
  const count = ctx.state.get("count");
  const greeted = count !== null && count.isInt() ? count.intValue : 0;
  out.send("greeting", Message.string(greeting + ", " + name + "!"))
    .replaceState(Json.object().set("count", Json.int(greeted + 1)));
  return 0;
}

export function process(): i32 {
  return runActor(greet);
}
