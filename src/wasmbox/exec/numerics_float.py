"""Floating-point instructions of Wasm 2.0 (f32, f64) and the conversions.

Value representation (binding for the compiler and the runtime):

* **f64** is a Python ``float``. CPython keeps the full 64-bit pattern, so
  NaN payloads, including signalling NaNs, survive as long as only bit
  operations touch them (``struct`` ``'<d'`` pack/unpack, negation, ``abs``,
  ``math.copysign``; checked once at import, see ``NATIVE_SIGN_OPS``).
* **f32** is a Python ``float`` holding the exact f32 value. An f32 NaN is the
  f64 NaN with the same sign whose 52-bit mantissa is the 23-bit f32 mantissa
  shifted left by 29 (what a float->double conversion gives, except that a
  signalling NaN is *not* quieted). :func:`f32_from_bits` builds that mapping
  with integer operations, because CPython 3.11's ``struct`` ``'f'`` unpack
  quiets signalling NaNs. Every f32 value therefore has the low 29 bits of
  its f64 mantissa clear.

Memory and constants: ``'<d'`` loads and stores are exact. An f32 load with
``'<f'`` is exact except that it quiets a signalling NaN, and an f32 store
with ``'<f'`` quiets one too; :func:`f32_load` and :func:`f32_store` show the
cheap fix (re-read or write the bits only when the value is a NaN). f32 and
f64 constants that are NaN or infinite cannot be written as Python literals:
build them once with :func:`f32_from_bits`/:func:`f64_from_bits`.

Arithmetic on f32 is the f64 operation followed by :func:`f32_round`; for
``+ - * /`` and ``sqrt`` that double rounding is innocuous (53 >= 2*24 + 2).
``ceil``/``floor``/``trunc``/``nearest``/``min``/``max``/``abs``/``neg``/
``copysign`` and the comparisons are the same functions for both widths,
since they never leave the set of f32 values.

NaN results follow the spec's rules: a NaN produced from non-NaN operands is
the canonical NaN; an operation with a NaN operand returns an arithmetic
(quiet) NaN, usually the first NaN operand quieted, so canonical inputs give
canonical outputs. ``abs``, ``neg``, ``copysign`` and the reinterpretations
are pure bit operations and keep payloads exactly.

Raises: the trapping float->int truncations raise :class:`wasmbox.errors.Trap`
with ``TrapCode.BAD_CONVERSION_TO_INTEGER`` ("invalid conversion to
integer") for NaN and ``TrapCode.INTEGER_OVERFLOW`` ("integer overflow") when
the truncated value does not fit. :func:`f32_load`/:func:`f32_store` raise
``struct.error`` for an address outside the buffer, like the ``struct`` calls
they stand in for. Nothing else raises.
"""
from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

from wasmbox.errors import Trap, TrapCode

_F32 = struct.Struct("<f")
_U32 = struct.Struct("<I")
_F64 = struct.Struct("<d")
_U64 = struct.Struct("<Q")
_pack_f = _F32.pack
_unpack_f = _F32.unpack
_pack_I = _U32.pack
_unpack_I = _U32.unpack
_pack_d = _F64.pack
_unpack_d = _F64.unpack
_pack_Q = _U64.pack
_unpack_Q = _U64.unpack

_floor = math.floor
_ceil = math.ceil
_sqrt = math.sqrt
_copysign = math.copysign

_BAD_CONV = TrapCode.BAD_CONVERSION_TO_INTEGER
_OVERFLOW = TrapCode.INTEGER_OVERFLOW

INF: float = _unpack_d(_pack_Q(0x7FF0000000000000))[0]
NINF: float = _unpack_d(_pack_Q(0xFFF0000000000000))[0]
#: The positive canonical NaN; as an f32 value it is the f32 canonical NaN too.
CANONICAL_NAN: float = _unpack_d(_pack_Q(0x7FF8000000000000))[0]
_INF = INF
_NINF = NINF
_NAN = CANONICAL_NAN
_T52 = 4503599627370496.0  # 2**52: every double at least this large is an integer

