// Kiln plugin development kit for AssemblyScript: guest-side helpers over the Extism plugin ABI
// (imports from "extism:host/env", every handle an i64). One source file and no dependencies
// beyond the AssemblyScript compiler (tested with 0.28); see docs/pdk-assemblyscript.md.
//
// A plugin is the entry file given to asc; its exported functions of type () => i32 are the
// plugin's functions (return 0 for success):
//
//     import { inputString, setOutputString } from "@kiln/pdk";   // or a relative path
//     export function greet(): i32 {
//         setOutputString("Hello, " + inputString() + "!");
//         return 0;
//     }
//
// Build it so that no "env" import remains (Kiln links only what a plugin may use):
//
//     asc plugin.ts -o plugin.wasm -O --runtime incremental \
//         --use abort=<this file's path without .ts>/kilnAbort
//
// where the path is relative to the folder asc runs in, or ~lib/@kiln/pdk/assembly/index when
// the kit is an installed package.
//
// Kernel memory belongs to the host: a handle (u64, 0 = none) names a block whose bytes are at
// handle + 0 .. handle + length - 1. Blocks the host returns (config and var values, HTTP
// bodies) belong to the plugin; keys and log messages handed to the host are freed by the host.
// The helpers below do this bookkeeping. On Kiln a zero-length block is the null handle, so an
// empty config value reads as absent and setting a var to an empty value deletes it.

// ---- The raw ABI: one declaration per host function ---------------------------------------

/** The functions of "extism:host/env", for anything the helpers below do not cover. */
export namespace env {
  @external("extism:host/env", "alloc")
  export declare function alloc(size: u64): u64;
  @external("extism:host/env", "free")
  export declare function free(handle: u64): void;
  @external("extism:host/env", "length")
  export declare function length(handle: u64): u64;
  @external("extism:host/env", "length_unsafe")
  export declare function length_unsafe(handle: u64): u64;
  @external("extism:host/env", "load_u8")
  export declare function load_u8(address: u64): u8;
  @external("extism:host/env", "load_u64")
  export declare function load_u64(address: u64): u64;
  @external("extism:host/env", "store_u8")
  export declare function store_u8(address: u64, byte: u8): void;
  @external("extism:host/env", "store_u64")
  export declare function store_u64(address: u64, value: u64): void;
  @external("extism:host/env", "input_length")
  export declare function input_length(): u64;
  @external("extism:host/env", "input_offset")
  export declare function input_offset(): u64;
  @external("extism:host/env", "input_load_u8")
  export declare function input_load_u8(offset: u64): u8;
  @external("extism:host/env", "input_load_u64")
  export declare function input_load_u64(offset: u64): u64;
  @external("extism:host/env", "input_set")
  export declare function input_set(handle: u64, length: u64): void;
  @external("extism:host/env", "output_set")
  export declare function output_set(handle: u64, length: u64): void;
  @external("extism:host/env", "output_offset")
  export declare function output_offset(): u64;
  @external("extism:host/env", "output_length")
  export declare function output_length(): u64;
  @external("extism:host/env", "error_set")
  export declare function error_set(handle: u64): void;
  @external("extism:host/env", "error_get")
  export declare function error_get(): u64;
  @external("extism:host/env", "reset")
  export declare function reset(): void;
  @external("extism:host/env", "memory_bytes")
  export declare function memory_bytes(): u64;
  @external("extism:host/env", "config_get")
  export declare function config_get(key: u64): u64;
  @external("extism:host/env", "var_get")
  export declare function var_get(key: u64): u64;
  @external("extism:host/env", "var_set")
  export declare function var_set(key: u64, value: u64): void;
  @external("extism:host/env", "http_request")
  export declare function http_request(request_json: u64, body: u64): u64;
  @external("extism:host/env", "http_status_code")
  export declare function http_status_code(): i32;
  @external("extism:host/env", "http_headers")
  export declare function http_headers(): u64;
  @external("extism:host/env", "log_trace")
  export declare function log_trace(message: u64): void;
  @external("extism:host/env", "log_debug")
  export declare function log_debug(message: u64): void;
  @external("extism:host/env", "log_info")
  export declare function log_info(message: u64): void;
  @external("extism:host/env", "log_warn")
  export declare function log_warn(message: u64): void;
  @external("extism:host/env", "log_error")
  export declare function log_error(message: u64): void;
  @external("extism:host/env", "get_log_level")
  export declare function get_log_level(): i32;
}

