;; An Extism-ABI plugin whose `initialize` never returns: the C API test of
;; kiln_manager_config_t.lifecycle_timeout_ms (tests/capi/manager_test.c).
(module
  (func (export "initialize") (result i32) (loop (br 0)) (i32.const 0))
  (func (export "f") (result i32) (i32.const 0)))
