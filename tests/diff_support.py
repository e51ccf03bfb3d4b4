"""Differential testing support: run the same Wasm module in wasmbox and in
wasmtime (the reference engine) and compare what the two do.

Used by ``tests/test_differential_wasmtime.py`` and by the binaryen
fuzzer (``tools/fuzz_support.py``, docs/fuzzing.md). The pieces:

* :func:`load_file_cases` -- the plain ``module`` commands of one ``.wast``
  file (text, binary and quote modules) as binary modules, with the reasons
  the others were left out (imports from registered script modules,
  ``module definition``).
* :class:`Pair` -- one module loaded in both engines from the same bytes:
  the module with every memory, table and global exported
  (:func:`export_all_state`), so that all of its state can be compared.
  Each engine gets the spectest module. Values cross the boundary as raw
  bits on both sides: in wasmbox through ``Func.call_raw``; in wasmtime
  through a *probe* module that imports the exported functions and globals
  and re-exports them with every f32/f64 reinterpreted as i32/i64
  (wasmtime-py converts floats through C doubles, which would quiet
  signalling NaNs).
* :class:`Session` -- a fresh instance in each engine; :meth:`Session.call`
  runs one call in wasmtime first, with fuel (a call that runs out is not
  run in wasmbox: it may not terminate; both instances are then replaced),
  then in wasmbox under a wall-clock limit, and compares results (or trap
  kinds, or an uncaught Wasm exception's tag and payload), then memories
  and globals; :meth:`Session.check_state` also
  compares tables.
* Argument values: Hypothesis strategies per value type (:data:`ARG_BITS`,
  edge values mixed with random bits), the same mixture from a seeded
  ``random.Random`` (:func:`draw_args`) and a deterministic sweep of edge
  values (:func:`sweep_args`). References: null, host values (externref),
  exported functions (funcref).
* Host modules (:class:`HostImports`): the spectest module by default;
  the fuzzer's logging functions record their calls with raw bits in each
  engine, compared after every call.
* Fuel: wasmtime always runs with it; wasmbox too once it has
  ``Config.consume_fuel`` (:data:`WASMBOX_FUEL`), and then the fuel left
  after every call is compared; :data:`FUEL_STATUS` says which.

A disagreement raises :class:`Disagreement` (an AssertionError) whose
message is a reproducer: file, line, module text, the calls made on the
instance (just the failing one when it disagrees on fresh instances too),
and both outcomes; :class:`Crash` (a Disagreement) when wasmbox raised
something that is not a wasmbox error, or hung.

Where the spec allows nondeterminism -- the sign and payload of a NaN made
by a float arithmetic instruction -- :func:`floats_agree` accepts any
result the spec allows, but only for functions that can reach such an
instruction (:func:`nan_nondeterministic_funcs`); all other results must
agree bit for bit (a Pair made with ``nans_canonical`` -- the fuzzer's,
after its ``canonicalize_nans`` -- allows no difference at all). NaNs
stored to memory or globals are treated the same
way (:func:`nan_blind_difference`), and wasmbox's state is then set to
wasmtime's so both continue from the same state. The depth at which the
call stack is exhausted is implementation defined: when exactly one engine
reports "call stack exhausted" the call is counted, not compared, and both
instances are replaced -- unless wasmtime used less fuel than wasmbox's
depth limit in calls, which no real exhaustion can do.
"""
from __future__ import annotations

import ctypes
import gc
import random
import signal
import threading
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import wasmtime as W
from wasmtime import _ffi as _WFFI  # the exception API that wasmtime-py does not wrap
from hypothesis import strategies as st

from wasmbox import Config, Engine, Linker, Module, Store, Trap, TrapCode, WasmboxError
from wasmbox.errors import WasmException
from wasmbox.binary import encode_module
from wasmbox.binary.decode import decode_module
from wasmbox.exec import numerics as N
from wasmbox.host.spectest import define_spectest
from wasmbox.syntax import module as sm
from wasmbox.text.parse import parse_module
from wasmbox.text.wast import ModuleCommand, parse_script

# ------------------------------------------------------------------ limits

#: Fuel for one call (roughly one unit per instruction; see
#: :data:`WASMBOX_FUEL` for which engines get it).
FUEL = 100_000
#: Fuel for instantiation (constant expressions, segments and the start
#: function consume fuel in wasmtime): plenty, so that only a start
#: function that does not terminate runs out. Per-call fuel is set after.
INSTANTIATION_FUEL = 100_000_000
#: Both engines refuse to grow a memory past this many pages (64 MiB), so a
#: random ``memory.grow`` cannot eat the machine and both fail alike.
MEMORY_PAGES_LIMIT = 1024
#: The same for tables, in elements.
TABLE_ELEMENTS_LIMIT = 10_000
#: wasmbox's stack budget (Config.max_wasm_stack: at most about 2,300 of its
#: smallest frames, fewer of larger ones), and wasmtime's stack size. wasmbox
#: should run out of depth no later than wasmtime runs out of stack (512
#: bytes per frame is more than most functions need), so that a call which wasmtime ended
#: with "call stack exhausted" is bounded in wasmbox by the same work, i.e.
#: by FUEL; and the stack small enough that unbounded recursion exhausts it
#: within FUEL (a minimal wasmtime frame is 32 bytes and costs 6 fuel).
WASMBOX_MAX_WASM_STACK = 500 * 512
WASMTIME_MAX_WASM_STACK = 256 << 10
#: Wall-clock limit for one wasmbox call (after wasmtime finished the same
#: call within FUEL): a wasmbox hang fails the test instead of hanging it.
WASMBOX_CALL_SECONDS = 20.0
#: Memories up to this size are compared after every call, larger ones at
#: the end of a call sequence.
SMALL_MEMORY_BYTES = 1 << 20

#: At most this many earlier calls are shown in a reproducer.
MAX_HISTORY = 200
#: Module text longer than this is cut in a reproducer (file and line are given).
MAX_SOURCE = 4000
#: Entries (frames, mostly) of wasmbox's traceback shown for a crash.
CRASH_TRACEBACK_ENTRIES = 8

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
M128 = (1 << 128) - 1
NUM_TYPES = ("i32", "i64", "f32", "f64")
V128 = "v128"
REF_TYPES = ("funcref", "externref")

#: Instructions whose NaN results the spec leaves partly open (sign and,
#: for non-canonical NaN operands, payload): float arithmetic.
NAN_NONDETERMINISTIC = frozenset(
    f"{t}.{op}" for t in ("f32", "f64")
    for op in ("add", "sub", "mul", "div", "sqrt", "min", "max", "ceil", "floor", "trunc",
               "nearest")
) | {"f32.demote_f64", "f64.promote_f32"}
#: The same for SIMD: the lane-wise float arithmetic (each lane as the
#: scalar instruction), relaxed SIMD's float instructions included.
SIMD_NAN_NONDETERMINISTIC = frozenset(
    f"{s}.{op}" for s in ("f32x4", "f64x2")
    for op in ("add", "sub", "mul", "div", "sqrt", "min", "max", "ceil", "floor", "trunc",
               "nearest", "relaxed_madd", "relaxed_nmadd", "relaxed_min", "relaxed_max")
) | {"f32x4.demote_f64x2_zero", "f64x2.promote_low_f32x4"}


class Disagreement(AssertionError):
    """The engines disagree; the message is a reproducer.

    ``aspect`` says what differs ("result", "trap", "log", "fuel", "memory",
    "global", "table", "instantiation", "exports", "error"); ``export`` is
    the function whose call disagreed (None outside calls); ``calls`` the
    calls that lead to it on fresh instances, as ``(export name, raw
    argument bits)`` pairs, the failing call last (set by
    :meth:`Session.call`: just the failing call when it disagrees on
    fresh instances too). ``detail`` narrows the aspect down (which
    result value and its type, which trap against what, which memory or
    global, ...). ``wasmbox`` and ``wasmtime`` are what each engine did,
    in words (empty when not known). Minimisers keep a candidate when it
    fails with the same :meth:`signature`.
    """

    def __init__(self, message: str, aspect: str = "", export: str | None = None,
                 detail: str = "") -> None:
        super().__init__(message)
        self.aspect = aspect
        self.export = export
        self.detail = detail
        self.calls: list[tuple[str, list[Any]]] = []
        self.wasmbox = ""
        self.wasmtime = ""

    @property
    def kind(self) -> str:
        """"divergence" (the engines disagree) or "crash" (see :class:`Crash`)."""
        return "divergence"

    def signature(self) -> str:
        """What must stay the same while a reproducer is minimised."""
        return f"{self.kind} {self.aspect} {self.export or '-'} {self.detail}".rstrip()


class Crash(Disagreement):
    """wasmbox failed as no engine may: it raised something other than its
    own error classes (:class:`~wasmbox.errors.WasmboxError`), or a call
    hung (ran past WASMBOX_CALL_SECONDS after wasmtime finished it within
    fuel). ``error`` names the exception type."""

    def __init__(self, message: str, aspect: str = "", export: str | None = None,
                 error: str = "") -> None:
        super().__init__(message, aspect, export, detail=error)
        self.error = error

    @property
    def kind(self) -> str:
        return "crash"


class CallTimeout(Exception):
    """A wasmbox call ran past WASMBOX_CALL_SECONDS."""


# ------------------------------------------------------------------ corpus


@dataclass(frozen=True)
class ModuleCase:
    """A module of a script: where it is, and its binary encoding."""

    file: str
    line: int
    data: bytes
    source: str | None  # the text, for reproducers (None for binary modules)
    #: Says where the module comes from when it is not a script's (e.g. a
    #: fuzzer's seed); replaces file:line in reproducers.
    label: str | None = None

    @property
    def where(self) -> str:
        return self.label if self.label is not None else f"{self.file}:{self.line}"


@dataclass
class FileCases:
    cases: list[ModuleCase]
    skipped: Counter  # reason -> number of module commands left out


