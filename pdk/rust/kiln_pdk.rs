// Kiln plugin development kit for Rust: guest-side helpers over the Extism plugin ABI (imports
// from "extism:host/env"), as one std-only file for rustc 1.63 and later, targets
// wasm32-unknown-unknown and wasm32-wasi (`--crate-type cdylib`). No crates.
//
// Mount it at the crate root under the name kiln_pdk (the macros refer to `$crate::kiln_pdk`):
//
//     #[allow(dead_code)]
//     #[macro_use]
//     #[path = "path/to/pdk/rust/kiln_pdk.rs"]
//     mod kiln_pdk;
//
// or `#[allow(dead_code)] #[macro_use] mod kiln_pdk { include!("path/to/kiln_pdk.rs"); }`. The
// file has no inner attributes or inner doc comments so that include! accepts it. See
// docs/pdk-rust.md.

use std::fmt;

/// The raw ABI, one declaration per host function. Handles address kernel memory blocks; 0 is
/// none. Everything else in this file is built on these.
pub mod sys {
    #[link(wasm_import_module = "extism:host/env")]
    extern "C" {
        pub fn alloc(size: u64) -> u64;
        pub fn free(handle: u64);
        pub fn length(handle: u64) -> u64;
        pub fn length_unsafe(handle: u64) -> u64;
        pub fn load_u8(address: u64) -> i32;
        pub fn load_u64(address: u64) -> u64;
        pub fn store_u8(address: u64, byte: i32);
        pub fn store_u64(address: u64, value: u64);
        pub fn input_length() -> u64;
        pub fn input_offset() -> u64;
        pub fn input_load_u8(offset: u64) -> i32;
        pub fn input_load_u64(offset: u64) -> u64;
        pub fn input_set(handle: u64, length: u64);
        pub fn output_set(handle: u64, length: u64);
        pub fn output_offset() -> u64;
        pub fn output_length() -> u64;
        pub fn error_set(handle: u64);
        pub fn error_get() -> u64;
        pub fn reset();
        pub fn memory_bytes() -> u64;
        pub fn config_get(key: u64) -> u64;
        pub fn var_get(key: u64) -> u64;
        pub fn var_set(key: u64, value: u64);
        pub fn http_request(request_json: u64, body: u64) -> u64;
        pub fn http_status_code() -> i32;
        pub fn http_headers() -> u64;
        pub fn log_trace(message: u64);
        pub fn log_debug(message: u64);
        pub fn log_info(message: u64);
        pub fn log_warn(message: u64);
        pub fn log_error(message: u64);
        pub fn get_log_level() -> i32;
    }
}

/// A failure to report as the call's error: any message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Error {}
impl From<&str> for Error {
    fn from(s: &str) -> Self {
        Error(s.to_string())
    }
}
impl From<String> for Error {
    fn from(s: String) -> Self {
        Error(s)
    }
}

fn out_of_memory() -> Error {
    Error("out of kernel memory".to_string())
}

// ---- Kernel memory blocks -------------------------------------------------------------------

/// Owns a kernel memory block and frees it when dropped; `into_handle` gives ownership away
/// (to the output, or to a host function that keeps it).
#[derive(Debug)]
pub struct Memory {
    handle: u64,
}

impl Memory {
    /// A new block of `size` bytes; None when the host is out of memory (and possibly for 0).
    pub fn alloc(size: u64) -> Option<Memory> {
        Memory::adopt(unsafe { sys::alloc(size) })
    }
    /// A new block holding a copy of the bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Memory> {
        let mut m = Memory::alloc(bytes.len() as u64)?;
        m.store(0, bytes);
        Some(m)
    }
    /// Takes ownership of a block handle (None for 0), e.g. one a host function returned.
    pub fn adopt(handle: u64) -> Option<Memory> {
        if handle == 0 {
            None
        } else {
            Some(Memory { handle })
        }
    }
    pub fn handle(&self) -> u64 {
        self.handle
    }
    pub fn len(&self) -> u64 {
        unsafe { sys::length(self.handle) }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copies `buf.len()` bytes at `offset` within the block: eight bytes per host call, then
    /// single bytes for the tail.
    pub fn load(&self, offset: u64, buf: &mut [u8]) {
        let at = self.handle + offset;
        let mut chunks = buf.chunks_exact_mut(8);
        let mut i = 0u64;
        for chunk in &mut chunks {
            chunk.copy_from_slice(&unsafe { sys::load_u64(at + i) }.to_le_bytes());
            i += 8;
        }
        for b in chunks.into_remainder() {
            *b = unsafe { sys::load_u8(at + i) } as u8;
            i += 1;
        }
    }
    /// Copies the bytes to `offset` within the block.
    pub fn store(&mut self, offset: u64, bytes: &[u8]) {
        let at = self.handle + offset;
        let mut chunks = bytes.chunks_exact(8);
        let mut i = 0u64;
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            unsafe { sys::store_u64(at + i, u64::from_le_bytes(word)) };
            i += 8;
        }
        for &b in chunks.remainder() {
            unsafe { sys::store_u8(at + i, b as i32) };
            i += 1;
        }
    }
    /// The block's bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.len() as usize];
        self.load(0, &mut v);
        v
    }
    /// Gives up ownership: the block is no longer freed on drop.
    pub fn into_handle(self) -> u64 {
        let h = self.handle;
        std::mem::forget(self);
        h
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        unsafe { sys::free(self.handle) }
    }
}