F32_CANONICAL_NAN_BITS = 0x7FC00000
F64_CANONICAL_NAN_BITS = 0x7FF8000000000000


# ------------------------------------------------------- value representation


def f64_from_bits(b: int) -> float:
    """The f64 whose bit pattern is ``b`` (``0 <= b < 2**64``), payload kept.

    Raises nothing for valid input (``struct.error`` is impossible in range).
    """
    return _unpack_d(_pack_Q(b))[0]


def f64_to_bits(x: float) -> int:
    """The 64-bit pattern of ``x`` (sign, exponent, payload exactly as stored)."""
    return _unpack_Q(_pack_d(x))[0]


def f32_from_bits(b: int) -> float:
    """The f32 value with bit pattern ``b`` (``0 <= b < 2**32``).

    NaNs (signalling ones included) map to the f64 NaN with the same sign and
    the payload shifted left by 29, built with integer operations.
    """
    if (b & 0x7F800000) == 0x7F800000 and (b & 0x7FFFFF):
        return _unpack_d(
            _pack_Q(((b & 0x80000000) << 32) | 0x7FF0000000000000 | ((b & 0x7FFFFF) << 29))
        )[0]
    return _unpack_f(_pack_I(b))[0]


def f32_to_bits(x: float) -> int:
    """The 32-bit pattern of the f32 value ``x`` (inverse of :func:`f32_from_bits`).

    A NaN keeps its sign and the top 23 bits of its payload (a NaN whose top
    23 payload bits are all zero becomes the quiet NaN with that sign, since
    it is not an f32 representation). A finite ``x`` that is not an f32
    value is rounded first, as :func:`f32_round` does.
    """
    if x != x:
        d = _unpack_Q(_pack_d(x))[0]
        m = (d >> 29) & 0x7FFFFF
        if not m:
            m = 0x400000
        return ((d >> 32) & 0x80000000) | 0x7F800000 | m
    try:
        return _unpack_I(_pack_f(x))[0]
    except OverflowError:
        return 0x7F800000 if x > 0.0 else 0xFF800000


def f32_round(x: float) -> float:
    """``x`` rounded to the nearest f32 value (ties to even; overflow to +-inf).

    A NaN stays a NaN (quieted, top 23 payload bits kept). Used after every
    f32 arithmetic operation.
    """
    try:
        return _unpack_f(_pack_f(x))[0]
    except OverflowError:
        return _INF if x > 0.0 else _NINF


_unpack_from_f = _F32.unpack_from
_unpack_from_I = _U32.unpack_from
_pack_into_f = _F32.pack_into
_pack_into_I = _U32.pack_into


def f32_load(buf: bytes | bytearray | memoryview, addr: int) -> float:
    """The f32 stored little-endian at ``buf[addr:addr+4]``, NaN bits kept.

    Raises ``struct.error`` if the 4 bytes are not all inside ``buf`` (the
    compiled function's handler reports that as the memory trap).
    """
    x = _unpack_from_f(buf, addr)[0]
    if x != x:  # '<f' quiets signalling NaNs: rebuild from the bits
        return f32_from_bits(_unpack_from_I(buf, addr)[0])
    return x


def f32_store(buf: bytearray | memoryview, addr: int, x: float) -> None:
    """Store the f32 value ``x`` little-endian at ``buf[addr:addr+4]``, NaN bits kept.

    Raises ``struct.error`` if the 4 bytes are not all inside ``buf``.
    """
    if x != x:
        _pack_into_I(buf, addr, f32_to_bits(x))
    else:
        _pack_into_f(buf, addr, x)


def is_canonical_nan32(bits: int) -> bool:
    """True if the f32 bit pattern is a canonical NaN (either sign)."""
    return (bits & 0x7FFFFFFF) == 0x7FC00000


def is_arithmetic_nan32(bits: int) -> bool:
    """True if the f32 bit pattern is an arithmetic NaN (quiet bit set)."""
    return (bits & 0x7FC00000) == 0x7FC00000


