;; A ZenoEngine-ABI plugin for kiln-bench-hostfns: one slot, "bench.echo", answering every request
;; with a fixed small response; a bump allocator that starts over on each plugin_execute, so
;; that the memory written by the host never grows.
(module
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 16) "{\"name\":\"bench\",\"version\":\"1.0.0\"}\00")
  (data (i32.const 128) "[{\"name\":\"bench.echo\",\"description\":\"answers\"}]\00")
  (data (i32.const 256) "{\"success\":true,\"data\":{\"ok\":true}}\00")
  (func (export "plugin_init") (result i32) (i32.const 16))
  (func (export "plugin_register_slots") (result i32) (i32.const 128))
  (func (export "alloc") (param $n i32) (result i32) (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (local.get $p))
  (func (export "plugin_execute") (param i32 i32 i32 i32) (result i32)
    (global.set $heap (i32.const 4096))
    (i32.const 256))
  (func (export "plugin_cleanup")))
