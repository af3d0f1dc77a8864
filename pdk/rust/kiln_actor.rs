// Kiln actor kit for Rust: dataflow actors in Reflow's actor ABI, on top of kiln_pdk.rs. An
// actor exports `get_metadata` (its ports) and `process`, which gets one message on one in-port
// with the node's config and state, sends messages on out-ports and may replace the state.
// std only (a small JSON value type of its own), rustc 1.63 and later, like kiln_pdk.rs.
//
// Mount it beside kiln_pdk, both at the crate root:
//
//     #[allow(dead_code)]
//     #[macro_use]
//     #[path = "path/to/pdk/rust/kiln_pdk.rs"]
//     mod kiln_pdk;
//     #[allow(dead_code)]
//     #[macro_use]
//     #[path = "path/to/pdk/rust/kiln_actor.rs"]
//     mod kiln_actor;
//
//     use kiln_actor::{Context, Message, Metadata, Output, Port};
//     kiln_actor! {
//         metadata: Metadata::new("Doubler", "doubles")
//             .inport(Port::new("in", "Integer", "a number").required())
//             .outport(Port::new("out", "Integer", "twice the number")),
//         process: |ctx: Context| {
//             let n = ctx.message.as_i64().ok_or("not an integer")?;
//             Ok(Output::new().send("out", Message::Integer(2 * n)))
//         }
//     }
//
// See docs/actors.md.

use crate::kiln_pdk::{self, Error, Memory};
use std::fmt;

// ---- JSON ---------------------------------------------------------------------------------------

/// A JSON value. Objects keep their members in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// A number written without fraction or exponent that fits in i64.
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parses JSON text (nesting deeper than 256 levels is refused).
    pub fn parse(text: &str) -> Result<Json, Error> {
        let mut p = Parser { s: text.as_bytes(), i: 0, depth: 0 };
        let v = p.value()?;
        p.space();
        if p.i != p.s.len() {
            return Err(p.fail("trailing characters"));
        }
        Ok(v)
    }
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    /// Sets the member `key` of an object (a Null becomes an empty object first).
    pub fn set(&mut self, key: &str, value: Json) {
        if let Json::Null = self {
            *self = Json::Object(Vec::new());
        }
        if let Json::Object(members) = self {
            match members.iter_mut().find(|(k, _)| k == key) {
                Some(member) => member.1 = value,
                None => members.push((key.to_string(), value)),
            }
        }
    }
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Json::Int(n) => Some(*n),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Int(n) => Some(*n as f64),
            Json::Float(f) => Some(*f),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }
}

impl From<i64> for Json {
    fn from(v: i64) -> Json {
        Json::Int(v)
    }
}
impl From<f64> for Json {
    fn from(v: f64) -> Json {
        Json::Float(v)
    }
}
impl From<bool> for Json {
    fn from(v: bool) -> Json {
        Json::Bool(v)
    }
}
impl From<&str> for Json {
    fn from(v: &str) -> Json {
        Json::Str(v.to_string())
    }
}
impl From<String> for Json {
    fn from(v: String) -> Json {
        Json::Str(v)
    }
}

fn write_json_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04x}", c as u32)?,
            c => write!(f, "{}", c)?,
        }
    }
    f.write_str("\"")
}

