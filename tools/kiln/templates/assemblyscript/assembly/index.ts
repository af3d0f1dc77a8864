// {{name}}: a Kiln plugin (Extism ABI) in AssemblyScript. Each exported function of type
// () => i32 is a function the host can call with bytes in and bytes out; it returns 0 for
// success. kiln_pdk.ts is the kit.
import { configGet, inputString, logDebug, setOutputString, fail } from "./kiln_pdk";

// Answers the input with "GREETING, INPUT!", GREETING being the config key `greeting` (from the
// manifest or `kiln call --config greeting=...`), "Hello" by default.
export function greet(): i32 {
  const name = inputString();
  const configured = configGet("greeting");
  const greeting = configured !== null ? configured : "Hello";
  logDebug("greeting " + name);
  return setOutputString(greeting + ", " + name + "!") ? 0 : fail("out of kernel memory");
}
