"""The binaryen differential fuzzer (issue 9, point 6): its short run and its parts.

The short run: 50 modules from fixed seeds (``SEEDS``; the random input
bytes come from a seeded PRNG, so the same modules every run), each made
by ``wasm-opt -ttf`` over exactly the features wasmbox runs -- half of
them (``FEATURE_SEEDS``) with the Wasm 3.0 features too (tail calls,
typed function references, exceptions: ``tools/fuzz_inject.py``) --, every export
called with generated arguments in wasmbox and in wasmtime, results,
traps, host-call logs, memories and globals compared
(``tools/fuzz_support.py`` feeding ``tests/diff_support.py``). Any
divergence or wasmbox crash fails it, with a minimised reproducer and the
command that saves it as a regression case. The long run is
``python tools/fuzz.py``; see docs/fuzzing.md.

binaryen must be installed (``apt-get install -y binaryen``): without it
these tests fail, they do not skip.
"""
from __future__ import annotations

import functools
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import fuzz_support as F  # noqa: E402

import diff_support as D  # noqa: E402
from wasmbox.binary.decode import decode_module  # noqa: E402
from wasmbox.syntax.opcodes import OPS  # noqa: E402
from wasmbox.syntax.opcodes import SIMD as SIMD_PREFIX  # noqa: E402

#: The short run's seeds (the long run starts elsewhere: tools/fuzz.py --seed).
SEEDS = range(50)
#: The seeds that also get the Wasm 3.0 features (fuzz_inject.ALL_FEATURES).
FEATURE_SEEDS = range(25, 50)
#: The short run must stay well inside the test suite's budget.
MAX_SECONDS = 90.0
#: Lower bounds on what the short run really compares (about 6,000 calls
#: and 50 modules with exports when this was written; the test prints them).
MIN_MODULES_RUN = 40
MIN_CALLS = 4000
#: Findings minimised for the failure message (the rest are listed).
MINIMISED_IN_REPORT = 2
MINIMISE_SECONDS = 20.0


def _features(seed: int) -> frozenset[str]:
    return frozenset(F.FI.ALL_FEATURES) if seed in FEATURE_SEEDS else frozenset()


def _require_binaryen() -> str:
    try:
        return F.wasm_opt()
    except F.BinaryenMissing as e:
        pytest.fail(str(e))


@functools.cache
def _short_run() -> tuple[list[F.Generated], list[F.ModuleResult], float]:
    t0 = time.monotonic()
    gens = [F.generate(s, features=_features(s)) for s in SEEDS]
    results = [F.run_module(g) for g in gens]
    return gens, results, time.monotonic() - t0


def _report(findings: list[F.Finding]) -> str:
    lines = [f"{len(findings)} disagreements in the short run:"]
    for k, fd in enumerate(findings):
        lines.append(f"\n--- seed {fd.seed}: {fd.signature}\nwasmbox:  {fd.wasmbox}\n"
                     f"wasmtime: {fd.wasmtime}")
        if k < MINIMISED_IN_REPORT:
            small, calls = F.minimise(fd, seconds=MINIMISE_SECONDS)
            lines.append("minimised module:\n" + F.module_text(small).rstrip())
            lines.append("calls on a fresh instance: " + repr(F.calls_to_json(calls)))
            again = F.reproduce(small, calls)
            if again is not None:
                lines.append(f"minimised, wasmbox:  {again.wasmbox}\n"
                             f"minimised, wasmtime: {again.wasmtime}")
        lines.append(f"save it as a regression case: python tools/fuzz.py --seed {fd.seed} "
                     f"--modules 1 --out tests/fuzz_cases")
    return "\n".join(lines)


