"""Stack switching end to end (issue 10): continuations written in WAT.

The runtime core has its own tests (``test_cont_runtime.py``); here the
guest does everything through ``cont.new``/``resume``/``suspend``/
``switch``: a generator yielding a million values to Python, a scheduler of
10,000 live continuations, chains of continuations 1,000 deep with a
suspend to the outermost handler (and a trap and an exception from the
innermost), one-shot reuse, dropped continuations freed, host functions
inside continuations and the host-frame barrier, the stack budget inside a
continuation, and both compilation modes.
"""
from __future__ import annotations

import pytest

from wasmbox import (
    Config, Engine, Func, FuncType, Linker, Module, Store, Trap, TrapCode, ValType, WasmException,
)
from wasmbox.exec import compile as C
from wasmbox.runtime import cont as rc


def _engine(**kw) -> Engine:
    return Engine(Config(wasm_stack_switching=True, **kw))


@pytest.fixture(params=["structured", "flat"])
def mode(request, monkeypatch):
    monkeypatch.setattr(C, "FORCE_FLAT", request.param == "flat")
    return request.param


def _instance(wat: str, engine: Engine | None = None, host: dict | None = None):
    engine = engine or _engine()
    store = Store(engine)
    linker = Linker(engine)
    for (mod, name), (ft, fn) in (host or {}).items():
        linker.define_func(mod, name, ft, fn)
    inst = linker.instantiate(store, Module(engine, wat))
    return store, inst.exports(store)


I32 = ValType.i32()

GENERATOR = """(module
  (import "py" "take" (func $take (param i32)))
  (type $ft (func))
  (type $ct (cont $ft))
  (tag $yield (param i32))
  (func $gen (param $n i32)
    (local $i i32)
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (suspend $yield (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l))))
  (type $gft (func (param i32)))
  (type $gct (cont $gft))
  (elem declare func $gen)
  (func (export "drain") (param $n i32) (result i32)
    (local $k (ref null $ct)) (local $count i32)
    (local.set $k (cont.bind $gct $ct (local.get $n) (cont.new $gct (ref.func $gen))))
    (block $finished
      (loop $next
        (block $on_yield (result i32 (ref $ct))
          (resume $ct (on $yield $on_yield) (local.get $k))
          (br $finished))
        (local.set $k)
        (call $take)
        (local.set $count (i32.add (local.get $count) (i32.const 1)))
        (br $next)))
    (local.get $count)))"""


def test_a_generator_yields_a_million_values_to_python(mode):
    if mode == "flat":
        n = 20_000  # the same code paths; the million runs once, structured
    else:
        n = 1_000_000
    got = {"count": 0, "sum": 0, "last": -1, "ordered": True}

    def take(v: int) -> None:
        if v != got["last"] + 1:
            got["ordered"] = False
        got["last"] = v
        got["count"] += 1
        got["sum"] += v

    store, ex = _instance(GENERATOR, host={("py", "take"): (FuncType([I32], []), take)})
    assert ex["drain"](store, n) == n
    assert got["count"] == n and got["ordered"] and got["sum"] == n * (n - 1) // 2
    assert rc.live_stacks() == 0  # every generator ran to its end


