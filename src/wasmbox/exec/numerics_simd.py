"""Every SIMD instruction of Wasm 2.0 (the 128-bit vector instructions), bit-exact,
and relaxed SIMD (Wasm 3.0) with the deterministic results (:data:`RELAXED_SAME`).

Value representation (binding for the compiler and the runtime): a **v128**
is an unsigned Python int, ``0 <= v < 2**128``, little-endian: lane 0 of any
shape is the lowest bits. Integer lanes are read unsigned (or signed where
the instruction is signed) and written back reduced to their width; float
lanes are the f32/f64 bit patterns, read and written with the scalar
helpers of :mod:`wasmbox.exec.numerics_float`, so every per-lane float
operation *is* the scalar instruction (f32 lanes rounded after every
operation, NaN rules, signed zeros of min/max) -- one definition of each.

Each instruction is a function named after it with ``.`` -> ``_``
(``i16x8.add_sat_s`` -> ``i16x8_add_sat_s``). Operands come in stack order;
an instruction's immediates follow them as extra arguments: a lane index
(``i8x16_extract_lane_s(v, 3)``, ``i32x4_replace_lane(v, x, 1)``) or the
16 lane indices of ``i8x16.shuffle`` as a tuple. :data:`SIMD_FUNCS` maps
every instruction name to its function, :data:`SIMD_ARITY` to its number
of stack operands.

Memory forms (:data:`SIMD_MEM_FUNCS`) take the memory's buffer and the
effective address first (``v128_load(M0, ea)``, ``v128_store(M0, ea, v)``,
``v128_load8_lane(M0, ea, v, lane)``) and go through ``struct``, so an
access not wholly inside the buffer raises ``struct.error`` (turned into
the "out of bounds memory access" trap at the call boundary), and a store
that does not fit writes nothing.

:data:`SIMD_INLINE` holds expression templates for the plain bitwise
instructions, under the rules of :data:`wasmbox.exec.numerics.INLINE`.

Nothing here raises except the memory forms (``struct.error``): no SIMD
instruction traps.
"""
from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

from wasmbox.exec.numerics_float import (
    CANONICAL_NAN,
    FLOAT_FUNCS,
    f32_from_bits,
    f32_to_bits,
    f64_from_bits,
    f64_to_bits,
)

M128 = (1 << 128) - 1

#: lane width (bits) -> (unsigned Struct, signed Struct) of 16 bytes of lanes
_U = {8: struct.Struct("<16B"), 16: struct.Struct("<8H"), 32: struct.Struct("<4I"),
      64: struct.Struct("<2Q")}
_S = {8: struct.Struct("<16b"), 16: struct.Struct("<8h"), 32: struct.Struct("<4i"),
      64: struct.Struct("<2q")}
_D2 = struct.Struct("<2d")

#: shape -> (lane width in bits, lane count)
SHAPES = {"i8x16": (8, 16), "i16x8": (16, 8), "i32x4": (32, 4), "i64x2": (64, 2),
          "f32x4": (32, 4), "f64x2": (64, 2)}


# -- lanes ---------------------------------------------------------------------

def lanes_u(v: int, w: int) -> tuple[int, ...]:
    """The lanes of width w of v, unsigned, lane 0 first."""
    return _U[w].unpack(v.to_bytes(16, "little"))


def lanes_s(v: int, w: int) -> tuple[int, ...]:
    """The lanes of width w of v, signed, lane 0 first."""
    return _S[w].unpack(v.to_bytes(16, "little"))


def join(lanes: Any, w: int) -> int:
    """The v128 of all 128/w integer lanes of width w (any ints: each reduced modulo 2**w)."""
    m = (1 << w) - 1
    return int.from_bytes(_U[w].pack(*[x & m for x in lanes]), "little")


def lanes_f32(v: int) -> list[float]:
    """The four f32 lanes of v (NaN payloads kept)."""
    return [f32_from_bits(b) for b in lanes_u(v, 32)]


def lanes_f64(v: int) -> tuple[float, ...]:
    """The two f64 lanes of v (NaN payloads kept)."""
    return _D2.unpack(v.to_bytes(16, "little"))


