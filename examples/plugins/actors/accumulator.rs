// accumulator actor (Rust): accumulator.c's behaviour with the Rust kit. Each Integer on
// `input` is added to the state key `sum` and counted in `count` through the host's state
// functions; the new sum leaves on `running` at once (__send_output), then `sum` and `count`
// leave with the result, which keeps the state as the host functions left it.

#[allow(dead_code)]
#[macro_use]
#[path = "../../../pdk/rust/kiln_pdk.rs"]
mod kiln_pdk;
#[allow(dead_code)]
#[macro_use]
#[path = "../../../pdk/rust/kiln_actor.rs"]
mod kiln_actor;

use kiln_actor::{Context, Json, Message, Metadata, Output, Port};
use kiln_pdk::Error;

kiln_actor! {
    metadata: Metadata::new("Accumulator", "Sums its input in the host's state")
        .inport(Port::new("input", "Integer", "a number to add").required())
        .outport(Port::new("running", "Integer", "the sum, sent during the call"))
        .outport(Port::new("sum", "Integer", "the sum, with the result"))
        .outport(Port::new("count", "Integer", "how many numbers were added")),
    process: |ctx: Context| -> Result<Output, Error> {
        let value = ctx.message.as_i64().ok_or("input is not an integer")?;
        let state_of = |key: &str| kiln_actor::get_state(key).and_then(|v| v.as_i64()).unwrap_or(0);
        let sum = state_of("sum") + value;
        let count = state_of("count") + 1;
        kiln_actor::set_state("sum", &Json::Int(sum))?;
        kiln_actor::set_state("count", &Json::Int(count))?;
        kiln_actor::send("running", Json::Int(sum))?;
        Ok(Output::new().send("sum", Message::Integer(sum)).send("count", Message::Integer(count)))
    }
}
