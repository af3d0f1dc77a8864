// sum_squares_as (AssemblyScript): the same resumable job as sum_squares.c, with Kiln's
// AssemblyScript kit: the state {"n": N, "i": I, "sum": S} (only "n" is needed to start), the
// squares of 1..N summed modulo 1,000,000,007, progress and a checkpoint every 1,000 numbers,
// pause and cancel honoured, the final state as the output.
//   kiln job run sum_squares_as:sum --state '{"n":1000000}' \
//       --plugin-dir build/examples/plugins/jobs
import {
  fail, inputString, jobCheckInterrupt, jobCheckpoint, JobInterrupt, jobItems, jobProgress,
  parseI64, setOutputString, utf8,
} from "../../../pdk/assemblyscript/assembly/index";
import { jsonField } from "../../../pdk/assemblyscript/assembly/dispatch";

/** The non-negative integer `key` of the state, or 0. */
function field(state: string, key: string): u64 {
  const text = jsonField(state, key);
  const v = text !== null ? parseI64(utf8(text)) : null;
  return v !== null && v.value >= 0 ? <u64>v.value : 0;
}

function format(n: u64, i: u64, sum: u64): string {
  return "{\"n\":" + n.toString() + ",\"i\":" + i.toString() + ",\"sum\":" + sum.toString() + "}";
}

export function sum(): i32 {
  const state = inputString();
  const n = field(state, "n");
  let i = field(state, "i");
  let sum = field(state, "sum");
  while (i < n) {
    const asked = jobCheckInterrupt();
    if (asked == JobInterrupt.Cancel) return 0;
    if (asked == JobInterrupt.Pause) {
      return jobCheckpoint(format(n, i, sum)) ? 0 : fail("checkpoint failed");
    }
    const end = i + 1000 < n ? i + 1000 : n;
    for (; i < end; i++) sum = (sum + (i + 1) * (i + 1)) % 1000000007;
    jobProgress(<f64>i / <f64>n, i.toString() + " of " + n.toString());
    jobItems(i, n);
    if (!jobCheckpoint(format(n, i, sum))) return fail("checkpoint failed");
  }
  return setOutputString(format(n, i, sum)) ? 0 : fail("no memory");
}
