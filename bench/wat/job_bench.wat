;; The job plugin of kiln-bench-jobs (bench/jobs.cpp), an Extism-ABI module using the
;; kiln:host/v1 job functions.
;;   noop         a job that completes at once
;;   checkpoints  1,000 checkpoints of a small state, one after the other
;;   fill16       touches 16 MiB of memory with varied words, then loops reporting items until
;;                it is cancelled (pauses of a job with snapshots are Kiln's: it is suspended)
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "kiln:host/v1" "job_checkpoint" (func $checkpoint (param i64) (result i32)))
  (import "kiln:host/v1" "job_check_interrupt" (func $check (result i32)))
  (import "kiln:host/v1" "job_items" (func $items (param i64 i64)))
  (memory (export "memory") 1)

  (func (export "noop") (result i32) (i32.const 0))

  ;; `{"n":12}` in one 8-byte store: the state every checkpoint saves.
  (func (export "checkpoints") (result i32) (local $i i32) (local $h i64)
    (local.set $h (call $alloc (i64.const 8)))
    (call $store_u64 (local.get $h) (i64.const 0x7d32313a226e227b))
    (loop $l
      (if (call $checkpoint (local.get $h)) (then (return (i32.const 1))))
      (br_if $l (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                          (i32.const 1000))))
    (call $free (local.get $h))
    (i32.const 0))

  (func (export "fill16") (result i32) (local $p i32) (local $x i64) (local $n i64)
    ;; 256 pages more: 16 MiB, every word written (an xorshift sequence: little to compress).
    (drop (memory.grow (i32.const 256)))
    (local.set $x (i64.const 0x9e3779b97f4a7c15))
    (local.set $p (i32.const 65536))
    (loop $fill
      (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
      (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
      (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 17))))
      (i64.store (local.get $p) (local.get $x))
      (br_if $fill (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 8)))
                             (i32.const 16842752))))
    (loop $run
      (local.set $n (i64.add (local.get $n) (i64.const 1)))
      (call $items (local.get $n) (i64.const 0))
      (br_if $run (i32.eqz (call $check))))
    (i32.const 0)))
