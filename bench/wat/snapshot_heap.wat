;; A plugin-sized heap for the snapshot benchmark (bench/snapshot.cpp): fill() writes 16 MiB of
;; 32-byte records, each an id, a small kind, a float, a pseudo-random word and eight letters,
;; so every page is touched and the data is neither all alike nor all noise.
(module
  (memory (export "memory") 256)
  (global $ticks (mut i64) (i64.const 0))
  (func (export "fill") (param $seed i64) (local $at i32) (local $i i32) (local $h i64)
    (local.set $h (local.get $seed))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $at) (i32.const 16777216)))
      (local.set $h (i64.xor (local.get $h) (i64.shl (local.get $h) (i64.const 13))))
      (local.set $h (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 7))))
      (local.set $h (i64.xor (local.get $h) (i64.shl (local.get $h) (i64.const 17))))
      (i32.store (local.get $at) (local.get $i))
      (i32.store offset=4 (local.get $at) (i32.wrap_i64 (i64.and (local.get $h) (i64.const 15))))
      (f64.store offset=8 (local.get $at)
        (f64.add (f64.mul (f64.convert_i32_u (local.get $i)) (f64.const 1.37))
                 (f64.div (f64.convert_i64_u (i64.and (local.get $h) (i64.const 0xffff)))
                          (f64.const 65536))))
      (i64.store offset=16 (local.get $at) (local.get $h))
      ;; eight lowercase letters, one from each byte of h
      (i64.store offset=24 (local.get $at)
        (i64.add (i64.const 0x6161616161616161)
                 (i64.and (i64.shr_u (local.get $h) (i64.const 3)) (i64.const 0x0f0f0f0f0f0f0f0f))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (local.set $at (i32.add (local.get $at) (i32.const 32)))
      (br $next)))
    (global.set $ticks (i64.add (global.get $ticks) (i64.const 1))))
)
