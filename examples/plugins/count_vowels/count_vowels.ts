// count_vowels (AssemblyScript): counts the input bytes that appear in the `vowels` config
// (default "aeiouAEIOU"), adds the count to the var `total` (kept as decimal text) and outputs
// {"count":N,"total":N,"vowels":"..."}. count_vowels.c does the same and must give
// byte-identical outputs, so everything here works on bytes, not on UTF-16 strings, and the
// rules (the 1024-byte limit, the JSON escaping, the error texts) follow it exactly.
import {
  configGetBytes, fail, inputReadAt, parseI64, setOutput, utf8, varGet, varSetI64,
} from "../../../pdk/assemblyscript/assembly/index";

const MAX_VOWELS = 1024;
const HEX = utf8("0123456789abcdef");

/** Appends bytes to a buffer sized for the longest output, as the C version does. */
class Output {
  bytes: Uint8Array = new Uint8Array(MAX_VOWELS * 6 + 96);
  length: i32 = 0;

  byte(c: u8): void {
    this.bytes[this.length++] = c;
  }
  ascii(s: string): void {
    for (let i = 0; i < s.length; i++) this.byte(<u8>s.charCodeAt(i));
  }
  /** JSON string contents: quote and backslash escaped, control bytes as \u00xx, other bytes
   * as they are (so UTF-8 stays UTF-8). */
  jsonEscaped(s: Uint8Array): void {
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (c == 0x22 || c == 0x5c) {
        this.byte(0x5c);
        this.byte(c);
      } else if (c < 0x20) {
        this.ascii("\\u00");
        this.byte(HEX[c >> 4]);
        this.byte(HEX[c & 15]);
      } else {
        this.byte(c);
      }
    }
  }
}

export function count_vowels(): i32 {
  let vowels = configGetBytes("vowels");
  if (vowels === null) vowels = utf8("aeiouAEIOU");
  else if (vowels.length > MAX_VOWELS) return fail("config `vowels` is longer than 1024 bytes");

  const isVowel = new StaticArray<bool>(256);
  for (let i = 0; i < vowels.length; i++) isVowel[vowels[i]] = true;

  // Streamed in chunks, so no buffer limits the input's size.
  const chunk = new Uint8Array(4096);
  let count: i64 = 0;
  for (let off: u64 = 0, n = 0; (n = inputReadAt(off, chunk)) > 0; off += <u64>n)
    for (let i = 0; i < n; i++) if (isVowel[chunk[i]]) count++;

  // Unset starts at 0; anything but a decimal i64 of at most 20 bytes is an error, as in C.
  let total: i64 = 0;
  const text = varGet("total");
  if (text !== null) {
    const parsed = text.length <= 20 ? parseI64(text) : null;
    if (parsed === null) return fail("var `total` is not a decimal number");
    total = parsed.value;
  }
  total += count; // wraps, as the C and Rust versions do
  if (!varSetI64("total", total)) return fail("out of kernel memory");

  const out = new Output();
  out.ascii("{\"count\":" + count.toString() + ",\"total\":" + total.toString() +
            ",\"vowels\":\"");
  out.jsonEscaped(vowels);
  out.ascii("\"}");
  if (!setOutput(out.bytes.subarray(0, out.length))) return fail("out of kernel memory");
  return 0;
}