/// Compact JSON text. A Float keeps a fraction ("1.0"), so that it reads back as a Float; NaN
/// and infinities, which JSON cannot write, become null.
impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => write!(f, "{}", b),
            Json::Int(n) => write!(f, "{}", n),
            Json::Float(x) if !x.is_finite() => f.write_str("null"),
            Json::Float(x) => write!(f, "{:?}", x),
            Json::Str(s) => write_json_string(f, s),
            Json::Array(items) => {
                f.write_str("[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{}", v)?;
                }
                f.write_str("]")
            }
            Json::Object(members) => {
                f.write_str("{")?;
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write_json_string(f, k)?;
                    write!(f, ":{}", v)?;
                }
                f.write_str("}")
            }
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn fail(&self, what: &str) -> Error {
        Error(format!("JSON: {} at byte {}", what, self.i))
    }
    fn space(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }
    fn literal(&mut self, word: &str, v: Json) -> Result<Json, Error> {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            Ok(v)
        } else {
            Err(self.fail("unexpected character"))
        }
    }
    fn value(&mut self) -> Result<Json, Error> {
        self.space();
        if self.i >= self.s.len() {
            return Err(self.fail("unexpected end"));
        }
        match self.s[self.i] {
            b'n' => self.literal("null", Json::Null),
            b't' => self.literal("true", Json::Bool(true)),
            b'f' => self.literal("false", Json::Bool(false)),
            b'"' => self.string().map(Json::Str),
            b'[' | b'{' => {
                self.depth += 1;
                if self.depth > 256 {
                    return Err(self.fail("nested too deep"));
                }
                let v = if self.s[self.i] == b'[' { self.array() } else { self.object() };
                self.depth -= 1;
                v
            }
            _ => self.number(),
        }
    }
    fn array(&mut self) -> Result<Json, Error> {
        self.i += 1;
        let mut items = Vec::new();
        self.space();
        if self.i < self.s.len() && self.s[self.i] == b']' {
            self.i += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.space();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.fail("expected , or ]")),
            }
        }
    }
    fn object(&mut self) -> Result<Json, Error> {
        self.i += 1;
        let mut members = Vec::new();
        self.space();
        if self.i < self.s.len() && self.s[self.i] == b'}' {
            self.i += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.space();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(self.fail("expected a member name"));
            }
            let key = self.string()?;
            self.space();
            if self.s.get(self.i) != Some(&b':') {
                return Err(self.fail("expected :"));
            }
            self.i += 1;
            let v = self.value()?;
            members.push((key, v));
            self.space();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.fail("expected , or }")),
            }
        }
    }
    fn hex4(&mut self) -> Result<u32, Error> {
        if self.i + 4 > self.s.len() {
            return Err(self.fail("short \\u escape"));
        }
        let text = std::str::from_utf8(&self.s[self.i..self.i + 4]).map_err(|_| self.fail("bad escape"))?;
        let v = u32::from_str_radix(text, 16).map_err(|_| self.fail("bad \\u escape"))?;
        self.i += 4;
        Ok(v)
    }
    fn string(&mut self) -> Result<String, Error> {
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = *self.s.get(self.i).ok_or_else(|| self.fail("unterminated string"))?;
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = *self.s.get(self.i).ok_or_else(|| self.fail("unterminated string"))?;
                    self.i += 1;
                    let ch = match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) && self.s[self.i..].starts_with(b"\\u") {
                                self.i += 2;
                                let lo = self.hex4()?;
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF);
                            }
                            char::from_u32(cp).unwrap_or('\u{FFFD}')
                        }
                        _ => return Err(self.fail("bad escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                _ => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| self.fail("string is not UTF-8"))
    }
    fn number(&mut self) -> Result<Json, Error> {
        let start = self.i;
        while self.i < self.s.len() && matches!(self.s[self.i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
            self.i += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| self.fail("bad number"))?;
        if text.is_empty() {
            return Err(self.fail("unexpected character"));
        }
        if !text.contains(|c| c == '.' || c == 'e' || c == 'E') {
            if let Ok(n) = text.parse::<i64>() {
                return Ok(Json::Int(n));
            }
        }
        text.parse::<f64>().map(Json::Float).map_err(|_| self.fail("bad number"))
    }
}

// ---- Messages -----------------------------------------------------------------------------------

/// A message, as Reflow's Message enum has them.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Flow,
    Event(Json),
    Boolean(bool),
    Integer(i64),
    Float(f64),
    String(String),
    Object(Json),
    Array(Vec<Json>),
    Stream(Vec<u8>),
    Optional(Option<Json>),
    Any(Json),
    Error(String),
}