def test_short_run_agrees_with_wasmtime():
    _require_binaryen()
    gens, results, seconds = _short_run()
    findings = [fd for r in results for fd in r.findings]
    skipped: Counter = Counter()
    stats = D.Stats()
    for r in results:
        skipped.update(r.skipped)
        stats.merge(r.stats)
    ran = sum(1 for r in results if r.exports)
    print(f"short run: {len(results)} modules ({ran} with exports), "
          f"{stats.counts['calls compared']} calls compared, {len(findings)} disagreements, "
          f"{seconds:.1f} s; {D.FUEL_STATUS}")
    for reason, n in skipped.most_common():
        print(f"  skipped -- {reason}: {n}")
    for key, n in sorted(stats.counts.items()):
        print(f"  {key}: {n}")
    assert not findings, _report(findings)
    assert ran >= MIN_MODULES_RUN
    assert stats.counts["calls compared"] >= MIN_CALLS
    assert stats.counts["host calls compared"] > 0
    assert seconds < MAX_SECONDS


def test_short_run_is_deterministic():
    _require_binaryen()
    gens, _, _ = _short_run()
    for g in gens[:3]:
        again = F.generate(g.seed)
        assert (again.data, again.flags, again.notes) == (g.data, g.flags, g.notes)
    for g in gens[FEATURE_SEEDS.start:FEATURE_SEEDS.start + 3]:
        again = F.generate(g.seed, features=_features(g.seed))
        assert (again.data, again.flags, again.features) == (g.data, g.flags, g.features)


def _ops(data: bytes) -> set[str]:
    m = decode_module(data)
    return {ins.op for f in m.funcs for ins in f.body}


def test_short_run_covers_the_features():
    """The wasm-opt flags really give what wasmbox runs, and nothing else."""
    _require_binaryen()
    gens, results, _ = _short_run()
    plain = [g for g in gens if g.data is not None and g.seed not in FEATURE_SEEDS]
    mods = [decode_module(g.data) for g in gens if g.data is not None]
    ops = set().union(*(_ops(g.data) for g in plain))
    assert len(mods) >= 45
    assert any(m.mems and m.mems[0].type.limits.addr.name == "I64" for m in mods), "memory64"
    assert any(F.REF_TYPES_FLAG in g.flags for g in gens), "reference types"
    assert {"i32.extend8_s", "i64.extend32_s"} & ops, "sign extension"
    assert any(op.startswith("i32.trunc_sat") or op.startswith("i64.trunc_sat") for op in ops)
    assert {"memory.fill", "memory.copy", "memory.init", "data.drop"} <= ops, "bulk memory"
    assert any(len(t.comp.results) > 1 for m in mods for rec in m.types for t in rec.subtypes)
    assert not any(op.startswith(("v128", "i8x16", "i16x8", "i32x4", "f32x4", "i64x2", "f64x2"))
                   or "atomic" in op or op in ("return_call", "throw", "try", "try_table",
                                               "call_ref") for op in ops)
    imports = {(i.module, i.name) for m in mods for i in m.imports}
    assert imports <= F.fuzzing_support().provided, imports
    # the feature seeds: every Wasm 3.0 instruction the rewrite adds is in
    # some module that ran, and exceptions escaped some calls (compared)
    new_ops = set().union(*(_ops(g.data) for g in gens
                            if g.data is not None and g.seed in FEATURE_SEEDS))
    assert {"return_call", "return_call_ref", "call_ref", "ref.as_non_null", "br_on_null",
            "br_on_non_null", "throw", "throw_ref", "try_table"} <= new_ops, new_ops
    assert not {"try", "delegate", "rethrow"} & new_ops, "legacy exceptions: wasmtime has none"
    kinds = {c.kind for g in gens if g.data is not None and g.seed in FEATURE_SEEDS
             for f in decode_module(g.data).funcs for ins in f.body if ins.op == "try_table"
             for c in ins.imm[1]}
    assert kinds == {"catch", "catch_ref", "catch_all", "catch_all_ref"}, kinds
    outcomes = Counter()
    for r in results:
        outcomes.update(r.stats.counts)
    assert outcomes["calls compared: exception"] > 0
    # SIMD (a feature seed's flag): in the modules, and v128 results compared
    simd_ops = {op for op in new_ops if OPS[op].prefix == SIMD_PREFIX}
    assert len(simd_ops) >= 20, simd_ops
    assert outcomes["v128 results compared"] > 0


