// Compile check for the AssemblyScript kit's host functions: calls each once.
import { fail, inputString, LogLevel, setOutputString } from "../assembly/index";
import { lastError } from "../assembly/dispatch";
import {
  dbQuery, envGet, fileList, fileRead, fileStat, fileWrite, hostCall, hostHttpRequest, hostLog,
  HostValue, kvDelete, kvGet, kvList, kvSet, scopeGet, scopeSet,
} from "../assembly/host";

export function check_host(): i32 {
  const input = inputString();
  if (!hostLog(LogLevel.Info, input) || !scopeSet("seen", "true") || !kvSet("k", input) ||
      !kvDelete("k") || !fileWrite("out.txt", input)) {
    return fail(lastError());
  }
  const values: HostValue[] = [
    scopeGet("user"), kvGet("k"), kvList(""), dbQuery("{}"), fileRead("out.txt"), fileList("."),
    fileStat("out.txt"), envGet("HOME"), hostHttpRequest("{}"), hostCall("query:x", "{}"),
  ];
  let out = "";
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!v.ok) return fail(v.error);
    const text = v.value;
    if (text !== null) out += text;
  }
  setOutputString(out);
  return 0;
}
