// Kiln plugin kit for AssemblyScript, dispatch: events, commands, slots and UI blocks through
// Kiln's module "kiln:host/v1", and the inputs and outputs of the lifecycle exports a host calls
// (initialize, handle_command, on_event, shutdown). See docs/hostfns.md.
//
//     import { subscribe, registerCommand, parseEvent } from "@kiln/pdk";
//     export function initialize(): i32 {
//       if (!subscribe("file.*") || !registerCommand("notes.add", "Add a note")) {
//         return fail(lastError());
//       }
//       return 0;
//     }
//     export function on_event(): i32 {
//       const e = parseEvent(inputString());   // e.topic, e.data (JSON text); null if malformed
//       ...
//     }

import { jsonString, Memory } from "./index";

/** The raw functions: blocks in (freed by the host), 0 for success, -1 for a failure whose
 * message last_error() returns. */
export namespace v1 {
  @external("kiln:host/v1", "event_publish")
  export declare function event_publish(topic: u64, data: u64): i32;
  @external("kiln:host/v1", "event_subscribe")
  export declare function event_subscribe(pattern: u64): i32;
  @external("kiln:host/v1", "event_unsubscribe")
  export declare function event_unsubscribe(pattern: u64): i32;
  @external("kiln:host/v1", "command_register")
  export declare function command_register(spec_json: u64): i32;
  @external("kiln:host/v1", "slot_register")
  export declare function slot_register(spec_json: u64): i32;
  @external("kiln:host/v1", "block_register")
  export declare function block_register(spec_json: u64): i32;
  @external("kiln:host/v1", "last_error")
  export declare function last_error(): u64;
}

/** A block holding `s` for the host to take: its handle, 0 for an empty string. */
function give(s: string): u64 {
  const m = Memory.fromString(s);
  return m === null ? 0 : m.handle;
}

/** Why the last kiln:host/v1 function failed; "" when it did not. */
export function lastError(): string {
  const m = Memory.adopt(v1.last_error());
  if (m === null) return "";
  const s = m.toString();
  m.free();
  return s;
}

/** Publishes `dataJson` on `topic` (permission events.publish); false: see lastError(). */
export function publish(topic: string, dataJson: string): bool {
  return v1.event_publish(give(topic), give(dataJson)) == 0;
}

/** Subscribes to a topic or a glob ("file.*"); events come to the on_event export. */
export function subscribe(pattern: string): bool {
  return v1.event_subscribe(give(pattern)) == 0;
}

/** Ends a subscription. */
export function unsubscribe(pattern: string): bool {
  return v1.event_unsubscribe(give(pattern)) == 0;
}

/** Builds a JSON object: strings quoted, raw fields (JSON text) as they are. */
class ObjectWriter {
  text: string = "{";
  str(key: string, value: string | null): ObjectWriter {
    if (value !== null) this.field(key, jsonString(value));
    return this;
  }
  raw(key: string, value: string | null): ObjectWriter {
    if (value !== null) this.field(key, value);
    return this;
  }
  private field(key: string, value: string): void {
    if (this.text.length > 1) this.text += ",";
    this.text += jsonString(key) + ":" + value;
  }
  done(): string {
    return this.text + "}";
  }
}

/** Registers a command the host can invoke; `schema` is JSON Schema text of its payload. */
export function registerCommand(id: string, title: string, schema: string | null = null): bool {
  const spec = new ObjectWriter().str("id", id).str("title", title).raw("schema", schema).done();
  return v1.command_register(give(spec)) == 0;
}

/** Registers a slot: a named operation the host calls by name, served by the export. */
export function registerSlot(name: string, exportName: string, description: string | null = null,
                             example: string | null = null, schema: string | null = null): bool {
  const spec = new ObjectWriter().str("name", name).str("export", exportName)
    .str("description", description).raw("example", example).raw("schema", schema).done();
  return v1.slot_register(give(spec)) == 0;
}

/** Registers a UI block type rendered by a template ({{field}}, {{a.b}}; permission ui). */
export function registerTemplateBlock(id: string, name: string, template: string,
                                      schema: string | null = null): bool {
  const spec = new ObjectWriter().str("id", id).str("name", name).raw("schema", schema)
    .str("template", template).done();
  return v1.block_register(give(spec)) == 0;
}

/** Registers a UI block type rendered by an export that gets the data and outputs HTML, or
 * JSON when `json`. */
export function registerExportBlock(id: string, name: string, exportName: string,
                                    json: bool = false, schema: string | null = null): bool {
  const spec = new ObjectWriter().str("id", id).str("name", name).raw("schema", schema)
    .str("export", exportName).str("format", json ? "json" : "html").done();
  return v1.block_register(give(spec)) == 0;
}

// ---- Reading the lifecycle inputs: enough JSON to find a field's value as text --------------