// ---- Linear memory <-> kernel memory --------------------------------------------------------

// Eight bytes per host call, then single bytes for the tail: a host call costs far more than
// the unaligned load or store on this side.
function copyOut(address: u64, dst: usize, len: usize): void {
  let i: usize = 0;
  for (; i + 8 <= len; i += 8) store<u64>(dst + i, env.load_u64(address + <u64>i));
  for (; i < len; i++) store<u8>(dst + i, env.load_u8(address + <u64>i));
}

function copyIn(address: u64, src: usize, len: usize): void {
  let i: usize = 0;
  for (; i + 8 <= len; i += 8) env.store_u64(address + <u64>i, load<u64>(src + i));
  for (; i < len; i++) env.store_u8(address + <u64>i, load<u8>(src + i));
}

/** UTF-8 bytes of a string (lone surrogates become U+FFFD). */
export function utf8(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

/** Text from UTF-8 bytes. */
export function fromUtf8(bytes: Uint8Array): string {
  return String.UTF8.decodeUnsafe(bytes.dataStart, <usize>bytes.length);
}

// ---- Kernel memory blocks --------------------------------------------------------------------

/**
 * A kernel memory block. AssemblyScript has no destructors, so the owner calls free() (or hands
 * the block to the host, which then owns it).
 */
export class Memory {
  constructor(public readonly handle: u64) {}

  /** A new block of `size` bytes; null when the host is out of memory (and possibly for 0). */
  static allocate(size: u64): Memory | null {
    return Memory.adopt(env.alloc(size));
  }

  /** Takes a handle, e.g. one a host function returned; null for 0. */
  static adopt(handle: u64): Memory | null {
    return handle == 0 ? null : new Memory(handle);
  }

  /** A new block holding a copy of `len` bytes at linear address `src`. */
  static fromPointer(src: usize, len: usize): Memory | null {
    const m = Memory.allocate(<u64>len);
    if (m !== null) copyIn(m.handle, src, len);
    return m;
  }

  /** A new block holding a copy of the bytes. */
  static fromBytes(bytes: Uint8Array): Memory | null {
    return Memory.fromPointer(bytes.dataStart, <usize>bytes.length);
  }

  /** A new block holding the string as UTF-8. */
  static fromString(s: string): Memory | null {
    const buf = String.UTF8.encode(s);
    return Memory.fromPointer(changetype<usize>(buf), <usize>buf.byteLength);
  }

  /** The block's length; 0 when it is not a live block. */
  get length(): u64 {
    return env.length(this.handle);
  }

  /** Copies `len` bytes at `offset` within the block to linear address `dst`. */
  load(offset: u64, dst: usize, len: usize): void {
    copyOut(this.handle + offset, dst, len);
  }

  /** Copies `len` bytes from linear address `src` to `offset` within the block. */
  store(offset: u64, src: usize, len: usize): void {
    copyIn(this.handle + offset, src, len);
  }

  /** The block's bytes. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(<i32>this.length);
    this.load(0, out.dataStart, <usize>out.length);
    return out;
  }

  /** The block's bytes as UTF-8 text. */
  toString(): string {
    return fromUtf8(this.toBytes());
  }

  free(): void {
    env.free(this.handle);
  }
}

/** A block for the host to take (keys, log messages, errors): just the handle, 0 when none. */
function handOver(s: string): u64 {
  const m = Memory.fromString(s);
  return m === null ? 0 : m.handle;
}

/** The block's bytes, freeing it; null for 0. */
function takeBytes(handle: u64): Uint8Array | null {
  const m = Memory.adopt(handle);
  if (m === null) return null;
  const bytes = m.toBytes();
  m.free();
  return bytes;
}

// ---- Input ------------------------------------------------------------------------------------

export function inputLength(): u64 {
  return env.input_length();
}

/**
 * Copies up to buf.length input bytes starting at `offset` into buf; returns how many were
 * copied, 0 at the end. Reading in chunks keeps memory use flat for inputs of any size:
 *     for (let off: u64 = 0, n = 0; (n = inputReadAt(off, buf)) > 0; off += n) { ... }
 */
export function inputReadAt(offset: u64, buf: Uint8Array): i32 {
  const total = env.input_length();
  if (offset >= total) return 0;
  const left = total - offset;
  const n = left < <u64>buf.length ? <i32>left : buf.length;
  const dst = buf.dataStart;
  let i = 0;
  for (; i + 8 <= n; i += 8) store<u64>(dst + i, env.input_load_u64(offset + <u64>i));
  for (; i < n; i++) store<u8>(dst + i, env.input_load_u8(offset + <u64>i));
  return n;
}

/** The whole input. */
export function input(): Uint8Array {
  const buf = new Uint8Array(<i32>env.input_length());
  inputReadAt(0, buf);
  return buf;
}

/** The whole input as UTF-8 text. */
export function inputString(): string {
  return fromUtf8(input());
}

/**
 * A new block (owned by the plugin) holding the input, copied inside kernel memory without
 * passing through linear memory: for handing the input on to a host function.
 */
export function inputToMemory(): Memory | null {
  const len = env.input_length();
  const m = Memory.allocate(len);
  if (m === null) return null;
  let i: u64 = 0;
  for (; i + 8 <= len; i += 8) env.store_u64(m.handle + i, env.input_load_u64(i));
  for (; i < len; i++) env.store_u8(m.handle + i, env.input_load_u8(i));
  return m;
}

// ---- Output and errors ------------------------------------------------------------------------

/** Makes the block the output; the host reads it after the call, so it must not be freed. */
export function setOutputMemory(m: Memory): void {
  env.output_set(m.handle, m.length);
}

/** Copies the bytes into a new block and makes it the output; false when out of memory. */
export function setOutput(bytes: Uint8Array): bool {
  const m = Memory.fromBytes(bytes);
  if (m === null) {
    if (bytes.length > 0) return false;
    env.output_set(0, 0);
    return true;
  }
  env.output_set(m.handle, <u64>bytes.length);
  return true;
}

/** The string as UTF-8 becomes the output; false when out of memory. */
export function setOutputString(s: string): bool {
  return setOutput(utf8(s));
}

/** Sets the call's error message (the call fails with it). An empty message may clear it. */
export function setError(message: string): void {
  env.error_set(handOver(message));
}

/** Sets the error and returns 1, for `return fail("bad input");` in an export. */
export function fail(message: string): i32 {
  setError(message);
  return 1;
}

/**
 * The abort handler to build with (`--use abort=.../kilnAbort`): a failed assertion, an index
 * out of range or an explicit abort() becomes the call's error, then the call traps. Without
 * it the module would import env.abort, which a plugin host does not offer.
 */
export function kilnAbort(message: string | null, file: string | null, line: u32,
                          column: u32): void {
  let text = message !== null ? message : "abort";
  if (file !== null) text += " at " + file + ":" + line.toString() + ":" + column.toString();
  setError(text);
  unreachable();
}

// ---- Config (read-only strings from the manifest) ---------------------------------------------

/** The config value's bytes; null when the key is absent. */
export function configGetBytes(key: string): Uint8Array | null {
  const k = handOver(key);
  return k == 0 ? null : takeBytes(env.config_get(k));
}

/** The config value as text; null when the key is absent. */
export function configGet(key: string): string | null {
  const bytes = configGetBytes(key);
  return bytes === null ? null : fromUtf8(bytes);
}

// ---- Vars (bytes kept by the host across calls of one plugin instance) -----------------------

/** The var's bytes; null when it is not set. */
export function varGet(key: string): Uint8Array | null {
  const k = handOver(key);
  return k == 0 ? null : takeBytes(env.var_get(k));
}

/** The var as UTF-8 text; null when it is not set. */
export function varGetString(key: string): string | null {
  const bytes = varGet(key);
  return bytes === null ? null : fromUtf8(bytes);
}

/**
 * Sets the var; false when kernel memory ran out. The host frees the key block and only reads
 * the value block, which is freed here. A zero-length value may delete the var, since some
 * hosts give size-0 allocations the null handle, which var_set takes as "delete".
 */
export function varSet(key: string, value: Uint8Array): bool {
  const v = Memory.fromBytes(value);
  if (v === null && value.length > 0) return false;
  const k = handOver(key);
  if (k == 0) {
    if (v !== null) v.free();
    return false;
  }
  env.var_set(k, v === null ? 0 : v.handle);
  if (v !== null) v.free();
  return true;
}

export function varSetString(key: string, value: string): bool {
  return varSet(key, utf8(value));
}

export function varDelete(key: string): void {
  const k = handOver(key);
  if (k != 0) env.var_set(k, 0);
}

/** An i64 that may be missing: AssemblyScript has no nullable primitives. */
export class Int64 {
  constructor(public value: i64) {}
}

/**
 * Optional '+' or '-', then decimal digits, nothing else, within i64; null otherwise. The same
 * rule as the C kit's kiln_parse_i64, so kits read each other's integer vars.
 */
export function parseI64(text: Uint8Array): Int64 | null {
  const len = text.length;
  let i = 0;
  let negative = false;
  if (len > 0 && (text[0] == 0x2d || text[0] == 0x2b)) {
    negative = text[0] == 0x2d;
    i = 1;
  }
  if (i == len) return null;
  // Accumulated as unsigned so that i64.MIN_VALUE, one past i64.MAX_VALUE, fits.
  const limit: u64 = negative ? <u64>i64.MAX_VALUE + 1 : <u64>i64.MAX_VALUE;
  let value: u64 = 0;
  for (; i < len; i++) {
    const c = text[i];
    if (c < 0x30 || c > 0x39) return null;
    const digit = <u64>(c - 0x30);
    if (value > (limit - digit) / 10) return null;
    value = value * 10 + digit;
  }
  return new Int64(negative ? <i64>(0 - value) : <i64>value);
}

/** An integer var kept as decimal text; null when unset or not a decimal integer. */
export function varGetI64(key: string): Int64 | null {
  const text = varGet(key);
  return text === null ? null : parseI64(text);
}

export function varSetI64(key: string, value: i64): bool {
  return varSetString(key, value.toString());
}

// ---- Logging ----------------------------------------------------------------------------------

export enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
}