def test_missing_binaryen_fails_clearly(monkeypatch):
    monkeypatch.setattr(F.shutil, "which", lambda name: None)
    with pytest.raises(F.BinaryenMissing, match="apt-get install -y binaryen"):
        F.generate(0)


# ------------------------------------------------------------------ the parts

_LOGGER = """
(module
  (import "fuzzing-support" "log-i32" (func $li (param i32)))
  (import "fuzzing-support" "log-i64" (func $lj (param i64)))
  (import "fuzzing-support" "log-f32" (func $lf (param f32)))
  (import "fuzzing-support" "log-f64" (func $ld (param f64)))
  (func (export "a") (i32.const -1) (call $li) (i64.const -2) (call $lj))
  (func (export "b") (f32.reinterpret_i32 (i32.const 0x7fa00001)) (call $lf))
  (func (export "c") (f64.reinterpret_i64 (i64.const 0xfff4000000000001)) (call $ld))
  (func (export "d") (param f32) (local.get 0) (call $lf))
)
"""


def _pair(wat: str, nans_canonical: bool = False) -> D.Pair:
    data = D.W.wat2wasm(wat)
    return D.Pair(D.ModuleCase("test", 0, data, wat), F.fuzzing_support(), nans_canonical)


def test_log_shim_keeps_raw_bits_in_both_engines():
    pair = _pair(_LOGGER)
    funcs = {f.name: f for f in pair.callable}
    with D.Session(pair, pair.callable, D.Stats()) as s:
        for name, args, want in [
            ("a", [], [("log-i32", "i32", 0xFFFFFFFF), ("log-i64", "i64", D.M64 - 1)]),
            ("b", [], [("log-f32", "f32", 0x7FA00001)]),  # a signalling NaN
            ("c", [], [("log-f64", "f64", 0xFFF4000000000001)]),
            ("d", [0xFF800001], [("log-f32", "f32", 0xFF800001)]),
        ]:
            s.call(funcs[name], args)
            assert s.wb_log == s.wt_log == want


def test_logs_are_compared():
    pair = _pair(_LOGGER)
    with D.Session(pair, pair.callable, D.Stats()) as s:
        s.call(pair.callable[0], [])
        s.wb_log.append(("log-i32", "i32", 7))
        with pytest.raises(D.Disagreement) as e:
            s._compare_logs("(test)", False)
        assert e.value.aspect == "log"
        assert "2 host calls" in str(e.value) and "3 host calls" in str(e.value)


def test_probe_fuel_is_what_wasmtime_charges():
    """Per-call fuel is FUEL for the function itself: probe_fuel is exactly
    the probe's part (an empty function costs 1 fuel: its entry)."""
    wat = """(module
      (func (export "e"))
      (func (export "f") (param i32 f32 i64 f64) (result f64 i32 f32)
        (f64.const 1) (i32.const 2) (f32.const 3)))"""
    pair = _pair(wat)
    funcs = {f.name: f for f in pair.callable}
    with D.Session(pair, pair.callable, D.Stats()) as s:
        for name, own in (("e", 1), ("f", 4)):
            f = funcs[name]
            s.wt_store.set_fuel(D.FUEL + D.probe_fuel(f))
            s.wt_probe[s.probe_name[name]](s.wt_store, *([0] * len(f.params)))
            assert D.FUEL - s.wt_store.get_fuel() == own


def test_fuel_status_says_whether_wasmbox_fuel_is_compared():
    assert ("NOT compared" in D.FUEL_STATUS) == (not D.WASMBOX_FUEL)
    assert D.WASMBOX_FUEL == hasattr(D.Config(), "consume_fuel")


_NANS = """
(module
  (func (export "add") (param f32 f32) (result f32) (f32.add (local.get 0) (local.get 1)))
  (func (export "sqrt") (param f64) (result i64) (i64.reinterpret_f64 (f64.sqrt (local.get 0))))
  (func (export "neg") (param f32) (result f32) (f32.neg (local.get 0)))
)
"""


