(module
  (type (;0;) (func))
  (type (;1;) (func (param f32)))
  (type (;2;) (func (param i32 f32 i32 f32 i64 f64 f64)))
  (import "fuzzing-support" "log-f32" (func (;0;) (type 1)))
  (func (;1;) (type 2) (param i32 f32 i32 f32 i64 f64 f64)
    local.get 3
    call 0)
  (func (;2;) (type 0)
    i32.const -3
    f32.const -nan:0x7fff83 (;=-nan;)
    i32.const 32768
    f32.const -nan:0x7fb735 (;=-nan;)
    i64.const -27277
    f64.const -0x1p+53 (;=-9.0072e+15;)
    f64.const 0x1p+58 (;=2.8823e+17;)
    call 1)
  (export "func_13_invoker" (func 2)))
