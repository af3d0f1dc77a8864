// Compile check for the kit's dispatch module: uses every public item once (built like
// api_check.rs, for wasm32-unknown-unknown and wasm32-wasi on rustc 1.63).

#[allow(dead_code)]
#[macro_use]
#[path = "../kiln_pdk.rs"]
mod kiln_pdk;

use kiln_pdk::dispatch::{self, Block, Renderer, Slot};
use kiln_pdk::Error;

kiln_export! {
    fn initialize() -> Result<(), Error> {
        dispatch::subscribe("a.*")?;
        dispatch::unsubscribe("a.*")?;
        dispatch::publish("a.b", "{}")?;
        dispatch::register_command("c", "C", Some(r#"{"type":"object"}"#))?;
        dispatch::register_slot(&Slot { name: "s", export: "e", description: Some("S"),
                                         example: Some("{}"), schema: None })?;
        dispatch::register_block(&Block { id: "b", name: "B", schema: None,
                                          renderer: Renderer::Template("<b>{{x}}</b>") })?;
        dispatch::register_block(&Block { id: "j", name: "J", schema: Some("{}"),
                                          renderer: Renderer::Export { name: "r", json: true } })
    }

    fn handle_command(input: String) -> Result<String, Error> {
        let c = dispatch::parse_command(&input)?;
        if c.action == "x" {
            return Ok(dispatch::command_error(&dispatch::last_error()));
        }
        let field = dispatch::json_field(&c.payload, "k").and_then(dispatch::json_str);
        Ok(dispatch::command_ok(field.as_deref().map(|_| c.payload.as_str())))
    }

    fn on_event(input: String) -> Result<(), Error> {
        let e = dispatch::parse_event(&input)?;
        dispatch::publish(&e.topic, &dispatch::json_string(&e.data))
    }
}