SCHEDULER = """(module
  (import "py" "peak" (func $peak))
  (type $ft (func))
  (type $ct (cont $ft))
  (type $wft (func (param i32)))
  (type $wct (cont $wft))
  (tag $yield)
  (table $q 10000 (ref null $ct))
  (global $sum (mut i64) (i64.const 0))
  ;; worker i: three times add i to the sum, yielding after each
  (func $worker (param $i i32)
    (local $round i32)
    (loop $l
      (global.set $sum (i64.add (global.get $sum) (i64.extend_i32_u (local.get $i))))
      (suspend $yield)
      (local.set $round (i32.add (local.get $round) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $round) (i32.const 3)))))
  (elem declare func $worker)
  (func (export "run") (param $n i32) (result i64)
    (local $i i32) (local $live i32) (local $round i32) (local $k (ref null $ct))
    ;; spawn n workers
    (block $s (loop $spawn
      (br_if $s (i32.ge_u (local.get $i) (local.get $n)))
      (table.set $q (local.get $i)
        (cont.bind $wct $ct (local.get $i) (cont.new $wct (ref.func $worker))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $spawn)))
    ;; round robin until every slot is empty
    (loop $sweep
      (local.set $live (i32.const 0))
      (local.set $i (i32.const 0))
      (block $e (loop $each
        (br_if $e (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.eqz (ref.is_null (table.get $q (local.get $i))))
          (then
            (block $on_yield (result (ref $ct))
              (resume $ct (on $yield $on_yield) (table.get $q (local.get $i)))
              ;; returned: the worker is done
              (table.set $q (local.get $i) (ref.null $ct))
              (br 1))
            (local.set $k)
            (table.set $q (local.get $i) (local.get $k))
            (local.set $live (i32.add (local.get $live) (i32.const 1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
      (if (i32.eqz (local.get $round)) (then (call $peak)))
      (local.set $round (i32.add (local.get $round) (i32.const 1)))
      (br_if $sweep (local.get $live)))
    (global.get $sum)))"""


def test_a_scheduler_runs_10000_live_continuations_round_robin(mode):
    n = 10_000 if mode == "structured" else 2_000
    base = rc.live_stacks()
    seen = []
    store, ex = _instance(SCHEDULER, host={
        ("py", "peak"): (FuncType([], []), lambda: seen.append(rc.live_stacks() - base))})
    assert ex["run"](store, n) == 3 * n * (n - 1) // 2
    assert seen == [n]  # all of them suspended at once after the first sweep
    assert rc.live_stacks() == base


CHAIN = """(module
  (type $ft (func (param i32) (result i32)))
  (type $ct (cont $ft))
  (type $vft (func (result i32)))
  (type $vct (cont $vft))
  (tag $outer (param i32) (result i32))
  (tag $inner)
  (tag $boom (param i32))
  (elem declare func $nest)
  ;; nest(n, what): a continuation of nest(n-1) resumed with a handler for $inner
  ;; only; at the bottom: what = 0 suspends $outer, 1 traps, 2 throws $boom
  (func $nest (param $n i32) (param $what i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then
        (if (i32.eq (local.get $what) (i32.const 1)) (then unreachable))
        (if (i32.eq (local.get $what) (i32.const 2)) (then (throw $boom (i32.const 77))))
        (i32.add (suspend $outer (i32.const 5)) (i32.const 1)))
      (else
        (block $on_inner (result (ref $vct))
          (return (resume $vct (on $inner $on_inner)
            (cont.bind $ct $vct (local.get $what)
              (cont.bind $nct $ct (i32.sub (local.get $n) (i32.const 1))
                (cont.new $nct (ref.func $nest)))))))
        (drop) (i32.const -1))))
  (type $nft (func (param i32 i32) (result i32)))
  (type $nct (cont $nft))
  ;; the outermost: handles $outer, answers with payload * 10, checks the result
  (func (export "run") (param $n i32) (param $what i32) (result i32)
    (local $k (ref null $ct)) (local $payload i32)
    (block $on_outer (result i32 (ref $ct))
      (return (resume $vct (on $outer $on_outer)
        (cont.bind $ct $vct (local.get $what)
          (cont.bind $nct $ct (local.get $n) (cont.new $nct (ref.func $nest)))))))
    (local.set $k)
    (local.set $payload)
    (i32.add (i32.const 1000)
      (resume $ct (i32.mul (local.get $payload) (i32.const 10)) (local.get $k))))
  (func (export "catch") (param $n i32) (result i32)
    (block $h (result i32)
      (try_table (catch $boom $h) (drop (call 1 (local.get $n) (i32.const 2))))
      (i32.const -2))))"""


