(module
  (type (;0;) (func))
  (type (;1;) (func (result i32)))
  (type (;2;) (func (param i32)))
  (type (;3;) (func (result f64)))
  (import "fuzzing-support" "log-i32" (func (;0;) (type 2)))
  (func (;1;) (type 1) (result i32)
    (local i32)
    local.get 0
    i32.const 5
    i32.add
    i32.const 0
    i32.load8_u
    i32.xor)
  (func (;2;) (type 3) (result f64)
    (local f64)
    global.get 1
    i32.eqz
    if  ;; label = @1
      f64.const -nan:0xfffffffffffbf (;=-nan;)
      unreachable
    end
    f64.const -nan:0xfffffffffffb4 (;=-nan;)
    local.tee 0
    global.get 0
    i32.const 15
    i32.and
    block (result f64)  ;; label = @1
      local.get 0
      i32.const -36
      br_if 0 (;@1;)
    end
    f64.store align=1)
  (func (;3;) (type 0)
    call 2
    drop
    call 1
    call 0)
  (memory (;0;) 16 17)
  (global (;0;) (mut i32) (i32.const -33554432))
  (global (;1;) (mut i32) (i32.const 10))
  (export "func_0_invoker" (func 3)))