def test_canonicalize_nans_makes_nan_results_canonical_in_both_engines():
    canon = F.canonicalize_nans(D.W.wat2wasm(_NANS))
    pair = D.Pair(D.ModuleCase("test", 0, canon, _NANS), F.fuzzing_support(),
                  nans_canonical=True)
    assert not pair.nondeterministic
    funcs = {f.name: f for f in pair.callable}
    with D.Session(pair, pair.callable, D.Stats()) as s:
        s.call(funcs["add"], [0xFFC00000, 0x3F800000])
        s.call(funcs["add"], [0x7F800000, 0xFF800000])  # inf - inf
        s.call(funcs["sqrt"], [0xBFF0000000000000])  # sqrt(-1)
        s.call(funcs["neg"], [0x7FA00001])  # not touched: the sign flips, the payload stays
        assert s.stats.counts["calls compared: ok"] == 4
        ex, store = s.wb_exports, s.wb_store
        nan = D.N.f32_from_bits(0xFFC00000)
        assert D.N.f32_to_bits(ex["add"].call_raw(store, [nan, 1.0])[0]) == F.CANONICAL_NAN["f32"]
        assert ex["sqrt"].call_raw(store, [-1.0])[0] == F.CANONICAL_NAN["f64"]
        snan = D.N.f32_from_bits(0x7FA00001)
        assert D.N.f32_to_bits(ex["neg"].call_raw(store, [snan])[0]) == 0xFFA00001
    plain = D.W.wat2wasm('(module (func (export "f") (result f32) (f32.neg (f32.const 1))))')
    assert F.canonicalize_nans(plain) == plain


_SIMD = """
(module
  (import "fuzzing-support" "log-v128" (func $lv (param v128)))
  (global (export "g") (mut v128) (v128.const i32x4 1 2 3 4))
  (func (export "splat") (param i32) (result v128) (i16x8.splat (local.get 0)))
  (func (export "pass") (param i64 v128 f32) (result f32 v128 i64)
    (local.get 2) (local.get 1) (local.get 0))
  (func (export "log") (param v128) (call $lv (local.get 0)) (global.set 0 (local.get 0)))
  (func (export "div") (param v128 v128) (result v128) (f32x4.div (local.get 0) (local.get 1)))
  (func (export "promote") (param v128) (result v128) (f64x2.promote_low_f32x4 (local.get 0)))
)
"""


def test_v128_values_cross_the_harness():
    """v128 arguments, results, globals and logs go through wasmtime's probe
    and the log shim as two i64 halves and come back bit for bit; a wasmbox
    that got one lane wrong is a result divergence."""
    pair = _pair(_SIMD)
    funcs = {f.name: f for f in pair.callable}
    assert funcs["pass"].callable and funcs["pass"].params == ("i64", "v128", "f32")
    v = 0x7FA00001_FFFFFFFF_80000000_00000001  # a signalling NaN lane among others
    stats = D.Stats()
    with D.Session(pair, pair.callable, stats) as s:
        s.call(funcs["splat"], [0x12345])
        s.call(funcs["pass"], [D.M64, v, 0x7F800001])
        s.call(funcs["log"], [v])
        assert s.wb_log == s.wt_log == [("log-v128", "v128", v)]
        s.check_state()  # the global now holds v in both
        assert s.wb_exports["g"].raw == v
    assert stats.counts["calls compared: ok"] == 3
    assert stats.counts["v128 results compared"] == 2
    real = D.Session._wasmbox_call

    def one_lane_off(self, text, f, args, wt):
        out = real(self, text, f, args, wt)
        if f.name == "splat":
            out = D.Outcome("ok", (("v128", out.values[0][1] ^ 1),))
        return out

    with D.Session(pair, pair.callable, D.Stats()) as s:
        s._wasmbox_call = one_lane_off.__get__(s)
        with pytest.raises(D.Disagreement) as e:
            s.call(funcs["splat"], [3])
    assert e.value.aspect == "result" and e.value.detail == "value 0 v128"