impl Message {
    /// "Flow", "Event", ... as the tagged form names the kind.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Message::Flow => "Flow",
            Message::Event(_) => "Event",
            Message::Boolean(_) => "Boolean",
            Message::Integer(_) => "Integer",
            Message::Float(_) => "Float",
            Message::String(_) => "String",
            Message::Object(_) => "Object",
            Message::Array(_) => "Array",
            Message::Stream(_) => "Stream",
            Message::Optional(_) => "Optional",
            Message::Any(_) => "Any",
            Message::Error(_) => "Error",
        }
    }
    /// The data as plain JSON.
    pub fn data(&self) -> Json {
        match self {
            Message::Flow | Message::Optional(None) => Json::Null,
            Message::Event(v) | Message::Object(v) | Message::Any(v) | Message::Optional(Some(v)) => v.clone(),
            Message::Boolean(b) => Json::Bool(*b),
            Message::Integer(n) => Json::Int(*n),
            Message::Float(x) => Json::Float(*x),
            Message::String(s) | Message::Error(s) => Json::Str(s.clone()),
            Message::Array(items) => Json::Array(items.clone()),
            Message::Stream(bytes) => Json::Array(bytes.iter().map(|b| Json::Int(*b as i64)).collect()),
        }
    }
    /// {"type": KIND, "data": VALUE}
    pub fn to_tagged(&self) -> Json {
        Json::Object(vec![("type".to_string(), Json::from(self.kind_name())), ("data".to_string(), self.data())])
    }
    /// Reads the tagged form; data of the wrong type for its kind is an error.
    pub fn from_tagged(v: &Json) -> Result<Message, Error> {
        let kind = v.get("type").and_then(Json::as_str).ok_or("message: no type")?;
        let data = v.get("data").cloned().unwrap_or(Json::Null);
        let wrong = || Error(format!("{} message: data of the wrong type", kind));
        Ok(match kind {
            "Flow" => Message::Flow,
            "Event" => Message::Event(data),
            "Boolean" => Message::Boolean(data.as_bool().ok_or_else(wrong)?),
            "Integer" => Message::Integer(data.as_i64().ok_or_else(wrong)?),
            "Float" => Message::Float(data.as_f64().ok_or_else(wrong)?),
            "String" => Message::String(data.as_str().ok_or_else(wrong)?.to_string()),
            "Error" => Message::Error(data.as_str().ok_or_else(wrong)?.to_string()),
            "Object" => Message::Object(data),
            "Any" => Message::Any(data),
            "Optional" => Message::Optional(if data.is_null() { None } else { Some(data) }),
            "Array" => match data {
                Json::Array(items) => Message::Array(items),
                _ => return Err(wrong()),
            },
            "Stream" => match data {
                Json::Array(items) => {
                    let mut bytes = Vec::with_capacity(items.len());
                    for b in items {
                        match b {
                            Json::Int(n) if (0..=255).contains(&n) => bytes.push(n as u8),
                            _ => return Err(wrong()),
                        }
                    }
                    Message::Stream(bytes)
                }
                _ => return Err(wrong()),
            },
            other => return Err(Error(format!("message: unknown type {}", other))),
        })
    }
    /// An Integer's value.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Message::Integer(n) => Some(*n),
            _ => None,
        }
    }
    /// A String's text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Message::String(s) => Some(s),
            _ => None,
        }
    }
}

// ---- Metadata -----------------------------------------------------------------------------------

/// A port: its name, its type ("Integer", "String", "Any", ...), what it is, whether a graph
/// must connect it.
#[derive(Debug, Clone)]
pub struct Port {
    pub name: String,
    pub port_type: String,
    pub description: String,
    pub required: bool,
}