// ---- Input ------------------------------------------------------------------------------------

pub fn input_len() -> u64 {
    unsafe { sys::input_length() }
}

/// Copies up to `buf.len()` input bytes starting at `offset`; returns how many, 0 at the end.
pub fn input_read_at(offset: u64, buf: &mut [u8]) -> usize {
    let total = input_len();
    if offset >= total {
        return 0;
    }
    let n = std::cmp::min(total - offset, buf.len() as u64) as usize;
    let buf = &mut buf[..n];
    let mut chunks = buf.chunks_exact_mut(8);
    let mut i = offset;
    for chunk in &mut chunks {
        chunk.copy_from_slice(&unsafe { sys::input_load_u64(i) }.to_le_bytes());
        i += 8;
    }
    for b in chunks.into_remainder() {
        *b = unsafe { sys::input_load_u8(i) } as u8;
        i += 1;
    }
    n
}

/// The whole input.
pub fn input() -> Vec<u8> {
    let mut v = vec![0u8; input_len() as usize];
    input_read_at(0, &mut v);
    v
}

/// The whole input as text; an error when it is not UTF-8.
pub fn input_string() -> Result<String, Error> {
    String::from_utf8(input()).map_err(|_| Error::from("the input is not UTF-8"))
}

/// Streams the input through std::io::Read, for inputs too large to copy whole.
#[derive(Debug, Default)]
pub struct InputReader {
    offset: u64,
}

impl InputReader {
    pub fn new() -> InputReader {
        InputReader { offset: 0 }
    }
}

impl std::io::Read for InputReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = input_read_at(self.offset, buf);
        self.offset += n as u64;
        Ok(n)
    }
}

/// A new block (owned by the caller) holding the input, copied inside kernel memory: for
/// handing the input on to a host function.
pub fn input_to_memory() -> Option<Memory> {
    let len = input_len();
    let m = Memory::alloc(len)?;
    let mut i = 0;
    while i + 8 <= len {
        unsafe { sys::store_u64(m.handle + i, sys::input_load_u64(i)) };
        i += 8;
    }
    while i < len {
        unsafe { sys::store_u8(m.handle + i, sys::input_load_u8(i)) };
        i += 1;
    }
    Some(m)
}

// ---- Output and errors ----------------------------------------------------------------------

/// Copies the bytes into a new block and makes it the output.
pub fn set_output<B: AsRef<[u8]>>(bytes: B) -> Result<(), Error> {
    let bytes = bytes.as_ref();
    match Memory::from_bytes(bytes) {
        Some(m) => set_output_memory(m),
        None if bytes.is_empty() => unsafe { sys::output_set(0, 0) },
        None => return Err(out_of_memory()),
    }
    Ok(())
}

/// Makes the block the output; the host reads it after the call, so ownership passes to it.
pub fn set_output_memory(m: Memory) {
    let len = m.len();
    unsafe { sys::output_set(m.into_handle(), len) }
}

/// Sets the call's error message (the call fails with it). An empty message may clear it.
pub fn set_error(message: &str) {
    let handle = Memory::from_bytes(message.as_bytes()).map_or(0, Memory::into_handle);
    unsafe { sys::error_set(handle) }
}

// ---- Config and vars --------------------------------------------------------------------------

/// A key block for the host, which frees key blocks itself.
fn key_handle(key: &str) -> Option<u64> {
    Memory::from_bytes(key.as_bytes()).map(Memory::into_handle)
}

/// The config value's bytes; None when absent.
pub fn config_get_bytes(key: &str) -> Option<Vec<u8>> {
    let k = key_handle(key)?;
    Memory::adopt(unsafe { sys::config_get(k) }).map(|m| m.to_vec())
}

