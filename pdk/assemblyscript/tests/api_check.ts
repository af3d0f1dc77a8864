// Compile check for the AssemblyScript kit: calls every helper once, so that building this file
// shows the kit compiles, and its imports (wasm-objdump -x) show that nothing but
// "extism:host/env" and the declared host functions is needed.
import {
  configGet, configGetBytes, env, fail, fromUtf8, httpGet, httpHeaders, httpRequest, HttpRequest,
  input, inputLength, inputReadAt, inputString, inputToMemory, jobCheckInterrupt, jobCheckpoint,
  JobInterrupt, jobItems, jobLoadState, jobLog, jobProgress, jsonString, log, logDebug,
  logEnabled, logError, LogLevel, logInfo, logTrace, logWarn, Memory, parseI64, setError,
  setOutput, setOutputMemory, setOutputString, utf8, varDelete, varGet, varGetI64,
  varGetString, varSet, varSetI64, varSetString,
} from "../assembly/index";

@external("extism:host/user", "hello")
declare function hello(input: u64): u64;

export function check_core(): i32 {
  let sum: u64 = 0;
  const parsed = parseI64(utf8(i64.MIN_VALUE.toString()));
  if (parsed !== null) sum += <u64>parsed.value;

  const m = Memory.allocate(16);
  if (m !== null) {
    const bytes = utf8("0123456789abcdef");
    m.store(0, bytes.dataStart, 16);
    m.load(8, bytes.dataStart, 8);
    sum += m.length + <u64>m.toBytes().length + <u64>m.toString().length;
    m.free();
  }
  const s = Memory.fromString("x");
  if (s !== null) s.free();
  const adopted = Memory.adopt(env.alloc(1));
  if (adopted !== null) adopted.free();

  const buf = new Uint8Array(64);
  sum += inputLength() + <u64>input().length + <u64>inputString().length;
  for (let off: u64 = 0, n = 0; (n = inputReadAt(off, buf)) > 0; off += <u64>n) sum += <u64>n;
  const copy = inputToMemory();
  if (copy !== null) {
    const answer = Memory.adopt(hello(copy.handle));
    copy.free();
    if (answer !== null) setOutputMemory(answer);
  }

  const c = configGet("key");
  const cb = configGetBytes("key");
  if (c !== null && cb !== null) sum += <u64>(c.length + cb.length);
  varSet("bytes", utf8("value"));
  varSetString("text", "value");
  varSetI64("n", 42);
  const v = varGet("bytes");
  const vs = varGetString("text");
  const vn = varGetI64("n");
  if (v !== null && vs !== null && vn !== null) sum += <u64>(v.length + vs.length) + <u64>vn.value;
  varDelete("bytes");

  if (logEnabled(LogLevel.Debug)) logDebug("debug");
  log(LogLevel.Info, "info");
  logTrace("trace");
  logInfo("info");
  logWarn("warn");
  logError("error");

  if (sum == 0) setOutput(utf8(fromUtf8(buf)));
  else setOutputString(sum.toString());
  return 0;
}

export function check_http(): i32 {
  const request = new HttpRequest("http://127.0.0.1/", "POST")
    .header("content-type", jsonString("text/plain\n\"x\""));
  const res = httpRequest(request, utf8("body"));
  const res2 = httpGet("http://127.0.0.1/");
  const headers = httpHeaders();
  if (res.status < 0 || res2.status < 0) return fail("request failed");
  if (headers !== null) setError(headers);
  setOutputString(res.bodyString() + request.toJson());
  return 0;
}

export function check_jobs(): i32 {
  const state = jobLoadState();
  jobProgress(0.5, "half");
  jobItems(1, 2);
  jobLog(LogLevel.Info, "log");
  if (jobCheckInterrupt() != JobInterrupt.Continue) return 0;
  return jobCheckpoint(state) ? 0 : 1;
}
