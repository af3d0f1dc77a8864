;; A tiny plugin for the embed example: it logs a greeting through the host's env.log, then
;; returns the sum 1 + 2 + ... + n. wat2wasm plugin.wat -o plugin.wasm
(module
  (import "env" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from the plugin")
  (func (export "run") (param $n i32) (result i32) (local $sum i32)
    (call $log (i32.const 16) (i32.const 21))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $sum (i32.add (local.get $sum) (local.get $n)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $sum)))