def is_canonical_nan64(bits: int) -> bool:
    """True if the f64 bit pattern is a canonical NaN (either sign)."""
    return (bits & 0x7FFFFFFFFFFFFFFF) == 0x7FF8000000000000


def is_arithmetic_nan64(bits: int) -> bool:
    """True if the f64 bit pattern is an arithmetic NaN (quiet bit set)."""
    return (bits & 0x7FF8000000000000) == 0x7FF8000000000000


# ------------------------------------------------------------ sign operations


def _sign_ops_are_bit_exact() -> bool:
    """Whether ``-x``, ``abs(x)`` and ``math.copysign`` keep NaN payloads here."""
    sign = 0x8000000000000000
    for bits in (0x7FF0000000000001, 0xFFF4000000000000, 0x7FF0000020000000, 0x7FF8000000000000):
        x = f64_from_bits(bits)
        if f64_to_bits(x) != bits:
            return False
        if f64_to_bits(-x) != bits ^ sign or f64_to_bits(abs(x)) != bits & ~sign:
            return False
        if f64_to_bits(_copysign(x, -1.0)) != bits | sign:
            return False
        if f64_to_bits(_copysign(x, 1.0)) != bits & ~sign:
            return False
        if f64_to_bits(_copysign(1.0, x)) != (0x3FF0000000000000 | (bits & sign)):
            return False
    return True


#: True when this platform's float negation, ``abs`` and ``math.copysign``
#: are bit operations (x86-64, AArch64); otherwise the slower integer
#: versions below are used and INLINE omits neg/abs.
NATIVE_SIGN_OPS: bool = _sign_ops_are_bit_exact()

if NATIVE_SIGN_OPS:

    def f64_neg(x: float) -> float:
        return -x

    def f64_abs(x: float) -> float:
        return abs(x)

    def f64_copysign(a: float, b: float) -> float:
        return _copysign(a, b)

else:  # pragma: no cover - only on platforms whose FPU touches NaNs here

    def f64_neg(x: float) -> float:
        return _unpack_d(_pack_Q(_unpack_Q(_pack_d(x))[0] ^ 0x8000000000000000))[0]

    def f64_abs(x: float) -> float:
        return _unpack_d(_pack_Q(_unpack_Q(_pack_d(x))[0] & 0x7FFFFFFFFFFFFFFF))[0]

    def f64_copysign(a: float, b: float) -> float:
        sa = _unpack_Q(_pack_d(a))[0] & 0x7FFFFFFFFFFFFFFF
        sb = _unpack_Q(_pack_d(b))[0] & 0x8000000000000000
        return _unpack_d(_pack_Q(sa | sb))[0]


# f32 values are f64 values with the same sign bit: same functions.
f32_neg = f64_neg
f32_abs = f64_abs
f32_copysign = f64_copysign


# --------------------------------------------------------------- comparisons


def f64_eq(a: float, b: float) -> int:
    return 1 if a == b else 0


def f64_ne(a: float, b: float) -> int:
    return 1 if a != b else 0


def f64_lt(a: float, b: float) -> int:
    return 1 if a < b else 0


def f64_gt(a: float, b: float) -> int:
    return 1 if a > b else 0


def f64_le(a: float, b: float) -> int:
    return 1 if a <= b else 0


def f64_ge(a: float, b: float) -> int:
    return 1 if a >= b else 0


f32_eq = f64_eq
f32_ne = f64_ne
f32_lt = f64_lt
f32_gt = f64_gt
f32_le = f64_le
f32_ge = f64_ge


# ---------------------------------------------------------------- arithmetic


def f64_add(a: float, b: float) -> float:
    return a + b


def f64_sub(a: float, b: float) -> float:
    return a - b


def f64_mul(a: float, b: float) -> float:
    return a * b


def f64_div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:  # Python refuses x / +-0.0; IEEE does not
        if a != a:
            return a * 1.0  # quieted operand
        if a == 0.0:
            return _NAN
        return _copysign(_INF, a) * _copysign(1.0, b)


