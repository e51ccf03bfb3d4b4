(module
  (type (;0;) (func (param f32 i32 f64) (result f64 f64 f32 i64 f64)))
  (func (;0;) (type 0) (param f32 i32 f64) (result f64 f64 f32 i64 f64)
    global.get 0
    i32.eqz
    if  ;; label = @1
      f32.const -nan:0x7fba62 (;=-nan;)
      unreachable
    end
    global.get 0
    i32.const 1
    i32.sub
    global.set 0
    f64.const -0x1.37a4p+14 (;=-19945;)
    f64.const -0x1.94p+6 (;=-101;)
    f32.const 0x1.1ef9dcp+0 (;=1.121;)
    i64.const 8796093022208
    f64.const -nan:0xfffffffffff98 (;=-nan;))
  (global (;0;) (mut i32) (i32.const 10))
  (export "func_6" (func 0)))
