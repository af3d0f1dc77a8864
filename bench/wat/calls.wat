;; Call loops: `host_loop n` calls the imported empty host function n times, `wasm_loop n` calls an
;; empty wasm function n times and `bare_loop n` only runs the loop, so the per-call cost of each
;; kind of call can be separated from the loop around it.
(module
  (import "bench" "nop" (func $nop))
  (func $empty)
  (func (export "host_loop") (param $n i32)
    (block $done
      (br_if $done (i32.eqz (local.get $n)))
      (loop $again
        (call $nop)
        (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
  (func (export "wasm_loop") (param $n i32)
    (block $done
      (br_if $done (i32.eqz (local.get $n)))
      (loop $again
        (call $empty)
        (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))
  (func (export "bare_loop") (param $n i32)
    (block $done
      (br_if $done (i32.eqz (local.get $n)))
      (loop $again
        (nop)
        (br_if $again (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))))
