// The reference side of the differential test: runs a module on node's WebAssembly (V8) and
// prints the same normalized transcript as kiln-diff (see differential.cpp for the format).
// Usage: node reference.mjs MODULE.wasm              prints the transcript
//        node reference.mjs --batch JOBS TIMEOUT_S MODULE.wasm...
//                                                   writes MODULE.wasm.node.txt for each
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

const HANG_LIMIT_EXPORT = 'hangLimitInitializer';
const VALTYPES = { 0x7f: 'i32', 0x7e: 'i64', 0x7d: 'f32', 0x7c: 'f64', 0x7b: 'v128',
                   0x70: 'funcref', 0x6f: 'externref' };

// The JS API does not say which wasm type a value has, so the few sections that do are read
// here: types, imports, functions, globals and exports. Only called on valid modules.
function read_signatures(bytes) {
  let pos = 8;
  const u8 = () => bytes[pos++];
  const leb = () => {
    let result = 0, shift = 0, b;
    do {
      b = u8();
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    return result;
  };
  const skip_name = () => { const n = leb(); pos += n; };
  const name = () => {
    const n = leb();
    const s = Buffer.from(bytes.subarray(pos, pos + n)).toString('utf8');
    pos += n;
    return s;
  };
  const skip_limits = () => { const flags = u8(); leb(); if (flags & 1) leb(); };
  const types = [], func_types = [], global_types = [], exports = [];
  while (pos < bytes.length) {
    const id = u8();
    const size = leb();
    const end = pos + size;
    if (id === 1) {
      for (let n = leb(); n > 0; --n) {
        u8(); // 0x60
        const params = [], results = [];
        for (let k = leb(); k > 0; --k) params.push(VALTYPES[u8()]);
        for (let k = leb(); k > 0; --k) results.push(VALTYPES[u8()]);
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = leb(); n > 0; --n) {
        skip_name();
        skip_name();
        const kind = u8();
        if (kind === 0) func_types.push(types[leb()]);
        else if (kind === 1) { u8(); skip_limits(); }
        else if (kind === 2) skip_limits();
        else { global_types.push(VALTYPES[u8()]); u8(); }
      }
    } else if (id === 3) {
      for (let n = leb(); n > 0; --n) func_types.push(types[leb()]);
    } else if (id === 6) {
      // Only the types are needed; the initializers are skipped by scanning to each `end`,
      // which is safe for the constant instructions WebAssembly 2.0 allows (v128.const's subcode
      // 0x0c takes one LEB byte).
      for (let n = leb(); n > 0; --n) {
        global_types.push(VALTYPES[u8()]);
        u8();
        for (;;) {
          const op = u8();
          if (op === 0x0b) break;
          if (op === 0x41 || op === 0x42 || op === 0x23 || op === 0xd2) {
            while (u8() & 0x80) {}
          } else if (op === 0x43) pos += 4;
          else if (op === 0x44) pos += 8;
          else if (op === 0xfd) pos += 17; // v128.const: subcode 0x0c and 16 bytes
          else if (op === 0xd0) u8();
        }
      }
    } else if (id === 7) {
      for (let n = leb(); n > 0; --n) {
        const export_name = name();
        const kind = u8();
        exports.push({ name: export_name, kind, index: leb() });
      }
    }
    pos = end;
  }
  return { types, func_types, global_types, exports };
}

const f32_buf = new Float32Array(1), f32_bits = new Uint32Array(f32_buf.buffer);
const f64_buf = new Float64Array(1), f64_bits = new BigUint64Array(f64_buf.buffer);

function format_value(type, v) {
  switch (type) {
    case 'i32': return `i32:${v | 0}`;
    case 'i64': return `i64:${BigInt.asIntN(64, v)}`;
    case 'f32':
      if (Number.isNaN(v)) return 'f32:nan';
      f32_buf[0] = v;
      return `f32:0x${f32_bits[0].toString(16).padStart(8, '0')}`;
    case 'f64':
      if (Number.isNaN(v)) return 'f64:nan';
      f64_buf[0] = v;
      return `f64:0x${f64_bits[0].toString(16).padStart(16, '0')}`;
    case 'funcref':
    case 'externref': return v === null ? 'ref:null' : 'ref:nonnull';
    default: return type;
  }
}

/// A v128 as its four i32 lanes, lane 0 first: 0x and 32 hex digits, lane 0 in the low bits.
function format_v128(lanes) {
  return `v128:0x${lanes.map((l) => (l >>> 0).toString(16).padStart(8, '0')).reverse().join('')}`;
}

// JavaScript cannot take a v128 argument, so an import with v128 parameters (binaryen's
// log-v128) is this wasm function, which passes the four i32 lanes on to JavaScript:
//   (module (import "js" "log" (func $log (param i32 i32 i32 i32)))
//     (func (export "log") (param v128)
//       (call $log (i32x4.extract_lane 0 (local.get 0)) (i32x4.extract_lane 1 (local.get 0))
//                  (i32x4.extract_lane 2 (local.get 0)) (i32x4.extract_lane 3 (local.get 0)))))
const V128_LOGGER = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0c, 0x02, 0x60, 0x04, 0x7f, 0x7f, 0x7f,
  0x7f, 0x00, 0x60, 0x01, 0x7b, 0x00, 0x02, 0x0a, 0x01, 0x02, 0x6a, 0x73, 0x03, 0x6c, 0x6f, 0x67,
  0x00, 0x00, 0x03, 0x02, 0x01, 0x01, 0x07, 0x07, 0x01, 0x03, 0x6c, 0x6f, 0x67, 0x00, 0x01, 0x0a,
  0x1a, 0x01, 0x18, 0x00, 0x20, 0x00, 0xfd, 0x1b, 0x00, 0x20, 0x00, 0xfd, 0x1b, 0x01, 0x20, 0x00,
  0xfd, 0x1b, 0x02, 0x20, 0x00, 0xfd, 0x1b, 0x03, 0x10, 0x00, 0x0b,
]);

