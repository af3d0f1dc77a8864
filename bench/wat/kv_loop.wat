;; An Extism-ABI plugin for kiln-bench-hostfns: `gets` and `sets` call kiln:host/v1's kv_get and
;; kv_set 1,000 times on the key "k" (kv_set with the value "v").
(module
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "free" (func $free (param i64)))
  (import "kiln:host/v1" "kv_get" (func $kv_get (param i64) (result i64)))
  (import "kiln:host/v1" "kv_set" (func $kv_set (param i64 i64) (result i32)))
  (memory (export "memory") 1)
  (func $byte (param $c i32) (result i64) (local $h i64)
    (local.set $h (call $alloc (i64.const 1)))
    (call $store_u8 (local.get $h) (local.get $c))
    (local.get $h))
  (func (export "gets") (result i32) (local $i i32) (local $h i64)
    (loop $next
      (local.set $h (call $kv_get (call $byte (i32.const 107))))
      (if (i64.ne (local.get $h) (i64.const 0)) (then (call $free (local.get $h))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 1000))))
    (i32.const 0))
  (func (export "sets") (result i32) (local $i i32)
    (loop $next
      (if (call $kv_set (call $byte (i32.const 107)) (call $byte (i32.const 118)))
        (then (return (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 1000))))
    (i32.const 0)))
