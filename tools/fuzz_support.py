"""The binaryen differential fuzzer's parts: generate a module, run it in
both engines, minimise a divergence, save and replay regression cases.

Used by ``tools/fuzz.py`` (the long run), ``tests/test_fuzz_binaryen.py``
(the short run) and ``tests/test_fuzz_cases.py`` (the saved cases). The
comparison itself is ``tests/diff_support.py``'s (:class:`Pair`,
:class:`Session`); this module only feeds it. See ``docs/fuzzing.md``.

* :func:`generate` -- seed -> input bytes from a seeded PRNG -> ``wasm-opt
  -ttf`` with exactly the features wasmbox runs (:data:`FEATURE_FLAGS`),
  varied per seed (reference types, a 64-bit memory, a spec-suite module
  to start from, an optimisation level); with ``features``, Wasm 3.0
  features (tail calls, typed function references, exceptions) per seed,
  through binaryen's flags and ``fuzz_inject.inject``. Raises
  :class:`BinaryenMissing` when wasm-opt is not installed.
* :func:`fuzzing_support` -- binaryen's ``fuzzing-support`` log imports for
  both engines (a :class:`diff_support.HostImports`).
* :func:`run_module` -- load in both engines (validity must agree), make
  NaN results deterministic (:func:`canonicalize_nans`), call
  every export in export order with a few argument lists on one instance
  per engine, compare; returns a :class:`ModuleResult` with a
  :class:`Finding` per disagreement (after one, the next export goes on
  with fresh instances).
* :func:`minimise` -- a :class:`Reducer` over the module's structure that
  keeps a candidate while replaying the finding's calls on it gives the
  same disagreement (its signature). binaryen's wasm-reduce was tried
  first and does not fit: one process per candidate (about 0.8 s each
  here) and binaryen's multi-value round trip grew a 1,091-byte module to
  2,322 bytes in 10 minutes.
* :func:`save_case` / :func:`load_cases` / :func:`replay_case` -- the
  regression cases in ``tests/fuzz_cases/`` (``.wasm``, ``.wat``,
  ``.json``); replaying needs no binaryen.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

import wasmtime as W  # noqa: E402

import diff_support as D  # noqa: E402
import fuzz_inject as FI  # noqa: E402
from wasmbox import FuncType, Linker, Module, Store, ValType, WasmboxError  # noqa: E402
from wasmbox.binary import encode_module  # noqa: E402
from wasmbox.binary.decode import decode_module  # noqa: E402
from wasmbox.paths import suite_files  # noqa: E402
from wasmbox.syntax import module as sm  # noqa: E402
from wasmbox.syntax.locals import Locals  # noqa: E402
from wasmbox.syntax.opcodes import BLOCK_OPENERS, OPS  # noqa: E402
from wasmbox.syntax.opcodes import SIMD as SIMD_PREFIX  # noqa: E402
from wasmbox.syntax.types import F32, F64, V128, AddrType  # noqa: E402
from wasmbox.text.print import print_module  # noqa: E402

#: Where the regression cases live.
CASES_DIR = TESTS / "fuzz_cases"
#: How to get binaryen (wasm-opt) on Debian/Ubuntu.
INSTALL_HINT = "apt-get install -y binaryen"

#: wasm-opt feature flags: exactly what wasmbox runs and binaryen 108 can
#: generate -- Wasm 2.0 (mutable globals, sign extension, non-trapping
#: float-to-int, multi-value, bulk memory; reference types per seed, see
#: REF_TYPES_FLAG; SIMD per seed, as the feature fuzz_inject.SIMD) and
#: memory64. Everything else is off (binaryen 108 has no flag for multiple
#: memories, so it never makes them; its -ttf writes no relaxed SIMD).
FEATURE_FLAGS = [
    "--mvp-features",
    "--enable-mutable-globals", "--enable-sign-ext", "--enable-nontrapping-float-to-int",
    "--enable-multivalue", "--enable-bulk-memory", "--enable-memory64",
    "--disable-simd", "--disable-relaxed-simd", "--disable-threads",
    "--disable-exception-handling", "--disable-tail-call", "--disable-gc",
    "--disable-typed-function-references", "--disable-gc-nn-locals",
    "--disable-extended-const",
]
REF_TYPES_FLAG = "--enable-reference-types"

#: Bytes of random input per module (the module's size grows with it).
INPUT_BYTES = (1000, 20000)
#: Chance that a seed asks for reference types / a 64-bit memory / an
#: optimisation pass over the random module.
P_REF_TYPES = 0.5
P_MEMORY64 = 0.3
P_OPTIMISE = 0.3
OPT_LEVELS = ["-O1", "-O2", "-O3", "-Os", "-Oz"]
#: Initial content for a 64-bit memory: -ttf keeps the memory's index type
#: (it sets its own size). binaryen 108 then gives active data segments
#: i32.const offsets and refuses its own module, so for these seeds it runs
#: without validation (-n) and fix_memory64_offsets repairs the offsets.
MEMORY64_WAT = "(module (memory i64 1 1))"
#: Chance that a seed (without a 64-bit memory) starts from a module of the
#: spec suite SUITE: -ttf keeps its functions and exports, mutates their
#: code and adds its own -- real arithmetic and control flow, which -ttf
#: alone makes little of.
P_INITIAL_SUITE = 0.4
SUITE = "wasm2-nosimd"
#: ... and for a seed with SIMD, a module of this suite as often as one of SUITE
SIMD_SUITE = "wasm2-simd"
#: For a seed with SIMD: the chance of a spec-suite module as initial content,
#: and of taking it from SIMD_SUITE. binaryen's own SIMD code seldom reaches
#: anything observable (a deliberately broken i16x8.splat went unnoticed in 60
#: modules without them); the suite's functions take and return v128 values.
P_INITIAL_SUITE_SIMD = 0.7
P_SIMD_SUITE = 0.8
#: Argument lists per exported function (the first is all zeros).
CALLS_PER_EXPORT = 3
#: binaryen's -ttf modules bound their loops and recursion by a global that
#: this export resets; it is called before every other call (as binaryen's
#: own harness does), so that every call gets to run.
HANG_LIMIT_EXPORT = "hangLimitInitializer"
#: Instructions that separate the arms of a construct.
_SEPARATORS = frozenset({"else", "catch", "catch_all"})
#: A module stops after this many disagreements (each on another export).
MAX_FINDINGS_PER_MODULE = 5
#: Seconds for one run of wasm-opt.
WASM_OPT_SECONDS = 60

#: Why a module took no part, for modules that binaryen 108 cannot make
#: valid with reference types (it writes typed function references and
#: anyref, which Wasm 2.0 does not have); the seed is made again without.
REF_TYPES_INVALID = ("reference-types module refused by both engines (binaryen 108 "
                     "writes typed function references / anyref); made again without "
                     "reference types")


# ------------------------------------------------------------------ host module, NaNs

#: The functions of binaryen's ``fuzzing-support`` module (what ``wasm-opt
#: -ttf`` of binaryen 108 imports; ``log-v128`` only with SIMD) and the type
#: each logs.
FUZZING_SUPPORT = "fuzzing-support"
LOG_FUNCS: dict[str, str] = {"log-i32": "i32", "log-i64": "i64", "log-f32": "f32",
                             "log-f64": "f64", "log-v128": "v128"}
#: The host module behind the log shim (see FuzzingSupportImports).
LOG_HOST = "fuzzing-support-host"


def _host_params(t: str) -> list[str]:
    """The host function's parameters for a log of type t: floats as
    integers of their width, a v128 as two i64 (low half first)."""
    return ["i64", "i64"] if t == D.V128 else [D.AS_INT.get(t, t)]


def log_shim_text() -> str:
    """WAT of the log shim: it exports each LOG_FUNCS function and passes its
    argument on, floats reinterpreted as integers and a v128 as its two i64
    lanes, to the same name in LOG_HOST."""
    out = ["(module"]
    for k, (name, t) in enumerate(LOG_FUNCS.items()):
        ps = " ".join(_host_params(t))
        out.append(f'  (import "{LOG_HOST}" "{name}" (func $h{k} (param {ps})))')
    for k, (name, t) in enumerate(LOG_FUNCS.items()):
        if t == D.V128:
            args = "local.get 0 i64x2.extract_lane 0 local.get 0 i64x2.extract_lane 1"
        else:
            args = f'local.get 0 {D.TO_INT.get(t, "")}'
        out.append(f'  (func (export "{name}") (param {t}) {args} call $h{k})')
    out.append(")")
    return "\n".join(out)


def _recorder(log: list[D.LogEntry], name: str, t: str) -> Any:
    """The host function behind log function name: it records the bits it
    gets (an integer of t's width, a v128 from its two halves; wasmtime's
    are signed) in log."""
    mask = D.width_mask(t)
    if t == D.V128:
        def record_v128(lo: int, hi: int) -> None:
            log.append((name, t, (lo & D.M64) | (hi & D.M64) << 64))

        return record_v128

    def record(bits: int) -> None:
        log.append((name, t, bits & mask))

    return record


class FuzzingSupportImports(D.HostImports):
    """binaryen's ``fuzzing-support`` logging functions, each logging
    ``(name, type, bits)``.

    Both engines get them through the same Wasm *log shim*
    (:func:`log_shim_text`), which hands the host the argument's bits as an
    integer: wasmtime-py would pass an f32 through a C double, quieting a
    signalling NaN. Since the shim is Wasm in both engines, both run exactly
    the same code, and fuel (where both have it) is charged alike.
    """

    provided = frozenset((FUZZING_SUPPORT, n) for n in LOG_FUNCS)

    def __init__(self) -> None:
        data = W.wat2wasm(log_shim_text())
        self._wb_shim = Module(D.WB_ENGINE, data)
        self._wt_shim = W.Module(D.WT_ENGINE, data)

    def define_wasmbox(self, linker: Linker, store: Store, log: list[D.LogEntry]) -> None:
        for name, t in LOG_FUNCS.items():
            ps = [getattr(ValType, it)() for it in _host_params(t)]
            linker.define_raw_func(LOG_HOST, name, FuncType(ps, []), _recorder(log, name, t))
        linker.define_instance(store, FUZZING_SUPPORT, linker.instantiate(store, self._wb_shim))

    def define_wasmtime(self, linker: W.Linker, store: W.Store, log: list[D.LogEntry]) -> None:
        for name, t in LOG_FUNCS.items():
            ps = [getattr(W.ValType, it)() for it in _host_params(t)]
            f = W.Func(store, W.FuncType(ps, []), _recorder(log, name, t))
            linker.define(store, LOG_HOST, name, f)
        linker.define_instance(store, FUZZING_SUPPORT, linker.instantiate(store, self._wt_shim))


@functools.cache
def fuzzing_support() -> FuzzingSupportImports:
    """The one FuzzingSupportImports (its shim compiled once per process)."""
    return FuzzingSupportImports()



#: The positive canonical NaN of each float type.
CANONICAL_NAN = {"f32": 0x7FC00000, "f64": 0x7FF8000000000000}
#: ... in every lane of each float lane shape
CANONICAL_NAN_LANES = {"f32x4": 0x7FC00000 * 0x00000001000000010000000100000001,
                       "f64x2": 0x7FF8000000000000 * 0x00000000000000010000000000000001}


def _canonical_nan_code(t: str) -> list[sm.Instr]:
    """The positive canonical NaN of float type t as an integer constant and
    a reinterpret: not a NaN constant, so that code made by
    canonicalize_nans does not meet an engine's bugs with NaN constants."""
    it = "i32" if t == "f32" else "i64"
    return [sm.Instr(f"{it}.const", (CANONICAL_NAN[t],)), sm.Instr(f"{t}.reinterpret_{it}")]


