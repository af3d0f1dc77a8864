;; Fibonacci two ways: `fib` recurses (one call per step, a call-heavy workload) and
;; `fib_iter` loops. Both take n as i32 and return fib(n) as i64, so fib_iter reaches n = 92.
;;   kiln invoke build/examples/fib.wasm fib 20       -> 6765
;;   kiln invoke build/examples/fib.wasm fib_iter 90  -> 2880067194370816120
(module
  (func $fib (export "fib") (param $n i32) (result i64)
    (if (result i64) (i32.lt_u (local.get $n) (i32.const 2))
      (then (i64.extend_i32_u (local.get $n)))
      (else
        (i64.add
          (call $fib (i32.sub (local.get $n) (i32.const 1)))
          (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  (func (export "fib_iter") (param $n i32) (result i64)
    (local $a i64) (local $b i64) (local $next i64)
    (local.set $b (i64.const 1))
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $next (i64.add (local.get $a) (local.get $b)))
        (local.set $a (local.get $b))
        (local.set $b (local.get $next))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $step)))
    (local.get $a)))