def test_v128_nan_lanes_are_compared_per_lane():
    """Where the spec leaves NaN bits open (a NaN-nondeterministic function),
    a v128 may differ only in NaN lanes, each an arithmetic NaN; elsewhere bit
    for bit."""
    canon, arith, snan = 0x7FC00000, 0xFFE00000, 0x7FA00000
    lanes = D._v128_join
    assert D.v128_floats_agree(lanes([canon, 1, 2, 3], 32), lanes([arith, 1, 2, 3], 32), True)
    assert not D.v128_floats_agree(lanes([canon, 1, 2, 3], 32), lanes([canon, 1, 2, 4], 32), True)
    assert not D.v128_floats_agree(lanes([snan, 1, 2, 3], 32), lanes([canon, 1, 2, 3], 32), True)
    # f64 lanes too; and canonical in, canonical out
    assert D.v128_floats_agree(lanes([0xFFF8000000000000, 5], 64),
                               lanes([0x7FF8000000000000, 5], 64), False)
    assert not D.v128_floats_agree(lanes([0x7FFC000000000001, 5], 64),
                                   lanes([0x7FF8000000000000, 5], 64), False)
    # (the lane shape is not known: 0x7FFC0000_00000000 could be two f32 lanes,
    # a NaN and a zero, and then it agrees with 0x7FF80000_00000000)
    pair = _pair(_SIMD)
    assert pair.nondeterministic_export["div"] and pair.nondeterministic_export["promote"]
    assert not pair.nondeterministic_export["pass"]


def test_canonicalize_nans_makes_simd_nan_lanes_canonical():
    canon = F.canonicalize_nans(D.W.wat2wasm(_SIMD))
    pair = D.Pair(D.ModuleCase("test", 0, canon, _SIMD), F.fuzzing_support(),
                  nans_canonical=True)
    funcs = {f.name: f for f in pair.callable}
    zeros = 0
    ones = D._v128_join([0x3F800000] * 4, 32)
    mixed = D._v128_join([0, 0x3F800000, 0xFFC00001, 0x7F800000], 32)  # 0, 1, NaN, inf
    with D.Session(pair, pair.callable, D.Stats()) as s:
        s.call(funcs["div"], [mixed, zeros])  # 0/0 NaN, 1/0 inf, NaN/0 NaN, inf/0 inf
        s.call(funcs["div"], [ones, ones])
        s.call(funcs["promote"], [D._v128_join([0xFFA00000, 0x40000000, 0, 0], 32)])
        out = s.wb_exports["div"].call_raw(s.wb_store, [mixed, zeros])[0]
        assert out == D._v128_join([0x7FC00000, 0x7F800000, 0x7FC00000,
                                                     0x7F800000], 32)
        out = s.wb_exports["promote"].call_raw(s.wb_store, [D._v128_join([0xFFA00000, 0x40000000,
                                                                          0, 0], 32)])[0]
        assert out == D._v128_join([0x7FF8000000000000, 0x4000000000000000], 64)
    plain = D.W.wat2wasm('(module (func (export "f") (result v128) (f32x4.neg (v128.const i64x2 0 0))))')
    assert F.canonicalize_nans(plain) == plain


def test_draw_args_is_deterministic_and_typed():
    import random

    params = ("i32", "i64", "f32", "f64", "funcref", "externref")
    a = [D.draw_args(random.Random(5), params) for _ in range(2)]
    assert a[0] == a[1]
    rng = random.Random(1)
    for _ in range(500):
        i32, i64, f32, f64, fr, er = D.draw_args(rng, params)
        assert 0 <= i32 <= D.M32 and 0 <= i64 <= D.M64 and 0 <= f32 <= D.M32
        assert 0 <= f64 <= D.M64
        assert fr in D.FUNC_VALUES and er in D.EXTERN_VALUES


def test_wasmtime_trap_codes_map_to_wasmbox_trap_codes():
    for wt, wb in D.WT_TRAP_CODES.items():
        assert isinstance(wt, D.W.TrapCode) and isinstance(wb, D.TrapCode)
    assert D.W.TrapCode.OUT_OF_FUEL not in D.WT_TRAP_CODES


