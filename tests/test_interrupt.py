"""Fuel and epochs (issue 9): wasmtime's names, wasmtime's numbers.

Fuel is compared with wasmtime's Python package, which is the reference:
for each module below, each call is made in both engines with every
starting fuel from 0 to a little past what the call needs (and a few large
amounts), and both must agree on the outcome (result, or which trap) and,
after a call that completes or runs out of fuel, on ``get_fuel()``. The
benchmark corpus at its ``small`` size must leave the same fuel in both.

Epochs: a deadline of 0 traps at once, ``set_epoch_deadline`` moves it,
``increment_epoch`` from another thread stops ``(loop (br 0))`` and a 4 GiB
``memory.fill``, and increments are never lost (threads, a signal handler).
"""
from __future__ import annotations

import json
import signal
import sys
import threading
import time

import pytest
import wasmtime

from wasmbox import Config, Engine, Linker, Module, Store, Trap, TrapCode, WasmboxError
from wasmbox.exec import compile as C
from wasmbox.exec.compile import function_source
from wasmbox.text.parse import parse_module


def _wt_engine() -> wasmtime.Engine:
    cfg = wasmtime.Config()
    cfg.consume_fuel = True
    return wasmtime.Engine(cfg)


WT = _wt_engine()
WB = Engine(Config(consume_fuel=True))

#: trap codes of wasmtime-py by wasmbox's
_CODES = {
    wasmtime.TrapCode.OUT_OF_FUEL: TrapCode.OUT_OF_FUEL,
    wasmtime.TrapCode.MEMORY_OUT_OF_BOUNDS: TrapCode.MEMORY_OUT_OF_BOUNDS,
    wasmtime.TrapCode.TABLE_OUT_OF_BOUNDS: TrapCode.TABLE_OUT_OF_BOUNDS,
    wasmtime.TrapCode.UNREACHABLE: TrapCode.UNREACHABLE,
    wasmtime.TrapCode.STACK_OVERFLOW: TrapCode.STACK_OVERFLOW,
}

#: plenty for instantiation (wasmtime charges some constant expressions)
SETUP_FUEL = 10**9


class WtRun:
    """One instance in wasmtime; calls return (outcome, fuel left)."""

    def __init__(self, wat: str, host_log: list | None = None) -> None:
        self.store = wasmtime.Store(WT)
        module = wasmtime.Module(WT, wat)
        imports = []
        for imp in module.imports:  # host functions that note the fuel they see
            def note(*args, store=self.store):
                host_log.append(store.get_fuel())  # type: ignore[union-attr]
            imports.append(wasmtime.Func(self.store, imp.type, note))
        self.store.set_fuel(SETUP_FUEL)
        self.exports = wasmtime.Instance(self.store, module, imports).exports(self.store)

    def call(self, name: str, args: list, fuel: int) -> tuple:
        self.store.set_fuel(fuel)
        try:
            res = ("ok", self.exports[name](self.store, *args))
        except wasmtime.Trap as e:
            res = ("trap", _CODES.get(e.trap_code, e.trap_code))
        return res, self.store.get_fuel()


class WbRun:
    """The same in wasmbox."""

    def __init__(self, wat: str, host_log: list | None = None, engine: Engine = WB) -> None:
        self.store = Store(engine)
        module = Module(engine, wat)
        linker = Linker(engine)
        for imp in module.imports:
            def note(*args, store=self.store):
                host_log.append(store.get_fuel())  # type: ignore[union-attr]
            linker.define_func(imp.module, imp.name, imp.type, note)
        self.store.set_fuel(SETUP_FUEL)
        self.exports = linker.instantiate(self.store, module).exports(self.store)

    def call(self, name: str, args: list, fuel: int) -> tuple:
        self.store.set_fuel(fuel)
        try:
            res = ("ok", self.exports[name](self.store, *args))
        except Trap as e:
            res = ("trap", e.code)
        return res, self.store.get_fuel()


