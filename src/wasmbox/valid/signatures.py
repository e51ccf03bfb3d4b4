"""Operand signatures of the numeric and memory instructions, derived from names.

Nothing here lists opcodes: the signatures come from the names in
:data:`wasmbox.syntax.opcodes.OPS`, read the way the spec writes them:

* ``t.const``                          ``[] -> [t]``
* ``t.unop`` (clz, abs, extend8_s ...)  ``[t] -> [t]``
* ``t.eqz``                            ``[t] -> [i32]``
* ``t.relop`` (eq, lt_s, ge ...)        ``[t t] -> [i32]``
* ``t.binop`` (add, div_u, copysign ...) ``[t t] -> [t]``
* ``t.cvtop_t2[_sx]`` (wrap_i64, trunc_sat_f32_s, convert_i64_u,
  reinterpret_f32 ...)                ``[t2] -> [t]``
* ``t.load*``                          ``[addr] -> [t]``
* ``t.store*``                         ``[addr t] -> []``

SIMD (``v128`` and the lane shapes ``i8x16`` ... ``f64x2``) follows the same
idea: ``v128.const`` ``[] -> [v128]``; ``splat`` ``[scalar] -> [v128]``;
``all_true``/``bitmask``/``any_true`` ``[v128] -> [i32]``; shifts
``[v128 i32] -> [v128]``; ``bitselect`` three v128s; the other unary
operators (abs, neg, sqrt, rounding, extend, extadd_pairwise, conversions)
``[v128] -> [v128]``; everything else ``[v128 v128] -> [v128]``. The lane
forms (``extract_lane``, ``replace_lane``, ``shuffle``, the lane loads and
stores) have immediates to check and get rules in ``simd.py`` instead;
:data:`SIMD_LANE_OPS` lists them. Relaxed SIMD (Wasm 3.0): ``relaxed_madd``,
``relaxed_nmadd``, ``relaxed_laneselect`` and ``relaxed_dot_..._add_s``
take three v128s, ``relaxed_trunc_*`` one, the rest two.

Names with an operator we do not recognise (``i64.add128``) are left out on
purpose: they belong to proposals that ``features.py`` labels.

Nothing here raises.
"""
from __future__ import annotations

from typing import NamedTuple

from ..syntax.opcodes import OPS, SIMD
from ..syntax.types import F32, F64, I32, I64, V128, NumType

SCALARS: dict[str, NumType] = {"i32": I32, "i64": I64, "f32": F32, "f64": F64}

_UNARY = frozenset(
    "clz ctz popcnt abs neg ceil floor trunc nearest sqrt extend8 extend16 extend32".split()
)
_TEST = frozenset({"eqz"})
_COMPARE = frozenset("eq ne lt gt le ge".split())
_BINARY = frozenset(
    "add sub mul div rem and or xor shl shr rotl rotr min max copysign".split()
)


class Sig(NamedTuple):
    """``params -> results``; ``plist`` is ``params`` as a list for fast compares."""

    params: tuple[NumType, ...]
    results: tuple[NumType, ...]
    plist: list[NumType]


class MemOp(NamedTuple):
    """A load or store: its value type, natural alignment (log2), and direction."""

    type: NumType
    natural_align: int
    store: bool


def _sig(params: tuple[NumType, ...], results: tuple[NumType, ...]) -> Sig:
    return Sig(params, results, list(params))


def _strip_sx(op: str) -> str:
    return op[:-2] if op.endswith(("_s", "_u")) else op


def derive_numeric_signature(name: str) -> Sig | None:
    """The signature of a scalar numeric instruction, or None if ``name`` is not one."""
    ty, dot, op = name.partition(".")
    t = SCALARS.get(ty)
    if t is None or not dot or "load" in op or "store" in op:
        return None
    if op == "const":
        return _sig((), (t,))
    base = _strip_sx(op)
    # conversions: the source type is the last type name in the operator
    parts = base.split("_")
    if len(parts) >= 2 and parts[-1] in SCALARS:
        return _sig((SCALARS[parts[-1]],), (t,))
    if base in _UNARY:
        return _sig((t,), (t,))
    if base in _TEST:
        return _sig((t,), (I32,))
    if base in _COMPARE:
        return _sig((t, t), (I32,))
    if base in _BINARY:
        return _sig((t, t), (t,))
    return None