def test_tree_round_trips_every_generated_body():
    _require_binaryen()
    gens, _, _ = _short_run()
    n = 0
    for g in gens:
        if g.data is None:
            continue
        for f in decode_module(g.data).funcs:
            assert F._flat(F._tree(f.body)) == f.body
            n += 1
    assert n > 100


def test_reducer_shrinks_while_the_oracle_holds(monkeypatch):
    """The Reducer keeps only what the oracle needs: here, a call of the
    export "keep" that still holds an i32.const 12345."""
    _require_binaryen()
    gens, _, _ = _short_run()
    g = next(g for g in gens if g.data is not None and len(g.data) > 3000)
    m = decode_module(g.data)
    target = next(e for e in m.exports if e.kind.name == "FUNC")
    n_imp = len(m.imports_of(target.kind))
    m.funcs[target.index - n_imp].body[:0] = [F.sm.Instr("i32.const", (12345,)),
                                             F.sm.Instr("drop")]
    target.name = "keep"
    data = F.encode_module(m)

    def oracle(spec, candidate):
        cm = decode_module(candidate)
        ok = any(e.name == "keep" for e in cm.exports) and any(
            ins.op == "i32.const" and ins.imm == (12345,) for f in cm.funcs for ins in f.body)
        return spec["signature"] if ok else "other"

    monkeypatch.setattr(F, "check_output", oracle)
    small, calls = F.Reducer(data, {"calls": [["x", []], ["keep", []]], "signature": "sig"},
                             60.0).run()
    sm_ = decode_module(small)
    assert [e.name for e in sm_.exports] == ["keep"]
    assert calls == [["keep", []]]
    assert len(small) < 200 < len(data)
    assert sum(len(f.body) for f in sm_.funcs) <= 3


def test_cli_summary_line():
    _require_binaryen()
    p = subprocess.run([sys.executable, str(ROOT / "tools" / "fuzz.py"), "--modules", "2",
                        "--seed", "7000"], capture_output=True, text=True, timeout=300)
    last = p.stdout.strip().splitlines()[-1]
    assert last.startswith("fuzz summary: 2 modules, "), p.stdout + p.stderr
    assert "calls compared" in last and "divergences" in last and "crashes" in last
    assert "skipped" in last and D.FUEL_STATUS in last
    assert p.returncode == (1 if " 0 divergences, 0 crashes" not in last else 0)


def test_fuel_is_compared(monkeypatch):
    """Both engines run with the same fuel and must leave the same fuel: a
    call that agrees passes, and a wasmbox that reported one unit too many
    is a fuel divergence."""
    assert D.WASMBOX_FUEL and "remaining fuel compared" in D.FUEL_STATUS
    pair = _pair('(module (func (export "two") (result i32) (i32.const 2)))')
    funcs = {f.name: f for f in pair.callable}
    stats = D.Stats()
    with D.Session(pair, pair.callable, stats) as s:
        s.call(funcs["two"], [])
    assert stats.counts["calls compared: ok"] == 1
    real = D.Store.get_fuel
    monkeypatch.setattr(D.Store, "get_fuel", lambda self: real(self) + 1)
    with D.Session(pair, pair.callable, D.Stats()) as s:
        with pytest.raises(D.Disagreement) as e:
            s.call(funcs["two"], [])
        assert e.value.aspect == "fuel"
        assert f"{D.FUEL - 1} fuel left" in e.value.wasmbox  # entry + i32.const = 2
        assert f"{D.FUEL - 2} fuel left" in e.value.wasmtime


_THROWS = """
(module
  (tag $t (param i32 f32 i64))
  (tag $u)
  (func (export "t") (result i32)
    (i32.const 7) (f32.reinterpret_i32 (i32.const 0x7fa00001)) (i64.const -9) (throw $t))
  (func (export "u") (result i32) (throw $u))
  (tag $r (param externref funcref))
  (func (export "refs") (param externref) (result i32)
    (local.get 0) (ref.null func) (throw $r))
  (func (export "rethrown") (result i32)
    (block $h (result exnref)
      (try_table (catch_all_ref $h)
        (i32.const 1) (f32.const 2) (i64.const 3) (throw $t))
      (unreachable))
    (throw_ref))
)
"""