impl Port {
    pub fn new(name: &str, port_type: &str, description: &str) -> Port {
        Port { name: name.to_string(), port_type: port_type.to_string(), description: description.to_string(), required: false }
    }
    /// Marks the port as one a graph must connect.
    pub fn required(mut self) -> Port {
        self.required = true;
        self
    }
    fn to_json(&self) -> Json {
        Json::Object(vec![
            ("name".to_string(), Json::from(self.name.as_str())),
            ("description".to_string(), Json::from(self.description.as_str())),
            ("port_type".to_string(), Json::from(self.port_type.as_str())),
            ("required".to_string(), Json::Bool(self.required)),
        ])
    }
}

/// What get_metadata outputs: the component's name, description and ports.
#[derive(Debug, Clone)]
pub struct Metadata {
    pub component: String,
    pub description: String,
    pub inports: Vec<Port>,
    pub outports: Vec<Port>,
    pub config_schema: Option<Json>,
}

impl Metadata {
    pub fn new(component: &str, description: &str) -> Metadata {
        Metadata { component: component.to_string(), description: description.to_string(), inports: Vec::new(), outports: Vec::new(), config_schema: None }
    }
    pub fn inport(mut self, port: Port) -> Metadata {
        self.inports.push(port);
        self
    }
    pub fn outport(mut self, port: Port) -> Metadata {
        self.outports.push(port);
        self
    }
    pub fn config_schema(mut self, schema: Json) -> Metadata {
        self.config_schema = Some(schema);
        self
    }
    pub fn to_json(&self) -> Json {
        let mut members = vec![
            ("component".to_string(), Json::from(self.component.as_str())),
            ("description".to_string(), Json::from(self.description.as_str())),
            ("inports".to_string(), Json::Array(self.inports.iter().map(Port::to_json).collect())),
            ("outports".to_string(), Json::Array(self.outports.iter().map(Port::to_json).collect())),
        ];
        if let Some(schema) = &self.config_schema {
            members.push(("config_schema".to_string(), schema.clone()));
        }
        Json::Object(members)
    }
}

// ---- Context and result -------------------------------------------------------------------------

/// What process gets: one message on one in-port, the node's config and its state when the call
/// started.
#[derive(Debug, Clone)]
pub struct Context {
    pub port: String,
    pub message: Message,
    pub node_id: String,
    pub component: String,
    /// The node's config object.
    pub config: Json,
    /// Its resolved environment variables, an object of strings.
    pub env: Json,
    /// The node's state, an object.
    pub state: Json,
}

impl Context {
    /// Reads the ActorContext JSON.
    pub fn parse(text: &str) -> Result<Context, Error> {
        let input = Json::parse(text)?;
        let (port, message) = match input.get("payload") {
            Some(Json::Object(members)) if !members.is_empty() => {
                (members[0].0.clone(), Message::from_tagged(&members[0].1)?)
            }
            _ => return Err("input: not an ActorContext (no payload)".into()),
        };
        let config = input.get("config").cloned().unwrap_or(Json::Null);
        let text_of = |key: &str| config.get(key).and_then(Json::as_str).unwrap_or("").to_string();
        let object_of = |v: Option<&Json>| match v {
            Some(v @ Json::Object(_)) => v.clone(),
            _ => Json::Object(Vec::new()),
        };
        Ok(Context {
            port,
            message,
            node_id: text_of("node_id"),
            component: text_of("component"),
            config: object_of(config.get("config")),
            env: object_of(config.get("resolved_env")),
            state: object_of(input.get("state")),
        })
    }
}

/// What process returns: messages by out-port, and the new state when it replaces the old one.
#[derive(Debug, Clone, Default)]
pub struct Output {
    outputs: Vec<(String, Message)>,
    state: Option<Json>,
}

