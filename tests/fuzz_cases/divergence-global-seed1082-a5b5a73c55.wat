(module
  (type (;0;) (func (param i32)))
  (type (;1;) (func (param i32) (result f64)))
  (func (;0;) (type 1) (param i32) (result f64)
    global.get 1
    i32.eqz
    if  ;; label = @1
      f64.const -nan:0xfffffffffffdd (;=-nan;)
      unreachable
    end
    global.get 1
    global.set 1
    f64.const -nan:0xffffffffffffd (;=-nan;))
  (func (;1;) (type 0) (param i32)
    local.get 0
    call 0
    global.set 0)
  (global (;0;) (mut f64) (f64.const -nan:0xfffffffffffa8 (;=-nan;)))
  (global (;1;) (mut i32) (i32.const 10))
  (export "func_22" (func 1)))
