(module
  (type (;0;) (func (param f32 i32 i64 i32 f64) (result f64)))
  (func (;0;) (type 0) (param f32 i32 i64 i32 f64) (result f64)
    f64.const -nan:0xfffffffffffa0 (;=-nan;)
    f64.const -nan:0xfffffffffffcc (;=-nan;)
    local.get 3
    select)
  (export "func" (func 0)))
