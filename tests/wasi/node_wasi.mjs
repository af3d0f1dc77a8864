// Runs a WASI preview 1 command under node's WASI with the same command line as `kiln run`, so
// that the harness can compare the two on identical arguments:
//   node node_wasi.mjs [--dir HOST[::GUEST]] [--ro-dir HOST[::GUEST]] [--env K=V] FILE.wasm [ARGS]
// Node 18 and older need --experimental-wasi-unstable-preview1 on node's own command line (the
// harness adds it). Node has no read-only preopens: --ro-dir preopens read-write, which the
// harness knows about. A trap exits 134, as `kiln run` does, so exit codes compare directly.
import { readFile } from 'node:fs/promises';
import process from 'node:process';
import { WASI } from 'node:wasi';

function usage(message) {
  process.stderr.write(`node_wasi: ${message}\n`);
  process.exit(2);
}

const argv = process.argv.slice(2);
const preopens = {};
const env = {};
let i = 0;
for (; i < argv.length; ++i) {
  const arg = argv[i];
  if (arg === '--dir' || arg === '--ro-dir') {
    const spec = argv[++i];
    if (spec === undefined) usage(`${arg} needs HOST[::GUEST]`);
    const sep = spec.indexOf('::');
    const host = sep < 0 ? spec : spec.slice(0, sep);
    preopens[sep < 0 ? spec : spec.slice(sep + 2)] = host;
  } else if (arg === '--env') {
    const kv = argv[++i];
    const eq = kv === undefined ? -1 : kv.indexOf('=');
    if (eq <= 0) usage('--env needs K=V');
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  } else if (arg.startsWith('--')) {
    usage(`unknown flag ${arg}`);
  } else {
    break;
  }
}
if (i >= argv.length) usage('no FILE.wasm');
const file = argv[i];
const args = argv.slice(i);

const options = { args, env, preopens, returnOnExit: true };
let wasi;
try {
  wasi = new WASI({ version: 'preview1', ...options });
} catch {
  wasi = new WASI(options);  // node before `version` existed: preview1 is the only one
}
const imports = typeof wasi.getImportObject === 'function'
  ? wasi.getImportObject()
  : { wasi_snapshot_preview1: wasi.wasiImport };

let module;
try {
  module = await WebAssembly.compile(await readFile(file));
} catch (e) {
  usage(`${file}: ${e.message}`);
}
const instance = await WebAssembly.instantiate(module, imports);
try {
  process.exitCode = wasi.start(instance) ?? 0;
} catch (e) {
  if (!(e instanceof WebAssembly.RuntimeError)) throw e;
  process.stderr.write(`node_wasi: trap: ${e.message}\n`);
  process.exitCode = 134;
}
