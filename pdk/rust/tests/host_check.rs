// Compile check for the kit's host module: uses every public item once (built like
// dispatch_check.rs, for wasm32-unknown-unknown and wasm32-wasi on rustc 1.63).

#[allow(dead_code)]
#[macro_use]
#[path = "../kiln_pdk.rs"]
mod kiln_pdk;

use kiln_pdk::host;
use kiln_pdk::{Error, LogLevel};

kiln_export! {
    fn check_host(input: String) -> Result<String, Error> {
        host::log(LogLevel::Info, &input)?;
        host::scope_set("seen", "true")?;
        let user = host::scope_get("user")?.unwrap_or_default();
        host::kv_set("k", input.as_bytes())?;
        let value = host::kv_get("k")?.unwrap_or_default();
        let text = host::kv_get_string("k")?.unwrap_or_default();
        host::kv_delete("k")?;
        let keys = host::kv_list("")?;
        let rows = host::db_query(r#"{"connection":"main","sql":"SELECT 1"}"#)?;
        host::file_write("out.txt", "x")?;
        let file = host::file_read("out.txt")?.unwrap_or_default();
        let list = host::file_list(".")?;
        let stat = host::file_stat("out.txt")?;
        let home = host::env_get("HOME")?.unwrap_or_default();
        let http = host::http_request(r#"{"url":"https://example.com/"}"#)?;
        let op = host::host_call("query:files.list", "{}")?;
        Ok(format!("{}{}{}{}{}{}{}{}{}{}{}", user, value.len(), text, keys, rows, file.len(), list,
                   stat, home, http, op))
    }
}