impl Output {
    pub fn new() -> Output {
        Output::default()
    }
    /// A message on an out-port (one per port per call: a second replaces the first).
    pub fn send(mut self, port: &str, message: Message) -> Output {
        match self.outputs.iter_mut().find(|(p, _)| p == port) {
            Some(entry) => entry.1 = message,
            None => self.outputs.push((port.to_string(), message)),
        }
        self
    }
    /// Replaces the node's whole state with this object (without it, the state is kept).
    pub fn state(mut self, state: Json) -> Output {
        self.state = Some(state);
        self
    }
    /// The ActorResult JSON.
    pub fn to_json(&self) -> Json {
        Json::Object(vec![
            ("outputs".to_string(), Json::Object(self.outputs.iter().map(|(p, m)| (p.clone(), m.to_tagged())).collect())),
            ("state".to_string(), self.state.clone().unwrap_or(Json::Null)),
        ])
    }
}

// ---- Host functions: sending and state during the call ----------------------------------------

mod host {
    #[link(wasm_import_module = "extism:host/user")]
    extern "C" {
        pub fn __send_output(json: u64);
        pub fn __get_state(key: u64) -> u64;
        pub fn __set_state(key: u64, value: u64);
    }
}

fn block(bytes: &[u8]) -> Result<Memory, Error> {
    Memory::from_bytes(bytes).ok_or_else(|| Error::from("out of kernel memory"))
}

/// Sends {port: value} at once, before process returns (the value is plain JSON, converted by
/// its type: a whole number is an Integer, a string a String, ...).
pub fn send(port: &str, value: Json) -> Result<(), Error> {
    send_many(Json::Object(vec![(port.to_string(), value)]))
}

/// Sends an object {port: value, ...} at once, as one packet.
pub fn send_many(values: Json) -> Result<(), Error> {
    let m = block(values.to_string().as_bytes())?;
    unsafe { host::__send_output(m.handle()) };
    Ok(())
}

/// A key of the node's state as the host holds it now; None when unset.
pub fn get_state(key: &str) -> Option<Json> {
    let k = block(key.as_bytes()).ok()?;
    let v = Memory::adopt(unsafe { host::__get_state(k.handle()) })?;
    let text = String::from_utf8(v.to_vec()).ok()?;
    match Json::parse(&text) {
        Ok(Json::Null) | Err(_) => None,
        Ok(v) => Some(v),
    }
}

/// Sets a key of the node's state at once.
pub fn set_state(key: &str, value: &Json) -> Result<(), Error> {
    let k = block(key.as_bytes())?;
    let v = block(value.to_string().as_bytes())?;
    unsafe { host::__set_state(k.handle(), v.handle()) };
    Ok(())
}

// ---- The exports --------------------------------------------------------------------------------

/// The body of get_metadata.
pub fn run_metadata(metadata: Metadata) -> i32 {
    match kiln_pdk::set_output(metadata.to_json().to_string()) {
        Ok(()) => 0,
        Err(e) => {
            kiln_pdk::set_error(&e.0);
            1
        }
    }
}

/// The body of process: reads the ActorContext, runs `f`, outputs the ActorResult; an error is
/// the node's failure, which its error port receives.
pub fn run_actor<F: FnOnce(Context) -> Result<Output, Error>>(f: F) -> i32 {
    kiln_pdk::run_export(|input: String| -> Result<String, Error> {
        let ctx = Context::parse(&input)?;
        Ok(f(ctx)?.to_json().to_string())
    })
}

/// Exports get_metadata and process:
///
///     kiln_actor! { metadata: METADATA_EXPR, process: |ctx: Context| -> Result<Output, Error> }
#[allow(unused_macros)]
macro_rules! kiln_actor {
    (metadata: $metadata:expr, process: $process:expr $(,)?) => {
        #[no_mangle]
        pub extern "C" fn get_metadata() -> i32 {
            $crate::kiln_actor::run_metadata($metadata)
        }
        #[no_mangle]
        pub extern "C" fn process() -> i32 {
            $crate::kiln_actor::run_actor($process)
        }
    };
}
