;; count_vowels for the plugin benchmarks, on the Extism ABI directly: reads the input 8 bytes at
;; a time (input_load_u64, as the guest kits do), counts a, e, i, o, u in either case and outputs
;; the count as decimal text.
(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "input_load_u8" (func $input_load_u8 (param i64) (result i32)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u8" (func $store_u8 (param i64 i32)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (func $vowel (param $c i32) (result i32)
    (local.set $c (i32.or (local.get $c) (i32.const 0x20)))   ;; lower case
    (i32.or (i32.or (i32.eq (local.get $c) (i32.const 0x61)) (i32.eq (local.get $c) (i32.const 0x65)))
      (i32.or (i32.or (i32.eq (local.get $c) (i32.const 0x69)) (i32.eq (local.get $c) (i32.const 0x6f)))
              (i32.eq (local.get $c) (i32.const 0x75)))))
  (func (export "count_vowels") (result i32)
    (local $n i64) (local $at i64) (local $word i64) (local $k i32) (local $count i32)
    (local $digits i32) (local $out i64) (local $v i32)
    (local.set $n (call $input_length))
    (block $words_done (loop $words
      (br_if $words_done (i64.gt_u (i64.add (local.get $at) (i64.const 8)) (local.get $n)))
      (local.set $word (call $input_load_u64 (local.get $at)))
      (local.set $k (i32.const 0))
      (loop $bytes
        (local.set $count (i32.add (local.get $count)
          (call $vowel (i32.wrap_i64 (i64.and (local.get $word) (i64.const 0xff))))))
        (local.set $word (i64.shr_u (local.get $word) (i64.const 8)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br_if $bytes (i32.lt_u (local.get $k) (i32.const 8))))
      (local.set $at (i64.add (local.get $at) (i64.const 8)))
      (br $words)))
    (block $tail_done (loop $tail
      (br_if $tail_done (i64.ge_u (local.get $at) (local.get $n)))
      (local.set $count (i32.add (local.get $count)
        (call $vowel (call $input_load_u8 (local.get $at)))))
      (local.set $at (i64.add (local.get $at) (i64.const 1)))
      (br $tail)))
    ;; decimal digits of the count, written backwards into linear memory at 16..
    (local.set $v (local.get $count))
    (loop $digit
      (local.set $digits (i32.add (local.get $digits) (i32.const 1)))
      (i32.store8 (i32.sub (i32.const 32) (local.get $digits))
                  (i32.add (i32.const 0x30) (i32.rem_u (local.get $v) (i32.const 10))))
      (local.set $v (i32.div_u (local.get $v) (i32.const 10)))
      (br_if $digit (local.get $v)))
    (local.set $out (call $alloc (i64.extend_i32_u (local.get $digits))))
    (local.set $k (i32.const 0))
    (loop $copy
      (call $store_u8 (i64.add (local.get $out) (i64.extend_i32_u (local.get $k)))
        (i32.load8_u (i32.add (i32.sub (i32.const 32) (local.get $digits)) (local.get $k))))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $copy (i32.lt_u (local.get $k) (local.get $digits))))
    (call $output_set (local.get $out) (i64.extend_i32_u (local.get $digits)))
    (i32.const 0)))