def f64_sqrt(x: float) -> float:
    try:
        return _sqrt(x)  # a NaN operand comes back quieted
    except ValueError:  # negative (not -0.0) or -inf
        return _NAN


def f64_min(a: float, b: float) -> float:
    if a < b:
        return a
    if b < a:
        return b
    if a == b:
        if a == 0.0:
            # -0.0 if either is -0.0 (IEEE: -0 - +0 = -0 under ties-to-even)
            return -((-a) - b)
        return a
    return a + b  # a NaN operand: its quieted copy


def f64_max(a: float, b: float) -> float:
    if a > b:
        return a
    if b > a:
        return b
    if a == b:
        if a == 0.0:
            return a + b  # +0.0 unless both are -0.0
        return a
    return a + b


f32_min = f64_min
f32_max = f64_max


def f32_add(a: float, b: float) -> float:
    try:
        return _unpack_f(_pack_f(a + b))[0]
    except OverflowError:
        return _INF if a + b > 0.0 else _NINF


def f32_sub(a: float, b: float) -> float:
    try:
        return _unpack_f(_pack_f(a - b))[0]
    except OverflowError:
        return _INF if a - b > 0.0 else _NINF


def f32_mul(a: float, b: float) -> float:
    try:
        return _unpack_f(_pack_f(a * b))[0]
    except OverflowError:
        return _INF if a * b > 0.0 else _NINF


def f32_div(a: float, b: float) -> float:
    try:
        return _unpack_f(_pack_f(a / b))[0]
    except OverflowError:
        return _INF if a / b > 0.0 else _NINF
    except ZeroDivisionError:
        if a != a:
            return a * 1.0
        if a == 0.0:
            return _NAN
        return _copysign(_INF, a) * _copysign(1.0, b)


def f32_sqrt(x: float) -> float:
    try:
        return _unpack_f(_pack_f(_sqrt(x)))[0]  # never overflows
    except ValueError:
        return _NAN


# ------------------------------------------------------------------ rounding
# Every double with magnitude >= 2**52 (every f32 with magnitude >= 2**23) is
# an integer already; those, infinities and NaNs take the last line, where
# ``x * 1.0`` returns the value itself and quiets a NaN. Zero results take
# their sign from ``x * 0.0``.


def _integral(round_: Callable[[float], int], name: str) -> Callable[[float], float]:
    """An f64 rounding instruction from an integer-valued rounding function.

    Values with |x| >= 2**52, infinities and NaNs are already integral (or
    NaN, quieted by ``x * 1.0``); a zero result takes its sign from ``x``.
    """
    def op(x: float) -> float:
        if -_T52 < x < _T52:
            r = round_(x)
            if r == 0:
                return x * 0.0
            return float(r)
        return x * 1.0

    op.__name__ = op.__qualname__ = name
    return op


f64_ceil = _integral(_ceil, "f64_ceil")
f64_floor = _integral(_floor, "f64_floor")
f64_trunc = _integral(int, "f64_trunc")


def f64_nearest(x: float) -> float:
    # Adding 2**52 leaves no fraction bits: the FPU rounds to an integer,
    # ties to even (2**52 is even, so parity is that of the result).
    if 0.0 < x < _T52:
        return (x + 4503599627370496.0) - 4503599627370496.0
    if -_T52 < x < 0.0:
        return -((4503599627370496.0 - x) - 4503599627370496.0)
    return x * 1.0


f32_ceil = f64_ceil
f32_floor = f64_floor
f32_trunc = f64_trunc
f32_nearest = f64_nearest


# ------------------------------------------------- float -> int (trapping)


def _bad(x: float) -> Trap:
    return Trap(_BAD_CONV if x != x else _OVERFLOW)


def i32_trunc_f64_s(x: float) -> int:
    """Truncate toward zero to a signed i32.

    Raises Trap(BAD_CONVERSION_TO_INTEGER) for NaN and Trap(INTEGER_OVERFLOW)
    if the result is outside ``[-2**31, 2**31)``.
    """
    if -2147483649.0 < x < 2147483648.0:
        return int(x) & 0xFFFFFFFF
    raise _bad(x)