def canonicalize_nans(data: bytes) -> bytes:
    """data with every NaN-nondeterministic instruction (diff_support.NAN_NONDETERMINISTIC)
    followed by code that replaces a NaN result by the positive canonical
    NaN: ``local.set $t; <i>.const bits; <t>.reinterpret_<i>; local.get
    $t; local.get $t; local.get $t; <t>.ne; select`` (a fresh local per
    function and type). A SIMD one (diff_support.SIMD_NAN_NONDETERMINISTIC)
    gets the same per lane: ``local.set $v; local.get $v; v128.const
    <canonical NaN lanes>; local.get $v; local.get $v; <shape>.eq;
    v128.bitselect``.

    The spec lets such an instruction give any NaN of a set (sign and, for
    non-canonical NaN operands, payload are free), and a random module
    feeds those bits on into integers (reinterpret), signs (copysign) and
    branches, where no rule can tell an allowed difference from a bug.
    After this both engines must agree bit for bit everywhere; whether a
    result is a NaN at all is still compared. Bits of NaNs that are only
    moved (loads, stores, locals, globals, reinterpret, neg, abs,
    copysign, constants) are not touched. Raises what decoding and
    encoding raise.
    """
    m = decode_module(data)
    types = [sub.comp for rec in m.types for sub in rec.subtypes]
    changed = False
    nondet = D.NAN_NONDETERMINISTIC | D.SIMD_NAN_NONDETERMINISTIC
    for f in m.funcs:
        if not any(ins.op in nondet for ins in f.body):
            continue
        changed = True
        n_locals = len(types[f.type_index].params) + len(f.locals)
        tmp: dict[str, int] = {}
        extra: list = []  # types of the locals added here
        body: list[sm.Instr] = []
        for ins in f.body:
            body.append(ins)
            if ins.op in D.SIMD_NAN_NONDETERMINISTIC:
                # per lane: v128.bitselect(result, canonical NaNs, result == result)
                shape = ins.op[:5]  # the result's shape: f64x2.promote_low_f32x4 -> f64x2
                if "v128" not in tmp:
                    tmp["v128"] = n_locals + len(tmp)
                    extra.append(V128)
                x = tmp["v128"]
                body += [sm.Instr("local.set", (x,)), sm.Instr("local.get", (x,)),
                         sm.Instr("v128.const", (CANONICAL_NAN_LANES[shape],)),
                         sm.Instr("local.get", (x,)), sm.Instr("local.get", (x,)),
                         sm.Instr(f"{shape}.eq"), sm.Instr("v128.bitselect")]
                continue
            if ins.op not in D.NAN_NONDETERMINISTIC:
                continue
            t = ins.op[:3]  # the result type: f32.demote_f64 -> f32, f64.add -> f64
            if t not in tmp:
                tmp[t] = n_locals + len(tmp)
                extra.append(F32 if t == "f32" else F64)
            x = tmp[t]
            body += [sm.Instr("local.set", (x,)), *_canonical_nan_code(t),
                     sm.Instr("local.get", (x,)), sm.Instr("local.get", (x,)),
                     sm.Instr("local.get", (x,)), sm.Instr(f"{t}.ne"), sm.Instr("select")]
        f.body = body
        f.locals = Locals.from_runs([*f.locals.runs, *((1, t) for t in extra)])
    return encode_module(m) if changed else data



