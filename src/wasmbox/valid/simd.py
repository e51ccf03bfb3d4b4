"""Typing rules of the SIMD instructions with lane immediates.

The other SIMD instructions have signatures derived from their names
(:mod:`wasmbox.valid.signatures`). Here: ``extract_lane``/``replace_lane``
of every shape, ``i8x16.shuffle`` and the lane loads and stores
(``v128.load8_lane`` ... ``v128.store64_lane``). A lane index must be below
the shape's lane count (32 for ``shuffle``: it picks from two vectors).

Raises :class:`~wasmbox.errors.ValidationError` ("invalid lane index",
"alignment must not be larger than natural", "offset out of range",
"type mismatch").
"""
from __future__ import annotations

from typing import Any

from ..errors import ValidationError
from ..syntax.opcodes import OPS
from ..syntax.types import V128
from .instructions import _RULES, FuncValidator, Rule, _memop_rule
from .signatures import LANE_SCALAR, SIMD_LANE_OPS, MemOp

_V = (V128,)
_LANES = {"i8x16": 16, "i16x8": 8, "i32x4": 4, "i64x2": 2, "f32x4": 4, "f64x2": 2}


def _check_lane(lane: int, count: int) -> None:
    if not 0 <= lane < count:
        raise ValidationError(f"invalid lane index: {lane} (the shape has {count} lanes)")


def _extract_rule(count: int, scalar: Any) -> Rule:
    def rule(v: FuncValidator, imm: tuple[Any, ...]) -> None:
        _check_lane(imm[0], count)
        v.pop_vals(_V)
        v.vals.append(scalar)

    return rule


def _replace_rule(count: int, scalar: Any) -> Rule:
    params = (V128, scalar)

    def rule(v: FuncValidator, imm: tuple[Any, ...]) -> None:
        _check_lane(imm[0], count)
        v.pop_vals(params)
        v.vals.append(V128)

    return rule


def _shuffle(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    lanes = imm[0]
    if len(lanes) != 16:
        raise ValidationError(f"invalid lane length: {len(lanes)}")
    for lane in lanes:
        _check_lane(lane, 32)
    v.pop_vals((V128, V128))
    v.vals.append(V128)


def _lane_memop_rule(name: str, width: int) -> Rule:
    # the memory part (alignment, offset, address type) as for any load/store;
    # the stack: [addr v128] -> [v128] (load) or [] (store)
    store = ".store" in name
    mem = _memop_rule(name, MemOp(V128, OPS[name].natural_align, False))  # type: ignore[arg-type]
    count = 128 // width

    def rule(v: FuncValidator, imm: tuple[Any, ...]) -> None:
        ma, lane = imm
        _check_lane(lane, count)
        v.pop_vals(_V)
        mem(v, (ma,))  # pops the address, pushes a v128
        if store:
            v.vals.pop()

    return rule


for _name in SIMD_LANE_OPS:
    _shape, _, _op = _name.partition(".")
    if _op == "shuffle":
        _RULES[_name] = _shuffle
    elif _shape == "v128":
        _w = int("".join(c for c in _op if c.isdigit()))
        _RULES[_name] = _lane_memop_rule(_name, _w)
    elif _op.startswith("extract_lane"):
        _RULES[_name] = _extract_rule(_LANES[_shape], LANE_SCALAR[_shape])
    else:
        _RULES[_name] = _replace_rule(_LANES[_shape], LANE_SCALAR[_shape])


