// Kiln actor kit for AssemblyScript: dataflow actors in Reflow's actor ABI, on top of index.ts.
// An actor exports `get_metadata` (its ports) and `process`, which gets one message on one
// in-port with the node's config and state, sends messages on out-ports and may replace the
// state. The same API as the C and Rust actor kits (docs/actors.md), with a small JSON value
// type of its own.
//
//     import { Context, Message, Metadata, Output, Port, fail, runActor, writeMetadata }
//       from "@kiln/pdk";                                     // or relative paths
//
//     export function get_metadata(): i32 {
//       return writeMetadata(new Metadata("Doubler", "doubles")
//         .inport(new Port("in", "Integer", "a number").required())
//         .outport(new Port("out", "Integer", "twice the number")));
//     }
//     function double(ctx: Context, out: Output): i32 {
//       const n = ctx.message.asI64();
//       if (n === null) return fail("not an integer");
//       out.send("out", Message.integer(2 * n.value));
//       return 0;
//     }
//     export function process(): i32 {
//       return runActor(double);
//     }
//
// AssemblyScript has no closures, so the function given to runActor is a top-level function
// (or a function expression that uses no local of its caller).

import {
  fail, inputString, Int64, jsonString, Memory, parseI64, setOutputString, utf8,
} from "./index";

// ---- JSON -------------------------------------------------------------------------------------

/** What a Json value is. */
export enum JsonKind {
  Null,
  Bool,
  /** A number written without fraction or exponent that fits in i64. */
  Int,
  Float,
  String,
  Array,
  Object,
}

/** A JSON value. Objects keep their members in order. */
export class Json {
  kind: JsonKind = JsonKind.Null;
  boolValue: bool = false;
  intValue: i64 = 0;
  floatValue: f64 = 0;
  stringValue: string = "";
  /** An array's elements, or an object's member values (in the order of `keys`). */
  items: Json[] = [];
  /** An object's member names. */
  keys: string[] = [];

  static null(): Json {
    return new Json();
  }
  static bool(v: bool): Json {
    const j = new Json();
    j.kind = JsonKind.Bool;
    j.boolValue = v;
    return j;
  }
  static int(v: i64): Json {
    const j = new Json();
    j.kind = JsonKind.Int;
    j.intValue = v;
    return j;
  }
  static float(v: f64): Json {
    const j = new Json();
    j.kind = JsonKind.Float;
    j.floatValue = v;
    return j;
  }
  static string(v: string): Json {
    const j = new Json();
    j.kind = JsonKind.String;
    j.stringValue = v;
    return j;
  }
  /** An empty array; add elements with push(). */
  static array(): Json {
    const j = new Json();
    j.kind = JsonKind.Array;
    return j;
  }
  /** An empty object; add members with set(). */
  static object(): Json {
    const j = new Json();
    j.kind = JsonKind.Object;
    return j;
  }

  /** Parses JSON text (nesting deeper than 256 levels is refused); null when it is not JSON,
   * jsonError() saying why. */
  static parse(text: string): Json | null {
    const p = new JsonParser(text);
    const v = p.value();
    if (v === null) return null;
    p.space();
    if (p.i != text.length) return p.fail("trailing characters");
    return v;
  }

  isNull(): bool {
    return this.kind == JsonKind.Null;
  }
  isBool(): bool {
    return this.kind == JsonKind.Bool;
  }
  isInt(): bool {
    return this.kind == JsonKind.Int;
  }
  /** An Int or a Float. */
  isNumber(): bool {
    return this.kind == JsonKind.Int || this.kind == JsonKind.Float;
  }
  isString(): bool {
    return this.kind == JsonKind.String;
  }
  isArray(): bool {
    return this.kind == JsonKind.Array;
  }
  isObject(): bool {
    return this.kind == JsonKind.Object;
  }

