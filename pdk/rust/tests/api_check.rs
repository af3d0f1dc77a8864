// Compile check for kiln_pdk.rs: uses every public item once, mounting the kit through
// include! (the examples use #[path]), so that building this file for wasm32-unknown-unknown
// and wasm32-wasi shows the kit is complete and warning-free on rustc 1.63.

#[allow(dead_code)]
#[macro_use]
mod kiln_pdk {
    include!("../kiln_pdk.rs");
}

use kiln_pdk::{Error, HttpRequest, LogLevel, Memory};
use std::io::Read;

kiln_host_fns! {
    "extism:host/user" {
        fn hello(input: u64) -> u64;
        pub fn world();
    }
}

kiln_export! {
    /// Bytes in, bytes out.
    fn check_bytes(input: Vec<u8>) -> Result<Vec<u8>, Error> {
        let mut m = Memory::alloc(8).ok_or("alloc")?;
        m.store(0, &input[..input.len().min(8)]);
        let mut buf = [0u8; 4];
        m.load(0, &mut buf);
        let _ = (m.handle(), m.len(), m.is_empty(), m.to_vec());
        let copy = Memory::from_bytes(b"abc").and_then(|c| Memory::adopt(c.into_handle()));
        drop(copy);
        let mut chunks = Vec::new();
        kiln_pdk::InputReader::new().read_to_end(&mut chunks).map_err(|e| e.to_string())?;
        let n = kiln_pdk::input_read_at(0, &mut buf) as u64 + kiln_pdk::input_len();
        if let Some(block) = kiln_pdk::input_to_memory() {
            let result = unsafe { hello(block.handle()) };
            if let Some(r) = Memory::adopt(result) {
                kiln_pdk::set_output_memory(r);
            }
        }
        unsafe { world() };
        kiln_pdk::set_output(&chunks)?;
        Ok(kiln_pdk::input().into_iter().take(n as usize).collect())
    }

    fn check_text(name: String) -> Result<String, String> {
        let vowels = kiln_pdk::config_get("vowels").unwrap_or_default();
        let raw = kiln_pdk::config_get_bytes("vowels").unwrap_or_default();
        kiln_pdk::var_set("v", &raw).map_err(|e| e.0)?;
        kiln_pdk::var_set_i64("n", -5).map_err(|e| e.to_string())?;
        let n = kiln_pdk::var_get_i64("n").unwrap_or(0) + kiln_pdk::parse_i64(b"+7").unwrap_or(0);
        let _ = kiln_pdk::var_get("v");
        kiln_pdk::var_delete("v");
        kiln_log!(LogLevel::Debug, "{} {} {}", name, vowels, n);
        if kiln_pdk::log_enabled(LogLevel::Trace) {
            kiln_pdk::log(LogLevel::Trace, "trace");
        }
        kiln_pdk::log_trace("t");
        kiln_pdk::log_debug("d");
        kiln_pdk::log_info("i");
        kiln_pdk::log_warn("w");
        kiln_pdk::log_error("e");
        let req = HttpRequest::new("POST", "http://localhost/").header("X-Quote", "\"\\\n");
        let res = kiln_pdk::http_request(&req, Some(b"body")).map_err(|e| e.0)?;
        let res2 = kiln_pdk::http_request(&HttpRequest::get("http://localhost/"), None)
            .map_err(|e| e.0)?;
        let headers = kiln_pdk::http_headers().unwrap_or_default();
        let mut json = String::new();
        kiln_pdk::push_json_string(&mut json, &headers);
        if res.status != 200 {
            kiln_pdk::set_error("not ok");
        }
        Ok(format!("{}{}{}", req.to_json(), json, res2.body.len()))
    }

    fn check_jobs() -> Result<String, Error> {
        let state = kiln_pdk::job_load_state().unwrap_or_default();
        kiln_pdk::job_progress(0.5, "half");
        kiln_pdk::job_items(1, 2);
        kiln_pdk::job_log(LogLevel::Info, "log");
        if kiln_pdk::job_check_interrupt() == kiln_pdk::JobInterrupt::Continue {
            kiln_pdk::job_checkpoint(&state)?;
        }
        Ok(state)
    }
    fn check_str(_input: ()) -> Result<&'static str, Error> { Ok("static") }
    fn check_slice() -> Result<&'static [u8], Error> { Ok(b"static") }
    fn check_none() -> Result<(), Error> { Err(Error::from("no")) }
    fn check_memory() -> Result<Memory, Error> {
        let text = kiln_pdk::input_string()?;
        Memory::from_bytes(text.as_bytes()).ok_or_else(|| Error::from(String::from("oom")))
    }
}