/// The config value as text (invalid UTF-8 replaced by U+FFFD); None when absent.
pub fn config_get(key: &str) -> Option<String> {
    config_get_bytes(key).map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// The var's bytes; None when unset.
pub fn var_get(key: &str) -> Option<Vec<u8>> {
    let k = key_handle(key)?;
    Memory::adopt(unsafe { sys::var_get(k) }).map(|m| m.to_vec())
}

/// Sets the var. The host only reads the value block, so it is freed here. A zero-length value
/// may delete the var, since some hosts give size-0 allocations the null handle.
pub fn var_set<B: AsRef<[u8]>>(key: &str, value: B) -> Result<(), Error> {
    let value = value.as_ref();
    let v = Memory::from_bytes(value);
    if v.is_none() && !value.is_empty() {
        return Err(out_of_memory());
    }
    let k = key_handle(key).ok_or_else(out_of_memory)?;
    unsafe { sys::var_set(k, v.as_ref().map_or(0, Memory::handle)) };
    Ok(())
}

pub fn var_delete(key: &str) {
    if let Some(k) = key_handle(key) {
        unsafe { sys::var_set(k, 0) }
    }
}

/// An integer var kept as decimal text; None when unset or not a decimal integer.
pub fn var_get_i64(key: &str) -> Option<i64> {
    parse_i64(&var_get(key)?)
}

pub fn var_set_i64(key: &str, value: i64) -> Result<(), Error> {
    var_set(key, value.to_string())
}

/// Optional '+' or '-', then decimal digits, nothing else, within i64: the same rule as the C
/// kit's kiln_parse_i64, so that both kits read each other's integer vars.
pub fn parse_i64(text: &[u8]) -> Option<i64> {
    let digits = match text.first() {
        Some(b'+') | Some(b'-') => &text[1..],
        _ => text,
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

// ---- Logging ----------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
}

/// Whether the host keeps messages at this level (it reports i32::MAX when logging is off).
pub fn log_enabled(level: LogLevel) -> bool {
    level as i32 >= unsafe { sys::get_log_level() }
}

/// Logs the message. The level is checked first so that a disabled message costs one host call
/// and no kernel allocation; the host frees the message block.
pub fn log(level: LogLevel, message: &str) {
    if !log_enabled(level) {
        return;
    }
    let m = match Memory::from_bytes(message.as_bytes()) {
        Some(m) => m.into_handle(),
        None => return,
    };
    unsafe {
        match level {
            LogLevel::Trace => sys::log_trace(m),
            LogLevel::Debug => sys::log_debug(m),
            LogLevel::Info => sys::log_info(m),
            LogLevel::Warn => sys::log_warn(m),
            LogLevel::Error => sys::log_error(m),
        }
    }
}

pub fn log_trace(message: &str) {
    log(LogLevel::Trace, message)
}
pub fn log_debug(message: &str) {
    log(LogLevel::Debug, message)
}
pub fn log_info(message: &str) {
    log(LogLevel::Info, message)
}
pub fn log_warn(message: &str) {
    log(LogLevel::Warn, message)
}
pub fn log_error(message: &str) {
    log(LogLevel::Error, message)
}

/// `kiln_log!(LogLevel::Info, "read {} bytes", n)`: formats only when the level is enabled.
#[allow(unused_macros)]
macro_rules! kiln_log {
    ($level:expr, $($arg:tt)+) => {{
        let level = $level;
        if $crate::kiln_pdk::log_enabled(level) {
            $crate::kiln_pdk::log(level, &format!($($arg)+));
        }
    }};
}

// ---- HTTP -------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: i32,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn new(method: &str, url: &str) -> HttpRequest {
        HttpRequest { url: url.to_string(), method: method.to_string(), headers: Vec::new() }
    }
    pub fn get(url: &str) -> HttpRequest {
        HttpRequest::new("GET", url)
    }
    /// Adds a header, builder style.
    pub fn header(mut self, name: &str, value: &str) -> HttpRequest {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
    /// The JSON the host expects: {"url":...,"method":...,"headers":{...}}.
    pub fn to_json(&self) -> String {
        let mut s = String::from("{\"url\":");
        push_json_string(&mut s, &self.url);
        s.push_str(",\"method\":");
        push_json_string(&mut s, &self.method);
        s.push_str(",\"headers\":{");
        for (i, (name, value)) in self.headers.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            push_json_string(&mut s, name);
            s.push(':');
            push_json_string(&mut s, value);
        }
        s.push_str("}}");
        s
    }
}

/// Appends a JSON string literal: quote and backslash escaped, control characters as \u00xx,
/// everything else as is (the same escaping as the C kit).
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Sends the request with an optional body. A host that refuses the URL (not in allowed_hosts)
/// or cannot connect makes the call fail rather than returning here. The request and body blocks
/// are only read by the host, so they are freed here.
pub fn http_request(request: &HttpRequest, body: Option<&[u8]>) -> Result<HttpResponse, Error> {
    let req = Memory::from_bytes(request.to_json().as_bytes()).ok_or_else(out_of_memory)?;
    let body_mem = match body {
        Some(b) if !b.is_empty() => Some(Memory::from_bytes(b).ok_or_else(out_of_memory)?),
        _ => None,
    };
    let body_handle = body_mem.as_ref().map_or(0, Memory::handle);
    let res = unsafe { sys::http_request(req.handle(), body_handle) };
    let status = unsafe { sys::http_status_code() };
    let body = Memory::adopt(res).map(|m| m.to_vec()).unwrap_or_default();
    Ok(HttpResponse { status, body })
}

/// The last response's headers as a JSON object; None when the host does not hand them out.
pub fn http_headers() -> Option<String> {
    Memory::adopt(unsafe { sys::http_headers() })
        .map(|m| String::from_utf8_lossy(&m.to_vec()).into_owned())
}