  /** An Int's value; null for anything else. */
  asI64(): Int64 | null {
    return this.kind == JsonKind.Int ? new Int64(this.intValue) : null;
  }
  /** A number's value; NaN for anything else. */
  asF64(): f64 {
    if (this.kind == JsonKind.Int) return <f64>this.intValue;
    return this.kind == JsonKind.Float ? this.floatValue : NaN;
  }
  /** A String's text; null for anything else. */
  asString(): string | null {
    return this.kind == JsonKind.String ? this.stringValue : null;
  }

  /** The member `key` of an object; null when absent or not an object. */
  get(key: string): Json | null {
    if (this.kind != JsonKind.Object) return null;
    for (let i = 0; i < this.keys.length; i++)
      if (this.keys[i] == key) return this.items[i];
    return null;
  }
  /** Sets the member `key` of an object (a Null becomes an empty object first); returns this. */
  set(key: string, value: Json): Json {
    if (this.kind == JsonKind.Null) this.kind = JsonKind.Object;
    if (this.kind != JsonKind.Object) return this;
    for (let i = 0; i < this.keys.length; i++) {
      if (this.keys[i] == key) {
        this.items[i] = value;
        return this;
      }
    }
    this.keys.push(key);
    this.items.push(value);
    return this;
  }
  /** Appends an element to an array (a Null becomes an empty array first); returns this. */
  push(value: Json): Json {
    if (this.kind == JsonKind.Null) this.kind = JsonKind.Array;
    if (this.kind == JsonKind.Array) this.items.push(value);
    return this;
  }
  /** An array's elements or an object's members; 0 for anything else. */
  get length(): i32 {
    return this.kind == JsonKind.Array || this.kind == JsonKind.Object ? this.items.length : 0;
  }

  /** Compact JSON text. A Float keeps a fraction ("1.0"), so that it reads back as a Float;
   * NaN and infinities, which JSON cannot write, become null. */
  toString(): string {
    switch (this.kind) {
      case JsonKind.Bool:
        return this.boolValue ? "true" : "false";
      case JsonKind.Int:
        return this.intValue.toString();
      case JsonKind.Float:
        // AssemblyScript writes 1.0 as "1.0", never "1".
        return isFinite(this.floatValue) ? this.floatValue.toString() : "null";
      case JsonKind.String:
        return jsonString(this.stringValue);
      case JsonKind.Array: {
        let s = "[";
        for (let i = 0; i < this.items.length; i++) {
          if (i > 0) s += ",";
          s += this.items[i].toString();
        }
        return s + "]";
      }
      case JsonKind.Object: {
        let s = "{";
        for (let i = 0; i < this.keys.length; i++) {
          if (i > 0) s += ",";
          s += jsonString(this.keys[i]) + ":" + this.items[i].toString();
        }
        return s + "}";
      }
      default:
        return "null";
    }
  }
}

let lastJsonError = "";

/** Why the last Json.parse, Message.fromTagged or Context.parse failed. */
export function jsonError(): string {
  return lastJsonError;
}

function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