class BinaryenMissing(RuntimeError):
    """wasm-opt (binaryen) is not installed; the message says how to get it."""


def wasm_opt() -> str:
    """The path of wasm-opt. Raises BinaryenMissing."""
    path = shutil.which("wasm-opt")
    if path is None:
        raise BinaryenMissing(f"wasm-opt (binaryen) is not installed: the fuzzer needs it to "
                              f"generate modules. Install it with: {INSTALL_HINT}")
    return path


# ------------------------------------------------------------------ generation


@dataclass
class Generated:
    """A module made from one seed: its bytes, the wasm-opt flags that made
    it, and why it differs from what the seed asked for (``notes``: skip
    reasons, counted by the caller)."""

    seed: int
    data: bytes | None  # None: wasm-opt failed (see notes)
    flags: list[str]
    notes: list[str] = field(default_factory=list)
    #: the Wasm 3.0 features this seed got (fuzz_inject), and the
    #: instructions the rewrite added, by name
    features: tuple[str, ...] = ()
    added: Counter = field(default_factory=Counter)


def _run_wasm_opt(input_bytes: bytes, flags: list[str], initial: bytes | None) -> bytes:
    """wasm-opt -ttf over input_bytes. Raises subprocess.CalledProcessError
    (message on stderr) and BinaryenMissing."""
    with tempfile.TemporaryDirectory(prefix="wasmbox-fuzz-") as tmp:
        inp, out = Path(tmp) / "input.bin", Path(tmp) / "out.wasm"
        inp.write_bytes(input_bytes)
        cmd = [wasm_opt(), "-ttf", str(inp), "-o", str(out)]
        if initial is not None:
            (Path(tmp) / "initial.wasm").write_bytes(initial)
            cmd += ["--initial-fuzz", str(Path(tmp) / "initial.wasm")]
        subprocess.run(cmd + flags, check=True, capture_output=True, timeout=WASM_OPT_SECONDS)
        return out.read_bytes()


def fix_memory64_offsets(data: bytes) -> bytes:
    """data with every ``i32.const`` offset of an active data segment of a
    64-bit memory made ``i64.const`` of the same (unsigned) value: the one
    thing binaryen 108's -ttf gets wrong for 64-bit memories. Raises what
    decoding and encoding raise."""
    m = decode_module(data)
    mems = [i.desc for i in m.imports_of(sm.ExternKind.MEM)] + [x.type for x in m.mems]
    changed = False
    for seg in m.datas:
        if seg.mode != "active" or seg.offset is None or \
                mems[seg.mem].limits.addr is not AddrType.I64:
            continue
        fixed = [sm.Instr("i64.const", (ins.imm[0] & D.M32,)) if ins.op == "i32.const" else ins
                 for ins in seg.offset]
        changed |= fixed != seg.offset
        seg.offset = fixed
    return encode_module(m) if changed else data


def _both_refuse(data: bytes) -> bool:
    """Whether both engines refuse to load data (disagreements are left to run_module)."""
    try:
        W.Module(D.WT_ENGINE, data)
        return False
    except Exception:  # noqa: BLE001 - wasmtime refuses it
        pass
    try:
        Module(D.WB_ENGINE, data)
        return False
    except Exception:  # noqa: BLE001 - so does wasmbox
        return True


def hide_nan_constants(data: bytes) -> bytes:
    """data with every NaN ``f32.const``/``f64.const`` in function bodies
    written as ``i32.const``/``i64.const`` of the same bits and a
    reinterpret: the same values, without NaN constants. For looking past
    a known wasmbox bug with NaN constants while it is unfixed (fuzz.py
    --hide-nan-constants); constant expressions keep their constants.
    Raises what decoding and encoding raise."""
    m = decode_module(data)
    changed = False
    for f in m.funcs:
        body: list[sm.Instr] = []
        for ins in f.body:
            nan = (ins.op == "f32.const" and D.is_nan32(ins.imm[0])) or \
                (ins.op == "f64.const" and D.is_nan64(ins.imm[0]))
            if not nan:
                body.append(ins)
                continue
            changed = True
            bits = ins.imm[0]
            if ins.op == "f32.const":
                body += [sm.Instr("i32.const", (bits - (1 << 32) if bits >> 31 else bits,)),
                         sm.Instr("f32.reinterpret_i32")]
            else:
                body += [sm.Instr("i64.const", (bits - (1 << 64) if bits >> 63 else bits,)),
                         sm.Instr("f64.reinterpret_i64")]
        f.body = body
        f.locals = Locals.from_runs([*f.locals.runs, *((1, t) for t in extra)])
    return encode_module(m) if changed else data


