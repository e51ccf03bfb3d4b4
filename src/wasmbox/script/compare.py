"""Script values <-> raw engine values, and result matching.

Raw values are the engine's internal representation (see
:mod:`wasmbox.exec.numerics`): unsigned ints for i32/i64 and v128, Python
floats for f32/f64 (f32 NaN payloads mapped into f64 NaNs), None for null
references,
:class:`HostRef` for ``(ref.extern N)`` / ``(ref.host N)``.

Raises :class:`ScriptValueError` for a script value the engine cannot take.
"""
from __future__ import annotations

from typing import Any

from ..exec.numerics import f32_from_bits, f32_to_bits, f64_from_bits, f64_to_bits
from ..text.wast import Either, NanPattern, RefPattern, V128Pattern, Value

_MASK = {"i32": 0xFFFFFFFF, "i64": 0xFFFFFFFFFFFFFFFF, "v128": (1 << 128) - 1}
_F32_QUIET, _F32_EXP = 0x00400000, 0x7F800000
_F64_QUIET, _F64_EXP = 0x0008000000000000, 0x7FF0000000000000


class ScriptValueError(Exception):
    """A script value or result pattern this engine does not support yet."""


class HostRef:
    """An external reference made by the script: ``(ref.extern N)``."""

    __slots__ = ("n", "kind")

    def __init__(self, n: int, kind: str = "extern") -> None:
        self.n = n
        self.kind = kind

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HostRef) and other.n == self.n and other.kind == self.kind

    def __hash__(self) -> int:
        return hash((self.kind, self.n))

    def __repr__(self) -> str:
        return f"(ref.{self.kind} {self.n})"


def to_raw(v: Value) -> Any:
    """A script argument as a raw engine value. Raises ScriptValueError."""
    t = v.type
    if t in _MASK:
        return v.value & _MASK[t]
    if t == "f32":
        return f32_from_bits(v.value)
    if t == "f64":
        return f64_from_bits(v.value)
    if t == "ref.null":
        return None
    if t == "ref.extern":
        return HostRef(v.value)
    if t == "ref.host":
        return HostRef(v.value, "host")
    raise ScriptValueError(f"unsupported value type {t}")


def _float_bits(t: str, got: Any) -> int | None:
    if not isinstance(got, float):
        return None
    return f32_to_bits(got) if t == "f32" else f64_to_bits(got)


def _nan_matches(p: NanPattern, got: Any) -> bool:
    bits = _float_bits(p.type, got)
    if bits is None:
        return False
    if p.type == "f32":
        exp, quiet, mant = _F32_EXP, _F32_QUIET, 0x007FFFFF
    else:
        exp, quiet, mant = _F64_EXP, _F64_QUIET, 0x000FFFFFFFFFFFFF
    if bits & exp != exp or bits & mant == 0:
        return False
    if p.kind == "canonical":
        return bits & mant == quiet
    return bits & quiet != 0


def _v128_matches(p: V128Pattern, got: Any) -> bool:
    """Lane by lane: a float lane must have exactly the expected bits, a NaN
    pattern lane must be a NaN of that kind."""
    if type(got) is not int:
        return False
    w = 32 if p.shape == "f32x4" else 64
    m = (1 << w) - 1
    for k, lane in enumerate(p.lanes):
        bits = (got >> (k * w)) & m
        if isinstance(lane, NanPattern):
            x = f32_from_bits(bits) if w == 32 else f64_from_bits(bits)
            if not _nan_matches(lane, x):
                return False
        elif bits != lane.value & m:
            return False
    return True


def _is_func(got: Any) -> bool:
    from ..runtime.func import Func

    return isinstance(got, Func) or callable(got)


def matches(expected: Any, got: Any) -> bool:
    """Does raw result ``got`` match the expected value or pattern?

    Raises ScriptValueError for patterns this engine cannot check yet.
    """
    if isinstance(expected, Either):
        return any(matches(o, got) for o in expected.options)
    if isinstance(expected, NanPattern):
        return _nan_matches(expected, got)
    if isinstance(expected, RefPattern):
        if got is None:
            return False
        if expected.kind == "func":
            return _is_func(got)
        if expected.kind == "extern":
            return True
        raise ScriptValueError(f"unsupported reference pattern ref.{expected.kind}")
    if isinstance(expected, V128Pattern):
        return _v128_matches(expected, got)
    t = expected.type
    if t in _MASK:
        return type(got) is int and got == expected.value & _MASK[t]
    if t in ("f32", "f64"):
        return _float_bits(t, got) == expected.value
    if t == "ref.null":
        return got is None
    if t in ("ref.extern", "ref.host"):
        return got == HostRef(expected.value, t[4:])
    raise ScriptValueError(f"unsupported result type {t}")


def show(v: Any) -> str:
    """A raw value for failure messages."""
    if isinstance(v, float):
        return f"{v!r} (f64 bits {f64_to_bits(v):#x})"
    if type(v) is int and v >> 64:  # a v128: its lanes are easier to read in hex
        return f"0x{v:032x}"
    return repr(v)
