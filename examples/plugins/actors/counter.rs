// counter actor (Rust): counter.c's behaviour with the Rust kit. A String on `operation`
// ("increment", "decrement" or "reset"; anything else counts as increment) updates the state
// {"count": N} and the new count leaves on `value`; the state comes back replaced in the
// ActorResult.

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
    metadata: Metadata::new("Counter", "Counts up and down in its state")
        .inport(Port::new("operation", "String", "increment, decrement or reset").required())
        .outport(Port::new("value", "Integer", "the count after the operation")),
    process: |ctx: Context| -> Result<Output, Error> {
        let mut count = match ctx.state.get("count") {
            None | Some(Json::Null) => 0,
            Some(v) => v.as_i64().ok_or("state count is not an integer")?,
        };
        match ctx.message.as_str() {
            Some("reset") => count = 0,
            Some("decrement") => count -= 1,
            _ => count += 1,
        }
        Ok(Output::new()
            .send("value", Message::Integer(count))
            .state(Json::Object(vec![("count".to_string(), Json::Int(count))])))
    }
}