// ---- Jobs (module kiln:host/v1) ------------------------------------------------------------------

/// The kiln:host/v1 job functions, for exports run as jobs (docs/jobs.md). The export gets the
/// job's state as its input; the host only reads the blocks it is given.
pub mod job_sys {
    #[link(wasm_import_module = "kiln:host/v1")]
    extern "C" {
        pub fn job_progress(fraction: f64, message: u64);
        pub fn job_checkpoint(state: u64) -> i32;
        pub fn job_check_interrupt() -> i32;
        pub fn job_items(done: u64, total: u64);
        pub fn job_log(level: i32, message: u64);
        pub fn job_load_state() -> u64;
    }
}

/// What job_check_interrupt answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobInterrupt {
    /// Go on.
    Continue,
    /// Checkpoint if needed and return: the job is paused.
    Pause,
    /// Return: the job is cancelled.
    Cancel,
}

/// Reports progress: a fraction from 0 to 1 and a message ("" keeps the last one).
pub fn job_progress(fraction: f64, message: &str) {
    let m = if message.is_empty() { None } else { Memory::from_bytes(message.as_bytes()) };
    unsafe { job_sys::job_progress(fraction, m.as_ref().map_or(0, |m| m.handle())) }
}

/// Saves the state (JSON) as the job's checkpoint, durably, before returning: a job resumed
/// after a crash starts again from it. An error when it could not be saved (a full disk).
pub fn job_checkpoint(state: &str) -> Result<(), Error> {
    let s = Memory::from_bytes(state.as_bytes()).ok_or_else(|| Error("out of memory".into()))?;
    match unsafe { job_sys::job_checkpoint(s.handle()) } {
        0 => Ok(()),
        _ => Err(Error("the checkpoint could not be saved".into())),
    }
}

/// Whether to go on, pause or stop; cheap enough to ask at every step.
pub fn job_check_interrupt() -> JobInterrupt {
    match unsafe { job_sys::job_check_interrupt() } {
        0 => JobInterrupt::Continue,
        2 => JobInterrupt::Cancel,
        _ => JobInterrupt::Pause,
    }
}

/// Reports items done out of a total (0: unknown).
pub fn job_items(done: u64, total: u64) {
    unsafe { job_sys::job_items(done, total) }
}

/// A line in the job's log.
pub fn job_log(level: LogLevel, message: &str) {
    if let Some(m) = Memory::from_bytes(message.as_bytes()) {
        unsafe { job_sys::job_log(level as i32, m.handle()) }
    }
}

/// The job's state: its last checkpoint, else the state it was started with (None: empty).
pub fn job_load_state() -> Option<String> {
    let m = Memory::adopt(unsafe { job_sys::job_load_state() })?;
    let mut bytes = vec![0u8; m.len() as usize];
    m.load(0, &mut bytes);
    String::from_utf8(bytes).ok()
}

// ---- Exports ------------------------------------------------------------------------------------

/// What an exported function takes: the input as bytes, as UTF-8 text, or nothing.
pub trait FromInput: Sized {
    fn from_input() -> Result<Self, Error>;
}
impl FromInput for Vec<u8> {
    fn from_input() -> Result<Self, Error> {
        Ok(input())
    }
}
impl FromInput for String {
    fn from_input() -> Result<Self, Error> {
        input_string()
    }
}
impl FromInput for () {
    fn from_input() -> Result<Self, Error> {
        Ok(())
    }
}

/// What an exported function returns on success: it becomes the output.
pub trait IntoOutput {
    fn into_output(self) -> Result<(), Error>;
}
impl IntoOutput for Vec<u8> {
    fn into_output(self) -> Result<(), Error> {
        set_output(self)
    }
}
impl IntoOutput for String {
    fn into_output(self) -> Result<(), Error> {
        set_output(self)
    }
}
impl IntoOutput for &str {
    fn into_output(self) -> Result<(), Error> {
        set_output(self)
    }
}
impl IntoOutput for &[u8] {
    fn into_output(self) -> Result<(), Error> {
        set_output(self)
    }
}
impl IntoOutput for Memory {
    fn into_output(self) -> Result<(), Error> {
        set_output_memory(self);
        Ok(())
    }
}
/// No output.
impl IntoOutput for () {
    fn into_output(self) -> Result<(), Error> {
        Ok(())
    }
}

/// The body of every export made by kiln_export!: reads the input, runs `f`, and turns its
/// result into the output or the error and the return code. A panic hook, installed once,
/// sets the panic's message as the error before wasm traps, so the host can show it.
pub fn run_export<I, O, E, F>(f: F) -> i32
where
    I: FromInput,
    O: IntoOutput,
    E: fmt::Display,
    F: FnOnce(I) -> Result<O, E>,
{
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| std::panic::set_hook(Box::new(|info| set_error(&info.to_string()))));

    let result = match I::from_input() {
        Ok(input) => f(input).map_err(|e| Error(e.to_string())).and_then(IntoOutput::into_output),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            set_error(&e.0);
            1
        }
    }
}