def i32_trunc_f64_u(x: float) -> int:
    """Truncate toward zero to an unsigned i32.

    Raises Trap(BAD_CONVERSION_TO_INTEGER) for NaN and Trap(INTEGER_OVERFLOW)
    if the result is outside ``[0, 2**32)``.
    """
    if -1.0 < x < 4294967296.0:
        return int(x)
    raise _bad(x)


def i64_trunc_f64_s(x: float) -> int:
    """Truncate toward zero to a signed i64.

    Raises Trap(BAD_CONVERSION_TO_INTEGER) for NaN and Trap(INTEGER_OVERFLOW)
    if the result is outside ``[-2**63, 2**63)``.
    """
    if -9223372036854775808.0 <= x < 9223372036854775808.0:
        return int(x) & 0xFFFFFFFFFFFFFFFF
    raise _bad(x)


def i64_trunc_f64_u(x: float) -> int:
    """Truncate toward zero to an unsigned i64.

    Raises Trap(BAD_CONVERSION_TO_INTEGER) for NaN and Trap(INTEGER_OVERFLOW)
    if the result is outside ``[0, 2**64)``.
    """
    if -1.0 < x < 18446744073709551616.0:
        return int(x)
    raise _bad(x)


# An f32 value is its own double: the bounds above are exact for both.
i32_trunc_f32_s = i32_trunc_f64_s
i32_trunc_f32_u = i32_trunc_f64_u
i64_trunc_f32_s = i64_trunc_f64_s
i64_trunc_f32_u = i64_trunc_f64_u


# ----------------------------------------------- float -> int (saturating)


def i32_trunc_sat_f64_s(x: float) -> int:
    if -2147483649.0 < x < 2147483648.0:
        return int(x) & 0xFFFFFFFF
    if x != x:
        return 0
    return 0x7FFFFFFF if x > 0.0 else 0x80000000


def i32_trunc_sat_f64_u(x: float) -> int:
    if -1.0 < x < 4294967296.0:
        return int(x)
    if x > 0.0:
        return 0xFFFFFFFF
    return 0  # NaN or below zero


def i64_trunc_sat_f64_s(x: float) -> int:
    if -9223372036854775808.0 <= x < 9223372036854775808.0:
        return int(x) & 0xFFFFFFFFFFFFFFFF
    if x != x:
        return 0
    return 0x7FFFFFFFFFFFFFFF if x > 0.0 else 0x8000000000000000


def i64_trunc_sat_f64_u(x: float) -> int:
    if -1.0 < x < 18446744073709551616.0:
        return int(x)
    if x > 0.0:
        return 0xFFFFFFFFFFFFFFFF
    return 0


i32_trunc_sat_f32_s = i32_trunc_sat_f64_s
i32_trunc_sat_f32_u = i32_trunc_sat_f64_u
i64_trunc_sat_f32_s = i64_trunc_sat_f64_s
i64_trunc_sat_f32_u = i64_trunc_sat_f64_u


# ------------------------------------------------------------ int -> float


def _f32_from_int(v: int) -> float:
    """The f32 nearest to the integer ``v`` (ties to even), rounded once.

    Up to 2**53 the double ``float(v)`` is exact, so one f32 rounding follows;
    beyond, going through a double would round twice, so the integer is
    rounded to 24 significant bits directly.
    """
    if -16777216 <= v <= 16777216:
        return float(v)  # exact in f32
    if -9007199254740992 <= v <= 9007199254740992:
        return _unpack_f(_pack_f(float(v)))[0]  # far below the f32 overflow
    neg = v < 0
    if neg:
        v = -v
    shift = v.bit_length() - 24
    q = v >> shift
    rest = v & ((1 << shift) - 1)
    half = 1 << (shift - 1)
    if rest > half or (rest == half and q & 1):
        q += 1
    f = float(q << shift)  # at most 25 significant bits: exact
    return -f if neg else f


def f32_convert_i32_s(a: int) -> float:
    return _unpack_f(_pack_f(float((a ^ 0x80000000) - 0x80000000)))[0]


