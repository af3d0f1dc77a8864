// {{name}}: a Kiln plugin (Extism ABI) in Rust. Each function in kiln_export! is a function the
// host can call with bytes in and bytes out; kiln_pdk.rs is the kit, mounted here.

#[allow(dead_code)]
#[macro_use]
mod kiln_pdk;

use kiln_pdk::{Error, LogLevel};

kiln_export! {
    /// Answers the input with "GREETING, INPUT!", GREETING being the config key `greeting` (from
    /// the manifest or `kiln call --config greeting=...`), "Hello" by default.
    fn greet(name: String) -> Result<String, Error> {
        let greeting = kiln_pdk::config_get("greeting").unwrap_or_else(|| "Hello".to_string());
        kiln_log!(LogLevel::Debug, "greeting {}", name);
        Ok(format!("{}, {}!", greeting, name))
    }
}