/// Defines exported plugin functions (type () -> i32). The parameter, if any, is the input as
/// Vec<u8>, String or (); the result is Result<T, E> with T one of Vec<u8>, String, &str,
/// &[u8], Memory or () and E anything Display:
///
///     kiln_export! {
///         fn greet(name: String) -> Result<String, Error> { Ok(format!("Hello, {}!", name)) }
///     }
#[allow(unused_macros)]
macro_rules! kiln_export {
    () => {};
    ($(#[$meta:meta])* fn $name:ident($input:ident : $ity:ty) -> $rty:ty $body:block
     $($rest:tt)*) => {
        $(#[$meta])*
        #[no_mangle]
        pub extern "C" fn $name() -> i32 {
            fn inner($input: $ity) -> $rty $body
            $crate::kiln_pdk::run_export(inner)
        }
        kiln_export! { $($rest)* }
    };
    ($(#[$meta:meta])* fn $name:ident() -> $rty:ty $body:block $($rest:tt)*) => {
        $(#[$meta])*
        #[no_mangle]
        pub extern "C" fn $name() -> i32 {
            fn inner() -> $rty $body
            $crate::kiln_pdk::run_export(|()| inner())
        }
        kiln_export! { $($rest)* }
    };
}

/// Declares functions the host provides in the import module `$module` (usually
/// "extism:host/user"); calling them is unsafe, as for any extern function:
///
///     kiln_host_fns! {
///         "extism:host/user" {
///             fn hello(input: u64) -> u64;
///         }
///     }
#[allow(unused_macros)]
macro_rules! kiln_host_fns {
    ($module:literal {
        $($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident : $aty:ty),* $(,)?)
          $(-> $ret:ty)?;)*
    }) => {
        #[link(wasm_import_module = $module)]
        extern "C" {
            $($(#[$meta])* $vis fn $name($($arg: $aty),*) $(-> $ret)?;)*
        }
    };
}

// ---- Dispatch: events, commands, slots, UI blocks (kiln:host/v1) -----------------------------

/// Events, commands, slots and UI blocks through Kiln's module "kiln:host/v1", and the inputs
/// and outputs of the lifecycle exports a host calls (initialize, handle_command, on_event,
/// shutdown). See docs/hostfns.md.
///
///     kiln_export! {
///         fn initialize() -> Result<(), Error> {
///             dispatch::subscribe("file.*")?;
///             dispatch::register_command("notes.add", "Add a note", None)
///         }
///         fn on_event(input: String) -> Result<(), Error> {
///             let event = dispatch::parse_event(&input)?;   // event.topic, event.data (JSON)
///             Ok(())
///         }
///     }
pub mod dispatch {
    use super::{Error, Memory};

    /// The raw functions: blocks in (freed by the host), 0 for success, -1 for a failure
    /// whose message last_error() returns.
    pub mod sys {
        #[link(wasm_import_module = "kiln:host/v1")]
        extern "C" {
            pub fn event_publish(topic: u64, data: u64) -> i32;
            pub fn event_subscribe(pattern: u64) -> i32;
            pub fn event_unsubscribe(pattern: u64) -> i32;
            pub fn command_register(spec_json: u64) -> i32;
            pub fn slot_register(spec_json: u64) -> i32;
            pub fn block_register(spec_json: u64) -> i32;
            pub fn last_error() -> u64;
        }
    }

    fn block(bytes: &str) -> Result<u64, Error> {
        if bytes.is_empty() {
            return Ok(0);
        }
        Memory::from_bytes(bytes.as_bytes())
            .map(Memory::into_handle)
            .ok_or_else(super::out_of_memory)
    }

    /// Why the last kiln:host/v1 function failed; empty when it did not.
    pub fn last_error() -> String {
        Memory::adopt(unsafe { sys::last_error() })
            .map(|m| String::from_utf8_lossy(&m.to_vec()).into_owned())
            .unwrap_or_default()
    }

    fn status(rc: i32) -> Result<(), Error> {
        if rc == 0 {
            Ok(())
        } else {
            Err(Error(last_error()))
        }
    }

    /// Publishes `data_json` on `topic` (permission events.publish).
    pub fn publish(topic: &str, data_json: &str) -> Result<(), Error> {
        let (t, d) = (block(topic)?, block(data_json)?);
        status(unsafe { sys::event_publish(t, d) })
    }
    /// Subscribes to a topic or a glob ("file.*"); events come to the on_event export.
    pub fn subscribe(pattern: &str) -> Result<(), Error> {
        let p = block(pattern)?;
        status(unsafe { sys::event_subscribe(p) })
    }
    /// Ends a subscription.
    pub fn unsubscribe(pattern: &str) -> Result<(), Error> {
        let p = block(pattern)?;
        status(unsafe { sys::event_unsubscribe(p) })
    }

    /// `s` as a JSON string literal.
    pub fn json_string(s: &str) -> String {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    /// A JSON object of the fields given: strings quoted, raw ones (JSON text) as they are.
    fn object(fields: &[(&str, Option<&str>, bool)]) -> String {
        let mut out = String::from("{");
        for (key, value, raw) in fields {
            if let Some(v) = value {
                if out.len() > 1 {
                    out.push(',');
                }
                out.push_str(&json_string(key));
                out.push(':');
                out.push_str(&if *raw { v.to_string() } else { json_string(v) });
            }
        }
        out.push('}');
        out
    }

    /// Registers a command the host can invoke; `schema` is JSON Schema text of the payload.
    pub fn register_command(id: &str, title: &str, schema: Option<&str>) -> Result<(), Error> {
        let spec = object(&[("id", Some(id), false), ("title", Some(title), false),
                            ("schema", schema, true)]);
        let h = block(&spec)?;
        status(unsafe { sys::command_register(h) })
    }

    /// A slot: a named operation the host calls by name, served by an export.
    pub struct Slot<'a> {
        pub name: &'a str,
        pub export: &'a str,
        pub description: Option<&'a str>,
        pub example: Option<&'a str>, // JSON text
        pub schema: Option<&'a str>,  // JSON Schema text
    }
    pub fn register_slot(slot: &Slot) -> Result<(), Error> {
        let spec = object(&[("name", Some(slot.name), false), ("export", Some(slot.export), false),
                            ("description", slot.description, false),
                            ("example", slot.example, true), ("schema", slot.schema, true)]);
        let h = block(&spec)?;
        status(unsafe { sys::slot_register(h) })
    }

    /// How a UI block is rendered.
    pub enum Renderer<'a> {
        /// A template: `{{field}}`, `{{a.b}}` are the data's values, HTML-escaped.
        Template(&'a str),
        /// An export that gets the data and outputs HTML, or JSON when `json`.
        Export { name: &'a str, json: bool },
    }
    /// A UI block type (permission ui).
    pub struct Block<'a> {
        pub id: &'a str,
        pub name: &'a str,
        pub schema: Option<&'a str>, // JSON Schema text of the data
        pub renderer: Renderer<'a>,
    }
    pub fn register_block(b: &Block) -> Result<(), Error> {
        let (template, export, format) = match b.renderer {
            Renderer::Template(t) => (Some(t), None, None),
            Renderer::Export { name, json } => {
                (None, Some(name), Some(if json { "json" } else { "html" }))
            }
        };
        let spec = object(&[("id", Some(b.id), false), ("name", Some(b.name), false),
                            ("schema", b.schema, true), ("template", template, false),
                            ("export", export, false), ("format", format, false)]);
        let h = block(&spec)?;
        status(unsafe { sys::block_register(h) })
    }

    // Enough JSON to take the lifecycle inputs apart: values found as slices of the text.

    fn skip_ws(s: &[u8], mut i: usize) -> usize {
        while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r') {
            i += 1;
        }
        i
    }

    /// The end of the JSON value at s[i]; None when it is malformed.
    fn skip_value(s: &[u8], mut i: usize) -> Option<usize> {
        let mut depth = 0usize;
        loop {
            let c = *s.get(i)?;
            match c {
                b'"' => {
                    i += 1;
                    while *s.get(i)? != b'"' {
                        i += if s[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
                b'{' | b'[' => {
                    depth += 1;
                    i += 1;
                }
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    i += 1;
                }
                b',' | b':' | b' ' | b'\t' | b'\n' | b'\r' if depth > 0 => i += 1,
                _ => {
                    let start = i;
                    while i < s.len() && !b",}]: \t\n\r".contains(&s[i]) {
                        i += 1;
                    }
                    if i == start {
                        return None;
                    }
                }
            }
            if depth == 0 {
                return Some(i);
            }
        }
    }

    /// The JSON text of `key`'s value in the object `json`; None when absent. Keys are
    /// compared as written (look up keys without escapes).
    pub fn json_field<'a>(json: &'a str, key: &str) -> Option<&'a str> {
        let s = json.as_bytes();
        let mut i = skip_ws(s, 0);
        if s.get(i) != Some(&b'{') {
            return None;
        }
        i = skip_ws(s, i + 1);
        while s.get(i) == Some(&b'"') {
            let key_end = skip_value(s, i)?;
            let matched = &json[i + 1..key_end - 1] == key;
            i = skip_ws(s, key_end);
            if s.get(i) != Some(&b':') {
                return None;
            }
            i = skip_ws(s, i + 1);
            let value_end = skip_value(s, i)?;
            if matched {
                return Some(&json[i..value_end]);
            }
            i = skip_ws(s, value_end);
            if s.get(i) != Some(&b',') {
                return None;
            }
            i = skip_ws(s, i + 1);
        }
        None
    }

    /// The JSON string literal `value` decoded; None when it is not one.
    pub fn json_str(value: &str) -> Option<String> {
        let inner = value.strip_prefix('"')?.strip_suffix('"')?;
        let mut out = String::with_capacity(inner.len());
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next()? {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                '/' => out.push('/'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let mut cp = u32::from_str_radix(&hex, 16).ok()?;
                    if (0xD800..0xDC00).contains(&cp) {
                        let rest = chars.as_str();
                        if let Some(low) = rest.strip_prefix("\\u").and_then(|r| r.get(..4)) {
                            let low = u32::from_str_radix(low, 16).ok()?;
                            if (0xDC00..0xE000).contains(&low) {
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                                chars = rest[6..].chars();
                            }
                        }
                    }
                    out.push(char::from_u32(cp).unwrap_or('\u{fffd}'));
                }
                _ => return None,
            }
        }
        Some(out)
    }

    /// on_event's input: the topic and the data's JSON text.
    pub struct EventInput {
        pub topic: String,
        pub data: String,
    }
    pub fn parse_event(input: &str) -> Result<EventInput, Error> {
        let topic = json_field(input, "topic").and_then(json_str);
        let data = json_field(input, "data");
        match (topic, data) {
            (Some(topic), Some(data)) => Ok(EventInput { topic, data: data.to_string() }),
            _ => Err(Error::from("expected {\"topic\", \"data\"}")),
        }
    }

    /// handle_command's input: the command id and the payload's JSON text ("null" when none).
    pub struct CommandInput {
        pub action: String,
        pub payload: String,
    }
    pub fn parse_command(input: &str) -> Result<CommandInput, Error> {
        let action = json_field(input, "action").and_then(json_str);
        let payload = json_field(input, "payload").unwrap_or("null").to_string();
        match action {
            Some(action) => Ok(CommandInput { action, payload }),
            None => Err(Error::from("expected {\"action\", \"payload\"}")),
        }
    }

    /// handle_command's output when the command succeeded: {"ok": true, "data": DATA}.
    pub fn command_ok(data_json: Option<&str>) -> String {
        object(&[("ok", Some("true"), true), ("data", data_json, true)])
    }
    /// handle_command's output when the command failed: {"ok": false, "error": MESSAGE}.
    pub fn command_error(message: &str) -> String {
        object(&[("ok", Some("false"), true), ("error", Some(message), false)])
    }
}

// ---- Host functions (module kiln:host/v1) ---------------------------------------------------

/// Log, scope, kv, db, files, env, http and host operations through kiln:host/v1
/// (docs/hostfns.md gives the JSON each takes and returns). Every function returns the value, or
/// the host's error (its last_error) when it refused or failed. Kiln's zero-length block is the
/// null handle, so an empty value reads as absent (None).
pub mod host {
    use super::dispatch::last_error;
    use super::{Error, LogLevel, Memory};

    /// The raw functions: blocks in (read and freed by the host). Status functions return 0
    /// done, -1 failed; the others a block owned by the plugin, 0 for none or on failure
    /// (last_error() says which).
    pub mod sys {
        #[link(wasm_import_module = "kiln:host/v1")]
        extern "C" {
            pub fn log(level: u64, message: u64) -> i32;
            pub fn scope_get(key: u64) -> u64;
            pub fn scope_set(key: u64, value_json: u64) -> i32;
            pub fn kv_get(key: u64) -> u64;
            pub fn kv_set(key: u64, value: u64) -> i32;
            pub fn kv_delete(key: u64) -> i32;
            pub fn kv_list(prefix: u64) -> u64;
            pub fn db_query(request_json: u64) -> u64;
            pub fn file_read(path: u64) -> u64;
            pub fn file_write(path: u64, content: u64) -> i32;
            pub fn file_list(path: u64) -> u64;
            pub fn file_stat(path: u64) -> u64;
            pub fn env_get(name: u64) -> u64;
            pub fn http_request(request_json: u64) -> u64;
            pub fn host_call(operation: u64, payload_json: u64) -> u64;
        }
    }

    /// A block holding the bytes for the host to take; 0 for none (read as empty).
    fn give(bytes: &[u8]) -> Result<u64, Error> {
        if bytes.is_empty() {
            return Ok(0);
        }
        Memory::from_bytes(bytes).map(Memory::into_handle).ok_or_else(super::out_of_memory)
    }

    fn status(rc: i32) -> Result<(), Error> {
        if rc == 0 {
            Ok(())
        } else {
            Err(Error(last_error()))
        }
    }

    /// A value function's block: its bytes, None when absent, the error when it failed.
    fn bytes(handle: u64) -> Result<Option<Vec<u8>>, Error> {
        match Memory::adopt(handle) {
            Some(m) => Ok(Some(m.to_vec())),
            None => match last_error() {
                e if e.is_empty() => Ok(None),
                e => Err(Error(e)),
            },
        }
    }

    fn text(handle: u64) -> Result<Option<String>, Error> {
        Ok(bytes(handle)?.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    /// A value the host always gives (JSON results): None would be an empty block.
    fn json(handle: u64) -> Result<String, Error> {
        Ok(text(handle)?.unwrap_or_default())
    }

    /// A line in the plugin's log, with its name, at a level (its log filters it).
    pub fn log(level: LogLevel, message: &str) -> Result<(), Error> {
        let name = match level {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        let (l, m) = (give(name.as_bytes())?, give(message.as_bytes())?);
        status(unsafe { sys::log(l, m) })
    }

    /// The JSON text of the call's scope variable `key` (permission scope: read); None when
    /// the scope has no such key.
    pub fn scope_get(key: &str) -> Result<Option<String>, Error> {
        let k = give(key.as_bytes())?;
        text(unsafe { sys::scope_get(k) })
    }
    /// Sets the scope's `key` to a value given as JSON text (permission scope: write).
    pub fn scope_set(key: &str, value_json: &str) -> Result<(), Error> {
        let (k, v) = (give(key.as_bytes())?, give(value_json.as_bytes())?);
        status(unsafe { sys::scope_set(k, v) })
    }

    /// The plugin's kv value of `key` (1 to 1024 bytes; permission kv: read); None when absent.
    pub fn kv_get(key: &str) -> Result<Option<Vec<u8>>, Error> {
        let k = give(key.as_bytes())?;
        bytes(unsafe { sys::kv_get(k) })
    }
    /// The value as text (invalid UTF-8 replaced by U+FFFD).
    pub fn kv_get_string(key: &str) -> Result<Option<String>, Error> {
        let k = give(key.as_bytes())?;
        text(unsafe { sys::kv_get(k) })
    }
    /// Sets `key` (permission kv: write), committed before it returns; an error past the quota.
    pub fn kv_set<B: AsRef<[u8]>>(key: &str, value: B) -> Result<(), Error> {
        let (k, v) = (give(key.as_bytes())?, give(value.as_ref())?);
        status(unsafe { sys::kv_set(k, v) })
    }
    /// Deletes `key`; Ok whether or not it was there.
    pub fn kv_delete(key: &str) -> Result<(), Error> {
        let k = give(key.as_bytes())?;
        status(unsafe { sys::kv_delete(k) })
    }
    /// The keys starting with `prefix` ("" for all) as a JSON array, in byte order.
    pub fn kv_list(prefix: &str) -> Result<String, Error> {
        let p = give(prefix.as_bytes())?;
        json(unsafe { sys::kv_list(p) })
    }

    /// `{"connection", "sql", "params"?}` -> `{"rows": [...]}` or `{"changes",
    /// "last_insert_rowid"}` (permission database: [NAME]).
    pub fn db_query(request_json: &str) -> Result<String, Error> {
        let r = give(request_json.as_bytes())?;
        json(unsafe { sys::db_query(r) })
    }

    /// The file's bytes (permission filesystem: [PREFIX]); None for an empty file.
    pub fn file_read(path: &str) -> Result<Option<Vec<u8>>, Error> {
        let p = give(path.as_bytes())?;
        bytes(unsafe { sys::file_read(p) })
    }
    /// Writes the file whole (permission filesystem: ["rw:PREFIX"]).
    pub fn file_write<B: AsRef<[u8]>>(path: &str, content: B) -> Result<(), Error> {
        let (p, c) = (give(path.as_bytes())?, give(content.as_ref())?);
        status(unsafe { sys::file_write(p, c) })
    }
    /// A folder's entries: `{"entries": [{"name", "type", "size", "modified"}]}`.
    pub fn file_list(path: &str) -> Result<String, Error> {
        let p = give(path.as_bytes())?;
        json(unsafe { sys::file_list(p) })
    }
    /// `{"type": "file"|"directory"|"symlink"|"other", "size", "modified"}`.
    pub fn file_stat(path: &str) -> Result<String, Error> {
        let p = give(path.as_bytes())?;
        json(unsafe { sys::file_stat(p) })
    }

    /// A variable named in the grant (env: [NAME]); None when unset or denied (a denied
    /// variable is absent to the plugin, and a denial in the host's audit log).
    pub fn env_get(name: &str) -> Result<Option<String>, Error> {
        let n = give(name.as_bytes())?;
        text(unsafe { sys::env_get(n) })
    }

    /// `{"url", "method"?, "headers"?, "body"?}` -> `{"status", "body", "headers"}` (network
    /// grants).
    pub fn http_request(request_json: &str) -> Result<String, Error> {
        let r = give(request_json.as_bytes())?;
        json(unsafe { sys::http_request(r) })
    }

    /// Calls the host's operation (e.g. "query:files.list"; permission operations: [PREFIX])
    /// with a JSON payload; its JSON result.
    pub fn host_call(operation: &str, payload_json: &str) -> Result<String, Error> {
        let (o, p) = (give(operation.as_bytes())?, give(payload_json.as_bytes())?);
        json(unsafe { sys::host_call(o, p) })
    }
}