@functools.cache
def _suite_files(suite: str = SUITE) -> list[Path]:
    try:
        return suite_files(suite)
    except FileNotFoundError:
        return []


@functools.cache
def _suite_modules(path: Path) -> list[bytes]:
    """The plain modules of one script of SUITE that import nothing."""
    cases = D.load_file_cases(path, path.name).cases
    return [c.data for c in cases if not decode_module(c.data).imports]


def _initial_content(rng: random.Random, memory64: bool,
                     simd: bool = False) -> tuple[bytes | None, str]:
    """Initial content for -ttf and a note saying what it is (see P_INITIAL_SUITE;
    with simd, P_INITIAL_SUITE_SIMD and P_SIMD_SUITE)."""
    draw = rng.random()
    use_suite = draw < P_INITIAL_SUITE
    suite = SUITE
    if simd:
        # a separate PRNG: the choices of seeds without SIMD stay as they were
        use_suite = draw < P_INITIAL_SUITE_SIMD
        suite = SIMD_SUITE if random.Random(rng.random()).random() < P_SIMD_SUITE else SUITE
    files = _suite_files(suite)
    pick_file, pick_module = rng.random(), rng.random()
    if memory64:
        return W.wat2wasm(MEMORY64_WAT), f"--initial-fuzz <{MEMORY64_WAT}>"
    if not use_suite or not files:
        return None, ""
    path = files[int(pick_file * len(files))]
    mods = _suite_modules(path)
    if not mods:
        return None, ""
    k = int(pick_module * len(mods))
    return mods[k], f"--initial-fuzz <module {k} of {suite} {path.name}>"


#: Chance that a seed gets each of the features asked for (so that the
#: features also run alone and in every combination).
P_FEATURE = 0.75


def seed_features(seed: int, features: frozenset[str] | set[str]) -> tuple[str, ...]:
    """The features (of those asked for) that a seed gets, and their order
    (fuzz_inject.ALL_FEATURES)."""
    rng = random.Random(f"wasmbox-fuzz-features-{seed}")
    return tuple(f for f in FI.ALL_FEATURES if rng.random() < P_FEATURE and f in features)


def _feature_flags(flags: list[str], features: tuple[str, ...]) -> list[str]:
    """flags with binaryen's flags of features enabled instead of disabled."""
    out = list(flags)
    for f in features:
        for flag in FI.WASM_OPT_FLAGS[f]:
            off = flag.replace("--enable-", "--disable-")
            out = [flag if x == off else x for x in out]
    return out


def _simd_instructions(data: bytes) -> int:
    """How many SIMD instructions the code of a module holds (0 if it does not decode)."""
    try:
        m = decode_module(data)
    except WasmboxError:
        return 0
    return sum(1 for f in m.funcs for ins in f.body
               if ins.op in OPS and OPS[ins.op].prefix == SIMD_PREFIX)


def generate(seed: int, hide_nans: bool = False,
             features: frozenset[str] | set[str] = frozenset()) -> Generated:
    """The module of a seed: input bytes and choices from random.Random(seed)
    (with hide_nans, then hide_nan_constants). With features (a subset of
    fuzz_inject.ALL_FEATURES), the seed gets some of them
    (seed_features): binaryen's flags for them, and fuzz_inject.inject
    with its own seeded PRNG; without, the module is what it always was.

    Deterministic: the same seed gives the same module (with the same
    binaryen and spec suite). A reference-types module that both engines
    refuse is made again without reference types (noted:
    REF_TYPES_INVALID), one whose spec-suite initial content binaryen
    refuses is made again without it (noted). Raises BinaryenMissing.
    """
    rng = random.Random(f"wasmbox-fuzz-{seed}")
    input_bytes = rng.randbytes(rng.randint(*INPUT_BYTES))
    ref_types = rng.random() < P_REF_TYPES
    memory64 = rng.random() < P_MEMORY64
    opt = rng.choice(OPT_LEVELS) if rng.random() < P_OPTIMISE else None
    chosen = seed_features(seed, features)
    flags = _feature_flags(FEATURE_FLAGS, chosen) + ([opt] if opt else [])
    initial, initial_note = _initial_content(rng, memory64, FI.SIMD in chosen)
    gen = Generated(seed, None, flags + ([initial_note] if initial_note else [])
                    + (["(NaN constants hidden)"] if hide_nans else [])
                    + ([f"(fuzz_inject: {','.join(chosen)})"] if chosen else []),
                    features=chosen)
    # (reference types?, initial content): a retry drops what binaryen cannot do
    attempts = [(r, initial) for r in ([True, False] if ref_types else [False])]
    while attempts:
        with_refs, init = attempts.pop(0)
        try:
            data = _run_wasm_opt(input_bytes, flags + ([REF_TYPES_FLAG] if with_refs else [])
                                 + (["-n"] if memory64 else []), init)
        except subprocess.CalledProcessError as e:
            if init is not None and not memory64:
                # the suite module needs a feature that is off (or binaryen chokes on it)
                gen.notes.append("wasm-opt refused a spec-suite module as initial content; "
                                 "made again without it")
                gen.flags.remove(initial_note)
                attempts = [(with_refs, None)] + [(r, None) for r, _ in attempts]
                continue
            err = (e.stderr or b"").decode(errors="replace").strip().splitlines()
            gen.notes.append("wasm-opt failed: " + (err[-1][:80] if err else f"exit {e.returncode}"))
            return gen
        except subprocess.TimeoutExpired:
            gen.notes.append(f"wasm-opt ran past {WASM_OPT_SECONDS} s")
            return gen
        try:
            if memory64:
                data = fix_memory64_offsets(data)
            if hide_nans:
                data = hide_nan_constants(data)
        except WasmboxError:
            pass  # not decodable: left to the engines to refuse
        if chosen and not (with_refs and _both_refuse(data)):
            try:
                data, gen.added = FI.inject(data, set(chosen),
                                            random.Random(f"wasmbox-fuzz-inject-{seed}"))
            except Exception as e:  # noqa: BLE001 - counted (a fuzz_inject bug shows up there)
                gen.notes.append(f"fuzz_inject could not rewrite the module: {type(e).__name__}: "
                                 f"{str(e)[:60]}")
        if with_refs and _both_refuse(data):
            gen.notes.append(REF_TYPES_INVALID)
            continue
        gen.data = data
        if FI.SIMD in chosen:
            gen.added[FI.SIMD] = _simd_instructions(data)
        if with_refs:
            gen.flags.append(REF_TYPES_FLAG)
        return gen
    return gen


# ------------------------------------------------------------------ running