/**
 * Whether the host would keep a message at this level (it reports i32.MAX_VALUE when logging is
 * off). Worth calling before building an expensive message.
 */
export function logEnabled(level: LogLevel): bool {
  return <i32>level >= env.get_log_level();
}

/**
 * Logs the message at the level. The level is checked first so that a disabled message costs
 * one host call and no kernel allocation; the host frees the message block.
 */
export function log(level: LogLevel, message: string): void {
  if (!logEnabled(level)) return;
  const m = handOver(message);
  if (m == 0) return;
  switch (level) {
    case LogLevel.Trace: env.log_trace(m); break;
    case LogLevel.Debug: env.log_debug(m); break;
    case LogLevel.Info: env.log_info(m); break;
    case LogLevel.Warn: env.log_warn(m); break;
    default: env.log_error(m); break;
  }
}

export function logTrace(message: string): void { log(LogLevel.Trace, message); }
export function logDebug(message: string): void { log(LogLevel.Debug, message); }
export function logInfo(message: string): void { log(LogLevel.Info, message); }
export function logWarn(message: string): void { log(LogLevel.Warn, message); }
export function logError(message: string): void { log(LogLevel.Error, message); }

// ---- Jobs (module kiln:host/v1) -----------------------------------------------------------------

/**
 * The kiln:host/v1 job functions, for exports run as jobs (docs/jobs.md): the export gets the
 * job's state as its input; the host only reads the blocks it is given (the helpers free them).
 */
