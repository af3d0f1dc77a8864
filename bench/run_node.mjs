// Runs one benchmark module under node's WebAssembly, the way kiln-bench-run does under Kiln:
//
//   node bench/run_node.mjs FILE [FUNC]
//
// Prints `checksum N`, `seconds S` (wall clock) and `cpu_seconds S` (process CPU time, which
// includes V8's background compiler threads) for one call of FUNC (default `run`), then the
// compile and instantiate times. The i64 checksum arrives as a BigInt (JS-BigInt integration).
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const [file, funcName = 'run'] = process.argv.slice(2);
if (!file) {
  console.error('usage: node run_node.mjs FILE [FUNC]');
  process.exit(2);
}

const bytes = readFileSync(file);
let checksum = null;
let calls = 0;
const imports = {
  bench: {
    checksum(v) {
      checksum = BigInt.asUintN(64, v);
      calls++;
    },
  },
};

let t0 = performance.now();
const module = await WebAssembly.compile(bytes);
const compileS = (performance.now() - t0) / 1e3;
t0 = performance.now();
const instance = await WebAssembly.instantiate(module, imports);
const instantiateS = (performance.now() - t0) / 1e3;

const func = instance.exports[funcName];
if (typeof func !== 'function') {
  console.error(`run_node: no exported function ${funcName}`);
  process.exit(1);
}
const cpu0 = process.cpuUsage();
t0 = performance.now();
func();
const runS = (performance.now() - t0) / 1e3;
const cpu = process.cpuUsage(cpu0);

if (calls > 1) {
  console.error(`run_node: checksum reported ${calls} times`);
  process.exit(1);
}
console.log(`checksum ${calls === 1 ? checksum.toString() : '-'}`);
console.log(`seconds ${runS.toFixed(6)}`);
console.log(`cpu_seconds ${((cpu.user + cpu.system) / 1e6).toFixed(6)}`);
console.log(`compile_seconds ${compileS.toFixed(6)}`);
console.log(`instantiate_seconds ${instantiateS.toFixed(6)}`);