@dataclass
class Finding:
    """The first disagreement of a module: enough to replay, minimise and report it."""

    seed: int | None
    kind: str  # "divergence" | "crash"
    signature: str
    aspect: str
    detail: str
    export: str | None
    calls: list[tuple[str, list[Any]]]
    wasmbox: str
    wasmtime: str
    message: str
    data: bytes  # the module as generated (before canonicalize_nans)
    flags: list[str]

    @property
    def bug_key(self) -> str:
        """A coarse key that findings of one bug are likely to share (for
        minimising only a few of each): kind, aspect and detail, numbers
        and names left out."""
        detail = re.sub(r"\d+", "#", self.detail)
        if self.aspect in ("memory", "global", "table"):
            detail = detail.split()[-1] if " " in detail else ""
        return f"{self.kind}|{self.aspect}|{detail}"


@dataclass
class ModuleResult:
    """What running one module gave."""

    seed: int | None
    exports: int = 0
    stats: D.Stats = field(default_factory=D.Stats)
    skipped: Counter = field(default_factory=Counter)  # reason -> count
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    #: the instructions fuzz_inject added to the module, by name
    added: Counter = field(default_factory=Counter)

    @property
    def calls(self) -> int:
        return self.stats.counts["calls compared"]


def _load_check(data: bytes, where: str) -> str | None:
    """Load data in both engines. Returns None when both accept it, a skip
    reason when both refuse it. Raises Disagreement when exactly one
    refuses it, Crash when wasmbox fails other than with its own errors."""
    wt_err: str | None = None
    wb_err: str | None = None
    try:
        W.Module(D.WT_ENGINE, data)
    except Exception as e:  # noqa: BLE001 - compared below
        wt_err = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
    try:
        Module(D.WB_ENGINE, data)
    except WasmboxError as e:
        wb_err = f"{type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001 - a crash
        c = D.Crash(f"{where}: loading the module: wasmbox raises {type(e).__name__}: {e}",
                    "validation", None, type(e).__name__)
        c.wasmbox, c.wasmtime = f"raises {type(e).__name__}: {e}", wt_err or "ok"
        raise c from None
    if wt_err is None and wb_err is None:
        return None
    if wt_err is not None and wb_err is not None:
        return f"refused by both engines: wasmtime: {wt_err[:60]}"
    d = D.Disagreement(f"{where}: loading the module: wasmbox {wb_err or 'accepts it'}, "
                       f"wasmtime {wt_err or 'accepts it'}", "validation")
    d.wasmbox, d.wasmtime = wb_err or "accepts", wt_err or "accepts"
    raise d


def _printed(data: bytes) -> str | None:
    try:
        return print_module(decode_module(data))
    except Exception:  # noqa: BLE001 - the text is only for reports
        return None


def make_pair(data: bytes, where: str) -> D.Pair:
    """The Pair of a module as generated: NaN results canonicalised, the
    fuzzing-support imports, text for reproducers. Raises what Pair raises."""
    canon = canonicalize_nans(data)
    case = D.ModuleCase("binaryen", 0, canon, _printed(canon), label=where)
    return D.Pair(case, fuzzing_support(), nans_canonical=True)


def zero_args(params: tuple[str, ...]) -> list[Any]:
    """All-zero arguments (null references)."""
    return [D.EDGES[t][0] for t in params]


def _finding(e: D.Disagreement, seed: int | None, data: bytes, flags: list[str]) -> Finding:
    return Finding(seed, e.kind, e.signature(), e.aspect, e.detail, e.export, e.calls,
                   e.wasmbox, e.wasmtime, str(e), data, flags)


def run_module(gen: Generated, calls_per_export: int = CALLS_PER_EXPORT) -> ModuleResult:
    """Run one generated module in both engines and compare (see the module
    docstring). Never raises for what the module does: disagreements are
    the result's ``findings`` (after one, the next export goes on with
    fresh instances), a module that cannot take part is counted in
    ``skipped`` with its reason."""
    t0 = time.perf_counter()
    res = ModuleResult(gen.seed, added=gen.added)
    for note in gen.notes:
        res.skipped[note] += 1
    try:
        _run(gen, res, calls_per_export)
    except D.Disagreement as e:
        res.findings.append(_finding(e, gen.seed, gen.data or b"", gen.flags))
    res.seconds = time.perf_counter() - t0
    return res


def where_of(seed: int | None) -> str:
    return f"binaryen -ttf seed {seed} (again: python tools/fuzz.py --seed {seed} --modules 1)"


def _run(gen: Generated, res: ModuleResult, calls_per_export: int) -> None:
    data = gen.data
    if data is None:
        return
    where = where_of(gen.seed)
    missing = fuzzing_support().missing(decode_module(data))
    if missing:
        res.skipped["imports that neither engine provides: " + ", ".join(missing)] += 1
        return
    reason = _load_check(data, where)
    if reason is not None:
        res.skipped[reason] += 1
        return
    pair = make_pair(data, where)
    res.exports = len(pair.funcs)
    if len(pair.callable) < len(pair.funcs):
        res.skipped["exported functions with parameters of unsupported types"] += \
            len(pair.funcs) - len(pair.callable)
    rng = random.Random(f"wasmbox-fuzz-args-{gen.seed}")
    hang = next((f for f in pair.callable if f.name == HANG_LIMIT_EXPORT and not f.params), None)
    # every argument list first, so that they do not depend on what happens
    pending = [(f, [zero_args(f.params) if k == 0 else D.draw_args(rng, f.params)
                    for k in range(calls_per_export)]) for f in pair.callable]
    while pending:
        try:
            with D.Session(pair, pair.callable, res.stats) as session:
                while pending:
                    f, arg_lists = pending[0]
                    for args in arg_lists:
                        if hang is not None and f is not hang:
                            session.call(hang, [])
                        session.call(f, args)
                    pending.pop(0)
                session.check_state(full=True)
        except D.Disagreement as e:
            res.findings.append(_finding(e, gen.seed, data, gen.flags))
            # go on with the next export on fresh instances, to find more
            if e.export is None or len(res.findings) >= MAX_FINDINGS_PER_MODULE:
                return
            while pending and pending[0][0].name != e.export:
                pending.pop(0)
            if pending:
                pending.pop(0)


# ------------------------------------------------------------------ replaying