export namespace jobs {
  @external("kiln:host/v1", "job_progress")
  export declare function job_progress(fraction: f64, message: u64): void;
  @external("kiln:host/v1", "job_checkpoint")
  export declare function job_checkpoint(state: u64): i32;
  @external("kiln:host/v1", "job_check_interrupt")
  export declare function job_check_interrupt(): i32;
  @external("kiln:host/v1", "job_items")
  export declare function job_items(done: u64, total: u64): void;
  @external("kiln:host/v1", "job_log")
  export declare function job_log(level: i32, message: u64): void;
  @external("kiln:host/v1", "job_load_state")
  export declare function job_load_state(): u64;
}

/** What jobCheckInterrupt answers. */
export enum JobInterrupt {
  /** Go on. */
  Continue = 0,
  /** Checkpoint if needed and return: the job is paused. */
  Pause = 1,
  /** Return: the job is cancelled. */
  Cancel = 2,
}

/** A block of `s` that the caller frees after the host read it; 0 when out of memory. */
function lend(s: string): u64 {
  const m = Memory.fromString(s);
  return m === null ? 0 : m.handle;
}

/** Reports progress: a fraction from 0 to 1 and a message ("" keeps the last one). */
export function jobProgress(fraction: f64, message: string): void {
  const m = message.length > 0 ? lend(message) : 0;
  jobs.job_progress(fraction, m);
  if (m != 0) env.free(m);
}