def join_f32(xs: Any) -> int:
    return join([f32_to_bits(x) for x in xs], 32)


def join_f64(xs: Any) -> int:
    return int.from_bytes(_D2.pack(*xs), "little")


def _sat(x: int, lo: int, hi: int) -> int:
    return lo if x < lo else hi if x > hi else x


def _signed_range(w: int) -> tuple[int, int]:
    return -(1 << (w - 1)), (1 << (w - 1)) - 1


def _named(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    fn.__name__ = fn.__qualname__ = name.replace(".", "_")
    return fn


SIMD_FUNCS: dict[str, Callable[..., Any]] = {}
SIMD_ARITY: dict[str, int] = {}


def _reg(name: str, arity: int, fn: Callable[..., Any]) -> None:
    SIMD_FUNCS[name] = _named(name, fn)
    SIMD_ARITY[name] = arity


# -- v128: constants, bitwise ------------------------------------------------------

def v128_not(a: int) -> int:
    return a ^ M128


def v128_and(a: int, b: int) -> int:
    return a & b


def v128_andnot(a: int, b: int) -> int:
    return a & (b ^ M128)


def v128_or(a: int, b: int) -> int:
    return a | b


def v128_xor(a: int, b: int) -> int:
    return a ^ b


def v128_bitselect(a: int, b: int, c: int) -> int:
    """Bits of a where c is 1, bits of b where c is 0."""
    return (a & c) | (b & (c ^ M128))


def v128_any_true(a: int) -> int:
    return 1 if a else 0


for _f, _n in ((v128_not, 1), (v128_and, 2), (v128_andnot, 2), (v128_or, 2), (v128_xor, 2),
               (v128_bitselect, 3), (v128_any_true, 1)):
    _reg(_f.__name__.replace("_", ".", 1), _n, _f)

SIMD_INLINE: dict[str, str] = {
    "v128.not": "(({a}) ^ 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF)",
    "v128.and": "(({a}) & ({b}))",
    "v128.or": "(({a}) | ({b}))",
    "v128.xor": "(({a}) ^ ({b}))",
    "v128.andnot": "(({a}) & (({b}) ^ 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF))",
    "v128.any_true": "(1 if {a} else 0)",
}


# -- shuffles -------------------------------------------------------------------------

def i8x16_shuffle(a: int, b: int, lanes: tuple[int, ...]) -> int:
    """Byte i of the result is byte lanes[i] of a's bytes followed by b's (lanes < 32)."""
    src = a.to_bytes(16, "little") + b.to_bytes(16, "little")
    return int.from_bytes(bytes([src[i] for i in lanes]), "little")


def i8x16_swizzle(a: int, s: int) -> int:
    """Byte i of the result is byte s[i] of a, or 0 when s[i] >= 16."""
    src = a.to_bytes(16, "little")
    return int.from_bytes(bytes([src[i] if i < 16 else 0 for i in s.to_bytes(16, "little")]),
                          "little")


_reg("i8x16.shuffle", 2, i8x16_shuffle)
_reg("i8x16.swizzle", 2, i8x16_swizzle)


# -- splat, extract_lane, replace_lane -----------------------------------------------

def _repeat(w: int) -> int:
    return sum(1 << (k * w) for k in range(128 // w))


def _int_lane_ops(shape: str) -> None:
    w, n = SHAPES[shape]
    m = (1 << w) - 1
    rep = _repeat(w)
    sign = 1 << (w - 1)

    def splat(x: int) -> int:
        return (x & m) * rep

    def replace_lane(v: int, x: int, lane: int) -> int:
        sh = lane * w
        return (v & ~(m << sh)) | ((x & m) << sh)

    _reg(f"{shape}.splat", 1, splat)
    _reg(f"{shape}.replace_lane", 2, replace_lane)
    if w < 32:
        def extract_lane_s(v: int, lane: int) -> int:
            return ((((v >> (lane * w)) & m) ^ sign) - sign) & 0xFFFFFFFF

        def extract_lane_u(v: int, lane: int) -> int:
            return (v >> (lane * w)) & m

        _reg(f"{shape}.extract_lane_s", 1, extract_lane_s)
        _reg(f"{shape}.extract_lane_u", 1, extract_lane_u)
    else:
        def extract_lane(v: int, lane: int) -> int:
            return (v >> (lane * w)) & m

        _reg(f"{shape}.extract_lane", 1, extract_lane)


for _shape in ("i8x16", "i16x8", "i32x4", "i64x2"):
    _int_lane_ops(_shape)


def f32x4_splat(x: float) -> int:
    return f32_to_bits(x) * _repeat(32)


def f64x2_splat(x: float) -> int:
    return f64_to_bits(x) * _repeat(64)


def f32x4_extract_lane(v: int, lane: int) -> float:
    return f32_from_bits((v >> (lane * 32)) & 0xFFFFFFFF)


def f64x2_extract_lane(v: int, lane: int) -> float:
    return f64_from_bits((v >> (lane * 64)) & 0xFFFFFFFFFFFFFFFF)


def f32x4_replace_lane(v: int, x: float, lane: int) -> int:
    sh = lane * 32
    return (v & ~(0xFFFFFFFF << sh)) | (f32_to_bits(x) << sh)


def f64x2_replace_lane(v: int, x: float, lane: int) -> int:
    sh = lane * 64
    return (v & ~(0xFFFFFFFFFFFFFFFF << sh)) | (f64_to_bits(x) << sh)


for _f, _n in ((f32x4_splat, 1), (f64x2_splat, 1), (f32x4_extract_lane, 1),
               (f64x2_extract_lane, 1), (f32x4_replace_lane, 2), (f64x2_replace_lane, 2)):
    _reg(_f.__name__.replace("_", ".", 1), _n, _f)


# -- integer lane-wise operations ---------------------------------------------------
#
# Each operation is defined once, on lanes (Python ints, unsigned or signed
# as the instruction reads them); the factories below apply it to every lane.

def _lanewise2(shape: str, signed: bool, f: Callable[[int, int], int]) -> Callable[[int, int], int]:
    w = SHAPES[shape][0]
    read = lanes_s if signed else lanes_u

    def op(a: int, b: int) -> int:
        return join(map(f, read(a, w), read(b, w)), w)

    return op


def _lanewise1(shape: str, signed: bool, f: Callable[[int], int]) -> Callable[[int], int]:
    w = SHAPES[shape][0]
    read = lanes_s if signed else lanes_u

    def op(a: int) -> int:
        return join(map(f, read(a, w)), w)

    return op


def _compare(shape: str, signed: bool, f: Callable[[Any, Any], bool]) -> Callable[[int, int], int]:
    """A comparison: all ones in the lanes where f holds, zeros elsewhere."""
    w = SHAPES[shape][0]
    m = (1 << w) - 1
    read = lanes_s if signed else lanes_u

    def op(a: int, b: int) -> int:
        return join([m if f(x, y) else 0 for x, y in zip(read(a, w), read(b, w))], w)

    return op


_INT_CMP: dict[str, Callable[[int, int], bool]] = {
    "eq": lambda x, y: x == y, "ne": lambda x, y: x != y,
    "lt": lambda x, y: x < y, "gt": lambda x, y: x > y,
    "le": lambda x, y: x <= y, "ge": lambda x, y: x >= y,
}


def _int_shape_ops(shape: str) -> None:
    w, n = SHAPES[shape]
    m = (1 << w) - 1
    lo, hi = _signed_range(w)
    top = 1 << (w - 1)
    # comparisons (i64x2 has only the signed ones)
    for name, f in _INT_CMP.items():
        if name in ("eq", "ne"):
            _reg(f"{shape}.{name}", 2, _compare(shape, False, f))
            continue
        _reg(f"{shape}.{name}_s", 2, _compare(shape, True, f))
        if w < 64:
            _reg(f"{shape}.{name}_u", 2, _compare(shape, False, f))
    _reg(f"{shape}.add", 2, _lanewise2(shape, False, lambda x, y: x + y))
    _reg(f"{shape}.sub", 2, _lanewise2(shape, False, lambda x, y: x - y))
    if w > 8:
        _reg(f"{shape}.mul", 2, _lanewise2(shape, False, lambda x, y: x * y))
    _reg(f"{shape}.neg", 1, _lanewise1(shape, False, lambda x: -x))
    _reg(f"{shape}.abs", 1, _lanewise1(shape, True, abs))

    def shl(a: int, s: int) -> int:
        k = s % w
        return join([x << k for x in lanes_u(a, w)], w)

    def shr_s(a: int, s: int) -> int:
        k = s % w
        return join([x >> k for x in lanes_s(a, w)], w)

    def shr_u(a: int, s: int) -> int:
        k = s % w
        return join([x >> k for x in lanes_u(a, w)], w)

    _reg(f"{shape}.shl", 2, shl)
    _reg(f"{shape}.shr_s", 2, shr_s)
    _reg(f"{shape}.shr_u", 2, shr_u)

    def all_true(a: int) -> int:
        return 1 if all(lanes_u(a, w)) else 0

    def bitmask(a: int) -> int:
        r = 0
        for k, x in enumerate(lanes_u(a, w)):
            if x & top:
                r |= 1 << k
        return r

    _reg(f"{shape}.all_true", 1, all_true)
    _reg(f"{shape}.bitmask", 1, bitmask)
    if w <= 16:
        _reg(f"{shape}.add_sat_s", 2, _lanewise2(shape, True, lambda x, y: _sat(x + y, lo, hi)))
        _reg(f"{shape}.add_sat_u", 2, _lanewise2(shape, False, lambda x, y: min(x + y, m)))
        _reg(f"{shape}.sub_sat_s", 2, _lanewise2(shape, True, lambda x, y: _sat(x - y, lo, hi)))
        _reg(f"{shape}.sub_sat_u", 2, _lanewise2(shape, False, lambda x, y: max(x - y, 0)))
        _reg(f"{shape}.avgr_u", 2, _lanewise2(shape, False, lambda x, y: (x + y + 1) >> 1))
    if w <= 32:
        _reg(f"{shape}.min_s", 2, _lanewise2(shape, True, min))
        _reg(f"{shape}.min_u", 2, _lanewise2(shape, False, min))
        _reg(f"{shape}.max_s", 2, _lanewise2(shape, True, max))
        _reg(f"{shape}.max_u", 2, _lanewise2(shape, False, max))


for _shape in ("i8x16", "i16x8", "i32x4", "i64x2"):
    _int_shape_ops(_shape)


def i8x16_popcnt(a: int) -> int:
    return join([x.bit_count() for x in lanes_u(a, 8)], 8)


def i16x8_q15mulr_sat_s(a: int, b: int) -> int:
    """Rounding, saturating Q15 multiplication of signed 16-bit lanes."""
    return join([_sat((x * y + 0x4000) >> 15, -0x8000, 0x7FFF)
                 for x, y in zip(lanes_s(a, 16), lanes_s(b, 16))], 16)


def i32x4_dot_i16x8_s(a: int, b: int) -> int:
    """Lane i: the sum of the products of signed 16-bit lanes 2i and 2i+1 (wrapped)."""
    p = [x * y for x, y in zip(lanes_s(a, 16), lanes_s(b, 16))]
    return join([p[k] + p[k + 1] for k in range(0, 8, 2)], 32)


_reg("i8x16.popcnt", 1, i8x16_popcnt)
_reg("i16x8.q15mulr_sat_s", 2, i16x8_q15mulr_sat_s)
_reg("i32x4.dot_i16x8_s", 2, i32x4_dot_i16x8_s)


# -- narrowing, widening ----------------------------------------------------------

def _narrow(dst: str, sx: str) -> Callable[[int, int], int]:
    """Signed lanes of twice the width of a, then of b, saturated to dst's lanes."""
    w = SHAPES[dst][0]
    lo, hi = _signed_range(w) if sx == "s" else (0, (1 << w) - 1)

    def op(a: int, b: int) -> int:
        return join([_sat(x, lo, hi) for x in lanes_s(a, 2 * w) + lanes_s(b, 2 * w)], w)

    return op


def _half(v: int, w: int, signed: bool, high: bool) -> tuple[int, ...]:
    """The low or high half of the lanes of width w of v (signed or unsigned)."""
    ls = lanes_s(v, w) if signed else lanes_u(v, w)
    k = len(ls) // 2
    return ls[k:] if high else ls[:k]


def _extend(dst: str, half: str, sx: str) -> Callable[[int], int]:
    w = SHAPES[dst][0]

    def op(a: int) -> int:
        return join(_half(a, w // 2, sx == "s", half == "high"), w)

    return op


def _extmul(dst: str, half: str, sx: str) -> Callable[[int, int], int]:
    w = SHAPES[dst][0]

    def op(a: int, b: int) -> int:
        signed, high = sx == "s", half == "high"
        return join([x * y for x, y in zip(_half(a, w // 2, signed, high),
                                           _half(b, w // 2, signed, high))], w)

    return op


def _extadd_pairwise(dst: str, sx: str) -> Callable[[int], int]:
    w = SHAPES[dst][0]

    def op(a: int) -> int:
        ls = lanes_s(a, w // 2) if sx == "s" else lanes_u(a, w // 2)
        return join([ls[k] + ls[k + 1] for k in range(0, len(ls), 2)], w)

    return op


for _dst, _src in (("i8x16", "i16x8"), ("i16x8", "i32x4")):
    for _sx in ("s", "u"):
        _reg(f"{_dst}.narrow_{_src}_{_sx}", 2, _narrow(_dst, _sx))
for _dst, _src in (("i16x8", "i8x16"), ("i32x4", "i16x8"), ("i64x2", "i32x4")):
    for _sx in ("s", "u"):
        for _h in ("low", "high"):
            _reg(f"{_dst}.extend_{_h}_{_src}_{_sx}", 1, _extend(_dst, _h, _sx))
            _reg(f"{_dst}.extmul_{_h}_{_src}_{_sx}", 2, _extmul(_dst, _h, _sx))
        if _dst != "i64x2":
            _reg(f"{_dst}.extadd_pairwise_{_src}_{_sx}", 1, _extadd_pairwise(_dst, _sx))


# -- float lane-wise operations: the scalar instructions, per lane --------------------

def _float_ops(shape: str) -> None:
    t = shape[:3]
    read, write = (lanes_f32, join_f32) if t == "f32" else (lanes_f64, join_f64)
    w = SHAPES[shape][0]
    m = (1 << w) - 1
    for name in ("abs", "neg", "sqrt", "ceil", "floor", "trunc", "nearest"):
        f1 = FLOAT_FUNCS[f"{t}.{name}"]

        def unary(a: int, f1: Callable[[float], float] = f1) -> int:
            return write([f1(x) for x in read(a)])

        _reg(f"{shape}.{name}", 1, unary)
    for name in ("add", "sub", "mul", "div", "min", "max"):
        f2 = FLOAT_FUNCS[f"{t}.{name}"]

        def binary(a: int, b: int, f2: Callable[[float, float], float] = f2) -> int:
            return write([f2(x, y) for x, y in zip(read(a), read(b))])

        _reg(f"{shape}.{name}", 2, binary)
    for name in ("eq", "ne", "lt", "gt", "le", "ge"):
        fc = FLOAT_FUNCS[f"{t}.{name}"]

        def compare(a: int, b: int, fc: Callable[[float, float], int] = fc) -> int:
            return join([m if fc(x, y) else 0 for x, y in zip(read(a), read(b))], w)

        _reg(f"{shape}.{name}", 2, compare)

    def pmin(a: int, b: int) -> int:
        """Pseudo-minimum: b < a ? b : a (an operand as it is, NaNs included)."""
        return write([y if y < x else x for x, y in zip(read(a), read(b))])

    def pmax(a: int, b: int) -> int:
        """Pseudo-maximum: a < b ? b : a."""
        return write([y if x < y else x for x, y in zip(read(a), read(b))])

    _reg(f"{shape}.pmin", 2, pmin)
    _reg(f"{shape}.pmax", 2, pmax)


_float_ops("f32x4")
_float_ops("f64x2")


# -- conversions --------------------------------------------------------------------

def _conversions() -> None:
    F = FLOAT_FUNCS
    for sx in ("s", "u"):
        tsat32 = F[f"i32.trunc_sat_f32_{sx}"]
        tsat64 = F[f"i32.trunc_sat_f64_{sx}"]
        cvt32 = F[f"f32.convert_i32_{sx}"]
        cvt64 = F[f"f64.convert_i32_{sx}"]

        def trunc_sat_f32x4(a: int, f: Callable[[float], int] = tsat32) -> int:
            return join([f(x) for x in lanes_f32(a)], 32)

        def trunc_sat_f64x2_zero(a: int, f: Callable[[float], int] = tsat64) -> int:
            return join([f(x) for x in lanes_f64(a)] + [0, 0], 32)

        def convert_i32x4(a: int, f: Callable[[int], float] = cvt32) -> int:
            return join_f32([f(x) for x in lanes_u(a, 32)])

        def convert_low_i32x4(a: int, f: Callable[[int], float] = cvt64) -> int:
            return join_f64([f(x) for x in lanes_u(a, 32)[:2]])

        _reg(f"i32x4.trunc_sat_f32x4_{sx}", 1, trunc_sat_f32x4)
        _reg(f"i32x4.trunc_sat_f64x2_{sx}_zero", 1, trunc_sat_f64x2_zero)
        _reg(f"f32x4.convert_i32x4_{sx}", 1, convert_i32x4)
        _reg(f"f64x2.convert_low_i32x4_{sx}", 1, convert_low_i32x4)


_conversions()


def f32x4_demote_f64x2_zero(a: int) -> int:
    demote = FLOAT_FUNCS["f32.demote_f64"]
    return join_f32([demote(x) for x in lanes_f64(a)] + [0.0, 0.0])


def f64x2_promote_low_f32x4(a: int) -> int:
    promote = FLOAT_FUNCS["f64.promote_f32"]
    return join_f64([promote(x) for x in lanes_f32(a)[:2]])


_reg("f32x4.demote_f64x2_zero", 1, f32x4_demote_f64x2_zero)
_reg("f64x2.promote_low_f32x4", 1, f64x2_promote_low_f32x4)


# -- relaxed SIMD (Wasm 3.0), deterministically ----------------------------------------
#
# Each relaxed instruction allows a set of results; wasmbox returns the one
# wasmtime returns with ``Config.relaxed_simd_deterministic`` (see
# docs/simd.md). Where that result is a Wasm 2.0 instruction's, the relaxed
# name is an alias of it (RELAXED_SAME) and has no function of its own: one
# definition per semantics. The fused multiply-adds and the i7 dot products
# have no 2.0 counterpart and are defined here.

#: relaxed instruction -> the Wasm 2.0 instruction whose result it returns
RELAXED_SAME: dict[str, str] = {
    "i8x16.relaxed_swizzle": "i8x16.swizzle",
    "i32x4.relaxed_trunc_f32x4_s": "i32x4.trunc_sat_f32x4_s",
    "i32x4.relaxed_trunc_f32x4_u": "i32x4.trunc_sat_f32x4_u",
    "i32x4.relaxed_trunc_f64x2_s_zero": "i32x4.trunc_sat_f64x2_s_zero",
    "i32x4.relaxed_trunc_f64x2_u_zero": "i32x4.trunc_sat_f64x2_u_zero",
    "i8x16.relaxed_laneselect": "v128.bitselect",
    "i16x8.relaxed_laneselect": "v128.bitselect",
    "i32x4.relaxed_laneselect": "v128.bitselect",
    "i64x2.relaxed_laneselect": "v128.bitselect",
    "f32x4.relaxed_min": "f32x4.min",
    "f32x4.relaxed_max": "f32x4.max",
    "f64x2.relaxed_min": "f64x2.min",
    "f64x2.relaxed_max": "f64x2.max",
    "i16x8.relaxed_q15mulr_s": "i16x8.q15mulr_sat_s",
}


def _round_exact(n: int, k: int, p: int, emin: int, emax: int) -> float:
    """The float nearest to ``n / 2**k`` (n != 0) in a binary format with p
    significant bits, smallest normal exponent emin and largest exponent emax
    (ties to even; subnormals; +-inf past the largest finite value). The
    result is exact as a Python float for f64 (p=53) and f32 (p=24)."""
    neg = n < 0
    if neg:
        n = -n
    e = n.bit_length() - 1 - k           # 2**e <= |value| < 2**(e+1)
    q = max(e, emin) - (p - 1)           # exponent of the result's last place
    shift = k + q
    if shift <= 0:
        m = n << -shift
    else:
        m = n >> shift
        rest = n & ((1 << shift) - 1)
        half = 1 << (shift - 1)
        if rest > half or (rest == half and m & 1):
            m += 1
    if m.bit_length() - 1 + q > emax:
        r = math.inf
    else:
        r = math.ldexp(m, q)
    return -r if neg else r


def _fma(a: float, b: float, c: float, p: int, emin: int, emax: int,
         naive: Callable[[float, float, float], float]) -> float:
    """a * b + c rounded once (IEEE 754 fusedMultiplyAdd) to the format (p, emin, emax).

    NaN results: with a NaN operand, what ``naive`` (the unfused scalar
    instructions) gives -- an arithmetic NaN; an invalid operation (inf * 0,
    inf - inf) gives the canonical NaN.
    """
    if a != a or b != b or c != c:
        return naive(a, b, c)
    ainf, binf = math.isinf(a), math.isinf(b)
    if ainf or binf:
        if a == 0.0 or b == 0.0:
            return CANONICAL_NAN
        prod = math.copysign(math.inf, a) * math.copysign(1.0, b)
        if math.isinf(c) and c != prod:
            return CANONICAL_NAN
        return prod
    if math.isinf(c):
        return c
    na, da = a.as_integer_ratio()        # the denominators are powers of two
    nb, db = b.as_integer_ratio()
    nc, dc = c.as_integer_ratio()
    kab = (da * db).bit_length() - 1     # a * b == na * nb / 2**kab
    kc = dc.bit_length() - 1             # c == nc / 2**kc
    k = max(kab, kc)
    n = ((na * nb) << (k - kab)) + (nc << (k - kc))
    if n == 0:
        # an exact zero: -0 only when the product and c are both zeros of sign -
        prod_neg = (math.copysign(1.0, a) < 0) != (math.copysign(1.0, b) < 0)
        if na * nb == 0 and prod_neg and math.copysign(1.0, c) < 0:
            return -0.0
        return 0.0
    return _round_exact(n, k, p, emin, emax)


def _fused(shape: str, negate: bool) -> Callable[[int, int, int], int]:
    t = shape[:3]
    read, write = (lanes_f32, join_f32) if t == "f32" else (lanes_f64, join_f64)
    fmt = (24, -126, 127) if t == "f32" else (53, -1022, 1023)
    add, mul, neg = FLOAT_FUNCS[f"{t}.add"], FLOAT_FUNCS[f"{t}.mul"], FLOAT_FUNCS[f"{t}.neg"]

    def naive(x: float, y: float, z: float) -> float:
        return add(mul(x, y), z)

    def op(a: int, b: int, c: int) -> int:
        xs = read(a)
        if negate:
            xs = [neg(x) for x in xs]
        return write([_fma(x, y, z, *fmt, naive) for x, y, z in zip(xs, read(b), read(c))])

    return op


for _shape in ("f32x4", "f64x2"):
    _reg(f"{_shape}.relaxed_madd", 3, _fused(_shape, False))
    _reg(f"{_shape}.relaxed_nmadd", 3, _fused(_shape, True))


def i16x8_relaxed_dot_i8x16_i7x16_s(a: int, b: int) -> int:
    """Lane i: the sum of the products of signed 8-bit lanes 2i and 2i+1 of a and
    b (b read signed as well), wrapped to 16 bits."""
    p = [x * y for x, y in zip(lanes_s(a, 8), lanes_s(b, 8))]
    return join([p[k] + p[k + 1] for k in range(0, 16, 2)], 16)


_reg("i16x8.relaxed_dot_i8x16_i7x16_s", 2, i16x8_relaxed_dot_i8x16_i7x16_s)


def i32x4_relaxed_dot_i8x16_i7x16_add_s(a: int, b: int, c: int) -> int:
    """Lane i: the sum of the four products of signed 8-bit lanes 4i .. 4i+3 of a
    and b (b read signed), exactly -- no 16-bit intermediate wraps, unlike
    ``i16x8.relaxed_dot_i8x16_i7x16_s`` -- plus lane i of c (wrapping)."""
    p = [x * y for x, y in zip(lanes_s(a, 8), lanes_s(b, 8))]
    return join([p[k] + p[k + 1] + p[k + 2] + p[k + 3] + z
                 for k, z in zip(range(0, 16, 4), lanes_u(c, 32))], 32)


_reg("i32x4.relaxed_dot_i8x16_i7x16_add_s", 3, i32x4_relaxed_dot_i8x16_i7x16_add_s)


# -- memory ---------------------------------------------------------------------------

_Q2 = struct.Struct("<QQ")
_MEM1 = {8: struct.Struct("<B"), 16: struct.Struct("<H"), 32: struct.Struct("<I"),
         64: struct.Struct("<Q")}
_HALF = {(8, False): struct.Struct("<8B"), (8, True): struct.Struct("<8b"),
         (16, False): struct.Struct("<4H"), (16, True): struct.Struct("<4h"),
         (32, False): struct.Struct("<2I"), (32, True): struct.Struct("<2i")}

SIMD_MEM_FUNCS: dict[str, Callable[..., Any]] = {}


def v128_load(buf: Any, ea: int) -> int:
    lo, hi = _Q2.unpack_from(buf, ea)
    return lo | hi << 64


def v128_store(buf: Any, ea: int, v: int) -> None:
    _Q2.pack_into(buf, ea, v & 0xFFFFFFFFFFFFFFFF, v >> 64)


SIMD_MEM_FUNCS["v128.load"] = v128_load
SIMD_MEM_FUNCS["v128.store"] = v128_store


def _mem_forms() -> None:
    for w in (8, 16, 32):
        for sx in ("s", "u"):
            fmt = _HALF[(w, sx == "s")]

            def load_extend(buf: Any, ea: int, fmt: struct.Struct = fmt, w: int = w) -> int:
                return join(fmt.unpack_from(buf, ea), 2 * w)

            n = 64 // w
            SIMD_MEM_FUNCS[f"v128.load{w}x{n}_{sx}"] = _named(f"v128.load{w}x{n}_{sx}", load_extend)
    for w, one in _MEM1.items():
        rep = _repeat(w)
        m = (1 << w) - 1

        def load_splat(buf: Any, ea: int, one: struct.Struct = one, rep: int = rep) -> int:
            return one.unpack_from(buf, ea)[0] * rep

        def load_lane(buf: Any, ea: int, v: int, lane: int, one: struct.Struct = one,
                      w: int = w, m: int = m) -> int:
            sh = lane * w
            return (v & ~(m << sh)) | (one.unpack_from(buf, ea)[0] << sh)

        def store_lane(buf: Any, ea: int, v: int, lane: int, one: struct.Struct = one,
                       w: int = w, m: int = m) -> None:
            one.pack_into(buf, ea, (v >> (lane * w)) & m)

        SIMD_MEM_FUNCS[f"v128.load{w}_splat"] = _named(f"v128.load{w}_splat", load_splat)
        SIMD_MEM_FUNCS[f"v128.load{w}_lane"] = _named(f"v128.load{w}_lane", load_lane)
        SIMD_MEM_FUNCS[f"v128.store{w}_lane"] = _named(f"v128.store{w}_lane", store_lane)
        if w >= 32:
            def load_zero(buf: Any, ea: int, one: struct.Struct = one) -> int:
                return one.unpack_from(buf, ea)[0]

            SIMD_MEM_FUNCS[f"v128.load{w}_zero"] = _named(f"v128.load{w}_zero", load_zero)


_mem_forms()

__all__ = ["SIMD_FUNCS", "SIMD_ARITY", "RELAXED_SAME", "SIMD_INLINE", "SIMD_MEM_FUNCS", "SHAPES", "M128",
           "lanes_u", "lanes_s", "join", "lanes_f32", "lanes_f64", "join_f32", "join_f64"]