function skipWs(s: string, i: i32): i32 {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
    i++;
  }
  return i;
}

/** The end of the JSON value at s[i]; -1 when it is malformed. */
function skipValue(s: string, i: i32): i32 {
  let depth = 0;
  do {
    if (i >= s.length) return -1;
    const c = s.charCodeAt(i);
    if (c == 0x22) {
      i++;
      while (i < s.length && s.charCodeAt(i) != 0x22) i += s.charCodeAt(i) == 0x5c ? 2 : 1;
      if (i >= s.length) return -1;
      i++;
    } else if (c == 0x7b || c == 0x5b) {
      depth++;
      i++;
    } else if (c == 0x7d || c == 0x5d) {
      if (depth == 0) return -1;
      depth--;
      i++;
    } else if (depth > 0 && (c == 0x2c || c == 0x3a || c == 0x20 || c == 0x09 || c == 0x0a ||
                             c == 0x0d)) {
      i++;
    } else {
      const start = i;
      while (i < s.length) {
        const d = s.charCodeAt(i);
        if (d == 0x2c || d == 0x7d || d == 0x5d || d == 0x3a || d == 0x20 || d == 0x09 ||
            d == 0x0a || d == 0x0d) break;
        i++;
      }
      if (i == start) return -1;
    }
  } while (depth > 0);
  return i;
}

/** The JSON text of `key`'s value in the object `json`; null when absent. Keys are compared as
 * written (look up keys without escapes). */
export function jsonField(json: string, key: string): string | null {
  let i = skipWs(json, 0);
  if (i >= json.length || json.charCodeAt(i) != 0x7b) return null;
  i = skipWs(json, i + 1);
  while (i < json.length && json.charCodeAt(i) == 0x22) {
    const keyEnd = skipValue(json, i);
    if (keyEnd < 0) return null;
    const matched = json.substring(i + 1, keyEnd - 1) == key;
    i = skipWs(json, keyEnd);
    if (i >= json.length || json.charCodeAt(i) != 0x3a) return null;
    i = skipWs(json, i + 1);
    const valueEnd = skipValue(json, i);
    if (valueEnd < 0) return null;
    if (matched) return json.substring(i, valueEnd);
    i = skipWs(json, valueEnd);
    if (i >= json.length || json.charCodeAt(i) != 0x2c) return null;
    i = skipWs(json, i + 1);
  }
  return null;
}

/** The JSON string literal `value` decoded; null when it is not one. */
export function jsonStr(value: string): string | null {
  const n = value.length;
  if (n < 2 || value.charCodeAt(0) != 0x22 || value.charCodeAt(n - 1) != 0x22) return null;
  let out = "";
  for (let i = 1; i < n - 1; i++) {
    const c = value.charCodeAt(i);
    if (c != 0x5c) {
      out += String.fromCharCode(c);
      continue;
    }
    if (++i >= n - 1) return null;
    const e = value.charAt(i);
    if (e == "n") out += "\n";
    else if (e == "r") out += "\r";
    else if (e == "t") out += "\t";
    else if (e == "b") out += "\b";
    else if (e == "f") out += "\f";
    else if (e == "\"" || e == "\\" || e == "/") out += e;
    else if (e == "u" && i + 4 < n) {
      // UTF-16 code units, as the string holds them: a surrogate pair is two escapes.
      out += String.fromCharCode(<i32>parseInt(value.substring(i + 1, i + 5), 16));
      i += 4;
    } else return null;
  }
  return out;
}

/** on_event's input: the topic and the data's JSON text. */
export class EventInput {
  constructor(public topic: string, public data: string) {}
}

/** Takes on_event's input apart; null when it is not {"topic", "data"}. */
export function parseEvent(input: string): EventInput | null {
  const t = jsonField(input, "topic");
  const d = jsonField(input, "data");
  if (t === null || d === null) return null;
  const topic = jsonStr(t);
  return topic === null ? null : new EventInput(topic, d);
}

/** handle_command's input: the command id and the payload's JSON text ("null" when none). */
export class CommandInput {
  constructor(public action: string, public payload: string) {}
}

/** Takes handle_command's input apart; null when it is not {"action", "payload"}. */
export function parseCommand(input: string): CommandInput | null {
  const a = jsonField(input, "action");
  if (a === null) return null;
  const action = jsonStr(a);
  if (action === null) return null;
  const p = jsonField(input, "payload");
  return new CommandInput(action, p === null ? "null" : p);
}

/** handle_command's output when the command succeeded: {"ok": true, "data": DATA}. */
export function commandOk(dataJson: string | null = null): string {
  return new ObjectWriter().raw("ok", "true").raw("data", dataJson).done();
}

/** handle_command's output when the command failed: {"ok": false, "error": MESSAGE}. */
export function commandError(message: string): string {
  return new ObjectWriter().raw("ok", "false").str("error", message).done();
}