def f32_convert_i32_u(a: int) -> float:
    return _unpack_f(_pack_f(float(a)))[0]


def f32_convert_i64_s(a: int) -> float:
    return _f32_from_int((a ^ 0x8000000000000000) - 0x8000000000000000)


def f32_convert_i64_u(a: int) -> float:
    return _f32_from_int(a)


def f64_convert_i32_s(a: int) -> float:
    return float((a ^ 0x80000000) - 0x80000000)


def f64_convert_i32_u(a: int) -> float:
    return float(a)


def f64_convert_i64_s(a: int) -> float:
    # CPython's int -> float conversion is correctly rounded (ties to even).
    return float((a ^ 0x8000000000000000) - 0x8000000000000000)


def f64_convert_i64_u(a: int) -> float:
    return float(a)


# ------------------------------------------------------- float <-> float


def f32_demote_f64(x: float) -> float:
    if x != x:
        return _copysign(_NAN, x)  # canonical NaN, sign kept
    return f32_round(x)


def f64_promote_f32(x: float) -> float:
    return x * 1.0  # exact; quiets a signalling NaN as the spec requires


# ------------------------------------------------------------ reinterpret


def i32_reinterpret_f32(x: float) -> int:
    return f32_to_bits(x)


def i64_reinterpret_f64(x: float) -> int:
    return _unpack_Q(_pack_d(x))[0]


def f32_reinterpret_i32(a: int) -> float:
    return f32_from_bits(a)


def f64_reinterpret_i64(a: int) -> float:
    return _unpack_d(_pack_Q(a))[0]


_OPS = (
    "f32.eq f32.ne f32.lt f32.gt f32.le f32.ge "
    "f64.eq f64.ne f64.lt f64.gt f64.le f64.ge "
    "f32.abs f32.neg f32.ceil f32.floor f32.trunc f32.nearest f32.sqrt "
    "f32.add f32.sub f32.mul f32.div f32.min f32.max f32.copysign "
    "f64.abs f64.neg f64.ceil f64.floor f64.trunc f64.nearest f64.sqrt "
    "f64.add f64.sub f64.mul f64.div f64.min f64.max f64.copysign "
    "i32.trunc_f32_s i32.trunc_f32_u i32.trunc_f64_s i32.trunc_f64_u "
    "i64.trunc_f32_s i64.trunc_f32_u i64.trunc_f64_s i64.trunc_f64_u "
    "f32.convert_i32_s f32.convert_i32_u f32.convert_i64_s f32.convert_i64_u f32.demote_f64 "
    "f64.convert_i32_s f64.convert_i32_u f64.convert_i64_s f64.convert_i64_u f64.promote_f32 "
    "i32.reinterpret_f32 i64.reinterpret_f64 f32.reinterpret_i32 f64.reinterpret_i64 "
    "i32.trunc_sat_f32_s i32.trunc_sat_f32_u i32.trunc_sat_f64_s i32.trunc_sat_f64_u "
    "i64.trunc_sat_f32_s i64.trunc_sat_f32_u i64.trunc_sat_f64_s i64.trunc_sat_f64_u"
).split()

#: instruction name -> function, for every instruction in this module.
FLOAT_FUNCS: dict[str, Callable[..., Any]] = {op: globals()[op.replace(".", "_")] for op in _OPS}

__all__ = [
    *(name.replace(".", "_") for name in FLOAT_FUNCS),
    "f32_from_bits",
    "f32_to_bits",
    "f64_from_bits",
    "f64_to_bits",
    "f32_round",
    "f32_load",
    "f32_store",
    "is_canonical_nan32",
    "is_arithmetic_nan32",
    "is_canonical_nan64",
    "is_arithmetic_nan64",
    "INF",
    "NINF",
    "CANONICAL_NAN",
    "F32_CANONICAL_NAN_BITS",
    "F64_CANONICAL_NAN_BITS",
    "NATIVE_SIGN_OPS",
    "FLOAT_FUNCS",
]