def _module_bytes(m: Any) -> bytes:
    if m.kind == "text":
        return encode_module(m.module)
    if m.kind == "binary":
        return bytes(m.binary)
    return encode_module(parse_module(m.source))  # quote


def load_file_cases(path: Path, rel: str) -> FileCases:
    """Every plain ``module`` command of the script at path.

    Modules whose imports name anything but ``spectest`` are counted in
    ``skipped`` (they need registered script modules), as are module
    definitions (never instantiated by the script). Raises what the parser
    and encoder raise (the suite is expected to parse).
    """
    cases: list[ModuleCase] = []
    skipped: Counter = Counter()
    for cmd in parse_script(path.read_text(encoding="utf-8"), str(path)):
        if not isinstance(cmd, ModuleCommand):
            continue
        m = cmd.module
        if m.definition:
            skipped["module definition (not instantiated)"] += 1
            continue
        data = _module_bytes(m)
        mods = {imp.module for imp in decode_module(data).imports}
        if mods - {"spectest"}:
            skipped["imports from a registered script module"] += 1
            continue
        cases.append(ModuleCase(rel, cmd.line, data, m.source if m.kind != "binary" else None))
    return FileCases(cases, skipped)


# ------------------------------------------------------------------ bits


def is_nan32(b: int) -> bool:
    return (b & 0x7F800000) == 0x7F800000 and (b & 0x7FFFFF) != 0


def is_nan64(b: int) -> bool:
    return (b >> 52) & 0x7FF == 0x7FF and (b & 0xFFFFFFFFFFFFF) != 0


def _nan_info(t: str, b: int) -> tuple[bool, bool, bool]:
    """(is NaN, is arithmetic NaN, is canonical NaN) of bits b of type t."""
    if t == "f32":
        nan = is_nan32(b)
        quiet = bool(b & 0x400000)
        canon = (b & 0x7FFFFFFF) == 0x7FC00000
    else:
        nan = is_nan64(b)
        quiet = bool(b & 0x8000000000000)
        canon = (b & 0x7FFFFFFFFFFFFFFF) == 0x7FF8000000000000
    return nan, nan and quiet, canon


def floats_agree(t: str, ours: int, theirs: int, nondeterministic: bool,
                 noncanonical_nan_arg: bool) -> bool:
    """Whether float result bits agree, allowing the spec's NaN freedom.

    Equal bits always agree. Otherwise, only when the module contains a
    NaN-nondeterministic instruction (``nondeterministic``): both must be
    arithmetic NaNs (quiet bit set; sign free), and when wasmtime's NaN is
    canonical and no argument was a non-canonical NaN, ours must be
    canonical too (an arithmetic instruction whose NaN operands are all
    canonical must give a canonical NaN).
    """
    if ours == theirs:
        return True
    if not nondeterministic:
        return False
    o_nan, o_arith, o_canon = _nan_info(t, ours)
    w_nan, w_arith, w_canon = _nan_info(t, theirs)
    if not (o_arith and w_arith):
        return False
    if w_canon and not o_canon and not noncanonical_nan_arg:
        return False
    return True


def v128_floats_agree(ours: int, theirs: int, noncanonical_nan_arg: bool) -> bool:
    """Whether two v128 results of a NaN-nondeterministic function agree,
    allowing the spec's NaN freedom per lane: each 64-bit half is equal, or
    agrees as an f64 lane (:func:`floats_agree`), or both its 32-bit halves
    agree as f32 lanes (the lane shape is not known from the value)."""
    for k in (0, 64):
        o, w = (ours >> k) & M64, (theirs >> k) & M64
        if o == w or floats_agree("f64", o, w, True, noncanonical_nan_arg):
            continue
        if not all(floats_agree("f32", (o >> j) & M32, (w >> j) & M32, True, noncanonical_nan_arg)
                   for j in (0, 32)):
            return False
    return True


def v128_has_noncanonical_nan(v: int) -> bool:
    """Whether some 32- or 64-bit lane of v is a NaN but not a canonical one."""
    lanes = [("f32", (v >> j) & M32) for j in range(0, 128, 32)] + \
        [("f64", (v >> j) & M64) for j in (0, 64)]
    return any(_nan_info(t, b)[0] and not _nan_info(t, b)[2] for t, b in lanes)


def nan_blind_difference(ours: bytes | bytearray, theirs: bytes) -> int | None:
    """The first index where two equally long memories differ other than by
    NaNs the spec lets differ, or None.

    A differing byte is excused when some 4- or 8-byte little-endian window
    around it holds, on both sides, NaNs that :func:`floats_agree` accepts
    as results of a NaN-nondeterministic instruction.
    """
    n = len(theirs)
    i = 0
    while i < n:
        if ours[i] == theirs[i]:
            i += 1
            continue
        covered_to = -1
        for width, t in ((4, "f32"), (8, "f64")):
            for a in range(max(0, i - width + 1), min(i, n - width) + 1):
                o = int.from_bytes(ours[a:a + width], "little")
                w = int.from_bytes(theirs[a:a + width], "little")
                if _nan_info(t, o)[0] and _nan_info(t, w)[0] and floats_agree(t, o, w, True, True):
                    covered_to = max(covered_to, a + width)
        if covered_to <= i:
            return i
        i = covered_to
    return None


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) else v


# ------------------------------------------------------------------ strategies

_I32_EDGES = sorted({
    0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 255, 256,
    1000, 1024, 4096, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 65532, 65533, 65534, 65535, 65536, 65537,
    0x7FFFFFFE, 0x7FFFFFFF, 0x80000000, 0x80000001, 0xFFFFFFF0, 0xFFFFFFFE, 0xFFFFFFFF,
    0xFFFF0000, 0x0F0F0F0F, 0xF0F0F0F0, 0x55555555, 0xAAAAAAAA, 0x01234567, 0x89ABCDEF,
    0x3F800000, 0x7F800000, 0x7FC00000, 0x7FA00000, 0xFFC00000, 0x80000000 | 1,
} | {(-k) & M32 for k in range(1, 17)})

_I64_EDGES = sorted({
    0, 1, 2, 3, 7, 8, 16, 31, 32, 33, 63, 64, 65, 100, 255, 256, 65535, 65536,
    0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x100000000, 0x100000001,
    0x7FFFFFFFFFFFFFFE, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, 0x8000000000000001,
    0xFFFFFFFF00000000, 0xFFFFFFFF80000000, 0xFFFFFFFFFFFFFFFE, M64,
    0x0123456789ABCDEF, 0xFEDCBA9876543210, 0x5555555555555555, 0xAAAAAAAAAAAAAAAA,
    0x3FF0000000000000, 0x7FF0000000000000, 0x7FF8000000000000, 0x7FF4000000000000,
    (1 << 53) + 1, (1 << 63) + (1 << 39) + 1, (1 << 24) + 1,
} | {(-k) & M64 for k in range(1, 17)})

_F32_EDGES = sorted({
    0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00800000,
    0x80800000, 0x3F800000, 0xBF800000, 0x3F000000, 0xBF000000, 0x3FC00000, 0xBFC00000,
    0x40200000, 0xC0200000, 0x3F7FFFFF, 0xBF7FFFFF, 0x3E800000, 0x40000000, 0xC0000000,
    0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7FA00000,
    0xFFA00000, 0x7F800001, 0xFF800001, 0x7FFFFFFF, 0xFFFFFFFF, 0x7FC00001, 0x7FE00000,
    0x4F000000, 0xCF000000, 0x4EFFFFFF, 0xCEFFFFFF, 0xCF000001, 0x4F800000, 0x4F7FFFFF,
    0x5F000000, 0xDF000000, 0x5EFFFFFF, 0xDF000001, 0x5F800000, 0x5F7FFFFF,
    0x4B000000, 0xCB000000, 0x4B800000, 0x4B7FFFFF, 0x4AFFFFFF, 0x4B000001, 0xCAFFFFFF,
    0x40490FDB, 0x3DCCCCCD, 0x42F60000, 0x7E800000, 0x01000000,
})

_F64_EDGES = sorted({
    0x0000000000000000, 0x8000000000000000, 0x0000000000000001, 0x8000000000000001,
    0x000FFFFFFFFFFFFF, 0x800FFFFFFFFFFFFF, 0x0010000000000000, 0x8010000000000000,
    0x3FF0000000000000, 0xBFF0000000000000, 0x3FE0000000000000, 0xBFE0000000000000,
    0x3FF8000000000000, 0xBFF8000000000000, 0x4004000000000000, 0xC004000000000000,
    0x3FEFFFFFFFFFFFFF, 0xBFEFFFFFFFFFFFFF, 0x4000000000000000, 0x3FD0000000000000,
    0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF, 0x7FF0000000000000, 0xFFF0000000000000,
    0x7FF8000000000000, 0xFFF8000000000000, 0x7FF4000000000000, 0xFFF4000000000000,
    0x7FF0000000000001, 0xFFF0000000000001, 0x7FFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF,
    0x7FF8000000000001, 0x7FFC000000000000,
    0x41E0000000000000, 0xC1E0000000000000, 0x41DFFFFFFFC00000, 0x41DFFFFFFFFFFFFF,
    0xC1E0000000200000, 0xC1E00000001FFFFF, 0x41F0000000000000, 0x41EFFFFFFFFFFFFF,
    0x41EFFFFFFFE00000, 0x43E0000000000000, 0xC3E0000000000000, 0x43DFFFFFFFFFFFFF,
    0xC3E0000000000001, 0x43F0000000000000, 0x43EFFFFFFFFFFFFF,
    0x4330000000000000, 0x4340000000000000, 0x432FFFFFFFFFFFFF, 0x4330000000000001,
    0xC330000000000000, 0x400921FB54442D18, 0x3FB999999999999A,
    0x47EFFFFFE0000000, 0x47EFFFFFF0000000, 0x47EFFFFFEFFFFFFF, 0xC7EFFFFFF0000000,
    0x36A0000000000000, 0x3690000000000000, 0x3698000000000000, 0x380FFFFFC0000000,
    0x3810000000000000, 0x7E37E43C8800759C,
})


