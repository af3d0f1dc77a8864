// Kiln plugin kit for Rust: ZenoEngine-ABI plugins (docs/hostfns.md, "ZenoEngine plugins"), which
// Kiln runs as ZenoEngine does. The env.host_* imports with typed wrappers, the `alloc` export,
// NUL-terminated JSON answers, and plugin_execute taking the request apart. On top of kiln_pdk.rs
// for its JSON readers (no Extism import is linked unless the plugin calls one); std only, rustc
// 1.63 and later, a wasm32-wasi cdylib as ZenoEngine's plugins are.
//
// Mount it beside kiln_pdk, both at the crate root:
//
//     #[allow(dead_code)]
//     #[macro_use]
//     #[path = "path/to/pdk/rust/kiln_pdk.rs"]
//     mod kiln_pdk;
//     #[allow(dead_code)]
//     #[macro_use]
//     #[path = "path/to/pdk/rust/kiln_zeno.rs"]
//     mod kiln_zeno;
//
//     use kiln_zeno::Request;
//     kiln_zeno_plugin! {
//         metadata: r#"{"name":"x","version":"1.0.0"}"#,
//         slots: r#"[{"name":"x.greet","description":"Greets","inputs":{}}]"#,
//         execute: |req: &Request| match req.slot.as_str() {
//             "x.greet" => Ok(format!(r#"{{"message":"hi {}"}}"#, req.param_str("name")?)),
//             _ => Err(format!("Unknown slot: {}", req.slot)),
//         }
//     }
//
// Memory: `alloc` is Rust's allocator; plugin_execute frees the slot name and the request after
// the handler, an answer is freed when the next one is made, and the wrappers free the host
// functions' answers once copied.

use crate::kiln_pdk::dispatch::{json_field, json_str, json_string};
use std::alloc::{alloc as raw_alloc, dealloc, Layout};
use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::os::raw::c_char;

/// The raw imports (module "env"). Strings are (pointer, length) without a NUL; answers are
/// written by the host through `alloc` with a NUL after them, null when alloc gave no room.
pub mod sys {
    use std::os::raw::c_char;
    #[link(wasm_import_module = "env")]
    extern "C" {
        pub fn host_log(level: *const u8, level_len: i32, msg: *const u8, msg_len: i32);
        pub fn host_db_query(req: *const u8, len: i32) -> *mut c_char;
        pub fn host_http_request(req: *const u8, len: i32) -> *mut c_char;
        pub fn host_scope_get(key: *const u8, len: i32) -> *mut c_char;
        pub fn host_scope_set(req: *const u8, len: i32) -> i32;
        pub fn host_file_read(path: *const u8, len: i32) -> *mut c_char;
        pub fn host_file_write(req: *const u8, len: i32) -> i32;
        pub fn host_env_get(key: *const u8, len: i32) -> *mut c_char;
    }
}

// ---- Memory -------------------------------------------------------------------------------------

fn layout(size: usize) -> Layout {
    // Size 0 gets one byte: the host takes a null pointer for no room.
    Layout::from_size_align(size.max(1), 1).unwrap()
}

/// What the alloc export does: `size` bytes (at least one) from Rust's allocator.
pub fn alloc(size: i32) -> *mut u8 {
    if size < 0 {
        return std::ptr::null_mut();
    }
    unsafe { raw_alloc(layout(size as usize)) }
}

/// Frees `size` bytes at `ptr` that alloc gave.
///
/// # Safety
/// `ptr` came from alloc(size) and is not used again.
pub unsafe fn free(ptr: *mut u8, size: usize) {
    if !ptr.is_null() {
        dealloc(ptr, layout(size));
    }
}

/// A host function's answer: its text, freed (the host allocated its length and the NUL).
fn answer(ptr: *mut c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    let (text, size) = (String::from_utf8_lossy(bytes).into_owned(), bytes.len() + 1);
    unsafe { free(ptr as *mut u8, size) };
    Some(text)
}

// ---- Host functions -----------------------------------------------------------------------------

/// A line in the host's log at a level ("debug", "info", "warn", "error"; others are info).
pub fn log(level: &str, message: &str) {
    unsafe {
        sys::host_log(level.as_ptr(), level.len() as i32, message.as_ptr(), message.len() as i32)
    }
}

// Each answers the host's JSON {"success", "data"?, "error"?}, or None when the plugin's alloc
// gave no room.