def test_a_suspend_reaches_the_outermost_handler_through_1000_continuations(mode):
    store, ex = _instance(CHAIN)
    # the innermost suspends $outer with 5; the outermost resumes it with 50, the
    # innermost returns 51, which comes back up through every level, plus 1000
    assert ex["run"](store, 1000, 0) == 1051
    assert rc.live_stacks() == 0


def test_a_trap_and_an_exception_unwind_through_1000_continuations(mode):
    store, ex = _instance(CHAIN)
    with pytest.raises(Trap) as e:
        ex["run"](store, 1000, 1)
    assert e.value.code is TrapCode.UNREACHABLE
    with pytest.raises(WasmException) as w:
        ex["run"](store, 1000, 2)
    assert w.value.values == [77]
    assert ex["catch"](store, 1000) == 77  # caught outside the outermost resume
    assert rc.live_stacks() == 0


ONE_SHOT = """(module
  (type $ft (func (result i32)))
  (type $ct (cont $ft))
  (type $kft (func (param i32) (result i32)))
  (type $kt (cont $kft))
  (tag $t (result i32))
  (func $body (result i32) (i32.add (suspend $t) (i32.const 1)))
  (elem declare func $body)
  (global $k (mut (ref null $kt)) (ref.null $kt))
  (func (export "twice") (result i32)
    (local $c (ref null $ct))
    (local.set $c (cont.new $ct (ref.func $body)))
    (block $h (result (ref $kt))
      (drop (resume $ct (on $t $h) (local.get $c)))
      (unreachable))
    (drop)
    ;; the object $c was consumed by the first resume
    (resume $ct (local.get $c)))
  (func (export "park") (result i32)
    (block $h (result (ref $kt))
      (drop (resume $ct (on $t $h) (cont.new $ct (ref.func $body))))
      (unreachable))
    (global.set $k)
    (i32.const 0))
  (func (export "finish") (param i32) (result i32)
    (resume $kt (local.get 0) (global.get $k)))
  (func (export "forget") (global.set $k (ref.null $kt))))"""


def test_a_consumed_continuation_traps_and_a_parked_one_resumes_later(mode):
    store, ex = _instance(ONE_SHOT)
    with pytest.raises(Trap, match="continuation already consumed"):
        ex["twice"](store)
    assert ex["park"](store) == 0
    assert rc.live_stacks() == 1  # suspended, held by the global
    assert ex["finish"](store, 41) == 42
    with pytest.raises(Trap, match="continuation already consumed"):
        ex["finish"](store, 1)
    assert rc.live_stacks() == 0


def test_dropping_suspended_continuations_frees_their_stacks(mode):
    store, ex = _instance(ONE_SHOT)
    base = rc.live_stacks()
    for _ in range(200):
        ex["park"](store)  # each replaces the last one in the global
    assert rc.live_stacks() == base + 1  # the 199 overwritten ones were unwound at once
    ex["forget"](store)
    assert rc.live_stacks() == base
    ex["park"](store)
    store.close()
    del ex, store
    assert rc.live_stacks() == base


HOST = """(module
  (import "py" "double" (func $double (param i32) (result i32)))
  (import "py" "reenter" (func $reenter (result i32)))
  (type $ft (func (result i32)))
  (type $ct (cont $ft))
  (type $kft (func (param i32) (result i32)))
  (type $kt (cont $kft))
  (tag $t (result i32))
  (func $calls_host (result i32) (call $double (i32.const 21)))
  (func $via_host (result i32) (call $reenter))
  (func (export "suspends") (result i32) (suspend $t))
  (elem declare func $calls_host $via_host)
  (func (export "host_inside") (result i32) (resume $ct (cont.new $ct (ref.func $calls_host))))
  (func (export "across_host") (result i32)
    (block $h (result (ref $kt))
      (return (resume $ct (on $t $h) (cont.new $ct (ref.func $via_host)))))
    (drop) (i32.const -1))
  (func $deep (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (i32.add (i32.const 1) (call $deep (i32.sub (local.get 0) (i32.const 1)))))))
  (func $deep_body (result i32) (call $deep (i32.const 1000000)))
  (elem declare func $deep_body)
  (func (export "deep_inside") (result i32) (resume $ct (cont.new $ct (ref.func $deep_body)))))"""