def test_uncaught_exceptions_compare_tag_and_payload(monkeypatch):
    """An exception escaping an export is an outcome of its own in both
    engines: the exported tag it was thrown with and the payload bits
    (a signalling NaN kept); a wrong payload is an "exception" divergence."""
    pair = _pair(_THROWS)
    funcs = {f.name: f for f in pair.callable}
    stats = D.Stats()
    with D.Session(pair, pair.callable, stats) as s:
        for name in ("t", "u", "rethrown"):
            s.call(funcs[name], [])
        s.call(funcs["refs"], [2])
        s.call(funcs["refs"], [None])
        try:
            s.wb_exports["t"].call_raw(s.wb_store, [])
        except D.WasmException as e:
            out = s._wb_exception(e)
    assert stats.counts["calls compared: exception"] == 5
    assert out.kind == "exception" and out.detail == pair.tags[0]
    assert out.values == (("i32", 7), ("f32", 0x7FA00001), ("i64", D.M64 - 8))
    real = D.Session._wb_exception

    def wrong(self, exc):
        o = real(self, exc)
        return D.Outcome(o.kind, o.values[:-1] + (("i64", 0),), o.detail) if o.values else o

    monkeypatch.setattr(D.Session, "_wb_exception", wrong)
    with D.Session(pair, pair.callable, D.Stats()) as s:
        with pytest.raises(D.Disagreement) as e:
            s.call(funcs["t"], [])
    assert e.value.aspect == "exception" and "uncaught exception" in e.value.wasmtime


def test_inject_keeps_modules_valid_and_adds_every_feature():
    """fuzz_inject's rewrite of binaryen's modules validates in both engines
    and adds what it says it adds."""
    import random

    _require_binaryen()
    gens, _, _ = _short_run()
    added: Counter = Counter()
    for g in gens[:8]:
        if g.data is None:
            continue
        data, counts = F.FI.inject(g.data, set(F.FI.ALL_FEATURES), random.Random(g.seed))
        D.Module(D.WB_ENGINE, data)
        D.W.Module(D.WT_ENGINE, data)
        ops = _ops(data)
        assert {op for op, n in counts.items() if n and op not in
                F.sm.CATCH_KINDS} <= ops, (counts, ops)
        added.update(counts)
    assert {"call_ref", "throw", "try_table", "return_call"} <= set(added), added


def test_features_option():
    _require_binaryen()
    assert F.seed_features(3, frozenset()) == ()
    picked = {F.seed_features(s, frozenset(F.FI.ALL_FEATURES)) for s in range(40)}
    assert tuple(F.FI.ALL_FEATURES) in picked and len(picked) > 3
    g = F.generate(7, features={F.FI.TAIL_CALL})
    assert "--enable-tail-call" in g.flags or g.features == ()
    p = subprocess.run([sys.executable, str(ROOT / "tools" / "fuzz.py"), "--features", "nope"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "unknown features: nope" in p.stderr


def test_inject_handles_tags_with_reference_payloads():
    """binaryen's own tags can carry references (with reference types): the
    throw sites push nulls for them and the handlers drop them."""
    import random

    wat = """(module
      (import "fuzzing-support" "log-i32" (func (param i32)))
      (tag (param externref i32)) (tag (param funcref))
      (func (export "f") (result i32) (call 0 (i32.const 1)) (unreachable))
      (func (export "g") (param i32) (result i32) (local.get 0)))"""
    n = 0
    for seed in range(30):
        data, counts = F.FI.inject(D.W.wat2wasm(wat), {F.FI.EXCEPTIONS}, random.Random(seed))
        D.Module(D.WB_ENGINE, data)
        D.W.Module(D.WT_ENGINE, data)
        n += counts["throw"]
    assert n > 0