def _v128_join(lanes: list[int], w: int) -> int:
    return sum((x & ((1 << w) - 1)) << (k * w) for k, x in enumerate(lanes))


#: v128 edge values: zero, all ones, splats and mixtures of the float and
#: integer edges of every lane shape (NaN and infinity lanes included).
_V128_EDGES = sorted({
    0, M128, 1, 1 << 127, M128 >> 1, 0x80808080808080808080808080808080,
    0x7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F7F, 0x80008000800080008000800080008000,
    0x0F0E0D0C0B0A09080706050403020100, 0x1F1E1D1C1B1A19181716151413121110,
    *(_v128_join([b] * 4, 32) for b in (0x7FC00000, 0xFFC00000, 0x7FA00000, 0x7F800000,
                                        0x80000000, 0x3F800000, 0x4F000000, 0xCF000000,
                                        0x00000001, 0x7F7FFFFF)),
    *(_v128_join([b] * 2, 64) for b in (0x7FF8000000000000, 0x7FF4000000000000,
                                        0xFFF0000000000000, 0x8000000000000000,
                                        0x3FF0000000000000, 0x41E0000000000000,
                                        0x0000000000000001)),
    _v128_join([0x7FC00000, 0x3F800000, 0x80000000, 0x7F800000], 32),
    _v128_join([0x7FF8000000000000, 0xBFF0000000000000], 64),
    _v128_join([0x7FFF, 0x8000, 0xFFFF, 0, 1, 0x7FFF, 0x8000, 2], 16),
})


@dataclass(frozen=True)
class FuncArg:
    """A funcref argument: the module's exported function number ``k``
    (modulo their count), resolved in each engine."""

    k: int


#: externref arguments: null or a host value (small ints; both engines give
#: the same Python object back, so externref results compare by value).
EXTERN_VALUES: list[Any] = [None, 1, 2, 3]
FUNC_VALUES: list[Any] = [None, FuncArg(0), FuncArg(1)]

EDGES: dict[str, list[Any]] = {"i32": _I32_EDGES, "i64": _I64_EDGES, "f32": _F32_EDGES,
                               "f64": _F64_EDGES, V128: _V128_EDGES,
                               "externref": EXTERN_VALUES, "funcref": FUNC_VALUES}

#: Small edge sets, combined pairwise for functions of two or more parameters.
CORE: dict[str, list[Any]] = {
    "i32": [0, 1, 2, 31, 32, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, M32],
    "i64": [0, 1, 2, 63, 64, 0x80000000, 0x100000000, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000, M64],
    "f32": [0x00000000, 0x80000000, 0x3F800000, 0xBFC00000, 0x00000001, 0x7F7FFFFF, 0x7F800000,
            0xFF800000, 0x7FC00000, 0xFFC00000, 0x7FA00000, 0x4F000000],
    "f64": [0x0000000000000000, 0x8000000000000000, 0x3FF0000000000000, 0xBFF8000000000000,
            0x0000000000000001, 0x7FEFFFFFFFFFFFFF, 0x7FF0000000000000, 0xFFF0000000000000,
            0x7FF8000000000000, 0xFFF8000000000000, 0x7FF4000000000000, 0x41E0000000000000],
    V128: [0, M128, _v128_join([0x7FC00000] * 4, 32), _v128_join([0x3F800000] * 4, 32),
           _v128_join([0x7FF4000000000000, 0x8000000000000000], 64),
           0x80808080808080808080808080808080],
    "externref": EXTERN_VALUES,
    "funcref": FUNC_VALUES,
}


def sweep_args(params: tuple[str, ...]) -> list[list[Any]]:
    """Deterministic argument lists that put every edge value in every
    position (the other positions cycling through their edges), plus, for
    two or more parameters, every pair of CORE values in the first two."""
    if not params:
        return [[]]
    out: list[list[Any]] = []
    seen: set[tuple[Any, ...]] = set()

    def add(args: list[Any]) -> None:
        key = tuple(args)
        if key not in seen:
            seen.add(key)
            out.append(args)

    for i, t in enumerate(params):
        for k, e in enumerate(EDGES[t]):
            add([e if j == i else EDGES[u][(k * (2 * j + 3) + i) % len(EDGES[u])]
                 for j, u in enumerate(params)])
    if len(params) >= 2:
        t0, t1 = params[0], params[1]
        for k, (a, b) in enumerate((a, b) for a in CORE[t0] for b in CORE[t1]):
            add([a, b] + [EDGES[u][k % len(EDGES[u])] for u in params[2:]])
    return out


def _f32_value_bits(x: float) -> int:
    return N.f32_to_bits(N.f32_round(x))


#: The mixture of raw argument bits per type, shared by ARG_BITS
#: (Hypothesis) and draw_bits (a seeded random.Random); each part is
#: equally likely. Parts: ("edges", values); ("int", low, high), taken
#: modulo the type's width; ("float", width, low, high), a float that is
#: not NaN (any, infinities included, when low is None).
ARG_PARTS: dict[str, list[tuple[Any, ...]]] = {
    "externref": [("edges", EXTERN_VALUES)],
    "funcref": [("edges", FUNC_VALUES)],
    "i32": [("edges", _I32_EDGES), ("int", 0, 70), ("int", 0, 0x10010), ("int", 0, M32),
            ("int", -(1 << 31), (1 << 31) - 1)],
    "i64": [("edges", _I64_EDGES), ("int", 0, 70), ("int", 0, 0x10010), ("int", 0, M64),
            ("int", -(1 << 31), (1 << 31) - 1)],
    "f32": [("edges", _F32_EDGES), ("float", 32, None, None), ("float", 32, -1e6, 1e6),
            ("int", 0, M32)],
    "f64": [("edges", _F64_EDGES), ("float", 64, None, None), ("float", 64, -1e6, 1e6),
            ("int", 0, M64)],
    # ("lanes", width, values): every lane of that width drawn from values
    V128: [("edges", _V128_EDGES), ("int", 0, M128), ("lanes", 32, _F32_EDGES),
           ("lanes", 64, _F64_EDGES), ("lanes", 8, [0, 1, 0x7F, 0x80, 0xFF, 0x10, 0x1F]),
           ("lanes", 16, [0, 1, 0x7FFF, 0x8000, 0xFFFF, 0x80, 0xFF])],
}


def width_mask(t: str) -> int:
    return M128 if t == V128 else M32 if t in ("i32", "f32") else M64


def _float_bits(width: int, x: float) -> int:
    return _f32_value_bits(x) if width == 32 else N.f64_to_bits(x)


