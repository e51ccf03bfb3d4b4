(module
  (type (;0;) (func (param f64) (result f32)))
  (func (;0;) (type 0) (param f64) (result f32)
    f32.const -nan:0x7fff9f (;=-nan;)
    i32.const 15
    f32.const -nan:0x7fc337 (;=-nan;)
    f32.store offset=4 align=1)
  (memory (;0;) 16 17)
  (export "memory" (memory 0))
  (export "func" (func 0)))
