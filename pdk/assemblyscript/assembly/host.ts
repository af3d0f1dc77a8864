// Kiln plugin kit for AssemblyScript, host functions: log, scope, kv, db, files, env, http and
// host operations through Kiln's module "kiln:host/v1" (docs/hostfns.md gives the JSON each
// takes and returns).
//
//     import { kvGet, kvSet, lastError } from "@kiln/pdk";
//     export function visit(): i32 {
//       const seen = kvGet("visits");            // .value: string | null, .error: string
//       if (!seen.ok) return fail(seen.error);   // e.g. kv: read not granted
//       if (!kvSet("visits", seen.value === null ? "1" : "2")) return fail(lastError());
//       return 0;
//     }
//
// Functions returning a value give a HostValue: the value, null when there is none (a missing
// key, an unset variable), or the host's error when it refused or failed. Kiln's zero-length
// block is the null handle, so an empty value reads as absent. Status functions return false
// when they failed, with the reason in lastError().

import { LogLevel, Memory } from "./index";
import { lastError } from "./dispatch";

/** The raw functions: blocks in (read and freed by the host). Status functions return 0 done,
 * -1 failed; the others a block owned by the plugin, 0 for none or on failure. */
export namespace hostV1 {
  @external("kiln:host/v1", "log")
  export declare function log(level: u64, message: u64): i32;
  @external("kiln:host/v1", "scope_get")
  export declare function scope_get(key: u64): u64;
  @external("kiln:host/v1", "scope_set")
  export declare function scope_set(key: u64, value_json: u64): i32;
  @external("kiln:host/v1", "kv_get")
  export declare function kv_get(key: u64): u64;
  @external("kiln:host/v1", "kv_set")
  export declare function kv_set(key: u64, value: u64): i32;
  @external("kiln:host/v1", "kv_delete")
  export declare function kv_delete(key: u64): i32;
  @external("kiln:host/v1", "kv_list")
  export declare function kv_list(prefix: u64): u64;
  @external("kiln:host/v1", "db_query")
  export declare function db_query(request_json: u64): u64;
  @external("kiln:host/v1", "file_read")
  export declare function file_read(path: u64): u64;
  @external("kiln:host/v1", "file_write")
  export declare function file_write(path: u64, content: u64): i32;
  @external("kiln:host/v1", "file_list")
  export declare function file_list(path: u64): u64;
  @external("kiln:host/v1", "file_stat")
  export declare function file_stat(path: u64): u64;
  @external("kiln:host/v1", "env_get")
  export declare function env_get(name: u64): u64;
  @external("kiln:host/v1", "http_request")
  export declare function http_request(request_json: u64): u64;
  @external("kiln:host/v1", "host_call")
  export declare function host_call(operation: u64, payload_json: u64): u64;
}

/** What a kiln:host/v1 function returning a value gave. */
export class HostValue {
  constructor(public value: string | null, public error: string) {}
  /** Whether the function succeeded (its value may still be null: absent). */
  get ok(): bool {
    return this.error.length == 0;
  }
}

/** A block holding `s` for the host to take: its handle, 0 for an empty string. */
function give(s: string): u64 {
  const m = Memory.fromString(s);
  return m === null ? 0 : m.handle;
}

/** A value function's block, taken: its text, null when absent, the error when it failed. */
function take(handle: u64): HostValue {
  const m = Memory.adopt(handle);
  if (m === null) return new HostValue(null, lastError());
  const s = m.toString();
  m.free();
  return new HostValue(s, "");
}

const levelNames: string[] = ["trace", "debug", "info", "warn", "error"];

/** A line in the plugin's log, with its name, at a level (its log filters it). */
export function hostLog(level: LogLevel, message: string): bool {
  return hostV1.log(give(levelNames[<i32>level]), give(message)) == 0;
}

/** The JSON text of the call's scope variable `key` (permission scope: read). */
export function scopeGet(key: string): HostValue {
  return take(hostV1.scope_get(give(key)));
}

/** Sets the scope's `key` to a value given as JSON text (permission scope: write). */
export function scopeSet(key: string, valueJson: string): bool {
  return hostV1.scope_set(give(key), give(valueJson)) == 0;
}

/** The plugin's kv value of `key` (1 to 1024 bytes; permission kv: read) as text. */
export function kvGet(key: string): HostValue {
  return take(hostV1.kv_get(give(key)));
}

/** Sets `key` (permission kv: write), committed before it returns; false past the quota. */
export function kvSet(key: string, value: string): bool {
  return hostV1.kv_set(give(key), give(value)) == 0;
}

/** Deletes `key`; true whether or not it was there. */
export function kvDelete(key: string): bool {
  return hostV1.kv_delete(give(key)) == 0;
}

/** The keys starting with `prefix` ("" for all) as a JSON array, in byte order. */
export function kvList(prefix: string): HostValue {
  return take(hostV1.kv_list(give(prefix)));
}

/** {"connection", "sql", "params"?} -> {"rows": [...]} or {"changes", "last_insert_rowid"}. */
export function dbQuery(requestJson: string): HostValue {
  return take(hostV1.db_query(give(requestJson)));
}

/** The file's text (permission filesystem: [PREFIX]). */
export function fileRead(path: string): HostValue {
  return take(hostV1.file_read(give(path)));
}

/** Writes the file whole (permission filesystem: ["rw:PREFIX"]). */
export function fileWrite(path: string, content: string): bool {
  return hostV1.file_write(give(path), give(content)) == 0;
}

/** A folder's entries: {"entries": [{"name", "type", "size", "modified"}]}. */
export function fileList(path: string): HostValue {
  return take(hostV1.file_list(give(path)));
}

/** {"type": "file"|"directory"|"symlink"|"other", "size", "modified"}. */
export function fileStat(path: string): HostValue {
  return take(hostV1.file_stat(give(path)));
}

/** A variable named in the grant (env: [NAME]); null when unset or denied (a denied variable
 * is absent to the plugin, and a denial in the host's audit log). */
export function envGet(name: string): HostValue {
  return take(hostV1.env_get(give(name)));
}

/** {"url", "method"?, "headers"?, "body"?} -> {"status", "body", "headers"} (network grants). */
export function hostHttpRequest(requestJson: string): HostValue {
  return take(hostV1.http_request(give(requestJson)));
}

/** Calls the host's operation ("query:files.list"; permission operations: [PREFIX]) with a JSON
 * payload; its JSON result. */
export function hostCall(operation: string, payloadJson: string): HostValue {
  return take(hostV1.host_call(give(operation), give(payloadJson)));
}
