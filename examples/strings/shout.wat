;; A guest that gets a UTF-8 string from the host and returns a new one,
;; allocated through the host's allocator (wasmbox.host.alloc).
;;
;; shout(ptr, len) -> (ptr', len'): a copy of the string with ASCII letters
;; upper-cased and "!" appended. Other bytes (UTF-8 sequences) are copied
;; unchanged, so the result is valid UTF-8 whenever the input is. The result
;; block belongs to the caller, who frees it.
(module
  (import "env" "ext_allocator_malloc_version_1" (func $malloc (param i32) (result i32)))
  (import "env" "ext_allocator_free_version_1" (func $free (param i32)))
  (memory (export "memory") 1)
  ;; the host heap starts here; the guest keeps its own data below
  (global (export "__heap_base") i32 (i32.const 1024))

  (func (export "shout") (param $src i32) (param $len i32) (result i32 i32)
    (local $dst i32) (local $i i32) (local $c i32)
    (local.set $dst (call $malloc (i32.add (local.get $len) (i32.const 1))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $c (i32.load8_u (i32.add (local.get $src) (local.get $i))))
        ;; 'a'..'z' -> 'A'..'Z'
        (if (i32.lt_u (i32.sub (local.get $c) (i32.const 97)) (i32.const 26))
          (then (local.set $c (i32.sub (local.get $c) (i32.const 32)))))
        (i32.store8 (i32.add (local.get $dst) (local.get $i)) (local.get $c))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (i32.store8 (i32.add (local.get $dst) (local.get $len)) (i32.const 33)) ;; '!'
    (local.get $dst)
    (i32.add (local.get $len) (i32.const 1)))
)