function hexDigit(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** A recursive descent parser over the UTF-16 text; depth bounds the recursion, as guest
 * input is untrusted. */
class JsonParser {
  i: i32 = 0;
  depth: i32 = 0;
  constructor(public s: string) {}

  fail(what: string): Json | null {
    lastJsonError = "JSON: " + what + " at character " + this.i.toString();
    return null;
  }
  space(): void {
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.i++;
    }
  }
  at(): i32 {
    return this.i < this.s.length ? this.s.charCodeAt(this.i) : -1;
  }
  literal(word: string, v: Json): Json | null {
    if (this.s.substr(this.i, word.length) != word) return this.fail("unexpected character");
    this.i += word.length;
    return v;
  }
  value(): Json | null {
    this.space();
    const c = this.at();
    if (c < 0) return this.fail("unexpected end");
    if (c == 0x6e) return this.literal("null", Json.null());
    if (c == 0x74) return this.literal("true", Json.bool(true));
    if (c == 0x66) return this.literal("false", Json.bool(false));
    if (c == 0x22) {
      const s = this.string();
      return s === null ? null : Json.string(s);
    }
    if (c == 0x5b || c == 0x7b) {
      if (++this.depth > 256) return this.fail("nested too deep");
      const v = c == 0x5b ? this.array() : this.object();
      this.depth--;
      return v;
    }
    return this.number();
  }
  array(): Json | null {
    this.i++;
    const out = Json.array();
    this.space();
    if (this.at() == 0x5d) {
      this.i++;
      return out;
    }
    while (true) {
      const v = this.value();
      if (v === null) return null;
      out.items.push(v);
      this.space();
      const c = this.at();
      this.i++;
      if (c == 0x5d) return out;
      if (c != 0x2c) {
        this.i--;
        return this.fail("expected , or ]");
      }
    }
  }
  object(): Json | null {
    this.i++;
    const out = Json.object();
    this.space();
    if (this.at() == 0x7d) {
      this.i++;
      return out;
    }
    while (true) {
      this.space();
      if (this.at() != 0x22) return this.fail("expected a member name");
      const key = this.string();
      if (key === null) return null;
      this.space();
      if (this.at() != 0x3a) return this.fail("expected :");
      this.i++;
      const v = this.value();
      if (v === null) return null;
      out.keys.push(key);
      out.items.push(v);
      this.space();
      const c = this.at();
      this.i++;
      if (c == 0x7d) return out;
      if (c != 0x2c) {
        this.i--;
        return this.fail("expected , or }");
      }
    }
  }
  /** Four hex digits at i as a UTF-16 code unit; -1 when they are not. */
  hex4(): i32 {
    if (this.i + 4 > this.s.length) return -1;
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const d = hexDigit(this.s.charCodeAt(this.i + k));
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    this.i += 4;
    return v;
  }
  string(): string | null {
    this.i++;
    let out = "";
    let start = this.i;
    while (true) {
      const c = this.at();
      if (c < 0) {
        this.fail("unterminated string");
        return null;
      }
      if (c == 0x22) break;
      if (c != 0x5c) {
        this.i++;
        continue;
      }
      out += this.s.substring(start, this.i);
      this.i++;
      const e = this.at();
      this.i++;
      if (e == 0x6e) out += "\n";
      else if (e == 0x74) out += "\t";
      else if (e == 0x72) out += "\r";
      else if (e == 0x62) out += "\b";
      else if (e == 0x66) out += "\f";
      else if (e == 0x22 || e == 0x5c || e == 0x2f) out += String.fromCharCode(e);
      else if (e == 0x75) {
        // A string holds UTF-16 code units, so a surrogate pair is simply its two escapes.
        const unit = this.hex4();
        if (unit < 0) {
          this.i -= 2;
          this.fail("bad \\u escape");
          return null;
        }
        out += String.fromCharCode(unit);
      } else {
        this.i -= 2;
        this.fail("bad escape");
        return null;
      }
      start = this.i;
    }
    out += this.s.substring(start, this.i);
    this.i++;
    return out;
  }
  /** A number as JSON writes them: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
  number(): Json | null {
    const start = this.i;
    if (this.at() == 0x2d) this.i++;
    if (!isDigit(this.at())) return this.fail("unexpected character");
    if (this.at() == 0x30) this.i++;
    else while (isDigit(this.at())) this.i++;
    let integral = true;
    if (this.at() == 0x2e) {
      integral = false;
      this.i++;
      if (!isDigit(this.at())) return this.fail("bad number");
      while (isDigit(this.at())) this.i++;
    }
    if (this.at() == 0x65 || this.at() == 0x45) {
      integral = false;
      this.i++;
      if (this.at() == 0x2b || this.at() == 0x2d) this.i++;
      if (!isDigit(this.at())) return this.fail("bad number");
      while (isDigit(this.at())) this.i++;
    }
    const text = this.s.substring(start, this.i);
    if (integral) {
      const n = parseI64(utf8(text));
      if (n !== null) return Json.int(n.value);
    }
    return Json.float(parseFloat(text));
  }
}

// ---- Messages ---------------------------------------------------------------------------------

/** The message kinds, as Reflow's Message enum has them. */
export enum MessageKind {
  Flow,
  Event,
  Boolean,
  Integer,
  Float,
  String,
  Object,
  Array,
  Stream,
  Optional,
  Any,
  Error,
}

const KIND_NAMES = [
  "Flow", "Event", "Boolean", "Integer", "Float", "String", "Object", "Array", "Stream",
  "Optional", "Any", "Error",
];

/** A message: its kind and its data as plain JSON (Null for Flow and an empty Optional, the
 * byte values for a Stream). */
export class Message {
  constructor(public kind: MessageKind, public data: Json) {}

  static flow(): Message {
    return new Message(MessageKind.Flow, Json.null());
  }
  static event(data: Json): Message {
    return new Message(MessageKind.Event, data);
  }
  static boolean(v: bool): Message {
    return new Message(MessageKind.Boolean, Json.bool(v));
  }
  static integer(v: i64): Message {
    return new Message(MessageKind.Integer, Json.int(v));
  }
  static float(v: f64): Message {
    return new Message(MessageKind.Float, Json.float(v));
  }
  static string(v: string): Message {
    return new Message(MessageKind.String, Json.string(v));
  }
  static object(data: Json): Message {
    return new Message(MessageKind.Object, data);
  }
  /** An Array message of a Json array. */
  static array(items: Json): Message {
    return new Message(MessageKind.Array, items.isArray() ? items : Json.array());
  }
  static stream(bytes: Uint8Array): Message {
    const data = Json.array();
    for (let i = 0; i < bytes.length; i++) data.push(Json.int(bytes[i]));
    return new Message(MessageKind.Stream, data);
  }
  /** An Optional: none for null. */
  static optional(data: Json | null): Message {
    return new Message(MessageKind.Optional, data === null ? Json.null() : data);
  }
  static any(data: Json): Message {
    return new Message(MessageKind.Any, data);
  }
  static error(text: string): Message {
    return new Message(MessageKind.Error, Json.string(text));
  }

  /** "Flow", "Event", ... as the tagged form names the kind. */
  kindName(): string {
    return KIND_NAMES[<i32>this.kind];
  }
  /** {"type": KIND, "data": VALUE} */
  toTagged(): Json {
    return Json.object().set("type", Json.string(this.kindName())).set("data", this.data);
  }

  /** Reads the tagged form; null when it is none or its data has the wrong type for its kind
   * (jsonError() says which). */
  static fromTagged(v: Json): Message | null {
    const type = v.get("type");
    const name = type !== null ? type.asString() : null;
    if (name === null) {
      lastJsonError = "message: no type";
      return null;
    }
    const at = KIND_NAMES.indexOf(name);
    if (at < 0) {
      lastJsonError = "message: unknown type " + name;
      return null;
    }
    const kind = <MessageKind>at;
    const given = v.get("data");
    const data = given !== null ? given : Json.null();
    let ok = true;
    switch (kind) {
      case MessageKind.Flow:
        return Message.flow();
      case MessageKind.Boolean:
        ok = data.isBool();
        break;
      case MessageKind.Integer:
        // An integral float (42.0) is an Integer too, as the host takes it.
        if (data.kind == JsonKind.Float && data.floatValue == Math.trunc(data.floatValue) &&
            Math.abs(data.floatValue) < 9.2e18) {
          return Message.integer(<i64>data.floatValue);
        }
        ok = data.isInt();
        break;
      case MessageKind.Float:
        if (data.isInt()) return Message.float(<f64>data.intValue);
        ok = data.isNumber();
        break;
      case MessageKind.String:
      case MessageKind.Error:
        ok = data.isString();
        break;
      case MessageKind.Array:
        ok = data.isArray();
        break;
      case MessageKind.Stream: {
        ok = data.isArray();
        for (let i = 0; ok && i < data.items.length; i++) {
          const b = data.items[i];
          ok = b.isInt() && b.intValue >= 0 && b.intValue <= 255;
        }
        break;
      }
      default:
        break;
    }
    if (!ok) {
      lastJsonError = name + " message: data of the wrong type";
      return null;
    }
    return new Message(kind, data);
  }

  /** An Integer's value; null for another kind. */
  asI64(): Int64 | null {
    return this.kind == MessageKind.Integer ? this.data.asI64() : null;
  }
  /** An Integer's or a Float's value; NaN for another kind. */
  asF64(): f64 {
    return this.kind == MessageKind.Integer || this.kind == MessageKind.Float ? this.data.asF64()
                                                                              : NaN;
  }
  /** A String's text; null for another kind. */
  asString(): string | null {
    return this.kind == MessageKind.String ? this.data.asString() : null;
  }
  /** A Stream's bytes; null for another kind. */
  asBytes(): Uint8Array | null {
    if (this.kind != MessageKind.Stream) return null;
    const out = new Uint8Array(this.data.items.length);
    for (let i = 0; i < out.length; i++) out[i] = <u8>this.data.items[i].intValue;
    return out;
  }
}

// ---- Metadata ---------------------------------------------------------------------------------

/** A port: its name, its type ("Integer", "String", "Any", ...), what it is, whether a graph
 * must connect it. */
export class Port {
  isRequired: bool = false;
  constructor(public name: string, public portType: string, public description: string = "") {}

  /** Marks the port as one a graph must connect; returns this. */
  required(): Port {
    this.isRequired = true;
    return this;
  }
  toJson(): Json {
    return Json.object()
      .set("name", Json.string(this.name))
      .set("description", Json.string(this.description))
      .set("port_type", Json.string(this.portType))
      .set("required", Json.bool(this.isRequired));
  }
}

/** What get_metadata outputs: the component's name, description and ports. */
export class Metadata {
  inports: Port[] = [];
  outports: Port[] = [];
  configSchema: Json | null = null;
  constructor(public component: string, public description: string = "") {}

  inport(port: Port): Metadata {
    this.inports.push(port);
    return this;
  }
  outport(port: Port): Metadata {
    this.outports.push(port);
    return this;
  }
  /** The JSON Schema of the node's config. */
  schema(schema: Json): Metadata {
    this.configSchema = schema;
    return this;
  }
  toJson(): Json {
    const ins = Json.array();
    for (let i = 0; i < this.inports.length; i++) ins.push(this.inports[i].toJson());
    const outs = Json.array();
    for (let i = 0; i < this.outports.length; i++) outs.push(this.outports[i].toJson());
    const j = Json.object()
      .set("component", Json.string(this.component))
      .set("description", Json.string(this.description))
      .set("inports", ins)
      .set("outports", outs);
    const schema = this.configSchema;
    if (schema !== null) j.set("config_schema", schema);
    return j;
  }
}

// ---- Context and result -----------------------------------------------------------------------

/** An object: `v` when it is one, else an empty one. */
function objectOr(v: Json | null): Json {
  return v !== null && v.isObject() ? v : Json.object();
}

/** A string member's text, "" when absent. */
function textOf(v: Json, key: string): string {
  const m = v.get(key);
  const s = m !== null ? m.asString() : null;
  return s !== null ? s : "";
}

/** What process gets: one message on one in-port, the node's config and its state when the
 * call started. */
export class Context {
  /** The in-port the message came to. */
  port: string = "";
  message: Message = Message.flow();
  nodeId: string = "";
  component: string = "";
  /** The node's config object. */
  config: Json = Json.object();
  /** Its resolved environment variables, an object of strings. */
  env: Json = Json.object();
  /** The node's state, an object. */
  state: Json = Json.object();

  /** Reads the ActorContext JSON; null when it is none (jsonError() says why). */
  static parse(text: string): Context | null {
    const input = Json.parse(text);
    if (input === null) return null;
    const payload = input.get("payload");
    if (payload === null || !payload.isObject() || payload.length == 0) {
      lastJsonError = "input: not an ActorContext (no payload)";
      return null;
    }
    const message = Message.fromTagged(payload.items[0]);
    if (message === null) return null;
    const ctx = new Context();
    ctx.port = payload.keys[0];
    ctx.message = message;
    const config = input.get("config");
    if (config !== null) {
      ctx.nodeId = textOf(config, "node_id");
      ctx.component = textOf(config, "component");
      ctx.config = objectOr(config.get("config"));
      ctx.env = objectOr(config.get("resolved_env"));
    }
    ctx.state = objectOr(input.get("state"));
    return ctx;
  }
}

/** What process returns: messages by out-port, and the new state when it replaces the old one. */
export class Output {
  private outputs: Json = Json.object();
  private newState: Json | null = null;

  /** A message on an out-port (one per port per call: a second replaces the first); returns
   * this. */
  send(port: string, message: Message): Output {
    this.outputs.set(port, message.toTagged());
    return this;
  }
  /** Replaces the node's whole state with this object (without it, the state is kept). */
  replaceState(state: Json): Output {
    this.newState = state;
    return this;
  }
  /** The ActorResult JSON. */
  toJson(): Json {
    const state = this.newState;
    return Json.object().set("outputs", this.outputs).set("state", state !== null ? state
                                                                                  : Json.null());
  }
}

// ---- Host functions: sending and state during the call --------------------------------------

/** The ABI's functions in "extism:host/user"; the helpers below use them. */
export namespace actorHost {
  /** Sends {port: plain JSON value, ...} at once, before process returns. */
  @external("extism:host/user", "__send_output")
  export declare function send_output(json: u64): void;
  /** The JSON of the state's key (a block holding null when absent). */
  @external("extism:host/user", "__get_state")
  export declare function get_state(key: u64): u64;
  /** Sets the state's key to a JSON value. */
  @external("extism:host/user", "__set_state")
  export declare function set_state(key: u64, value: u64): void;
}

/** Sends {port: value} at once, before process returns (the value is plain JSON, converted by
 * its type: a whole number is an Integer, a string a String, ...). False when kernel memory ran
 * out. */
export function send(port: string, value: Json): bool {
  return sendMany(Json.object().set(port, value));
}

/** Sends an object {port: value, ...} at once, as one packet. The host copies the block, so it
 * is freed here. */
export function sendMany(values: Json): bool {
  const m = Memory.fromString(values.toString());
  if (m === null) return false;
  actorHost.send_output(m.handle);
  m.free();
  return true;
}

/** A key of the node's state as the host holds it now (after setState calls); null when it is
 * unset. */
export function getState(key: string): Json | null {
  const k = Memory.fromString(key);
  if (k === null) return null;
  const v = Memory.adopt(actorHost.get_state(k.handle));
  k.free();
  if (v === null) return null;
  const text = v.toString();
  v.free();
  const value = Json.parse(text);
  return value === null || value.isNull() ? null : value;
}

/** Sets a key of the node's state at once; false when kernel memory ran out. */
export function setState(key: string, value: Json): bool {
  const k = Memory.fromString(key);
  const v = Memory.fromString(value.toString());
  if (k === null || v === null) {
    if (k !== null) k.free();
    if (v !== null) v.free();
    return false;
  }
  actorHost.set_state(k.handle, v.handle);
  k.free();
  v.free();
  return true;
}

// ---- The exports ------------------------------------------------------------------------------

/** The body of get_metadata: outputs the metadata. */
export function writeMetadata(metadata: Metadata): i32 {
  return setOutputString(metadata.toJson().toString()) ? 0 : fail("out of kernel memory");
}

/** The body of process: reads the ActorContext, runs `fn` and outputs the ActorResult. `fn`
 * returns 0, or non-zero with the error set (`return fail("...")`): the node's failure, which
 * its error port receives. */
export function runActor(fn: (ctx: Context, out: Output) => i32): i32 {
  const ctx = Context.parse(inputString());
  if (ctx === null) return fail(lastJsonError);
  const out = new Output();
  const rc = fn(ctx, out);
  if (rc != 0) return rc;
  return setOutputString(out.toJson().toString()) ? 0 : fail("out of kernel memory");
}
