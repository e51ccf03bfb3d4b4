"""Converting values between the embedding API and the internal representation.

Internal ("raw") representation, shared with the compiled code:

* i32 / i64: unsigned Python ints (``0 <= v < 2**32`` / ``2**64``);
* f64: a Python float (NaN payloads preserved bit for bit);
* f32: a Python float holding the exact f32 value; an f32 NaN is the f64 NaN
  whose payload is the f32 payload shifted left by 29 (signalling NaNs are
  not quieted) -- see :mod:`wasmbox.exec.numerics`;
* v128: an unsigned Python int (``0 <= v < 2**128``, lane 0 in the low
  bits) -- see :mod:`wasmbox.exec.numerics_simd`;
* funcref: None (null) or a :class:`~wasmbox.runtime.func.Func`;
* externref: None (null) or any other Python object, as given by the host;
* exnref: None (null) or the :class:`~wasmbox.errors.WasmException` caught.

API representation (what wasmtime-py returns): i32/i64 as *signed* ints,
floats as floats, v128 as the same unsigned 128-bit int as inside (a
negative int down to ``-2**127`` is accepted and taken modulo ``2**128``),
references as Func / object / None.

Raises :class:`TypeError` when a value does not fit its type.
"""
from __future__ import annotations

from typing import Any

from ..exec import numerics
from ..syntax import types as st

_M32 = 0xFFFFFFFF
_M64 = 0xFFFFFFFFFFFFFFFF
_M128 = (1 << 128) - 1


def _int_in(v: Any, bits: int, what: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"expected an int for {what}, got {type(v).__name__}")
    if not -(1 << (bits - 1)) <= v < (1 << bits):
        raise TypeError(f"{v} does not fit in {what}")
    return v & ((1 << bits) - 1)


def to_raw(t: Any, v: Any) -> Any:
    """API value -> raw value of type t (a syntax ValType). Raises TypeError."""
    if t is st.I32:
        return _int_in(v, 32, "i32")
    if t is st.I64:
        return _int_in(v, 64, "i64")
    if t is st.F64:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"expected a float for f64, got {type(v).__name__}")
        return float(v)
    if t is st.F32:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"expected a float for f32, got {type(v).__name__}")
        return numerics.f32_round(float(v))
    if t is st.V128:
        return _int_in(v, 128, "v128")
    if isinstance(t, st.RefType):
        from .func import Func

        if v is None:
            if not t.nullable:
                raise TypeError("null passed for a non-nullable reference")
            return None
        if t.heap is st.AbsHeap.FUNC or isinstance(t.heap, int) or t.heap is st.AbsHeap.NOFUNC:
            if not isinstance(v, Func):
                raise TypeError(f"expected a Func or None for funcref, got {type(v).__name__}")
            return v
        if t.heap is st.AbsHeap.EXTERN:
            return v
        if t.heap is st.AbsHeap.EXN:
            from ..errors import WasmException

            if not isinstance(v, WasmException):
                raise TypeError(f"expected a WasmException or None for exnref, got {type(v).__name__}")
            return v
        raise TypeError(f"unsupported reference type {t!r}")
    raise TypeError(f"unsupported value type {t!r}")


def from_raw(t: Any, v: Any) -> Any:
    """Raw value of type t -> API value (signed ints)."""
    if t is st.I32:
        v = int(v)
        return v - (1 << 32) if v & 0x80000000 else v
    if t is st.I64:
        v = int(v)
        return v - (1 << 64) if v & 0x8000000000000000 else v
    return v


def raw_check(t: Any, v: Any) -> Any:
    """Check (not convert) a raw value against its type; raises TypeError."""
    if t is st.I32:
        if not isinstance(v, int) or not 0 <= v <= _M32:
            raise TypeError(f"raw i32 must be an int in [0, 2**32), got {v!r}")
        return int(v)
    if t is st.I64:
        if not isinstance(v, int) or not 0 <= v <= _M64:
            raise TypeError(f"raw i64 must be an int in [0, 2**64), got {v!r}")
        return int(v)
    if t is st.F32 or t is st.F64:
        if not isinstance(v, float):
            raise TypeError(f"raw {t.text} must be a float, got {type(v).__name__}")
        return v
    if t is st.V128:
        if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= _M128:
            raise TypeError(f"raw v128 must be an int in [0, 2**128), got {v!r}")
        return int(v)
    if isinstance(t, st.RefType):
        if v is None:
            return v
        from .func import Func

        if t.heap is st.AbsHeap.FUNC and not isinstance(v, Func):
            raise TypeError("raw funcref must be a Func or None")
        return v
    raise TypeError(f"unsupported value type {t!r}")