/// `{"connection", "sql", "params"}` -> data `{"rows": [...]}` (permission database: [NAME]).
pub fn db_query(request_json: &str) -> Option<String> {
    answer(unsafe { sys::host_db_query(request_json.as_ptr(), request_json.len() as i32) })
}
/// `{"method", "url", "headers", "body"}` -> data `{"status", "body", "headers"}` (network).
pub fn http_request(request_json: &str) -> Option<String> {
    answer(unsafe { sys::host_http_request(request_json.as_ptr(), request_json.len() as i32) })
}
/// The scope's `key` -> data `{"value"}` (permission scope: read).
pub fn scope_get(key: &str) -> Option<String> {
    answer(unsafe { sys::host_scope_get(key.as_ptr(), key.len() as i32) })
}
/// The file at `path` -> data `{"content"}` (permission filesystem).
pub fn file_read(path: &str) -> Option<String> {
    answer(unsafe { sys::host_file_read(path.as_ptr(), path.len() as i32) })
}
/// The variable's value, raw (not JSON); "" when unset or denied.
pub fn env_get(name: &str) -> Option<String> {
    answer(unsafe { sys::host_env_get(name.as_ptr(), name.len() as i32) })
}
/// Sets the scope's `key` to a value given as JSON text (permission scope: write); false when
/// the host refused it.
pub fn scope_set(key: &str, value_json: &str) -> bool {
    let req = format!(r#"{{"key":{},"value":{}}}"#, json_string(key), value_json);
    unsafe { sys::host_scope_set(req.as_ptr(), req.len() as i32) == 1 }
}
/// Writes the text to the file at `path` (permission filesystem, rw:); false when refused.
pub fn file_write(path: &str, content: &str) -> bool {
    let req = format!(r#"{{"path":{},"content":{}}}"#, json_string(path), json_string(content));
    unsafe { sys::host_file_write(req.as_ptr(), req.len() as i32) == 1 }
}

// ---- Requests and answers -----------------------------------------------------------------------

/// plugin_execute's arguments: the slot's name, the request `{"slot_name", "parameters"}` and
/// the parameters' JSON text ("{}" when there are none).
pub struct Request {
    pub slot: String,
    pub request: String,
    pub parameters: String,
}

impl Request {
    /// Takes plugin_execute's arguments apart.
    pub fn parse(slot: &[u8], request: &[u8]) -> Request {
        let request = String::from_utf8_lossy(request).into_owned();
        let parameters = match json_field(&request, "parameters") {
            Some(p) if p.starts_with('{') => p.to_string(),
            _ => "{}".to_string(),
        };
        Request { slot: String::from_utf8_lossy(slot).into_owned(), request, parameters }
    }
    /// The JSON text of parameter `name`; None when absent. The call's scope is the parameter
    /// "_zeno_scope".
    pub fn param(&self, name: &str) -> Option<&str> {
        json_field(&self.parameters, name)
    }
    /// The string parameter `name`, or an error naming it.
    pub fn param_str(&self, name: &str) -> Result<String, String> {
        self.param(name).and_then(json_str).ok_or_else(|| format!("{} is required", name))
    }
}

thread_local! {
    /// The last answer made, freed when the next one is.
    static LAST: RefCell<Option<CString>> = RefCell::new(None);
}

/// Keeps `text` as the current answer and returns its NUL-terminated pointer.
pub fn answer_ptr(text: String) -> *const c_char {
    let c = CString::new(text).unwrap_or_else(|_| {
        CString::new(r#"{"success":false,"error":"the answer holds a NUL"}"#).unwrap()
    });
    let ptr = c.as_ptr();
    LAST.with(|last| *last.borrow_mut() = Some(c));
    ptr
}

/// `{"success": true, "data": DATA}` for data's JSON text, `{"success": false, "error"}` for an
/// error.
pub fn response(result: Result<String, String>) -> String {
    match result {
        Ok(data) => format!(r#"{{"success":true,"data":{}}}"#, data),
        Err(e) => format!(r#"{{"success":false,"error":{}}}"#, json_string(&e)),
    }
}

/// What plugin_execute does: the request taken apart, the handler's result answered, the slot
/// name and the request freed.
///
/// # Safety
/// The pointers and lengths are what the host wrote with alloc.
pub unsafe fn execute<F: FnOnce(&Request) -> Result<String, String>>(
    slot: *mut u8, slot_len: i32, req: *mut u8, req_len: i32, handler: F,
) -> *const c_char {
    let (slot_len, req_len) = (slot_len.max(0) as usize, req_len.max(0) as usize);
    let request = Request::parse(std::slice::from_raw_parts(slot, slot_len),
                                 std::slice::from_raw_parts(req, req_len));
    free(slot, slot_len);
    free(req, req_len);
    answer_ptr(response(handler(&request)))
}

/// Defines alloc, plugin_init (the metadata's JSON text), plugin_register_slots (the slot
/// array's) and plugin_execute, which calls `execute(&Request) -> Result<String, String>` (data's
/// JSON text, or an error message). plugin_cleanup, optional, is the plugin's own
/// `#[no_mangle] pub extern "C" fn plugin_cleanup()`.
#[allow(unused_macros)]
macro_rules! kiln_zeno_plugin {
    (metadata: $metadata:expr, slots: $slots:expr, execute: $execute:expr $(,)?) => {
        #[no_mangle]
        pub extern "C" fn alloc(size: i32) -> *mut u8 {
            $crate::kiln_zeno::alloc(size)
        }
        #[no_mangle]
        pub extern "C" fn plugin_init() -> *const std::os::raw::c_char {
            $crate::kiln_zeno::answer_ptr(String::from($metadata))
        }
        #[no_mangle]
        pub extern "C" fn plugin_register_slots() -> *const std::os::raw::c_char {
            $crate::kiln_zeno::answer_ptr(String::from($slots))
        }
        #[no_mangle]
        pub unsafe extern "C" fn plugin_execute(
            slot: *mut u8, slot_len: i32, req: *mut u8, req_len: i32,
        ) -> *const std::os::raw::c_char {
            $crate::kiln_zeno::execute(slot, slot_len, req, req_len, $execute)
        }
    };
}