def replay(data: bytes, calls: list[tuple[str, list[Any]]], where: str,
           stats: D.Stats | None = None) -> None:
    """Load a module (as generated) in both engines and make the calls on
    fresh instances, comparing as the fuzzer does; then compare all state.

    Calls of functions the module does not export (with that name and
    arity) are left out, except the last: a minimised module may have lost
    the others. Raises Disagreement; ValueError when both engines refuse
    the module or the last call's function is not exported.
    """
    reason = _load_check(data, where)
    if reason is not None:
        raise ValueError(f"{where}: {reason}")
    pair = make_pair(data, where)
    funcs = {f.name: f for f in pair.callable}
    if calls and (calls[-1][0] not in funcs or len(funcs[calls[-1][0]].params) !=
                  len(calls[-1][1])):
        raise ValueError(f"{where}: the module does not export {calls[-1][0]!r} as called")
    with D.Session(pair, pair.callable, stats or D.Stats()) as session:
        for name, args in calls:
            f = funcs.get(name)
            if f is None or len(f.params) != len(args):
                continue
            session.call(f, [_arg_from_json(t, a) for t, a in zip(f.params, args)])
        session.check_state(full=True)


def reproduce(data: bytes, calls: list[tuple[str, list[Any]]]) -> D.Disagreement | None:
    """The disagreement that replaying the calls on data gives, if any."""
    try:
        replay(data, calls, "minimised")
    except D.Disagreement as e:
        return e
    except ValueError:
        return None
    return None


def check_output(spec: dict[str, Any], data: bytes) -> str:
    """What a candidate module does with spec's calls: the disagreement's
    signature when it disagrees as spec says, else ``other: ...``."""
    try:
        replay(data, [(n, a) for n, a in spec["calls"]], "candidate")
    except D.Disagreement as e:
        return e.signature() if e.signature() == spec["signature"] else f"other: {e.signature()}"
    except ValueError as e:
        return f"other: {str(e)[:80]}"
    except Exception as e:  # noqa: BLE001 - e.g. the candidate does not decode
        return f"other: {type(e).__name__}"
    return "other: agree"


# ------------------------------------------------------------------ arguments as JSON


def _arg_to_json(a: Any) -> Any:
    if isinstance(a, D.FuncArg):
        return {"func": a.k}
    return a


def _arg_from_json(t: str, a: Any) -> Any:
    if t == "funcref" and isinstance(a, dict):
        return D.FuncArg(a["func"])
    return a


def calls_to_json(calls: list[tuple[str, list[Any]]]) -> list[list[Any]]:
    return [[name, [_arg_to_json(a) for a in args]] for name, args in calls]


# ------------------------------------------------------------------ minimising


def spec_of(finding: Finding) -> dict[str, Any]:
    """What a candidate must reproduce: the calls and the signature."""
    return {"calls": calls_to_json(finding.calls), "signature": finding.signature}


class _OutOfTime(Exception):
    """The reducer's time is up (it keeps what it has)."""


class _Construct:
    """A block, loop or if of a body seen as a tree: the opening
    instruction, its arms (the sequences between opener, separators and
    ``end``) and the separators (``else``)."""

    __slots__ = ("opener", "arms", "seps")

    def __init__(self, opener: sm.Instr) -> None:
        self.opener = opener
        self.arms: list[list[Any]] = [[]]
        self.seps: list[sm.Instr] = []


def _tree(body: list[sm.Instr]) -> list[Any]:
    """The body as a sequence of instructions and _Constructs."""
    top: list[Any] = []
    seqs = [top]
    open_: list[_Construct] = []
    for ins in body:
        if ins.op in BLOCK_OPENERS:
            c = _Construct(ins)
            seqs[-1].append(c)
            open_.append(c)
            seqs.append(c.arms[0])
        elif ins.op in _SEPARATORS and open_:
            c = open_[-1]
            c.seps.append(ins)
            c.arms.append([])
            seqs[-1] = c.arms[-1]
        elif ins.op == "end" and open_:
            open_.pop()
            seqs.pop()
        else:
            seqs[-1].append(ins)
    return top


def _flat(seq: list[Any]) -> list[sm.Instr]:
    out: list[sm.Instr] = []
    for item in seq:
        if isinstance(item, _Construct):
            out.append(item.opener)
            for k, arm in enumerate(item.arms):
                if k:
                    out.append(item.seps[k - 1])
                out.extend(_flat(arm))
            out.append(sm.Instr("end"))
        else:
            out.append(item)
    return out


def _sequences(seq: list[Any]) -> list[list[Any]]:
    """Every sequence of a tree, pre-order (a deletion in the k-th leaves
    the first k alone)."""
    out = [seq]
    for item in seq:
        if isinstance(item, _Construct):
            for arm in item.arms:
                out.extend(_sequences(arm))
    return out


def _exprs(m: sm.Module) -> list[list[sm.Instr]]:
    """Every instruction list of m: bodies and constant expressions."""
    out = [f.body for f in m.funcs] + [g.init for g in m.globals]
    out += [t.init for t in m.tables if t.init is not None]
    for e in m.elems:
        out += list(e.init) + ([e.offset] if e.offset is not None else [])
    out += [d.offset for d in m.datas if d.offset is not None]
    return out


def _map_imms(m: sm.Module, kind: str, fn: Any) -> None:
    """Replace, in place, every immediate of this kind (and, for "type",
    every block type index) in m's instruction lists by fn(index)."""
    for instrs in _exprs(m):
        for i, ins in enumerate(instrs):
            kinds = OPS[ins.op].imms if ins.op in OPS else ()
            if not any(k == kind or (kind == "type" and k == "bt") for k in kinds):
                continue
            imm = tuple(fn(v) if k == kind or (k == "bt" and kind == "type" and
                                                 isinstance(v, int)) else v
                        for k, v in zip(kinds, ins.imm))
            instrs[i] = sm.Instr(ins.op, imm)


def _used(m: sm.Module, kind: str) -> set[int]:
    found: set[int] = set()

    def note(v: int) -> int:
        found.add(v)
        return v

    _map_imms(m, kind, note)
    return found


_SPACES = {"func": sm.ExternKind.FUNC, "global": sm.ExternKind.GLOBAL}


def _drop_unused(m: sm.Module, kind: str) -> bool:
    """Remove the functions or globals (kind) that nothing refers to,
    renumbering the rest. Returns whether any were removed."""
    ek = _SPACES[kind]
    used = _used(m, kind) | {e.index for e in m.exports if e.kind is ek}
    if kind == "func" and m.start is not None:
        used.add(m.start)
    imported = [i for i in m.imports if i.kind is ek]
    defined = m.funcs if kind == "func" else m.globals
    n = len(imported) + len(defined)
    keep = [i in used for i in range(n)]
    if all(keep):
        return False
    new_index = {old: new for new, old in enumerate(i for i in range(n) if keep[i])}
    drop_imports = {id(imp) for k, imp in enumerate(imported) if not keep[k]}
    m.imports = [i for i in m.imports if id(i) not in drop_imports]
    kept = [d for k, d in enumerate(defined) if keep[len(imported) + k]]
    if kind == "func":
        m.funcs = kept
        m.start = None if m.start is None else new_index[m.start]
    else:
        m.globals = kept
    _map_imms(m, kind, lambda v: new_index[v])
    for e in m.exports:
        if e.kind is ek:
            e.index = new_index[e.index]
    m.names = sm.Names()
    return True


