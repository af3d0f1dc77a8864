// Runs a WASI command under node's node:wasi, with the same argument shape as `kiln run`
// (--dir/--ro-dir HOST::GUEST, then FILE.wasm ARGS...). It exists only for the harness self-test:
// node:wasi is documented as NOT being a sandbox and has no read-only directories, so the hostile
// set must FAIL under it. That failure proves run_hostile.py notices escapes.
import { readFileSync } from 'node:fs';
import { WASI } from 'node:wasi';

const argv = process.argv.slice(2);
const preopens = {};
while (argv.length && argv[0].startsWith('--')) {
  const flag = argv.shift();
  if (flag === '--dir' || flag === '--ro-dir') {
    // No read-only mode exists in node:wasi; --ro-dir becomes read-write, on purpose.
    const [host, guest] = argv.shift().split('::');
    preopens[guest ?? host] = host;
  } else if (flag === '--timeout') {
    argv.shift(); // the harness enforces its own timeout on this process
  } else {
    console.error(`node_run: unknown flag ${flag}`);
    process.exit(2);
  }
}
const file = argv.shift();
const wasi = new WASI({ version: 'preview1', args: [file, ...argv], env: {}, preopens,
                        returnOnExit: true });
const module = await WebAssembly.compile(readFileSync(file));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