/**
 * Saves the state (JSON) as the job's checkpoint, durably, before returning: a job resumed after
 * a crash starts again from it. False when it could not be saved (a full disk).
 */
export function jobCheckpoint(state: string): bool {
  const s = lend(state);
  if (s == 0 && state.length > 0) return false;
  const rc = jobs.job_checkpoint(s);
  if (s != 0) env.free(s);
  return rc == 0;
}

/** Whether to go on, pause or stop; cheap enough to ask at every step. */
export function jobCheckInterrupt(): JobInterrupt {
  const answer = jobs.job_check_interrupt();
  return answer == 0 ? JobInterrupt.Continue
                     : answer == 2 ? JobInterrupt.Cancel : JobInterrupt.Pause;
}

/** Reports items done out of a total (0: unknown). */
export function jobItems(done: u64, total: u64): void {
  jobs.job_items(done, total);
}

/** A line in the job's log. */
export function jobLog(level: LogLevel, message: string): void {
  const m = lend(message);
  if (m == 0) return;
  jobs.job_log(<i32>level, m);
  env.free(m);
}

/** The job's state: its last checkpoint, else the state it was started with ("" when none). */
export function jobLoadState(): string {
  const bytes = takeBytes(jobs.job_load_state());
  return bytes === null ? "" : fromUtf8(bytes);
}

// ---- HTTP -------------------------------------------------------------------------------------

/**
 * A JSON string literal: quote and backslash escaped, control characters as \u00xx, everything
 * else as it is (the same escaping as the C and Rust kits).
 */
export function jsonString(s: string): string {
  const hex = "0123456789abcdef";
  let out = "\"";
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c != 0x22 && c != 0x5c && c >= 0x20) continue;
    out += s.substring(start, i);
    if (c < 0x20) out += "\\u00" + hex.charAt(c >> 4) + hex.charAt(c & 15);
    else out += "\\" + String.fromCharCode(c);
    start = i + 1;
  }
  return out + s.substring(start) + "\"";
}

export class HttpHeader {
  constructor(public name: string, public value: string) {}
}

/** A request for the host, which only reaches the manifest's allowed_hosts. */
export class HttpRequest {
  headers: HttpHeader[] = [];

  constructor(public url: string, public method: string = "GET") {}

  static get(url: string): HttpRequest {
    return new HttpRequest(url, "GET");
  }

  /** Adds a header, builder style. */
  header(name: string, value: string): HttpRequest {
    this.headers.push(new HttpHeader(name, value));
    return this;
  }

  /** The JSON the host expects: {"url":...,"method":...,"headers":{...}}. */
  toJson(): string {
    let s = "{\"url\":" + jsonString(this.url) + ",\"method\":" + jsonString(this.method) +
            ",\"headers\":{";
    for (let i = 0; i < this.headers.length; i++) {
      if (i > 0) s += ",";
      s += jsonString(this.headers[i].name) + ":" + jsonString(this.headers[i].value);
    }
    return s + "}}";
  }
}

export class HttpResponse {
  /** The HTTP status; -1 when the request could not be built (out of kernel memory). */
  constructor(public status: i32, public body: Uint8Array) {}

  bodyString(): string {
    return fromUtf8(this.body);
  }
}

/**
 * Sends the request with an optional body. A host that refuses the URL (not in allowed_hosts)
 * or cannot connect makes the call fail rather than returning here. The request and body blocks
 * are only read by the host, so they are freed here.
 */
export function httpRequest(request: HttpRequest, body: Uint8Array | null = null): HttpResponse {
  const failed = new HttpResponse(-1, new Uint8Array(0));
  let b: Memory | null = null;
  if (body !== null && body.length > 0) {
    b = Memory.fromBytes(body);
    if (b === null) return failed;
  }
  const r = Memory.fromString(request.toJson());
  if (r === null) {
    if (b !== null) b.free();
    return failed;
  }
  const res = env.http_request(r.handle, b === null ? 0 : b.handle);
  const status = env.http_status_code();
  const bytes = takeBytes(res);
  r.free();
  if (b !== null) b.free();
  return new HttpResponse(status, bytes === null ? new Uint8Array(0) : bytes);
}

export function httpGet(url: string): HttpResponse {
  return httpRequest(HttpRequest.get(url));
}

/** The last response's headers as a JSON object; null when the host does not hand them out. */
export function httpHeaders(): string | null {
  const bytes = takeBytes(env.http_headers());
  return bytes === null ? null : fromUtf8(bytes);
}