const has_v128 = (type) => type.params.includes('v128') || type.results.includes('v128');

function zero(type) {
  if (type === 'i64') return 0n;
  if (type === 'funcref' || type === 'externref') return null;
  return 0;
}

// The k-th argument of the second call of each export, as in differential.cpp's fixed_arg.
const FIXED = {
  i32: [-1, 1, 0x7fffffff, -0x80000000, 0x10000, 17],
  i64: [-1n, 1n, 0x7fffffffffffffffn, -0x8000000000000000n, 0x100000000n, 17n],
  f32: [1.5, -0, 3.4028234663852886e38, 1.401298464324817e-45, -100.25, Infinity],
  f64: [1.5, -0, 1.7976931348623157e308, 5e-324, -100.25, -Infinity],
};

function fixed_arg(type, k) {
  return FIXED[type] ? FIXED[type][k % 6] : null;
}

function fnv1a(bytes) {
  let h = 2166136261;
  for (let i = 0; i < bytes.length; ++i) h = Math.imul(h ^ bytes[i], 16777619) >>> 0;
  return h >>> 0;
}

function is_exhaustion(e) {
  return e instanceof RangeError && /call stack/i.test(e.message);
}

/// The transcript of one module, as lines.
function transcript(bytes) {
  const out = [];
  const print = (line) => out.push(line);
  let module;
  try {
    module = new WebAssembly.Module(bytes);
  } catch (e) {
    print('invalid');
    return out;
  }
  const sig = read_signatures(bytes);
  const imports = {};
  let func_import = 0;
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== 'function') {
      print(`unsupported-import ${imp.module}.${imp.name}`);
      return out;
    }
    const type = sig.func_types[func_import++];
    imports[imp.module] ??= {};
    if (type.params.length === 1 && type.params[0] === 'v128' && type.results.length === 0) {
      const log = (...lanes) => print(`${imp.name}(${format_v128(lanes)})`);
      const logger = new WebAssembly.Instance(new WebAssembly.Module(V128_LOGGER), { js: { log } });
      imports[imp.module][imp.name] = logger.exports.log;
      continue;
    }
    if (has_v128(type)) {
      print(`unsupported-import ${imp.module}.${imp.name}`);
      return out;
    }
    imports[imp.module][imp.name] = (...args) => {
      print(`${imp.name}(${type.params.map((t, i) => format_value(t, args[i])).join(', ')})`);
      const zeros = type.results.map(zero);
      return zeros.length === 1 ? zeros[0] : zeros.length === 0 ? undefined : zeros;
    };
  }
  let instance;
  try {
    instance = new WebAssembly.Instance(module, imports);
  } catch (e) {
    print(is_exhaustion(e) ? 'exhausted' : 'instantiate-failed');
    return out;
  }
  const ex = instance.exports;
  const hang_limit = ex[HANG_LIMIT_EXPORT];
  for (const e of sig.exports) {
    if (e.kind !== 0) continue;
    const type = sig.func_types[e.index];
    // JavaScript can neither pass nor receive a v128: such exports are not called.
    if (has_v128(type)) {
      print(`skip ${e.name} v128`);
      continue;
    }
    for (const fixed of [false, true]) {
      if (fixed && type.params.length === 0) break;
      if (hang_limit && e.name !== HANG_LIMIT_EXPORT) hang_limit();
      print(`call ${e.name}${fixed ? ' fixed' : ''}`);
      let r;
      try {
        r = ex[e.name](...type.params.map((t, k) => (fixed ? fixed_arg(t, k) : zero(t))));
      } catch (err) {
        if (is_exhaustion(err)) {
          print('exhausted');
          return out;
        }
        if (!(err instanceof WebAssembly.RuntimeError)) throw err;
        print('trap');
        continue;
      }
      const values = type.results.length === 1 ? [r] : type.results.length === 0 ? [] : r;
      print(['result', ...type.results.map((t, i) => format_value(t, values[i]))].join(' '));
    }
  }
  for (const e of sig.exports) {
    if (e.kind === 3) {
      const type = sig.global_types[e.index];
      // A v128 global's value cannot be read from JavaScript.
      print(`global ${e.name} ${type === 'v128' ? 'v128' : format_value(type, ex[e.name].value)}`);
    } else if (e.kind === 2) {
      const buf = new Uint8Array(ex[e.name].buffer);
      print(`memory ${e.name} ${buf.length / 65536} 0x${fnv1a(buf).toString(16).padStart(8, '0')}`);
    }
  }
  return out;
}