#: the scalar type of each SIMD lane shape
LANE_SCALAR: dict[str, NumType] = {"i8x16": I32, "i16x8": I32, "i32x4": I32, "i64x2": I64,
                                   "f32x4": F32, "f64x2": F64}

_SIMD_TEST = frozenset({"all_true", "bitmask", "any_true"})
_SIMD_SHIFT = frozenset({"shl", "shr_s", "shr_u"})
_SIMD_UNARY_PREFIX = ("extend_", "extadd_pairwise_", "convert_", "trunc_sat_", "demote_",
                      "promote_", "relaxed_trunc_")
_SIMD_TERNARY = frozenset({"bitselect", "relaxed_madd", "relaxed_nmadd", "relaxed_laneselect",
                           "relaxed_dot_i8x16_i7x16_add_s"})
_SIMD_UNARY = frozenset("not abs neg popcnt sqrt ceil floor trunc nearest".split())


def derive_simd_signature(name: str) -> Sig | None:
    """The signature of a SIMD instruction without lane immediates, else None."""
    shape, dot, op = name.partition(".")
    if not dot or ("lane" in op and op != "relaxed_laneselect") or op == "shuffle":
        return None
    if shape != "v128" and shape not in LANE_SCALAR:
        return None
    v = V128
    if op == "const":
        return _sig((), (v,))
    if op == "splat":
        return _sig((LANE_SCALAR[shape],), (v,))
    if op in _SIMD_TEST:
        return _sig((v,), (I32,))
    if op in _SIMD_SHIFT:
        return _sig((v, I32), (v,))
    if op in _SIMD_TERNARY:
        return _sig((v, v, v), (v,))
    if op in _SIMD_UNARY or op.startswith(_SIMD_UNARY_PREFIX):
        return _sig((v,), (v,))
    return _sig((v, v), (v,))


#: SIMD instructions with lane immediates (typing rules in ``simd.py``)
SIMD_LANE_OPS = frozenset(
    name for name, op in OPS.items()
    if op.prefix == SIMD and ("lane" in op.imms or "shuffle" in op.imms)
)


def _derive_simd() -> tuple[dict[str, Sig], dict[str, MemOp]]:
    numeric: dict[str, Sig] = {}
    memops: dict[str, MemOp] = {}
    for name, op in OPS.items():
        if op.prefix != SIMD or name in SIMD_LANE_OPS:
            continue
        if "memarg" in op.imms:
            memops[name] = MemOp(V128, op.natural_align, ".store" in name)  # type: ignore[arg-type]
            continue
        sig = derive_simd_signature(name)
        if sig is not None:
            numeric[name] = sig
    return numeric, memops


def _derive_all() -> tuple[dict[str, Sig], dict[str, MemOp]]:
    numeric: dict[str, Sig] = {}
    memops: dict[str, MemOp] = {}
    for name, op in OPS.items():
        if op.prefix == SIMD:
            continue
        ty = name.partition(".")[0]
        if "memarg" in op.imms:
            t = SCALARS.get(ty)
            align = op.natural_align
            if t is not None and align is not None:
                memops[name] = MemOp(t, align, ".store" in name)
            continue
        sig = derive_numeric_signature(name)
        if sig is not None:
            numeric[name] = sig
    return numeric, memops


#: the scalar numeric instructions and loads/stores (NUMERIC, MEMOPS), the
#: SIMD ones without lane immediates (SIMD_NUMERIC, SIMD_MEMOPS), and all the
#: numeric ones (ALL_NUMERIC: what the validator looks up)
NUMERIC, MEMOPS = _derive_all()
SIMD_NUMERIC, SIMD_MEMOPS = _derive_simd()
ALL_NUMERIC = {**NUMERIC, **SIMD_NUMERIC}
