// {{name}}: a Kiln actor (Reflow's actor ABI) in Rust. A String on `name` is answered on
// `greeting` with "GREETING, NAME!", GREETING being the node's config key `greeting` (its
// metadata in the graph), "Hello" by default; the node's state counts the greetings.

#[allow(dead_code)]
#[macro_use]
mod kiln_pdk;
#[allow(dead_code)]
#[macro_use]
mod kiln_actor;

use kiln_actor::{Context, Json, Message, Metadata, Output, Port};
use kiln_pdk::Error;

kiln_actor! {
    metadata: Metadata::new("{{name}}", "Greets by name")
        .inport(Port::new("name", "String", "who to greet").required())
        .outport(Port::new("greeting", "String", "the greeting")),
    process: |ctx: Context| -> Result<Output, Error> {
        let name = ctx.message.as_str().ok_or("name: expected a String")?;
        let greeting = ctx.config.get("greeting").and_then(Json::as_str).unwrap_or("Hello");
        let count = ctx.state.get("count").and_then(Json::as_i64).unwrap_or(0);
        Ok(Output::new()
            .send("greeting", Message::String(format!("{}, {}!", greeting, name)))
            .state(Json::Object(vec![("count".to_string(), Json::Int(count + 1))])))
    }
}