def _drop_segment(m: sm.Module, kind: str, index: int) -> None:
    """Remove data (kind "data") or element ("elem") segment index,
    renumbering the rest. Raises KeyError when an instruction refers to it."""
    segs = m.datas if kind == "data" else m.elems
    new_index = {old: old - (old > index) for old in range(len(segs)) if old != index}
    del segs[index]
    _map_imms(m, kind, lambda v: new_index[v])
    if kind == "data" and m.data_count is not None:
        m.data_count = len(m.datas)


def _drop_unused_types(m: sm.Module) -> bool:
    """Remove the function types nothing refers to (only when every
    recursion group holds one type), renumbering the rest."""
    if any(len(rec.subtypes) != 1 for rec in m.types):
        return False
    used = _used(m, "type") | {f.type_index for f in m.funcs}
    used |= {i.desc for i in m.imports if i.kind is sm.ExternKind.FUNC}
    keep = [k in used for k in range(len(m.types))]
    if all(keep):
        return False
    new_index = {old: new for new, old in enumerate(k for k in range(len(m.types)) if keep[k])}
    m.types = [t for k, t in enumerate(m.types) if keep[k]]
    _map_imms(m, "type", lambda v: new_index[v])
    for f in m.funcs:
        f.type_index = new_index[f.type_index]
    for i in m.imports:
        if i.kind is sm.ExternKind.FUNC:
            i.desc = new_index[i.desc]
    return True


def _drop_unused_locals(f: sm.Func, n_params: int) -> bool:
    used = {ins.imm[0] for ins in f.body if ins.op in ("local.get", "local.set", "local.tee")}
    keep = [n_params + k in used for k in range(len(f.locals))]
    if all(keep):
        return False
    new_index = {i: i for i in range(n_params)}
    for k in range(len(f.locals)):
        if keep[k]:
            new_index[n_params + k] = len(new_index)
    f.locals = [t for k, t in enumerate(f.locals.types()) if keep[k]]
    f.body = [sm.Instr(ins.op, (new_index[ins.imm[0]],))
              if ins.op in ("local.get", "local.set", "local.tee") else ins for ins in f.body]
    return True