def agree(wat: str, name: str, args: list, fuels: range | list) -> int:
    """Call name(*args) with each fuel in both engines; assert they agree.

    Returns the fuel the call needs (wasmtime's count), for the caller to check.
    """
    wt_log: list = []
    wb_log: list = []
    wt, wb = WtRun(wat, wt_log), WbRun(wat, wb_log)
    needed = None
    for fuel in fuels:
        a = wt.call(name, args, fuel)
        b = wb.call(name, args, fuel)
        where = f"{name}{tuple(args)} with fuel {fuel}"
        assert a[0] == b[0], f"{where}: wasmtime {a}, wasmbox {b}"
        if a[0][0] == "ok" or a[0][1] is TrapCode.OUT_OF_FUEL:
            assert a[1] == b[1], f"{where}: fuel left: wasmtime {a[1]}, wasmbox {b[1]}"
        assert wt_log == wb_log, f"{where}: fuel seen by host functions differs"
        if a[0][0] == "ok" and needed is None and a[1] > 0:
            needed = fuel - a[1]
    return needed if needed is not None else -1


LOOP = """(module (func (export "f") (param i32) (result i32) (local i32)
  (loop (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br_if 0 (i32.lt_u (local.get 1) (local.get 0))))
  (local.get 1)))"""

CASES = {
    "const": ('(module (func (export "f") (result i32) i32.const 1))', [[]]),
    "free ops": ('(module (func (export "f") (result i32) i32.const 1 i32.const 2 i32.add nop '
                 'nop drop (block (nop)) i32.const 3))', [[]]),
    "loop": (LOOP, [[1], [3]]),
    "call": ('(module (func $g (result i32) i32.const 5) '
             '(func (export "f") (result i32) call $g))', [[]]),
    "br_table": ('(module (func (export "f") (param i32) (result i32) (block (block (block '
                 '(br_table 0 1 2 (local.get 0))) (return (i32.const 10))) (return (i32.const 20))) '
                 '(i32.const 30)))', [[0], [1], [2], [7]]),
    "untargeted loop": ('(module (func (export "f") (result i32) i32.const 1 i32.const 2 '
                        'i32.const 3 drop drop drop (loop) i32.const 7))', [[]]),
    "br_if": ('(module (func (export "f") (param i32) (result i32) (block (br_if 0 (local.get 0)) '
              '(i32.const 1) drop (i32.const 1) drop) (i32.const 9)))', [[0], [1]]),
    "if": ('(module (func (export "f") (param i32) (result i32) (if (result i32) (local.get 0) '
           '(then (i32.const 1) (i32.const 2) (i32.add)) (else (i32.const 3)))))', [[0], [1]]),
    "if without else": ('(module (func (export "f") (param i32) (if (local.get 0) (then nop))))',
                        [[0], [1]]),
    "nested loops": ("""(module (func (export "f") (param i32) (result i32) (local i32 i32)
      (loop $o (local.set 2 (i32.const 0))
        (loop $i (local.set 2 (i32.add (local.get 2) (i32.const 1)))
          (br_if $i (i32.lt_u (local.get 2) (i32.const 3))))
        (local.set 1 (i32.add (local.get 1) (local.get 2)))
        (br_if $o (i32.lt_u (local.get 1) (local.get 0))))
      (local.get 1)))""", [[1], [7]]),
    "loop left by br": ("""(module (func (export "f") (param i32) (result i32)
      (block $b (loop $l (br_if $b (i32.eqz (local.get 0)))
        (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br $l)))
      (local.get 0)))""", [[0], [4]]),
    "fib": ("""(module (func $fib (export "f") (param i32) (result i32)
      (if (result i32) (i32.lt_u (local.get 0) (i32.const 2)) (then (local.get 0))
        (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                       (call $fib (i32.sub (local.get 0) (i32.const 2))))))))""", [[6]]),
    "call_indirect": ("""(module (type $t (func (param i32) (result i32))) (table 2 funcref)
      (elem (i32.const 0) $a $b)
      (func $a (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func $b (param i32) (result i32) (loop (br_if 0 (i32.const 0))) (local.get 0))
      (func (export "f") (param i32) (result i32)
        (call_indirect (type $t) (local.get 0) (local.get 0))))""", [[0], [1], [2]]),
    "host calls": ("""(module (import "h" "x" (func $h (param i32)))
      (func (export "f") (param i32) (call $h (local.get 0)) (call $h (i32.const 2))
        (loop (br_if 0 (i32.const 0))) (call $h (i32.const 3))))""", [[1]]),
    "select": ('(module (func (export "f") (param i32) (result i32) '
               '(select (i32.const 1) (i32.const 2) (local.get 0))))', [[0], [1]]),
    "return in loop": ("""(module (func (export "f") (param i32) (result i32)
      (loop (if (i32.eqz (local.get 0)) (then (return (i32.const 5))))
        (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br 0)) (i32.const 0)))""",
                       [[0], [3]]),
    "multi-value loop": ("""(module (func (export "f") (param i32) (result i32 i32)
      (i32.const 0) (local.get 0)
      (loop (param i32 i32) (result i32 i32)
        (local.set 0) (i32.add (i32.const 1)) (local.get 0)
        (br_if 0 (i32.ge_u (local.tee 0 (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))
        )))""", [[0], [3]]),
    "grow by a call's result": ("""(module (memory 1 400) (table 1 400 funcref)
      (func $n (result i32) (i32.const 150))
      (func (export "f") (result i32)
        (i32.add (memory.grow (call $n)) (table.grow (ref.null func) (call $n)))))""", [[]]),
    "unreachable": ('(module (func (export "f") (param i32) (result i32) '
                    '(if (local.get 0) (then unreachable)) (i32.const 4)))', [[0], [1]]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fuel_matches_wasmtime(name: str):
    wat, arg_lists = CASES[name]
    for args in arg_lists:
        agree(wat, "f", args, list(range(0, 60)) + [100, 1000, 100_000])


BULK = """(module (memory 1 300) (table 10 1000 funcref) (data $d "%s") (elem $e func $z $z $z)
  (func $z)
  (func (export "fill") (param i32) (memory.fill (i32.const 0) (i32.const 7) (local.get 0)))
  (func (export "copy") (param i32) (memory.copy (i32.const 100) (i32.const 0) (local.get 0)))
  (func (export "init") (param i32) (memory.init $d (i32.const 0) (i32.const 0) (local.get 0)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "tgrow") (param i32) (result i32) (table.grow (ref.null func) (local.get 0)))
  (func (export "tfill") (param i32) (table.fill (i32.const 0) (ref.null func) (local.get 0)))
  (func (export "tcopy") (param i32) (table.copy (i32.const 1) (i32.const 0) (local.get 0)))
  (func (export "tinit") (param i32) (table.init $e (i32.const 0) (i32.const 0) (local.get 0))))
""" % ("ab" * 100)


BULK_CONST = """(module (memory 1 300) (table 10 1000 funcref) (elem $e func $z $z $z) (func $z)
  %s)""" % "\n  ".join(
    f'(func (export "{op}{n}") {body.replace("SIZE", f"(i32.const {n})")})'
    for n in (0, 3, 128, 129, 200)
    for op, body in [("fill", "(memory.fill (i32.const 0) (i32.const 7) SIZE)"),
                     ("copy", "(memory.copy (i32.const 300) (i32.const 0) SIZE)"),
                     ("grow", "(drop (memory.grow SIZE))"),
                     ("tgrow", "(drop (table.grow (ref.null func) SIZE))")])


@pytest.mark.parametrize("n", [0, 3, 128, 129, 200])
def test_bulk_operations_of_constant_size(n: int):
    """A constant size of at most 128 units is not followed by a check (wasmtime
    inlines those); a larger one, or a size computed at run time, is."""
    for op in ("fill", "copy", "grow", "tgrow"):
        fuels = sorted(set(range(0, 12)) | set(range(max(0, n - 2), n + 9)) | {10_000})
        agree(BULK_CONST, f"{op}{n}", [], fuels)


@pytest.mark.parametrize("op,sizes", [
    ("fill", [0, 1, 128, 129, 200]), ("copy", [0, 128, 129, 300]), ("init", [0, 3, 129, 200]),
    ("grow", [0, 1, 128, 129, 299, 400]), ("tgrow", [0, 5, 128, 129, 2000]),
    ("tfill", [0, 3, 10, 11]), ("tcopy", [0, 9, 10]), ("tinit", [0, 3, 4]),
])
def test_bulk_operations_cost_their_size(op: str, sizes: list[int]):
    """1 + size units when they succeed, a check after those over 128 units."""
    for n in sizes:
        fuels = sorted(set(range(0, 12)) | set(range(max(0, n - 2), n + 9)) | {10_000})
        agree(BULK, op, [n], fuels)


def test_fuel_matches_wasmtime_on_the_benchmark_corpus(shared):
    """Each benchmark's run(small) leaves wasmtime's fuel, and its checksum."""
    manifest = json.loads((shared / "bench" / "manifest.json").read_text())["benchmarks"]
    files = sorted((shared / "bench" / "wasm").glob("*.pure.wasm"))
    assert len(files) == 9
    for path in files:
        name = path.name.split(".")[0]
        entry = manifest[name]
        n = entry["n"]["small"]
        data = path.read_bytes()
        wts = wasmtime.Store(WT)
        wts.set_fuel(SETUP_FUEL)
        wt_run = wasmtime.Instance(wts, wasmtime.Module(WT, data), []).exports(wts)["run"]
        wbs = Store(WB)
        wbs.set_fuel(SETUP_FUEL)
        wb_run = Linker(WB).instantiate(wbs, Module(WB, data)).exports(wbs)["run"]
        for _ in range(2):  # twice: the second call runs on warm (compiled) code
            wts.set_fuel(SETUP_FUEL)
            wbs.set_fuel(SETUP_FUEL)
            a, b = wt_run(wts, n) & 0xFFFFFFFF, wb_run(wbs, n) & 0xFFFFFFFF
            assert a == b == entry["checksum"]["small"], name
            assert wbs.get_fuel() == wts.get_fuel(), (name, SETUP_FUEL - wts.get_fuel(),
                                                      SETUP_FUEL - wbs.get_fuel())


def test_fuel_in_flat_mode(monkeypatch):
    """The flat (dispatch-loop) compilation pays and checks the same way."""
    monkeypatch.setattr(C, "FORCE_FLAT", True)
    engine = Engine(Config(consume_fuel=True))
    for name in ("loop", "nested loops", "br_table", "if", "loop left by br", "return in loop",
                 "multi-value loop"):
        wat, arg_lists = CASES[name]
        wt = WtRun(wat)
        wb = WbRun(wat, engine=engine)
        for args in arg_lists:
            for fuel in list(range(0, 50)) + [10_000]:
                a, b = wt.call("f", args, fuel), wb.call("f", args, fuel)
                assert a[0] == b[0] and (a[0][0] == "trap" and a[0][1] is not TrapCode.OUT_OF_FUEL
                                         or a[1] == b[1]), (name, args, fuel, a, b)


def test_fuel_api():
    store = Store(Engine())
    with pytest.raises(WasmboxError, match="fuel is not configured"):
        store.set_fuel(10)
    with pytest.raises(WasmboxError, match="fuel is not configured"):
        store.get_fuel()
    store = Store(Engine(Config(consume_fuel=True)))
    assert store.get_fuel() == 0  # a new store has none
    store.set_fuel(5)
    assert store.get_fuel() == 5
    with pytest.raises(ValueError):
        store.set_fuel(-1)
    with pytest.raises(TypeError):
        store.set_fuel(1.5)
    store.set_fuel(2**64 - 1)
    assert store.get_fuel() == 2**64 - 1


SPIN = '(module (func (export "spin") (loop (br 0))))'


def test_runaway_loop_stops_by_fuel():
    engine = Engine(Config(consume_fuel=True))
    store = Store(engine)
    spin = Linker(engine).instantiate(store, Module(engine, SPIN)).exports(store)["spin"]
    store.set_fuel(100_000)
    with pytest.raises(Trap) as e:
        spin(store)
    assert e.value.code is TrapCode.OUT_OF_FUEL
    assert e.value.message == "all fuel consumed by WebAssembly"
    assert store.get_fuel() == 0


def _epoch_setup(wat: str, name: str):
    engine = Engine(Config(epoch_interruption=True))
    store = Store(engine)
    return engine, store, Linker(engine).instantiate(store, Module(engine, wat)).exports(store)[name]


def test_epoch_deadline_semantics():
    engine, store, f = _epoch_setup('(module (func (export "f") (result i32) i32.const 1))', "f")
    with pytest.raises(Trap) as e:  # a new store's deadline is 0, as in wasmtime
        f(store)
    assert e.value.code is TrapCode.INTERRUPT and e.value.message == "interrupt"
    store.set_epoch_deadline(1)
    assert f(store) == 1
    engine.increment_epoch()
    with pytest.raises(Trap):
        f(store)
    store.set_epoch_deadline(2)
    engine.increment_epoch()
    assert f(store) == 1
    assert engine.epoch == 2
    with pytest.raises(ValueError):
        store.set_epoch_deadline(-1)


def test_runaway_loop_stops_by_epoch_from_another_thread():
    engine, store, spin = _epoch_setup(SPIN, "spin")
    store.set_epoch_deadline(1)
    timer = threading.Timer(0.2, engine.increment_epoch)
    t0 = time.monotonic()
    timer.start()
    with pytest.raises(Trap) as e:
        spin(store)
    elapsed = time.monotonic() - t0
    timer.join()
    assert e.value.code is TrapCode.INTERRUPT
    assert elapsed < 5.0  # lands at the next loop header (loose: shared machine)


@pytest.mark.skipif(sys.maxsize < 2**40, reason="needs a 64-bit host for a 4 GiB memory")
def test_a_4gib_fill_is_interrupted_within_milliseconds():
    engine, store, fill = _epoch_setup("""(module (memory 65536)
      (func (export "f") (memory.fill (i32.const 0) (i32.const 1) (i32.const 0xFFFFFFFF))))""",
                                       "f")
    store.set_epoch_deadline(1)
    fired: list[float] = []

    def tick() -> None:
        fired.append(time.monotonic())
        engine.increment_epoch()

    timer = threading.Timer(0.05, tick)
    timer.start()
    with pytest.raises(Trap) as e:
        fill(store)
    done = time.monotonic()
    timer.join()
    assert e.value.code is TrapCode.INTERRUPT
    assert done - fired[0] < 0.5  # one chunk (1 MiB) after the deadline; loose bound


def test_increment_epoch_loses_no_increments():
    engine = Engine(Config(epoch_interruption=True))
    n, k = 8, 20_000

    def work() -> None:
        for _ in range(k):
            engine.increment_epoch()

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=work) for _ in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert engine.epoch == n * k


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs POSIX interval timers")
def test_increment_epoch_from_a_signal_handler():
    engine, store, spin = _epoch_setup(SPIN, "spin")
    store.set_epoch_deadline(3)
    old = signal.signal(signal.SIGALRM, lambda *a: engine.increment_epoch())
    signal.setitimer(signal.ITIMER_REAL, 0.02, 0.02)
    try:
        with pytest.raises(Trap) as e:
            spin(store)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert e.value.code is TrapCode.INTERRUPT
    assert engine.epoch >= 3


def test_without_the_options_the_code_has_no_checks():
    """Fuel and epochs cost nothing unless asked for: no cells, no tests."""
    m = parse_module(CASES["nested loops"][0])
    plain = function_source(m, 0)
    assert "u -=" not in plain and "ep >=" not in plain and "_mk" not in plain
    fuel = function_source(m, 0, fuel=True)
    assert "u -=" in fuel and "nonlocal u" in fuel and "ep >=" not in fuel
    both = function_source(m, 0, fuel=True, epochs=True)
    assert "ep >= dl" in both
