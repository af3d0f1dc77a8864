;; The smallest useful module: one empty exported function, for call and whole-process overhead.
(module
  (func (export "f")))