def test_host_functions_inside_continuations_and_the_host_frame_barrier(mode):
    holder: dict = {}
    store, ex = _instance(HOST, host={
        ("py", "double"): (FuncType([I32], [I32]), lambda x: 2 * x),
        ("py", "reenter"): (FuncType([], [I32]), lambda: holder["ex"]["suspends"](holder["store"])),
    })
    holder.update(ex=ex, store=store)
    assert ex["host_inside"](store) == 42
    # the suspend's only handler is beyond the host frame: a trap, not a hang
    with pytest.raises(Trap) as e:
        ex["across_host"](store)
    assert e.value.code is TrapCode.UNHANDLED_TAG
    with pytest.raises(Trap, match="unhandled tag"):
        ex["suspends"](store)  # no continuation at all
    # the stack budget holds inside a continuation
    with pytest.raises(Trap, match="call stack exhausted"):
        ex["deep_inside"](store)
    assert ex["host_inside"](store) == 42
    assert rc.live_stacks() == 0


SWITCH = """(module
  (rec (type $ft (func (param (ref null $ct)) (result i32)))
       (type $ct (cont $ft)))
  (tag $sw (result i32))
  (global $log (mut i32) (i32.const 0))
  ;; two coroutines hand control to each other with switch, logging digits
  (func $a (type $ft) (param $other (ref null $ct)) (result i32)
    (global.set $log (i32.add (i32.mul (global.get $log) (i32.const 10)) (i32.const 1)))
    (local.set $other (switch $ct $sw (local.get $other)))
    (global.set $log (i32.add (i32.mul (global.get $log) (i32.const 10)) (i32.const 3)))
    (drop (switch $ct $sw (local.get $other)))
    (unreachable))
  (func $b (type $ft) (param $other (ref null $ct)) (result i32)
    (global.set $log (i32.add (i32.mul (global.get $log) (i32.const 10)) (i32.const 2)))
    (local.set $other (switch $ct $sw (local.get $other)))
    (global.set $log (i32.add (i32.mul (global.get $log) (i32.const 10)) (i32.const 4)))
    (global.get $log))
  (elem declare func $a $b)
  (func (export "run") (result i32)
    (resume $ct (on $sw switch) (cont.new $ct (ref.func $b)) (cont.new $ct (ref.func $a)))))"""


def test_switch_hands_control_between_two_continuations(mode):
    store, ex = _instance(SWITCH)
    assert ex["run"](store) == 1234
    assert rc.live_stacks() <= 1  # $a stays suspended until its object is freed
    del ex, store


def test_stack_switching_is_off_by_default_as_in_wasmtime():
    from wasmbox import ValidationError
    with pytest.raises(ValidationError, match="Config.wasm_stack_switching"):
        Module(Engine(), ONE_SHOT)
    Module(_engine(), ONE_SHOT)


def test_a_guest_cannot_make_more_continuations_than_the_store_allows():
    base = rc.live_stacks()
    store, ex = _instance(SCHEDULER, engine=_engine(max_store_continuations=500),
                          host={("py", "peak"): (FuncType([], []), lambda: None)})
    with pytest.raises(Trap) as e:
        ex["run"](store, 600)
    assert e.value.code is TrapCode.TOO_MANY_CONTINUATIONS
    del e  # its traceback holds the frame that was making the 501st
    # the 500 it made are still in its table: no room until they are dropped
    with pytest.raises(Trap, match="too many live continuations"):
        ex["run"](store, 1)
    state = store._state
    store.close()
    assert state._continuations == 0
    del ex, store
    assert rc.live_stacks() == base