const text = (lines) => (lines.length ? lines.join('\n') + '\n' : '');

/// Runs the modules on a pool of `jobs` workers, each taking one module at a time, so that one
/// that loops forever can be stopped after `timeout_s` (its worker is replaced). Writes
/// FILE.node.txt, FILE.node.timeout or FILE.node.error beside each module.
async function run_batch(files, jobs, timeout_s) {
  let next = 0;
  const lane = async () => {
    let worker = null;
    while (next < files.length) {
      const file = files[next++];
      if (!worker) {
        // Starting a worker can take seconds on a busy machine: the clock starts once it is up.
        worker = new Worker(new URL(import.meta.url));
        await once(worker, 'message');
      }
      const w = worker;
      const outcome = await new Promise((resolve) => {
        const on = {
          message: (text) => done({ kind: 'txt', text }),
          error: (err) => done({ kind: 'error', text: String(err) }),
          exit: () => done({ kind: 'error', text: 'worker exited' }),
        };
        const timer = setTimeout(() => done({ kind: 'timeout' }), timeout_s * 1000);
        function done(result) {
          clearTimeout(timer);
          for (const [event, fn] of Object.entries(on)) w.off(event, fn);
          resolve(result);
        }
        for (const [event, fn] of Object.entries(on)) w.on(event, fn);
        w.postMessage(file);
      });
      if (outcome.kind === 'txt') {
        writeFileSync(`${file}.node.txt`, outcome.text);
        continue;
      }
      writeFileSync(`${file}.node.${outcome.kind}`, outcome.text ?? '');
      await w.terminate();
      worker = null;
    }
    if (worker) await worker.terminate();
  };
  await Promise.all(Array.from({ length: jobs }, lane));
}

if (!isMainThread) {
  parentPort.on('message', (file) => {
    parentPort.postMessage(text(transcript(new Uint8Array(readFileSync(file)))));
  });
  parentPort.postMessage('ready');
} else if (process.argv[2] === '--batch') {
  const [jobs, timeout_s, ...files] = process.argv.slice(3);
  await run_batch(files, Number(jobs), Number(timeout_s));
} else {
  process.stdout.write(text(transcript(new Uint8Array(readFileSync(process.argv[2])))));
}