class Reducer:
    """Shrinks a module (and the calls before the failing one) while the
    finding's signature stays the same: greedy passes over the module's
    structure, repeated while they make it smaller -- drop earlier calls
    and exports; empty function bodies (``unreachable``); remove what
    nothing refers to (functions, imports, globals, locals); delete runs
    of instructions (ddmin over every instruction sequence, a block or if
    being one item), unwrap blocks and ifs, cut sequences short with
    ``unreachable``; shorten and remove segments, remove tables, memories
    and types nobody uses. Every candidate is checked
    by replaying the calls in both engines (check_output), in process.
    """

    def __init__(self, data: bytes, spec: dict[str, Any], seconds: float) -> None:
        self.m = decode_module(data)
        self.calls: list[Any] = list(spec["calls"])
        self.signature: str = spec["signature"]
        self.deadline = time.monotonic() + seconds
        self.tests = 0

    def _interesting(self, m: sm.Module, calls: list[Any]) -> bool:
        if time.monotonic() > self.deadline:
            raise _OutOfTime
        try:
            data = encode_module(m)
        except Exception:  # noqa: BLE001 - a candidate that does not encode
            return False
        self.tests += 1
        return check_output({"calls": calls, "signature": self.signature}, data) == \
            self.signature

    def _try(self, change: Any) -> bool:
        """Apply change (which returns False when it does not apply) to a
        copy of the module; keep the copy when it is still interesting."""
        cand = copy.deepcopy(self.m)
        try:
            if change(cand) is False:
                return False
        except (KeyError, IndexError):  # the change does not apply to this module
            return False
        if not self._interesting(cand, self.calls):
            return False
        self.m = cand
        return True

    def size(self) -> int:
        return len(encode_module(self.m)) + len(self.calls)

    def run(self) -> tuple[bytes, list[Any]]:
        """The smallest module and calls found before the time ran out."""
        try:
            while True:
                before = self.size()
                for step in (self._reduce_calls, self._reduce_exports, self._empty_bodies,
                             self._unused, self._reduce_bodies, self._reduce_data,
                             self._reduce_segments):
                    step()
                if self.size() >= before:
                    break
        except _OutOfTime:
            pass
        return encode_module(self.m), self.calls

    # -- passes -----------------------------------------------------------------
    def _reduce_calls(self) -> None:
        i = 0
        while i < len(self.calls) - 1:
            cand = self.calls[:i] + self.calls[i + 1:]
            if self._interesting(self.m, cand):
                self.calls = cand
            else:
                i += 1

    def _reduce_exports(self) -> None:
        target = self.calls[-1][0] if self.calls else None
        i = 0
        while i < len(self.m.exports):
            def drop(m: sm.Module, i: int = i) -> None:
                del m.exports[i]
            if self.m.exports[i].name == target or not self._try(drop):
                i += 1

    def _empty_bodies(self) -> None:
        for j in range(len(self.m.funcs)):
            if self.m.funcs[j].body != [sm.Instr("unreachable")]:
                self._try(lambda m, j=j: setattr(m.funcs[j], "body", [sm.Instr("unreachable")]))

    def _unused(self) -> None:
        self._try(lambda m: _drop_unused(m, "func"))
        self._try(lambda m: _drop_unused(m, "global"))
        types = [sub.comp for rec in self.m.types for sub in rec.subtypes]
        for j in range(len(self.m.funcs)):
            n_params = len(types[self.m.funcs[j].type_index].params)
            self._try(lambda m, j=j, n=n_params: _drop_unused_locals(m.funcs[j], n))

    def _reduce_bodies(self) -> None:
        for j in range(len(self.m.funcs)):
            k = 0
            while k < len(_sequences(_tree(self.m.funcs[j].body))):
                self._ddmin(j, k)
                self._unwrap(j, k)
                self._cut(j, k)
                k += 1

    def _edit(self, j: int, k: int, edit: Any) -> Any:
        """A change: edit(sequence) on the k-th sequence of function j."""
        def change(m: sm.Module) -> bool | None:
            tree = _tree(m.funcs[j].body)
            seqs = _sequences(tree)
            if k >= len(seqs) or edit(seqs[k]) is False:
                return False
            m.funcs[j].body = _flat(tree)
            return None
        return change

    def _seq_len(self, j: int, k: int) -> int:
        seqs = _sequences(_tree(self.m.funcs[j].body))
        return len(seqs[k]) if k < len(seqs) else 0

    def _ddmin(self, j: int, k: int) -> None:
        chunk = max(1, self._seq_len(j, k) // 2)
        while chunk >= 1:
            i = 0
            while i < self._seq_len(j, k):
                def cut(seq: list[Any], i: int = i, c: int = chunk) -> None:
                    del seq[i:i + c]
                if not self._try(self._edit(j, k, cut)):
                    i += chunk
            chunk //= 2

    def _unwrap(self, j: int, k: int) -> None:
        i = 0
        while i < self._seq_len(j, k):
            for arm in (0, 1):
                def unwrap(seq: list[Any], i: int = i, arm: int = arm) -> bool | None:
                    c = seq[i] if i < len(seq) else None
                    if not isinstance(c, _Construct) or arm >= len(c.arms):
                        return False
                    extra = [sm.Instr("drop")] if c.opener.op == "if" else []
                    seq[i:i + 1] = extra + c.arms[arm]
                    return None
                if self._try(self._edit(j, k, unwrap)):
                    break
            i += 1

    def _cut(self, j: int, k: int) -> None:
        n = self._seq_len(j, k)
        i = 0
        while i < n:
            def cut(seq: list[Any], i: int = i) -> bool | None:
                if seq[i:] == [sm.Instr("unreachable")]:
                    return False
                seq[i:] = [sm.Instr("unreachable")]
                return None
            if self._try(self._edit(j, k, cut)):
                return
            i = max(i + 1, (i + n) // 2)

    def _reduce_segments(self) -> None:
        for kind in ("data", "elem"):
            k = len(self.m.datas if kind == "data" else self.m.elems) - 1
            while k >= 0:
                self._try(lambda m, kind=kind, k=k: _drop_segment(m, kind, k))
                k -= 1

        def no_tables(m: sm.Module) -> bool | None:
            if not m.tables or m.elems:
                return False
            m.tables = []
            return None

        def no_memories(m: sm.Module) -> bool | None:
            if not m.mems or m.datas:
                return False
            m.mems = []
            m.data_count = None
            return None

        self._try(no_tables)
        self._try(no_memories)
        self._try(_drop_unused_types)

    def _reduce_data(self) -> None:
        for d in range(len(self.m.datas)):
            n = len(self.m.datas[d].init)
            while n > 0:
                n //= 2
                if not self._try(lambda m, d=d, n=n: setattr(m.datas[d], "init",
                                                             m.datas[d].init[:n])):
                    break


def minimise(finding: Finding, seconds: float = 300.0,
             verbose: bool = False) -> tuple[bytes, list[tuple[str, list[Any]]]]:
    """A smaller module and fewer calls that disagree the same way (see
    Reducer); the finding's own when it does not reproduce on fresh
    instances outside the run. Never raises for what the module does."""
    spec = spec_of(finding)
    if check_output(spec, finding.data) != finding.signature:
        if verbose:
            print("  does not reproduce on its own: saved as found")
        return finding.data, finding.calls
    r = Reducer(finding.data, spec, seconds)
    data, calls = r.run()
    if verbose:
        print(f"  reducer: {r.tests} candidates tried, {len(finding.data)} -> {len(data)} bytes, "
              f"{len(finding.calls)} -> {len(calls)} calls")
    return data, [(n, a) for n, a in calls]


# ------------------------------------------------------------------ cases


def module_text(data: bytes) -> str:
    """The text of a module: wabt's wasm2wat when installed, else wasmbox's printer."""
    tool = shutil.which("wasm2wat")
    if tool is not None:
        with tempfile.NamedTemporaryFile(suffix=".wasm") as f:
            f.write(data)
            f.flush()
            p = subprocess.run([tool, "--enable-all", f.name], capture_output=True)
        if p.returncode == 0:
            return p.stdout.decode()
    return _printed(data) or ";; (no text: the module does not print)\n"


def save_case(finding: Finding, data: bytes, calls: list[tuple[str, list[Any]]],
              out: Path = CASES_DIR) -> Path:
    """Save a (minimised) finding -- module data, calls -- as
    out/<name>.wasm, .wat and .json; the JSON has the calls, both outcomes
    (as the minimised module gives them) and where it came from. Returns
    the .json path."""
    out.mkdir(parents=True, exist_ok=True)
    again = reproduce(data, calls)
    outcome = finding if again is None else _finding(again, finding.seed, data, finding.flags)
    digest = hashlib.sha256(data).hexdigest()[:10]
    name = f"{finding.kind}-{finding.aspect or 'other'}-seed{finding.seed}-{digest}"
    (out / f"{name}.wasm").write_bytes(data)
    (out / f"{name}.wat").write_text(module_text(data))
    meta = {
        "module": f"{name}.wasm",
        "found_by": "tools/fuzz.py: binaryen 108 wasm-opt -ttf, minimised by fuzz_support.Reducer",
        "seed": finding.seed,
        "wasm_opt_flags": finding.flags,
        "nans": "canonicalised when replaying (fuzz_support.canonicalize_nans)",
        "kind": finding.kind,
        "signature": outcome.signature,
        "export": outcome.export,
        "calls": calls_to_json(calls),
        "wasmbox": outcome.wasmbox,
        "wasmtime": outcome.wasmtime,
        "original_module_bytes": len(finding.data),
        "minimised_module_bytes": len(data),
        "original_calls": len(finding.calls),
    }
    path = out / f"{name}.json"
    path.write_text(json.dumps(meta, indent=1) + "\n")
    return path


def load_cases(where: Path = CASES_DIR) -> list[Path]:
    """The .json files of the saved cases, sorted."""
    return sorted(where.glob("*.json"))


def replay_case(path: Path) -> D.Stats:
    """Replay a saved case (see replay). Raises Disagreement when the
    engines still disagree; ValueError for a case that is broken."""
    meta = json.loads(path.read_text())
    data = (path.parent / meta["module"]).read_bytes()
    stats = D.Stats()
    replay(data, [(n, a) for n, a in meta["calls"]], f"{path.name} (seed {meta['seed']})", stats)
    return stats