def _part_strategy(t: str, part: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    if part[0] == "edges":
        return st.sampled_from(part[1])
    if part[0] == "int":
        mask = width_mask(t)
        return st.integers(part[1], part[2]).map(lambda v: v & mask)
    if part[0] == "lanes":
        _, w, values = part
        return st.lists(st.sampled_from(values), min_size=128 // w, max_size=128 // w).map(
            lambda ls, w=w: _v128_join(ls, w))
    _, width, low, high = part
    floats = st.floats(width=width, allow_nan=False) if low is None else \
        st.floats(low, high, width=width)
    return floats.map(lambda x: _float_bits(width, x))


#: Raw argument bits per numeric type (unsigned ints; floats as IEEE bits);
#: for reference types, the values of EDGES.
ARG_BITS: dict[str, st.SearchStrategy[Any]] = {
    t: st.one_of(*(_part_strategy(t, part) for part in parts)) for t, parts in ARG_PARTS.items()
}


def draw_bits(rng: random.Random, t: str) -> Any:
    """Raw argument bits of type t drawn from ARG_PARTS with rng (the same
    mixture as ARG_BITS, for callers that are not Hypothesis tests)."""
    part = rng.choice(ARG_PARTS[t])
    if part[0] == "edges":
        return rng.choice(part[1])
    if part[0] == "int":
        return rng.randint(part[1], part[2]) & width_mask(t)
    if part[0] == "lanes":
        _, w, values = part
        return _v128_join([rng.choice(values) for _ in range(128 // w)], w)
    _, width, low, high = part
    if low is not None:
        return _float_bits(width, rng.uniform(low, high))
    while True:
        b = rng.getrandbits(width)
        if not (is_nan32(b) if width == 32 else is_nan64(b)):
            return b


def draw_args(rng: random.Random, params: tuple[str, ...]) -> list[Any]:
    """An argument list (raw bits) for parameter types params (see draw_bits)."""
    return [draw_bits(rng, t) for t in params]


def describe(t: str, b: Any, func_names: list[str] | None = None) -> str:
    """A WAT-like rendering of raw bits of type t, for reproducers.

    References: None is null; an externref is a host value; a funcref
    argument is a FuncArg (named from func_names when given); a result
    reference is "null"/"non-null" (funcref) or ("extern", value).
    """
    if b is None or b == "null":
        return "(ref.null func)" if t == "funcref" else "(ref.null extern)"
    if isinstance(b, FuncArg):
        name = func_names[b.k % len(func_names)] if func_names else f"#{b.k}"
        return f"(ref.func {name!r})"
    if isinstance(b, tuple) and b and b[0] == "extern":
        return f"(ref.extern {b[1]!r})"
    if t == "externref":
        return f"(ref.extern {b!r})"
    if t == "i32":
        return f"(i32.const {_signed(b, 32)})"
    if t == "i64":
        return f"(i64.const {_signed(b, 64)})"
    if t == "f32":
        x = N.f32_from_bits(b)
        return f"(f32.const {x!r} ;; bits 0x{b:08x})" if x == x else f"(f32 bits 0x{b:08x})"
    if t == "f64":
        x = N.f64_from_bits(b)
        return f"(f64.const {x!r} ;; bits 0x{b:016x})" if x == x else f"(f64 bits 0x{b:016x})"
    if t == V128:
        return "(v128.const i32x4 " + " ".join(f"0x{(b >> k) & M32:08x}"
                                               for k in range(0, 128, 32)) + ")"
    if b == "non-null":
        return "(ref.func)"
    return f"({t} {b!r})"
    return f"({t} {b!r})"


# ------------------------------------------------------------------ engines


def _wasmbox_has_fuel() -> bool:
    """Whether this wasmbox has wasmtime-compatible fuel: ``Config.consume_fuel``,
    ``Store.set_fuel``/``Store.get_fuel`` (and the trap code OUT_OF_FUEL)."""
    return hasattr(Config(), "consume_fuel") and hasattr(Store, "set_fuel") \
        and hasattr(Store, "get_fuel")


#: Whether wasmbox runs with fuel too. When it does, every call gets the
#: same FUEL in both engines, a call that runs out in one engine must run
#: out in the other, and after every call that did not run out both must
#: have the same fuel left (see :meth:`Session._call`, the one place that
#: compares fuel). When it does not, wasmbox is bounded by the wall clock
#: (WASMBOX_CALL_SECONDS) and its call depth, a call that runs out of fuel
#: in wasmtime is not run in wasmbox, and reports must say so
#: (:data:`FUEL_STATUS`).
WASMBOX_FUEL = _wasmbox_has_fuel()
#: One line for summaries: whether fuel bounds and is compared in both engines.
FUEL_STATUS = ("fuel: both engines, outcome and remaining fuel compared" if WASMBOX_FUEL else
               "fuel: wasmtime only -- wasmbox has no Config.consume_fuel yet, so it is "
               "bounded by wall clock and call depth and fuel is NOT compared")
#: Outcome kinds after which the fuel left must agree (when WASMBOX_FUEL).
FUEL_COMPARED_KINDS = ("ok",)

#: wasmtime proposals, set to what wasmbox runs and wasmtime 50 can compare:
#: Wasm 2.0 (reference types, bulk memory, multi-value, sign extension,
#: non-trapping conversions, mutable globals and SIMD are part of 2.0 and on
#: by default), memory64, multiple memories, and of Wasm 3.0 relaxed SIMD
#: (with wasmtime's deterministic results, which are wasmbox's: docs/simd.md),
#: tail calls, exception handling (try_table/exnref: wasmtime has no legacy
#: try/catch) and typed function references. Everything else (GC
#: instructions, threads, stack switching) is off, so that a module
#: using it is refused by wasmtime (a validity disagreement when wasmbox
#: accepts it).
WASMTIME_FEATURES: dict[str, bool] = {
    "wasm_reference_types": True, "wasm_bulk_memory": True, "wasm_multi_value": True,
    "wasm_memory64": True, "wasm_multi_memory": True,
    "wasm_relaxed_simd": True, "wasm_relaxed_simd_deterministic": True, "wasm_simd": True,
    "wasm_threads": False,
    "wasm_tail_call": True, "wasm_gc": False, "wasm_function_references": True,
    "wasm_exceptions": True, "wasm_stack_switching": False, "wasm_wide_arithmetic": False,
    "wasm_custom_page_sizes": False,
}


def _wasmbox_engine() -> Engine:
    cfg = Config()
    cfg.max_memory_pages = MEMORY_PAGES_LIMIT
    cfg.max_table_elements = TABLE_ELEMENTS_LIMIT
    cfg.max_wasm_stack = WASMBOX_MAX_WASM_STACK
    if WASMBOX_FUEL:
        cfg.consume_fuel = True
    return Engine(cfg)


def _wasmtime_engine() -> W.Engine:
    cfg = W.Config()
    cfg.consume_fuel = True
    cfg.max_wasm_stack = WASMTIME_MAX_WASM_STACK
    for name, on in WASMTIME_FEATURES.items():
        setattr(cfg, name, on)
    return W.Engine(cfg)


WB_ENGINE = _wasmbox_engine()
WT_ENGINE = _wasmtime_engine()


def _wasmtime_spectest(store: W.Store) -> dict[str, Any]:
    def noop(*args: Any) -> None:
        return None

    i32, i64, f32, f64 = W.ValType.i32(), W.ValType.i64(), W.ValType.f32(), W.ValType.f64()
    prints = {"print": [], "print_i32": [i32], "print_i64": [i64], "print_f32": [f32],
              "print_f64": [f64], "print_i32_f32": [i32, f32], "print_f64_f64": [f64, f64]}
    items: dict[str, Any] = {name: W.Func(store, W.FuncType(ps, []), noop)
                             for name, ps in prints.items()}
    items["global_i32"] = W.Global(store, W.GlobalType(i32, False), W.Val.i32(666))
    items["global_i64"] = W.Global(store, W.GlobalType(i64, False), W.Val.i64(666))
    items["global_f32"] = W.Global(store, W.GlobalType(f32, False), W.Val.f32(666.6))
    items["global_f64"] = W.Global(store, W.GlobalType(f64, False), W.Val.f64(666.6))
    items["table"] = W.Table(store, W.TableType(W.ValType.funcref(), W.Limits(10, 20)), None)
    items["memory"] = W.Memory(store, W.MemoryType(W.Limits(1, 2)))
    return items


# ------------------------------------------------------------------ host modules

#: A host call recorded in a log: (function name, value type, raw bits).
LogEntry = tuple[str, str, int]


class HostImports:
    """Host modules that a Pair's module may import, defined alike in both
    engines (subclasses say which). Calls of logging functions are recorded
    with the raw bits of their arguments into one list per engine, which
    :class:`Session` compares after every call."""

    #: (module, name) of every import provided.
    provided: frozenset[tuple[str, str]] = frozenset()

    def missing(self, m: sm.Module) -> list[str]:
        """The imports of m that are not provided, as "module.name" (sorted)."""
        return sorted({f"{i.module}.{i.name}" for i in m.imports
                       if (i.module, i.name) not in self.provided})

    def define_wasmbox(self, linker: Linker, store: Store, log: list[LogEntry]) -> None:
        """Define every provided import in a wasmbox linker, for store."""
        raise NotImplementedError

    def define_wasmtime(self, linker: W.Linker, store: W.Store, log: list[LogEntry]) -> None:
        """Define every provided import in a wasmtime linker, for store."""
        raise NotImplementedError


class SpectestImports(HostImports):
    """The ``spectest`` module of the spec scripts (its prints log nothing)."""

    provided = frozenset(("spectest", n) for n in (
        "print", "print_i32", "print_i64", "print_f32", "print_f64", "print_i32_f32",
        "print_f64_f64", "global_i32", "global_i64", "global_f32", "global_f64", "table",
        "memory"))

    def define_wasmbox(self, linker: Linker, store: Store, log: list[LogEntry]) -> None:
        define_spectest(linker, store)

    def define_wasmtime(self, linker: W.Linker, store: W.Store, log: list[LogEntry]) -> None:
        for name, item in _wasmtime_spectest(store).items():
            linker.define(store, "spectest", name, item)


SPECTEST = SpectestImports()


def _type_name(t: Any) -> str:
    """The name of a value type of either engine ("i32" ... "funcref", "externref").

    wasmtime-py prints externref as "anyref", so its types are named by
    equality with its constructors.
    """
    if isinstance(t, W.ValType):
        for name in NUM_TYPES + REF_TYPES:
            if t == getattr(W.ValType, name)():
                return name
    return str(t)


def _wt_is_null(v: Any) -> bool:
    """wasmtime-py gives a null reference as None, or (Table.get,
    Global.value) as a Val whose value is None."""
    return v is None or (isinstance(v, W.Val) and v.value is None)


@dataclass(frozen=True)
class ExportedFunc:
    name: str
    params: tuple[str, ...]
    results: tuple[str, ...]

    @property
    def callable(self) -> bool:
        """Whether arguments can be made for every parameter (all Wasm 2.0 types)."""
        return all(p in NUM_TYPES + (V128,) + REF_TYPES for p in self.params)


@dataclass(frozen=True)
class ExportedGlobal:
    name: str
    type: str
    mutable: bool


def _wat_name(name: str) -> str:
    return '"' + "".join(f"\\{b:02x}" for b in name.encode("utf-8")) + '"'


AS_INT = {"f32": "i32", "f64": "i64"}
TO_INT = {"f32": "i32.reinterpret_f32", "f64": "i64.reinterpret_f64"}
FROM_INT = {"f32": "f32.reinterpret_i32", "f64": "f64.reinterpret_i64"}


def _probe_types(types: tuple[str, ...]) -> list[str]:
    """The probe's value types for types: floats as integers of their width,
    a v128 as two i64 (low half first; wasmtime-py has no v128 values)."""
    out: list[str] = []
    for t in types:
        out.extend(("i64", "i64") if t == V128 else (AS_INT.get(t, t),))
    return out


def _probe_body(f: ExportedFunc) -> list[str]:
    """The instructions of the probe's function for f: its arguments on the
    stack (integers reinterpreted as floats, a v128 put together from two
    i64), the call (a bare ``call``: probe_text adds the index), the results
    stored and reloaded (floats reinterpreted as integers, a v128 taken
    apart into its two i64 lanes)."""
    body = []
    i = 0
    for p in f.params:
        if p == V128:
            body += [f"local.get {i}", "i64x2.splat", f"local.get {i + 1}", "i64x2.replace_lane 1"]
            i += 2
            continue
        body.append(f"local.get {i}")
        if p in FROM_INT:
            body.append(FROM_INT[p])
        i += 1
    body.append("call")
    n = i  # the probe's parameters; f's results go in the locals after them
    for j in reversed(range(len(f.results))):
        body.append(f"local.set {n + j}")
    for j, r in enumerate(f.results):
        if r == V128:
            body += [f"local.get {n + j}", "i64x2.extract_lane 0",
                     f"local.get {n + j}", "i64x2.extract_lane 1"]
            continue
        body.append(f"local.get {n + j}")
        if r in TO_INT:
            body.append(TO_INT[r])
    return body


def probe_fuel(f: ExportedFunc) -> int:
    """The fuel wasmtime charges for the probe's own part of a call of f: one
    unit at function entry and one per instruction (wasmtime charges every
    operator except nop, drop, block, loop, end, else, return, unreachable,
    none of which the probe uses)."""
    return 1 + len(_probe_body(f))


def probe_text(funcs: list[ExportedFunc], globals_: list[ExportedGlobal]) -> str:
    """The WAT of the probe module (see the module docstring).

    Imports are named by hex escapes only; the probe's own exports are
    ``c<k>`` (calls) and ``g<k>`` (global reads).
    """
    out = ["(module"]
    for k, f in enumerate(funcs):
        ps = " ".join(f.params)
        rs = " ".join(f.results)
        out.append(f"  (import \"t\" {_wat_name(f.name)} (func $i{k} (param {ps}) (result {rs})))")
    for k, g in enumerate(globals_):
        ty = f"(mut {g.type})" if g.mutable else g.type
        out.append(f"  (import \"t\" {_wat_name(g.name)} (global $h{k} {ty}))")
    for k, f in enumerate(funcs):
        ps = " ".join(_probe_types(f.params))
        rs = " ".join(_probe_types(f.results))
        body = [f"call $i{k}" if ins == "call" else ins for ins in _probe_body(f)]
        locs = " ".join(f.results)
        out.append(f"  (func (export \"c{k}\") (param {ps}) (result {rs}) (local {locs})\n    "
                   + " ".join(body) + ")")
    for k, g in enumerate(globals_):
        if g.type == V128:
            out.append(f"  (func (export \"g{k}\") (result i64 i64) global.get $h{k} "
                       f"i64x2.extract_lane 0 global.get $h{k} i64x2.extract_lane 1)")
            continue
        rt = AS_INT.get(g.type, g.type)
        conv = TO_INT.get(g.type, "")
        out.append(f"  (func (export \"g{k}\") (result {rt}) global.get $h{k} {conv})")
    out.append(")")
    return "\n".join(out)


_INDIRECT_CALLS = frozenset({"call_indirect", "return_call_indirect", "call_ref",
                             "return_call_ref"})


def nan_nondeterministic_funcs(m: sm.Module) -> set[int]:
    """Indices (in the function index space) of the functions that may run a
    NaN-nondeterministic instruction: their own body or any function they
    can call. An indirect call is taken to reach every function."""
    n_imp = len(m.imports_of(sm.ExternKind.FUNC))
    own: set[int] = set()
    callees: dict[int, set[int]] = {}
    indirect: set[int] = set()
    for j, f in enumerate(m.funcs):
        i = n_imp + j
        callees[i] = set()
        for ins in f.body:
            if ins.op in NAN_NONDETERMINISTIC or ins.op in SIMD_NAN_NONDETERMINISTIC:
                own.add(i)
            elif ins.op in ("call", "return_call"):
                callees[i].add(ins.imm[0])
            elif ins.op in _INDIRECT_CALLS:
                indirect.add(i)
    result = set(own)
    if own:
        result |= indirect
    changed = True
    while changed:
        changed = False
        for i, cs in callees.items():
            if i not in result and cs & result:
                result.add(i)
                changed = True
    return result


AUGMENT_PREFIX = "diff-support:"


def export_all_state(data: bytes) -> bytes:
    """data with every memory, table and global exported (as
    ``AUGMENT_PREFIX`` + kind + index) so that the state the engines keep
    can be compared even where the module does not export it. Raises what
    decoding and encoding raise."""
    m = decode_module(data)
    exported = {(e.kind, e.index) for e in m.exports}
    names = {e.name for e in m.exports}
    spaces = ((sm.ExternKind.MEM, len(m.mems)), (sm.ExternKind.TABLE, len(m.tables)),
              (sm.ExternKind.GLOBAL, len(m.globals)), (sm.ExternKind.TAG, len(m.tags)))
    added = False
    for kind, n_defined in spaces:
        for i in range(len(m.imports_of(kind)) + n_defined):
            name = f"{AUGMENT_PREFIX}{kind.name.lower()}{i}"
            if (kind, i) not in exported and name not in names:
                m.exports.append(sm.Export(name, kind, i))
                added = True
    return encode_module(m) if added else data


class Pair:
    """One module compiled in both engines, plus its wasmtime probe.

    Both engines load the same bytes: the module with all its memories,
    tables and globals exported (:func:`export_all_state`).

    ``imports`` are the host modules both engines get (the spectest module
    by default). With ``nans_canonical`` the module's NaN-nondeterministic
    instructions are known to be followed by a canonicalisation (the
    fuzzer's ``canonicalize_nans``): nothing is then NaN-nondeterministic
    and every float must agree bit for bit.

    Raises Disagreement when the engines disagree on the exports' types,
    and what the engines raise for a module they cannot load (a failure:
    the suite's modules are valid).
    """

    def __init__(self, case: ModuleCase, imports: HostImports = SPECTEST,
                 nans_canonical: bool = False) -> None:
        self.case = case
        self.imports = imports
        data = export_all_state(case.data)
        self.wb_module = Module(WB_ENGINE, data)
        self.wt_module = W.Module(WT_ENGINE, data)
        syntax = self.wb_module.syntax
        nondet = set() if nans_canonical else nan_nondeterministic_funcs(syntax)
        #: whether some function of the module may make a NaN nondeterministically
        self.nondeterministic = bool(nondet)
        #: the same per exported function name
        self.nondeterministic_export = {e.name: e.index in nondet for e in syntax.exports
                                        if e.kind is sm.ExternKind.FUNC}
        self.funcs: list[ExportedFunc] = []
        self.globals: list[ExportedGlobal] = []
        self.memories: list[str] = []
        self.tables: list[tuple[str, str]] = []  # (name, element type)
        self.tags: list[str] = []  # exported tags: what names an uncaught exception's tag
        wb_exports = self.wb_module.exports
        wt_exports = self.wt_module.exports
        if [e.name for e in wb_exports] != [e.name for e in wt_exports]:
            raise Disagreement(f"{case.where}: export names differ", "exports")
        for e, w in zip(wb_exports, wt_exports):
            ty, wty = e.type, w.type
            if type(ty).__name__ != type(wty).__name__:
                raise Disagreement(f"{case.where}: export {e.name!r} kinds differ: "
                                   f"{type(ty).__name__} vs {type(wty).__name__}", "exports")
            if isinstance(wty, W.FuncType):
                ps = tuple(_type_name(p) for p in ty.params)
                rs = tuple(_type_name(r) for r in ty.results)
                # wasmtime-py aborts the process when it reads a v128 value
                # type ("support for v128 is not implemented"): such exports'
                # types are wasmbox's (the kinds were compared above)
                if V128 not in ps + rs and (ps != tuple(map(_type_name, wty.params)) or
                                            rs != tuple(map(_type_name, wty.results))):
                    raise Disagreement(f"{case.where}: export {e.name!r} types differ: "
                                       f"{ps}->{rs} vs {wty.params}->{wty.results}", "exports")
                self.funcs.append(ExportedFunc(e.name, ps, rs))
            elif isinstance(wty, W.GlobalType):
                t = _type_name(ty.content)
                if (t != V128 and t != _type_name(wty.content)) or ty.mutable != wty.mutable:
                    raise Disagreement(f"{case.where}: export {e.name!r} global types differ",
                                       "exports")
                self.globals.append(ExportedGlobal(e.name, t, ty.mutable))
            elif isinstance(wty, W.MemoryType):
                self.memories.append(e.name)
            elif isinstance(wty, W.TableType):
                self.tables.append((e.name, _type_name(wty.element)))
            elif isinstance(wty, W.TagType):
                self.tags.append(e.name)
        self.callable = [f for f in self.funcs if f.callable]
        self._probes: dict[tuple[str, ...], W.Module] = {}

    def probe(self, funcs: list[ExportedFunc]) -> W.Module:
        """The compiled probe for these functions and every exported global."""
        key = tuple(f.name for f in funcs)
        m = self._probes.get(key)
        if m is None:
            m = self._probes[key] = W.Module(WT_ENGINE, W.wat2wasm(probe_text(funcs, self.globals)))
        return m


# ------------------------------------------------------------------ outcomes


@dataclass(frozen=True)
class Outcome:
    """What a call did: ``kind`` "ok" (``values``: typed bits), "trap"
    (``detail``: the trap's spec message), "exception" (a Wasm exception
    escaped: ``detail`` names the exported tag it was thrown with,
    ``values`` its payload as typed bits), "exhausted", "fuel" (out of
    fuel)."""

    kind: str
    values: tuple[tuple[str, Any], ...] = ()
    detail: str = ""

    def show(self) -> str:
        if self.kind == "ok":
            return "returns " + (" ".join(describe(t, v) for t, v in self.values) or "nothing")
        if self.kind == "trap":
            return f"traps: {self.detail}"
        if self.kind == "exception":
            return f"uncaught exception, tag {self.detail or '?'}, payload " + \
                (" ".join(describe(t, v) for t, v in self.values) or "none")
        return self.kind


#: wasmtime's trap codes and the wasmbox TrapCode each one means.
WT_TRAP_CODES: dict[Any, TrapCode] = {
    W.TrapCode.MEMORY_OUT_OF_BOUNDS: TrapCode.MEMORY_OUT_OF_BOUNDS,
    W.TrapCode.TABLE_OUT_OF_BOUNDS: TrapCode.TABLE_OUT_OF_BOUNDS,
    W.TrapCode.INDIRECT_CALL_TO_NULL: TrapCode.INDIRECT_CALL_TO_NULL,
    W.TrapCode.BAD_SIGNATURE: TrapCode.BAD_SIGNATURE,
    W.TrapCode.INTEGER_OVERFLOW: TrapCode.INTEGER_OVERFLOW,
    W.TrapCode.INTEGER_DIVISION_BY_ZERO: TrapCode.INTEGER_DIVISION_BY_ZERO,
    W.TrapCode.BAD_CONVERSION_TO_INTEGER: TrapCode.BAD_CONVERSION_TO_INTEGER,
    W.TrapCode.UNREACHABLE: TrapCode.UNREACHABLE,
    W.TrapCode.NULL_REFERENCE: TrapCode.NULL_REFERENCE,
    W.TrapCode.STACK_OVERFLOW: TrapCode.STACK_OVERFLOW,
}
#: wasmbox's out-of-fuel trap code, once it has one (see WASMBOX_FUEL).
WB_OUT_OF_FUEL = getattr(TrapCode, "OUT_OF_FUEL", None)


def wasmtime_outcome(exc: BaseException) -> Outcome:
    """The Outcome of a wasmtime exception. Raises it again when it is not a trap."""
    if not isinstance(exc, W.Trap):
        raise exc
    code = exc.trap_code
    if code is None and "thrown Wasm exception" in str(exc):
        return Outcome("exception")  # tag and payload: Session._wt_exception
    if code is W.TrapCode.OUT_OF_FUEL:
        return Outcome("fuel")
    if code is W.TrapCode.STACK_OVERFLOW:
        return Outcome("exhausted")
    if code in WT_TRAP_CODES:
        return Outcome("trap", detail=WT_TRAP_CODES[code].value)
    return Outcome("trap", detail=f"wasmtime {code}: {exc.message}")


def wasmbox_outcome(exc: Trap) -> Outcome:
    if isinstance(exc, WasmException):
        return Outcome("exception")  # tag and payload: Session._wb_exception
    if exc.code is TrapCode.STACK_OVERFLOW:
        return Outcome("exhausted")
    if WB_OUT_OF_FUEL is not None and exc.code is WB_OUT_OF_FUEL:
        return Outcome("fuel")
    return Outcome("trap", detail=exc.code.value)


class _Guard:
    """Around a wasmbox call: a wall-clock limit (main thread only; else no
    limit), and no cyclic garbage collection -- a collection inside a deep
    recursion would run wasmtime-py finalizers with no Python stack left
    ("Exception ignored in Managed.__del__", a leaked wasmtime object)."""

    def __init__(self) -> None:
        self.enabled = hasattr(signal, "setitimer") and \
            threading.current_thread() is threading.main_thread()

    def __enter__(self) -> None:
        self.gc_was_enabled = gc.isenabled()
        gc.disable()
        if self.enabled:
            def on_alarm(signum: int, frame: Any) -> None:
                raise CallTimeout(f"wasmbox call took more than {WASMBOX_CALL_SECONDS:g} s")

            self.previous = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, WASMBOX_CALL_SECONDS)

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        if self.gc_was_enabled:
            gc.enable()


GUARD = _Guard()


def _ref_value(t: str, is_null: bool, v: Any) -> Any:
    """Comparable form of a reference: "null"; ("extern", host value);
    "non-null" for a function (function identities are not compared)."""
    if is_null:
        return "null"
    return ("extern", v) if t == "externref" else "non-null"


def _wb_value_bits(t: str, v: Any) -> Any:
    if t == "i32" or t == "i64" or t == V128:
        return v
    if t == "f32":
        return N.f32_to_bits(v)
    if t == "f64":
        return N.f64_to_bits(v)
    return _ref_value(t, v is None, v)


def _wt_results(types: tuple[str, ...], values: list[Any]) -> list[Any]:
    """wasmtime's values for types, a v128 joined from its two i64 halves
    (see _probe_types)."""
    out: list[Any] = []
    it = iter(values)
    for t in types:
        if t == V128:
            lo, hi = next(it), next(it)
            out.append((lo & M64) | (hi & M64) << 64)
        else:
            out.append(next(it))
    return out


def _wt_value_bits(t: str, v: Any) -> Any:
    if t == V128:
        return v & M128
    if t in ("i32", "f32"):
        return v & M32
    if t in ("i64", "f64"):
        return v & M64
    return _ref_value(t, _wt_is_null(v), v)


def _val_name(t: Any) -> str:
    """The name of a wasmbox syntax value type ("i32" ... "funcref", "externref", ...)."""
    r = repr(t)
    return {"(ref null func)": "funcref", "(ref null extern)": "externref"}.get(r, r)


#: wasmtime_val_t kinds of the numeric types (the C API's WASMTIME_I32 ...).
_WT_NUM_KINDS = {0: ("i32", 4), 1: ("i64", 8), 2: ("f32", 4), 3: ("f64", 8), 4: (V128, 16)}
#: ... and of the reference types an exception's payload can hold here.
_WT_REF_KINDS = {_WFFI.WASMTIME_FUNCREF.value: "funcref", _WFFI.WASMTIME_EXTERNREF.value: "externref"}


def _wt_raw_field(store: W.Store, v: Any) -> tuple[str, Any]:
    """A wasmtime_val_t (an exception's field) as (type, bits), numbers
    read as raw bytes (a float through Python would quiet a signalling NaN)."""
    if v.kind in _WT_NUM_KINDS:
        t, n = _WT_NUM_KINDS[v.kind]
        return t, int.from_bytes(bytes(v.of)[:n], "little")
    t = _WT_REF_KINDS.get(v.kind, f"(wasmtime value kind {v.kind})")
    value = W.Val._from_raw(store, v).value if t in REF_TYPES else None
    return t, _ref_value(t, value is None, value)


# ------------------------------------------------------------------ sessions


@dataclass
class Stats:
    """Counts over calls (all of them reported by the test)."""

    counts: Counter = field(default_factory=Counter)
    compared_funcs: set = field(default_factory=set)  # (where, name) compared at least once
    attempted_funcs: set = field(default_factory=set)

    def merge(self, other: "Stats") -> None:
        self.counts.update(other.counts)
        self.compared_funcs |= other.compared_funcs
        self.attempted_funcs |= other.attempted_funcs


class Session:
    """Fresh instances of a Pair in both engines, called in lockstep.

    Only the functions in ``funcs`` (a group of ``pair.callable``) can be
    called. ``history`` lists the calls made on the current instances (for
    reproducers). Host calls are recorded in ``wb_log``/``wt_log`` (see
    :class:`HostImports`) and compared after instantiation and after every
    call. Raises Disagreement (:class:`Crash` when wasmbox crashes).
    """

    def __init__(self, pair: Pair, funcs: list[ExportedFunc], stats: Stats) -> None:
        self.pair = pair
        self.funcs = funcs
        self.stats = stats
        self.probe_module = pair.probe(funcs)
        self.probe_name = {f.name: f"c{k}" for k, f in enumerate(funcs)}
        self.history: list[Any] = []  # (ExportedFunc, args) or a note
        self.wb_log: list[LogEntry] = []
        self.wt_log: list[LogEntry] = []
        self.live = False
        self._start()

    # -- instantiation ----------------------------------------------------------
    def close(self) -> None:
        """Give back what the current instances hold (wasmbox stores that
        can be closed are closed; wasmtime's are dropped)."""
        close = getattr(getattr(self, "wb_store", None), "close", None)
        if close is not None:
            close()
        self.live = False

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _start(self) -> None:
        p = self.pair
        self.close()
        self.history = []
        self.wb_log.clear()
        self.wt_log.clear()
        wb_exc: BaseException | None = None
        wt_exc: BaseException | None = None
        self.wb_store = Store(WB_ENGINE)
        try:
            if WASMBOX_FUEL:
                self.wb_store.set_fuel(INSTANTIATION_FUEL)
            linker = Linker(WB_ENGINE)
            p.imports.define_wasmbox(linker, self.wb_store, self.wb_log)
            with GUARD:
                inst = linker.instantiate(self.wb_store, p.wb_module)
            self.wb_exports = inst.exports(self.wb_store)
        except Exception as e:  # noqa: BLE001 - compared below
            wb_exc = e
        self.wt_store = W.Store(WT_ENGINE)
        self.wt_store.set_limits(memory_size=MEMORY_PAGES_LIMIT << 16,
                                 table_elements=TABLE_ELEMENTS_LIMIT)
        self.wt_store.set_fuel(INSTANTIATION_FUEL)
        try:
            # Linker, not Instance.exports: wasmtime-py's exports() wraps every
            # export, which is slow for modules with hundreds of them.
            self.wt_linker = W.Linker(WT_ENGINE)
            p.imports.define_wasmtime(self.wt_linker, self.wt_store, self.wt_log)
            wt_inst = self.wt_linker.instantiate(self.wt_store, p.wt_module)
            self.wt_linker.define_instance(self.wt_store, "t", wt_inst)
            probe = self.wt_linker.instantiate(self.wt_store, self.probe_module)
            self.wt_probe = probe.exports(self.wt_store)
        except Exception as e:  # noqa: BLE001 - compared below
            wt_exc = e
        wt_fuel = isinstance(wt_exc, W.Trap) and wasmtime_outcome(wt_exc).kind == "fuel"
        if wt_fuel and not WASMBOX_FUEL:
            # a start function that wasmtime did not finish: wasmbox may not either
            self.live = False
            self.stats.counts["instantiation out of fuel"] += 1
            return
        if wb_exc is not None and not isinstance(wb_exc, WasmboxError):
            raise self._crash("(instantiation)", wb_exc,
                              "ok" if wt_exc is None else repr(wt_exc), "instantiation")
        if wb_exc is None and wt_exc is None:
            self.live = True
            self.stats.counts["instances"] += 1
            self._compare_logs("(instantiation)", p.nondeterministic)
            return
        self.live = False
        if wb_exc is not None and wt_exc is not None:
            wb = wasmbox_outcome(wb_exc).show() if isinstance(wb_exc, Trap) else \
                f"{type(wb_exc).__name__}: {wb_exc}"
            self.stats.counts["instantiation refused by both"] += 1
            if isinstance(wt_exc, W.Trap) and isinstance(wb_exc, Trap):
                wt = wasmtime_outcome(wt_exc)
                if wt.kind == "fuel" and wasmbox_outcome(wb_exc).kind == "fuel":
                    self.stats.counts["instantiation out of fuel"] += 1
                    return
                if wt != wasmbox_outcome(wb_exc):
                    raise Disagreement(f"{p.case.where}: instantiation traps differ: "
                                       f"wasmbox {wb}, wasmtime {wt.show()}", "instantiation",
                                       detail="traps")
            return
        raise Disagreement(
            f"{p.case.where}: instantiation: wasmbox "
            f"{'ok' if wb_exc is None else repr(wb_exc)}, wasmtime "
            f"{'ok' if wt_exc is None else repr(wt_exc)}", "instantiation",
            detail="wasmbox refuses" if wb_exc is not None else "wasmtime refuses")

    def restart(self) -> None:
        """Replace both instances (after a call that only one engine finished)."""
        self.stats.counts["restarts"] += 1
        self._start()

    # -- arguments ---------------------------------------------------------------
    def _func_name(self, a: FuncArg) -> str:
        funcs = self.pair.funcs
        return funcs[a.k % len(funcs)].name

    def _wb_arg(self, t: str, b: Any) -> Any:
        if t == "f32":
            return N.f32_from_bits(b)
        if t == "f64":
            return N.f64_from_bits(b)
        if isinstance(b, FuncArg):
            return self.wb_exports[self._func_name(b)]
        return b

    def _wt_arg(self, t: str, b: Any) -> Any:
        if t in NUM_TYPES:
            return _signed(b, 32 if t in ("i32", "f32") else 64)
        if isinstance(b, FuncArg):
            return self.wt_linker.get(self.wt_store, "t", self._func_name(b))
        return b

    # -- calls -------------------------------------------------------------------
    def call(self, f: ExportedFunc, args: list[Any]) -> None:
        """Call f with raw argument bits in both engines and compare.

        Raises Disagreement (with ``calls`` set); when the same call
        disagrees on fresh instances too, the reproducer shows that call
        alone.
        """
        try:
            self._call(f, args)
        except Disagreement as first:
            first.calls = [(g.name, list(a)) for g, a in
                           (h for h in self.history if isinstance(h, tuple))]
            first.calls.append((f.name, list(args)))
            if self.history:
                with Session(self.pair, self.funcs, Stats()) as fresh:
                    try:
                        fresh._call(f, args)
                    except Disagreement as e:
                        e.calls = [(f.name, list(args))]
                        raise e from None
            raise

    def _call(self, f: ExportedFunc, args: list[Any]) -> None:
        if not self.live:
            return
        p = self.pair
        key = (p.case.where, f.name)
        self.stats.attempted_funcs.add(key)
        text = (f, args)
        self.wb_log.clear()
        self.wt_log.clear()
        # FUEL for f itself: the probe's own instructions get their fuel on top.
        self.wt_store.set_fuel(FUEL + probe_fuel(f))
        try:
            wt_args: list[Any] = []
            for t, b in zip(f.params, args):
                if t == V128:  # two i64 (see _probe_types)
                    wt_args += [_signed(b & M64, 64), _signed(b >> 64, 64)]
                else:
                    wt_args.append(self._wt_arg(t, b))
            res = self.wt_probe[self.probe_name[f.name]](self.wt_store, *wt_args)
            # one probe result comes alone (None for a null reference), more as a list
            n_res = len(_probe_types(f.results))
            rl = _wt_results(f.results, [] if n_res == 0 else [res] if n_res == 1 else list(res))
            wt = Outcome("ok", tuple((t, _wt_value_bits(t, v)) for t, v in zip(f.results, rl)))
        except Exception as e:  # noqa: BLE001 - classified
            wt = wasmtime_outcome(e)
            if wt.kind == "exception":
                wt = self._wt_exception()
        wt_left = self.wt_store.get_fuel()
        fuel_used = FUEL - wt_left  # by f (and its callees)
        if wt.kind == "fuel" and not WASMBOX_FUEL:
            self.stats.counts["calls skipped: wasmtime out of fuel"] += 1
            self.restart()
            return
        wb = self._wasmbox_call(text, f, args, wt)
        kinds = {wb.kind, wt.kind}
        if "fuel" in kinds and "exhausted" not in kinds:  # only when WASMBOX_FUEL
            if wb.kind != wt.kind:
                raise self._fail(text, wb.show(), wt.show(), "fuel")
            # Both ran out: the outcome agrees. State and logs are not compared
            # (how far into its last piece of code each engine got is its own
            # business); both instances are replaced.
            self.stats.counts["calls compared: fuel"] += 1
            self.restart()
            return
        # one engine ran out of stack, the other of stack or fuel: which
        # limit comes first is each engine's business (but see below)
        if (wb.kind == "exhausted") != (wt.kind == "exhausted"):
            # The depth at which the stack runs out is implementation defined,
            # but wasmbox's budget holds at least max_wasm_stack // (largest
            # frame) calls, and each call costs wasmtime 2 units of fuel: so
            # it cannot be reached by a call that wasmtime finished on less.
            frames = [cf.frame for cf in self.pair.wb_module._code._funcs.values()]
            depth = WB_ENGINE.config.max_wasm_stack // max(frames, default=1)
            if wb.kind == "exhausted" and fuel_used < 2 * depth:
                raise self._fail(text, wb.show(), wt.show()
                                 + f" after only {fuel_used} units of fuel", "trap",
                                 detail="exhausted early")
            self.stats.counts["calls not compared: exactly one engine exhausted the stack"] += 1
            self.restart()
            return
        self._compare(text, f, args, wb, wt)
        if WASMBOX_FUEL and wb.kind in FUEL_COMPARED_KINDS:
            wb_left = self.wb_store.get_fuel()
            if wb_left != wt_left:
                raise self._fail(text, f"{wb.show()}, {wb_left} fuel left",
                                 f"{wt.show()}, {wt_left} fuel left", "fuel")
        self._compare_logs(text, p.nondeterministic_export.get(f.name, False))
        self.history.append(text)  # rendered only for a report
        self.stats.counts["calls compared"] += 1
        self.stats.counts[f"calls compared: {wb.kind}"] += 1
        self.stats.compared_funcs.add(key)
        try:
            self.check_state(full=False)
        except Disagreement as e:
            e.export = f.name  # the call that left the state so
            raise

    def _wasmbox_call(self, text: Any, f: ExportedFunc, args: list[Any], wt: Outcome) -> Outcome:
        """Run the call in wasmbox (with FUEL when it has fuel). Raises Crash
        for a hang or an exception that is not wasmbox's, Disagreement for a
        wasmbox error that is not a trap."""
        wb_func = self.wb_exports[f.name]
        if WASMBOX_FUEL:
            self.wb_store.set_fuel(FUEL)
        try:
            with GUARD:
                out = wb_func.call_raw(self.wb_store,
                                       [self._wb_arg(t, b) for t, b in zip(f.params, args)])
            return Outcome("ok", tuple((t, _wb_value_bits(t, v)) for t, v in zip(f.results, out)))
        except WasmException as e:
            return self._wb_exception(e)
        except Trap as e:
            return wasmbox_outcome(e)
        except WasmboxError as e:
            raise self._fail(text, f"raises {type(e).__name__}: {e}", wt.show(), "error",
                             detail=type(e).__name__) from None
        except Exception as e:  # noqa: BLE001 - a crash: reported
            raise self._crash(text, e, wt.show(), "call") from None

    # -- uncaught exceptions ----------------------------------------------------------
    def _wb_exception(self, exc: WasmException) -> Outcome:
        """The Outcome of a Wasm exception that escaped a wasmbox call: the
        exported tag it was thrown with (by identity) and its payload bits."""
        name = next((n for n in self.pair.tags if self.wb_exports[n] is exc.tag), "")
        types = [_val_name(t) for t in exc.tag._ft.params]
        return Outcome("exception", tuple((t, _wb_value_bits(t, v))
                                          for t, v in zip(types, exc.payload)), name)

    def _wt_exception(self) -> Outcome:
        """The same for wasmtime: the exception the store holds after the
        trap "thrown Wasm exception" (taken, so that it is gone)."""
        ctx = self.wt_store._context()
        exn = _WFFI.wasmtime_exnref_t()
        if not _WFFI.wasmtime_context_take_exception(ctx, ctypes.byref(exn)):
            return Outcome("exception", detail="(wasmtime holds no exception)")
        try:
            raw_tag = _WFFI.wasmtime_tag_t()
            _WFFI.wasmtime_exnref_tag(ctx, ctypes.byref(exn), ctypes.byref(raw_tag))
            tag = W.Tag._from_raw(raw_tag)
            name = next((n for n in self.pair.tags
                         if tag.eq(self.wt_store, self.wt_linker.get(self.wt_store, "t", n))), "")
            values = []
            for k in range(_WFFI.wasmtime_exnref_field_count(ctx, ctypes.byref(exn))):
                v = _WFFI.wasmtime_val_t()
                _WFFI.wasmtime_exnref_field(ctx, ctypes.byref(exn), k, ctypes.byref(v))
                values.append(_wt_raw_field(self.wt_store, v))
            return Outcome("exception", tuple(values), name)
        finally:
            _WFFI.wasmtime_exnref_unroot(ctypes.byref(exn))

    def _compare(self, text: Any, f: ExportedFunc, args: list[Any], wb: Outcome,
                 wt: Outcome) -> None:
        if wb.kind != wt.kind or wb.detail != wt.detail:
            raise self._fail(text, wb.show(), wt.show(), "trap",
                             detail=f"{wb.detail or wb.kind} / {wt.detail or wt.kind}")
        if wb.kind == "exception" and wb.values != wt.values:
            raise self._fail(text, wb.show(), wt.show(), "exception", detail="payload")
        if wb.kind != "ok":
            return
        noncanon_arg = any(_nan_info(t, b)[0] and not _nan_info(t, b)[2]
                           for t, b in zip(f.params, args) if t in ("f32", "f64")) or \
            any(v128_has_noncanonical_nan(b) for t, b in zip(f.params, args) if t == V128)
        nondet = self.pair.nondeterministic_export[f.name]
        for k, ((t, o), (_, w)) in enumerate(zip(wb.values, wt.values)):
            if t in ("f32", "f64"):
                ok = floats_agree(t, o, w, nondet, noncanon_arg)
                if ok and o != w:
                    self.stats.counts["float results differing only as the spec allows (NaN)"] += 1
            elif t == V128:
                self.stats.counts["v128 results compared"] += 1
                ok = o == w or (nondet and v128_floats_agree(o, w, noncanon_arg))
                if ok and o != w:
                    self.stats.counts["v128 results differing only as the spec allows (NaN "
                                      "lanes)"] += 1
            else:
                ok = o == w
            if not ok:
                raise self._fail(text, wb.show(), wt.show(), "result", detail=f"value {k} {t}")

    def _compare_logs(self, text: Any, nondeterministic: bool) -> None:
        """Compare the host calls both engines logged (since the logs were
        last cleared). Logged floats may differ only as results of a
        NaN-nondeterministic instruction may (see floats_agree; their
        inputs are not known, so any arithmetic NaN is accepted)."""
        wb, wt = self.wb_log, self.wt_log
        for i, (o, w) in enumerate(zip(wb, wt)):
            if o == w:
                continue
            if o[:2] == w[:2] and o[1] in ("f32", "f64") and \
                    floats_agree(o[1], o[2], w[2], nondeterministic, True):
                self.stats.counts["logged floats differing only as the spec allows (NaN)"] += 1
                continue
            if o[:2] == w[:2] and o[1] == V128 and nondeterministic and \
                    v128_floats_agree(o[2], w[2], True):
                self.stats.counts["logged v128s differing only as the spec allows (NaN)"] += 1
                continue
            raise self._fail(text, f"host call {i}: {show_log(o)}", f"host call {i}: {show_log(w)}",
                             "log", context=_log_context(wt, i), detail=f"{o[0]} / {w[0]}")
        if len(wb) != len(wt):
            i = min(len(wb), len(wt))
            raise self._fail(
                text, f"{len(wb)} host calls" + (f", call {i}: {show_log(wb[i])}" if i < len(wb)
                                                  else ""),
                f"{len(wt)} host calls" + (f", call {i}: {show_log(wt[i])}" if i < len(wt)
                                           else ""), "log", context=_log_context(wt, i),
                detail="count")
        self.stats.counts["host calls compared"] += len(wb)

    # -- reports ------------------------------------------------------------------
    def _show_call(self, call: Any) -> str:
        if isinstance(call, str):
            return call
        f, args = call
        names = [g.name for g in self.pair.funcs]
        return f"(invoke {f.name!r} " + \
            " ".join(describe(t, b, names) for t, b in zip(f.params, args)) + ")"

    def _fail(self, text: Any, wb: str, wt: str, aspect: str, context: str = "",
              detail: str = "") -> Disagreement:
        """A Disagreement about call text (or a note) with a reproducer."""
        export = text[0].name if isinstance(text, tuple) else None
        d = Disagreement(self._report(text, wb, wt, context=context), aspect, export, detail)
        d.wasmbox, d.wasmtime = wb, wt
        return d

    def _crash(self, text: Any, exc: BaseException, wt: str, aspect: str) -> Crash:
        """A Crash of wasmbox raising exc (a CallTimeout is a hang)."""
        export = text[0].name if isinstance(text, tuple) else None
        if isinstance(exc, CallTimeout):
            c = Crash(self._report(text, str(exc), wt), aspect, export, "hang")
            c.wasmbox, c.wasmtime = str(exc), wt
            return c
        wb = f"raises {type(exc).__name__}: {exc}"
        tb = "".join(traceback.format_exception(exc)[-CRASH_TRACEBACK_ENTRIES:])
        c = Crash(self._report(text, wb, wt,
                               context="wasmbox traceback (last entries):\n" + tb.rstrip()),
                  aspect, export, type(exc).__name__)
        c.wasmbox, c.wasmtime = wb, wt
        return c

    def _report(self, text: Any, wb: str, wt: str, what: str = "", context: str = "") -> str:
        case = self.pair.case
        lines = [f"engines disagree on {case.where}{what}", "module:"]
        if case.source is not None:
            src = case.source.strip()
            if len(src) > MAX_SOURCE:
                src = src[:MAX_SOURCE] + f"\n;; ... (cut: the whole module is at {case.where})"
            lines.append("  " + src.replace("\n", "\n  "))
        else:
            lines.append(f"  (binary module, {len(case.data)} bytes: {case.data.hex()})")
        lines.append("calls on a fresh instance:")
        if len(self.history) > MAX_HISTORY:
            lines.append(f"  ;; {len(self.history) - MAX_HISTORY} earlier calls left out")
        lines.extend("  " + self._show_call(h) for h in self.history[-MAX_HISTORY:])
        lines.append("  " + self._show_call(text))
        lines.append(f"wasmbox:  {wb}")
        lines.append(f"wasmtime: {wt}")
        if context:
            lines.append(context)
        return "\n".join(lines)

    # -- state ----------------------------------------------------------------------
    def check_state(self, full: bool = True) -> None:
        """Compare exported memories, globals (and, when full, tables). Raises Disagreement."""
        if not self.live:
            return
        p = self.pair
        for name in p.memories:
            wbm = self.wb_exports[name]
            wtm = self.wt_linker.get(self.wt_store, "t", name)
            n = wtm.data_len(self.wt_store)
            ours_n = wbm.data_len(self.wb_store)
            if ours_n != n:
                raise self._fail("(memory sizes)", f"memory {name!r}: {ours_n} bytes",
                                 f"{n} bytes", "memory", detail=f"{name} size")
            if not full and n > SMALL_MEMORY_BYTES:
                continue
            data = ctypes.string_at(wtm.data_ptr(self.wt_store), n)
            ours = wbm.read(self.wb_store, 0, n)
            if ours != data:
                at = nan_blind_difference(ours, data) if p.nondeterministic else \
                    next(i for i in range(n) if ours[i] != data[i])
                if at is not None:
                    raise self._fail(
                        "(memory contents)", f"memory {name!r}: first difference at {at}: "
                        f"{bytes(ours[at:at + 16]).hex()}", data[at:at + 16].hex(), "memory",
                        detail=f"{name} contents")
                # Only NaNs differ, as the spec allows: take wasmtime's bytes,
                # so that later calls start from the same state again.
                wbm.write(self.wb_store, data, 0)
                self.stats.counts["memory NaN bytes differing as the spec allows (synced)"] += 1
        for k, g in enumerate(p.globals):
            wbg = self.wb_exports[g.name]
            o = _wb_value_bits(g.type, wbg.raw)
            self.wt_store.set_fuel(FUEL)
            got = self.wt_probe[f"g{k}"](self.wt_store)
            w = _wt_value_bits(g.type, _wt_results((V128,), got)[0] if g.type == V128 else got)
            if o == w:
                continue
            if g.type == V128 and p.nondeterministic and v128_floats_agree(o, w, True):
                wbg.raw = w  # NaN lanes that differ as the spec allows: sync
                self.stats.counts["global NaNs differing as the spec allows (synced)"] += 1
                continue
            if g.type in ("f32", "f64") and floats_agree(g.type, o, w, p.nondeterministic, True):
                # a NaN that differs as the spec allows: sync as for memories
                wbg.raw = N.f32_from_bits(w) if g.type == "f32" else N.f64_from_bits(w)
                self.stats.counts["global NaNs differing as the spec allows (synced)"] += 1
                continue
            raise self._fail(f"(global {g.name!r})", describe(g.type, o), describe(g.type, w),
                             "global", detail=g.name)
        if full:
            for name, et in p.tables:
                wbt = self.wb_exports[name]
                wtt = self.wt_linker.get(self.wt_store, "t", name)
                size = wtt.size(self.wt_store)
                ours = [_wb_value_bits(et, wbt.get(self.wb_store, i))
                        for i in range(wbt.size(self.wb_store))]
                if len(ours) != size:
                    raise self._fail(f"(table {name!r} size)", str(len(ours)), str(size), "table",
                                     detail=f"{name} size")
                theirs = [_wt_value_bits(et, wtt.get(self.wt_store, i)) for i in range(size)]
                if ours != theirs:
                    at = next(i for i in range(size) if ours[i] != theirs[i])
                    raise self._fail(
                        f"(table {name!r} contents)", f"[{at}] = {describe(et, ours[at])}",
                        f"[{at}] = {describe(et, theirs[at])}", "table", detail=f"{name} contents")


def show_log(e: LogEntry) -> str:
    """A logged host call, e.g. ``log-f32(f32 bits 0x7fa00000)``."""
    return f"{e[0]}{describe(e[1], e[2])}"


def _log_context(log: list[LogEntry], i: int) -> str:
    """The host calls wasmtime logged just before entry i, for a reproducer."""
    start = max(0, i - 5)
    if start >= i:
        return ""
    return "wasmtime's host calls before it:\n" + "\n".join(
        f"  {k}: {show_log(log[k])}" for k in range(start, i))


def chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
