;; What instantiation has to do for a typical small module: one page of memory, a data segment,
;; a mutable global and a few functions.
(module
  (memory (export "memory") 1)
  (global $counter (mut i32) (i32.const 0))
  (data (i32.const 16) "Kiln instantiation benchmark: a small data segment of about 64 bytes.")
  (func (export "bump") (result i32)
    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
    (global.get $counter))
  (func (export "load") (param $addr i32) (result i32)
    (i32.load (local.get $addr))))
