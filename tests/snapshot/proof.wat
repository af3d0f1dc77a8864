;; The two programs of the snapshot proof (tests/snapshot/snapshot_proof.cpp), also the fixed
;; module of the snapshot fuzzer. Each export's result folds in the state it leaves behind
;; (memory, globals, a funcref global), so a snapshot that restored any of it wrongly changes
;; the result.
(module
  (type $node (func (param i32 i64 funcref) (result i64)))
  (type $leaf (func (param i64) (result i64)))
  ;; env.pause(n) returns a number the host chooses; the host may suspend the call here instead.
  (import "env" "pause" (func $pause (param i32) (result i32)))
  (memory 2)                ;; page 0: one word per recursion depth; page 1: the loop's counters
  (table $nodes 2 funcref)  ;; the two recursive functions, called through call_indirect
  (table $leaves 5 funcref) ;; four leaves, and slot 4 for calling whichever funcref is at hand
  (elem (table $nodes) (i32.const 0) func $down_a $down_b)
  (elem (table $leaves) (i32.const 0) func $l0 $l1 $l2 $l3)
  (global $calls (mut i64) (i64.const 0))
  (global $steps (mut i64) (i64.const 0))
  (global $hold (mut funcref) (ref.null func))

  (func $l0 (type $leaf) (i64.add (local.get 0) (i64.const 1)))
  (func $l1 (type $leaf) (i64.mul (local.get 0) (i64.const 3)))
  (func $l2 (type $leaf) (i64.xor (local.get 0) (i64.const 0x5555)))
  (func $l3 (type $leaf) (i64.rotl (local.get 0) (i64.const 7)))
  (func $mix (param i64) (result i64)
    (i64.xor (local.get 0) (i64.shr_u (local.get 0) (i64.const 29))))

  ;; FNV-1a over the 64-bit words of memory[addr, addr + len).
  (func $hash_mem (param $addr i32) (param $len i32) (result i64) (local $h i64) (local $end i32)
    (local.set $h (i64.const 0xcbf29ce484222325))
    (local.set $end (i32.add (local.get $addr) (local.get $len)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $addr) (local.get $end)))
      (local.set $h (i64.mul (i64.xor (local.get $h) (i64.load (local.get $addr)))
                             (i64.const 0x100000001b3)))
      (local.set $addr (i32.add (local.get $addr) (i32.const 8)))
      (br $next)))
    (local.get $h))

  ;; One level of the recursion: n levels remain, h is the running hash, k a funcref handed
  ;; down by the caller. Funcrefs stay live across the calls in locals, parameters and on the
  ;; operand stack; the word stored at this depth must still be there when the call returns.
  (func $down_a (type $node) (param $n i32) (param $h i64) (param $k funcref) (result i64)
    (local $f funcref) (local $x f64) (local $m i64) (local $addr i32)
    (global.set $calls (i64.add (global.get $calls) (i64.const 1)))
    (if (i32.eqz (i32.and (local.get $n) (i32.const 511)))
      (then (local.set $h (i64.add (local.get $h) (i64.extend_i32_u (call $pause (local.get $n)))))))
    (local.set $addr (i32.shl (i32.and (local.get $n) (i32.const 8191)) (i32.const 3)))
    (i64.store (local.get $addr) (local.get $h))
    (local.set $f (table.get $leaves (i32.wrap_i64 (i64.and (local.get $h) (i64.const 3)))))
    (local.set $x (f64.convert_i64_u (local.get $h)))
    (if (i32.eqz (local.get $n))
      (then
        (table.set $leaves (i32.const 4) (local.get $k))
        (return (call_indirect $leaves (type $leaf) (local.get $h) (i32.const 4)))))
    (local.set $m
      (call_indirect $nodes (type $node)
        (i32.sub (local.get $n) (i32.const 1))
        (i64.mul (i64.xor (local.get $h) (i64.extend_i32_u (local.get $n)))
                 (i64.const 0x100000001b3))
        (local.get $f)
        (i32.wrap_i64 (i64.and (i64.shr_u (local.get $h) (i64.const 17)) (i64.const 1)))))
    ;; Two funcrefs on the operand stack while $mix runs (values of table.get, not locals,
    ;; so they live in the frame's stack slots).
    (table.set $leaves (i32.const 4)
      (select (result funcref)
        (table.get $leaves
          (i32.wrap_i64 (i64.and (i64.shr_u (local.get $h) (i64.const 9)) (i64.const 3))))
        (table.get $leaves (i32.wrap_i64 (i64.and (local.get $h) (i64.const 3))))
        (i32.wrap_i64 (i64.and (call $mix (local.get $m)) (i64.const 1)))))
    (if (i64.ne (i64.load (local.get $addr)) (local.get $h)) (then unreachable))
    (global.set $hold (local.get $f))
    (i64.add
      (call_indirect $leaves (type $leaf) (local.get $m) (i32.const 4))
      (i64.reinterpret_f64 (f64.mul (local.get $x) (f64.const 0.5)))))

  ;; The other level: a direct call, with the funcref parameter used after it returns.
  (func $down_b (type $node) (param $n i32) (param $h i64) (param $k funcref) (result i64)
    (local $r i64)
    (local.set $r (call $down_a (local.get $n) (i64.add (local.get $h) (i64.const 1))
                                (local.get $k)))
    (table.set $leaves (i32.const 4) (local.get $k))
    (i64.xor (local.get $r) (call_indirect $leaves (type $leaf) (local.get $r) (i32.const 4))))

  ;; A recursion n + 1 levels deep; the result folds in the call count, the words written at
  ;; every depth and the last funcref held in a global.
  (func (export "rec") (param $n i32) (result i64) (local $r i64)
    (local.set $r (call $down_a (local.get $n) (i64.const 0x2545f4914f6cdd1d) (ref.func $l1)))
    (table.set $leaves (i32.const 4) (global.get $hold))
    (i64.add
      (i64.add (local.get $r) (i64.mul (global.get $calls) (i64.const 1000003)))
      (i64.xor
        (call $hash_mem (i32.const 0)
                        (i32.shl (i32.add (local.get $n) (i32.const 1)) (i32.const 3)))
        (call_indirect $leaves (type $leaf) (i64.const 99) (i32.const 4)))))

  ;; A long loop over 16384 counters in page 1, bumped at pseudo-random places; the result
  ;; folds in a running hash of what it read, the step count and a hash of the whole page.
  (func (export "loop") (param $iters i32) (result i64)
    (local $i i32) (local $h i64) (local $at i32) (local $acc i64)
    (local.set $h (i64.const 0x9e3779b97f4a7c15))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $iters)))
      (local.set $h (i64.xor (local.get $h) (i64.shl (local.get $h) (i64.const 13))))
      (local.set $h (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 7))))
      (local.set $h (i64.xor (local.get $h) (i64.shl (local.get $h) (i64.const 17))))
      (local.set $at (i32.add (i32.const 65536)
                              (i32.shl (i32.and (i32.wrap_i64 (local.get $h)) (i32.const 16383))
                                       (i32.const 2))))
      (i32.store (local.get $at)
                 (i32.add (i32.load (local.get $at)) (i32.and (local.get $i) (i32.const 255))))
      (local.set $acc (i64.add (i64.rotl (local.get $acc) (i64.const 5))
                               (i64.load32_u (local.get $at))))
      (global.set $steps (i64.add (global.get $steps) (i64.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i64.add (i64.xor (local.get $acc) (global.get $steps))
             (call $hash_mem (i32.const 65536) (i32.const 65536))))
)
