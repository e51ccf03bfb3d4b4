"""Tests for wasmbox.exec.numerics: unit edge cases and a differential test
against wasmtime (the reference engine).

The differential part builds one Wasm module with, per numeric instruction,
a batch function that reads raw operand bits from memory (floats are
reinterpreted inside Wasm, so NaN payloads go in and come out exactly),
applies the instruction and writes the raw result bits back. A trap stops
the batch; the index reached is in memory, so the harness records the trap
and resumes after it. Our side runs the same operands through
``numerics.FUNCS``. Results must match bit for bit, except where the spec
allows a choice of NaN: then both must obey the spec's rule (canonical NaN
when every NaN operand is canonical, else any arithmetic NaN).
"""
from __future__ import annotations

import math
import random
import re
import struct

import pytest
import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wasmbox.errors import Trap, TrapCode
from wasmbox.exec import numerics as N
from wasmbox.syntax.opcodes import OPS

# --------------------------------------------------------------- helpers

f32b = N.f32_from_bits
f64b = N.f64_from_bits
bits32 = N.f32_to_bits
bits64 = N.f64_to_bits


def f32(x: float) -> float:
    """A Python float literal rounded to f32 (for readable test data)."""
    return N.f32_round(x)


def same64(x: float, y: float) -> bool:
    return bits64(x) == bits64(y)


def is_nan32(b: int) -> bool:
    return (b & 0x7F800000) == 0x7F800000 and (b & 0x7FFFFF) != 0


def is_nan64(b: int) -> bool:
    return (b & 0x7FF0000000000000) == 0x7FF0000000000000 and (b & 0xFFFFFFFFFFFFF) != 0


def valid_f32_rep(x: float) -> bool:
    """The representation invariant: an exact f32 value, NaNs with low 29 bits clear."""
    d = bits64(x)
    if x != x:
        return (d & 0x1FFFFFFF) == 0 and (d & 0xFFFFFFFFFFFFF) != 0
    return bits64(f32b(bits32(x))) == d


def trap_code(fn, *args) -> TrapCode:
    with pytest.raises(Trap) as info:
        fn(*args)
    return info.value.code


# The numeric instructions of the opcode table (no SIMD, no memory, no const).
NUMERIC_OPS = sorted(
    op.name
    for op in (OPS.values() if isinstance(OPS, dict) else OPS)
    if re.match(r"^[if](32|64)\.", op.name) and not re.search(r"load|store|const", op.name)
)
WIDE_OPS = {"i64.add128": (4, 2), "i64.sub128": (4, 2), "i64.mul_wide_s": (2, 2), "i64.mul_wide_u": (2, 2)}


def signature(op: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(param types, result types) of a numeric instruction, from its name."""
    if op in WIDE_OPS:
        n_in, n_out = WIDE_OPS[op]
        return ("i64",) * n_in, ("i64",) * n_out
    t, name = op.split(".")
    m = re.search(r"_(i32|i64|f32|f64)(_s|_u)?$", name)
    if m and name not in ("extend8_s", "extend16_s", "extend32_s"):
        return (m.group(1),), (t,)
    if name in ("eqz",):
        return (t,), ("i32",)
    if name in ("eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u",
                "lt", "gt", "le", "ge"):
        return (t, t), ("i32",)
    if name in ("clz", "ctz", "popcnt", "extend8_s", "extend16_s", "extend32_s",
                "abs", "neg", "ceil", "floor", "trunc", "nearest", "sqrt"):
        return (t,), (t,)
    return (t, t), (t,)


# ------------------------------------------------------------ coverage


def test_every_numeric_instruction_is_covered() -> None:
    assert len(NUMERIC_OPS) == 140
    assert set(N.FUNCS) == set(NUMERIC_OPS)
    for op, fn in N.FUNCS.items():
        assert getattr(N, op.replace(".", "_")) is fn
        assert callable(fn)


# ------------------------------------------------------- representation


def test_f64_bits_round_trip_keeps_payloads() -> None:
    for b in (0, 1 << 63, 1, 0x7FF0000000000000, 0x7FF0000000000001, 0x7FF4000000000000,
              0xFFF0000000000001, 0x7FF8000000000000, 0x7FFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF,
              0x000FFFFFFFFFFFFF, 0x3FF0000000000000):
        assert bits64(f64b(b)) == b
        assert N.i64_reinterpret_f64(N.f64_reinterpret_i64(b)) == b


def test_f32_bits_round_trip_keeps_signalling_nans() -> None:
    for b in (0, 0x80000000, 1, 0x007FFFFF, 0x00800000, 0x3F800000, 0x7F7FFFFF, 0x7F800000,
              0xFF800000, 0x7FC00000, 0xFFC00000, 0x7FA00000, 0x7F800001, 0xFF800001,
              0x7FBFFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x7FC00001):
        x = f32b(b)
        assert bits32(x) == b
        assert N.i32_reinterpret_f32(N.f32_reinterpret_i32(b)) == b
        assert valid_f32_rep(x)


def test_f32_nan_representation_is_the_shifted_payload() -> None:
    # sNaN 0x7FA00001: the f64 image is 0x7FF << 52 | 0x200001 << 29, still signalling.
    assert bits64(f32b(0x7FA00001)) == 0x7FF0000000000000 | (0x200001 << 29)
    assert bits64(f32b(0xFF800001)) == 0xFFF0000000000000 | (1 << 29)
    assert bits64(f32b(0x7FC00000)) == 0x7FF8000000000000
    # an f64 NaN whose payload is only in the low bits maps to a quiet f32 NaN
    assert bits32(f64b(0x7FF0000000000001)) == 0x7FC00000
    assert bits32(f64b(0xFFF0000000000001)) == 0xFFC00000


def test_f32_load_and_store_keep_nan_bits() -> None:
    buf = bytearray(12)
    for b in (0x7FA00001, 0xFF800001, 0x7FC00000, 0x3F800000, 0x80000000, 0x00000001):
        struct.pack_into("<I", buf, 4, b)
        x = N.f32_load(buf, 4)
        assert bits32(x) == b and valid_f32_rep(x)
        N.f32_store(buf, 8, x)
        assert struct.unpack_from("<I", buf, 8)[0] == b
    with pytest.raises(struct.error):
        N.f32_load(memoryview(buf), 9)


def test_f32_round_ties_to_even_and_overflow() -> None:
    one = 1.0
    assert f32(one + 2.0**-24) == 1.0  # tie, even is 1.0
    assert f32(one + 3 * 2.0**-24) == 1.0 + 2.0**-22  # tie, odd rounds up
    assert f32(one + 2.0**-24 + 2.0**-50) == 1.0 + 2.0**-23
    flt_max = f32b(0x7F7FFFFF)
    half_ulp = 2.0**103
    assert f32(flt_max + half_ulp) == math.inf  # tie at the top: up to inf
    assert f32(-(flt_max + half_ulp)) == -math.inf
    assert f32(flt_max + half_ulp * 0.99) == flt_max
    assert f32(1e300) == math.inf and f32(-1e300) == -math.inf
    assert f32(math.inf) == math.inf
    # subnormals and underflow keep the sign
    assert same64(f32(2.0**-150), 0.0)  # tie to even (zero)
    assert same64(f32(-(2.0**-150)), -0.0)
    assert f32(2.0**-150 * 1.5) == 2.0**-149
    assert f32(2.0**-149 * 1.5) == 2.0**-148  # tie between 1 and 2 ulps: even
    assert same64(f32(-1e-300), -0.0)
    assert math.isnan(f32(math.nan))


def test_native_sign_ops_are_bit_exact_here() -> None:
    # The fast path is the one benchmarks run; make sure this platform takes it.
    assert N.NATIVE_SIGN_OPS


# -------------------------------------------------------------- integer


def test_integer_division_traps_and_signs() -> None:
    for fn in (N.i32_div_s, N.i32_div_u, N.i32_rem_s, N.i32_rem_u,
               N.i64_div_s, N.i64_div_u, N.i64_rem_s, N.i64_rem_u):
        assert trap_code(fn, 5, 0) is TrapCode.INTEGER_DIVISION_BY_ZERO
    with pytest.raises(Trap, match="^integer divide by zero$"):
        N.i32_div_u(1, 0)
    assert trap_code(N.i32_div_s, 0x80000000, 0xFFFFFFFF) is TrapCode.INTEGER_OVERFLOW
    assert trap_code(N.i64_div_s, 1 << 63, (1 << 64) - 1) is TrapCode.INTEGER_OVERFLOW
    with pytest.raises(Trap, match="^integer overflow$"):
        N.i32_div_s(0x80000000, 0xFFFFFFFF)
    m = 0xFFFFFFFF
    assert N.i32_div_s(7 & m, -2 & m) == -3 & m
    assert N.i32_div_s(-7 & m, 2) == -3 & m
    assert N.i32_div_s(-7 & m, -2 & m) == 3
    assert N.i32_div_s(0x80000000, 2) == 0xC0000000
    assert N.i32_rem_s(-7 & m, 2) == -1 & m
    assert N.i32_rem_s(7, -2 & m) == 1
    assert N.i32_rem_s(0x80000000, m) == 0
    assert N.i64_rem_s(1 << 63, (1 << 64) - 1) == 0
    assert N.i64_div_s(-7 & N.M64, 2) == -3 & N.M64
    assert N.i32_div_u(0xFFFFFFFF, 2) == 0x7FFFFFFF


def test_integer_bit_ops() -> None:
    assert N.i32_clz(0) == 32 and N.i32_ctz(0) == 32 and N.i64_clz(0) == 64 and N.i64_ctz(0) == 64
    assert N.i32_clz(0x80000000) == 0 and N.i32_ctz(0x80000000) == 31
    assert N.i64_popcnt((1 << 64) - 1) == 64
    assert N.i32_rotl(0x80000001, 1) == 3 and N.i32_rotr(3, 1) == 0x80000001
    assert N.i32_rotl(0x12345678, 32) == 0x12345678
    assert N.i64_rotr(1, 65) == 1 << 63
    assert N.i32_shr_s(0x80000000, 31) == 0xFFFFFFFF and N.i32_shr_s(0x80000000, 32) == 0x80000000
    assert N.i32_shl(1, 33) == 2 and N.i64_shr_u(1 << 63, 127) == 1
    assert N.i32_extend8_s(0x80) == 0xFFFFFF80 and N.i32_extend16_s(0x17FFF) == 0x7FFF
    assert N.i64_extend32_s(0x80000000) == 0xFFFFFFFF80000000
    assert N.i64_extend_i32_s(0xFFFFFFFF) == (1 << 64) - 1 and N.i64_extend_i32_u(0xFFFFFFFF) == 0xFFFFFFFF
    assert N.i32_wrap_i64(0x123456789) == 0x23456789
    assert N.i32_lt_s(0xFFFFFFFF, 0) == 1 and N.i32_lt_u(0xFFFFFFFF, 0) == 0
    assert type(N.i32_eqz(0)) is int and type(N.f64_lt(1.0, 2.0)) is int


def test_wide_arithmetic() -> None:
    m = N.M64
    assert N.i64_add128(m, 0, 1, 0) == (0, 1)
    assert N.i64_sub128(0, 0, 1, 0) == (m, m)
    assert N.i64_mul_wide_u(m, m) == (1, m - 1)
    assert N.i64_mul_wide_s(m, m) == (1, 0)  # -1 * -1
    assert N.i64_mul_wide_s(m, 2) == (m - 1, m)  # -2


# ---------------------------------------------------------------- float


NAN = math.nan
SNAN32 = f32b(0x7FA00000)
SNAN64 = f64b(0x7FF4000000000000)


def test_min_max_zeros_and_nans() -> None:
    for fmin, fmax in ((N.f32_min, N.f32_max), (N.f64_min, N.f64_max)):
        assert same64(fmin(0.0, -0.0), -0.0) and same64(fmin(-0.0, 0.0), -0.0)
        assert same64(fmax(0.0, -0.0), 0.0) and same64(fmax(-0.0, 0.0), 0.0)
        assert same64(fmin(-0.0, -0.0), -0.0) and same64(fmax(-0.0, -0.0), -0.0)
        assert same64(fmin(0.0, 0.0), 0.0) and same64(fmax(0.0, 0.0), 0.0)
        assert fmin(-math.inf, 1.0) == -math.inf and fmax(-math.inf, math.inf) == math.inf
    for x in (1.0, -0.0, math.inf):
        assert N.is_canonical_nan32(bits32(N.f32_min(x, NAN)))
        assert N.is_canonical_nan32(bits32(N.f32_max(NAN, x)))
        assert N.is_arithmetic_nan32(bits32(N.f32_min(SNAN32, x)))
        assert N.is_arithmetic_nan64(bits64(N.f64_max(x, SNAN64)))
        assert valid_f32_rep(N.f32_min(SNAN32, x))


def test_rounding_ops() -> None:
    cases = [  # x, ceil, floor, trunc, nearest
        (-0.0, -0.0, -0.0, -0.0, -0.0),
        (0.0, 0.0, 0.0, 0.0, 0.0),
        (0.5, 1.0, 0.0, 0.0, 0.0),
        (-0.5, -0.0, -1.0, -0.0, -0.0),
        (1.5, 2.0, 1.0, 1.0, 2.0),
        (-1.5, -1.0, -2.0, -1.0, -2.0),
        (2.5, 3.0, 2.0, 2.0, 2.0),
        (-2.5, -2.0, -3.0, -2.0, -2.0),
        (0.75, 1.0, 0.0, 0.0, 1.0),
        (-0.25, -0.0, -1.0, -0.0, -0.0),
        (4503599627370495.5, 4503599627370496.0, 4503599627370495.0, 4503599627370495.0,
         4503599627370496.0),
        (-4503599627370495.5, -4503599627370495.0, -4503599627370496.0, -4503599627370495.0,
         -4503599627370496.0),
        (2.0**60, 2.0**60, 2.0**60, 2.0**60, 2.0**60),
        (math.inf, math.inf, math.inf, math.inf, math.inf),
        (-math.inf, -math.inf, -math.inf, -math.inf, -math.inf),
        (5e-324, 1.0, 0.0, 0.0, 0.0),
        (-5e-324, -0.0, -1.0, -0.0, -0.0),
    ]
    for x, c, f, t, n in cases:
        assert same64(N.f64_ceil(x), c), x
        assert same64(N.f64_floor(x), f), x
        assert same64(N.f64_trunc(x), t), x
        assert same64(N.f64_nearest(x), n), x
    # f32: 2**23 - 0.5 is the largest f32 with a fraction
    x = f32(8388607.5)
    assert N.f32_nearest(x) == 8388608.0 and N.f32_floor(x) == 8388607.0
    assert N.f32_nearest(f32(-8388607.5)) == -8388608.0
    for fn in (N.f32_ceil, N.f32_floor, N.f32_trunc, N.f32_nearest, N.f32_sqrt):
        assert N.is_arithmetic_nan32(bits32(fn(SNAN32)))
        assert valid_f32_rep(fn(SNAN32))
        assert N.is_canonical_nan32(bits32(fn(NAN)))
    for fn in (N.f64_ceil, N.f64_floor, N.f64_trunc, N.f64_nearest, N.f64_sqrt):
        assert N.is_arithmetic_nan64(bits64(fn(SNAN64)))
        assert N.is_canonical_nan64(bits64(fn(NAN)))


def test_sqrt_and_division_special_cases() -> None:
    assert same64(N.f64_sqrt(-0.0), -0.0) and same64(N.f32_sqrt(-0.0), -0.0)
    assert N.is_canonical_nan64(bits64(N.f64_sqrt(-1.0)))
    assert N.is_canonical_nan32(bits32(N.f32_sqrt(-math.inf)))
    assert N.f32_sqrt(2.0) == f32(math.sqrt(2.0))
    for div in (N.f32_div, N.f64_div):
        assert div(1.0, 0.0) == math.inf and div(1.0, -0.0) == -math.inf
        assert div(-1.0, 0.0) == -math.inf and div(-math.inf, -0.0) == math.inf
        assert same64(div(1.0, math.inf), 0.0) and same64(div(-1.0, math.inf), -0.0)
        assert math.isnan(div(0.0, 0.0)) and math.isnan(div(-0.0, -0.0))
        assert math.isnan(div(math.inf, math.inf))
    assert N.is_canonical_nan64(bits64(N.f64_div(0.0, -0.0)))
    assert N.is_arithmetic_nan64(bits64(N.f64_div(SNAN64, 0.0)))
    assert N.is_arithmetic_nan32(bits32(N.f32_div(SNAN32, -0.0)))
    assert valid_f32_rep(N.f32_div(SNAN32, -0.0))
    assert N.is_canonical_nan64(bits64(N.f64_add(math.inf, -math.inf)))
    assert N.is_canonical_nan32(bits32(N.f32_mul(math.inf, 0.0)))


def test_f32_arithmetic_rounds_and_overflows() -> None:
    flt_max = f32b(0x7F7FFFFF)
    assert N.f32_add(flt_max, flt_max) == math.inf
    assert N.f32_sub(-flt_max, flt_max) == -math.inf
    assert N.f32_mul(flt_max, 2.0) == math.inf and N.f32_mul(-flt_max, 2.0) == -math.inf
    assert N.f32_div(flt_max, 0.5) == math.inf
    assert N.f32_add(1.0, 2.0**-24) == 1.0
    assert N.f32_add(f32(0.1), f32(0.2)) == f32(f32(0.1) + f32(0.2))
    tiny = f32b(1)
    assert same64(N.f32_mul(tiny, 0.5), 0.0) and same64(N.f32_mul(-tiny, 0.5), -0.0)
    assert N.f32_div(tiny, 2.0) == 0.0
    assert N.f32_mul(tiny, 1.5) == 2.0**-148


def test_sign_ops_are_bit_operations() -> None:
    for b in (0x7FA00001, 0xFFA00001, 0x7FC00000, 0x7F800001, 0x00000001, 0x80000000):
        x = f32b(b)
        assert bits32(N.f32_neg(x)) == b ^ 0x80000000
        assert bits32(N.f32_abs(x)) == b & 0x7FFFFFFF
        assert bits32(N.f32_copysign(x, -1.0)) == b | 0x80000000
        assert bits32(N.f32_copysign(x, f32b(0xFFC00000))) == b | 0x80000000
        assert bits32(N.f32_copysign(x, f32b(0x7FC00000))) == b & 0x7FFFFFFF
    for b in (0x7FF4000000000001, 0xFFF0000000000001, 0x7FF8000000000000, 0x8000000000000000):
        x = f64b(b)
        assert bits64(N.f64_neg(x)) == b ^ (1 << 63)
        assert bits64(N.f64_abs(x)) == b & ~(1 << 63)
        assert bits64(N.f64_copysign(x, -0.0)) == b | (1 << 63)
        assert bits64(N.f64_copysign(x, f64b(0x7FF0000000000001))) == b & ~(1 << 63)


def test_trapping_truncations_at_the_boundaries() -> None:
    m32, m64 = 0xFFFFFFFF, N.M64
    assert N.i32_trunc_f32_s(f32(-2147483648.0)) == 0x80000000
    assert trap_code(N.i32_trunc_f32_s, f32b(0xCF000001)) is TrapCode.INTEGER_OVERFLOW  # -2147483904
    assert trap_code(N.i32_trunc_f32_s, 2147483648.0) is TrapCode.INTEGER_OVERFLOW
    assert N.i32_trunc_f32_s(f32b(0x4EFFFFFF)) == 2147483520
    assert N.i32_trunc_f64_s(-2147483648.9) == 0x80000000
    assert trap_code(N.i32_trunc_f64_s, -2147483649.0) is TrapCode.INTEGER_OVERFLOW
    assert N.i32_trunc_f64_s(2147483647.9) == 0x7FFFFFFF
    assert N.i32_trunc_f32_u(f32(-0.9)) == 0 and N.i32_trunc_f64_u(-0.99999) == 0
    assert trap_code(N.i32_trunc_f32_u, -1.0) is TrapCode.INTEGER_OVERFLOW
    assert N.i32_trunc_f64_u(4294967295.9) == m32
    assert trap_code(N.i32_trunc_f64_u, 4294967296.0) is TrapCode.INTEGER_OVERFLOW
    assert N.i64_trunc_f64_s(-9223372036854775808.0) == 1 << 63
    assert trap_code(N.i64_trunc_f64_s, 9223372036854775808.0) is TrapCode.INTEGER_OVERFLOW
    assert trap_code(N.i64_trunc_f64_s, -9223372036854777856.0) is TrapCode.INTEGER_OVERFLOW
    assert N.i64_trunc_f64_u(18446744073709549568.0) == 18446744073709549568
    assert trap_code(N.i64_trunc_f64_u, 18446744073709551616.0) is TrapCode.INTEGER_OVERFLOW
    assert N.i64_trunc_f32_s(-1.5) == -1 & m64
    for fn in (N.i32_trunc_f32_s, N.i32_trunc_f32_u, N.i64_trunc_f64_s, N.i64_trunc_f64_u):
        assert trap_code(fn, NAN) is TrapCode.BAD_CONVERSION_TO_INTEGER
        assert trap_code(fn, SNAN64) is TrapCode.BAD_CONVERSION_TO_INTEGER
        assert trap_code(fn, math.inf) is TrapCode.INTEGER_OVERFLOW
        assert trap_code(fn, -math.inf) is TrapCode.INTEGER_OVERFLOW
    with pytest.raises(Trap, match="^invalid conversion to integer$"):
        N.i32_trunc_f32_s(NAN)


def test_saturating_truncations() -> None:
    m64 = N.M64
    assert N.i32_trunc_sat_f32_s(NAN) == 0 and N.i64_trunc_sat_f64_u(SNAN64) == 0
    assert N.i32_trunc_sat_f64_s(1e10) == 0x7FFFFFFF and N.i32_trunc_sat_f64_s(-1e10) == 0x80000000
    assert N.i32_trunc_sat_f64_u(-1e10) == 0 and N.i32_trunc_sat_f64_u(1e10) == 0xFFFFFFFF
    assert N.i64_trunc_sat_f64_s(math.inf) == 0x7FFFFFFFFFFFFFFF
    assert N.i64_trunc_sat_f64_s(-math.inf) == 1 << 63
    assert N.i64_trunc_sat_f64_u(math.inf) == m64 and N.i64_trunc_sat_f64_u(-math.inf) == 0
    assert N.i64_trunc_sat_f32_s(-2.5) == -2 & m64


def test_int_to_float_rounds_once() -> None:
    # 2**63 + 2**39 + 1: just above the f32 halfway point, but a double would
    # first round it to the halfway point, then to even (down).
    v = (1 << 63) + (1 << 39) + 1
    assert N.f32_convert_i64_u(v) == float((1 << 63) + (1 << 40))
    w = -((1 << 62) + (1 << 38) + 1) & N.M64  # the same trap, negative
    assert N.f32_convert_i64_s(w) == -float((1 << 62) + (1 << 39))
    assert N.f32_convert_i64_s(v) == -float((1 << 63) - (1 << 39))
    assert N.f32_convert_i64_u((1 << 63) + (1 << 39)) == float(1 << 63)  # tie, even
    assert N.f32_convert_i64_u((1 << 64) - 1) == 2.0**64
    assert N.f32_convert_i64_s(1 << 63) == -(2.0**63)
    assert N.f32_convert_i32_u(0xFFFFFFFF) == 2.0**32
    assert N.f32_convert_i32_s(0x80000000) == -(2.0**31)
    assert N.f32_convert_i32_s(16777217) == 16777216.0
    assert N.f32_convert_i32_s(16777219) == 16777220.0
    assert N.f64_convert_i64_u((1 << 64) - 1) == 2.0**64
    assert N.f64_convert_i64_s((1 << 53) + 1) == 2.0**53
    assert N.f64_convert_i64_s((1 << 53) + 3) == 2.0**53 + 4
    assert N.f64_convert_i32_s(0xFFFFFFFF) == -1.0
    for fn in (N.f32_convert_i64_u, N.f32_convert_i32_s, N.f32_convert_i64_s):
        assert valid_f32_rep(fn(0x7FFFFFFF))


def test_demote_and_promote() -> None:
    assert N.f32_demote_f64(1.0 + 2.0**-24) == 1.0
    assert N.f32_demote_f64(1e300) == math.inf and N.f32_demote_f64(-1e300) == -math.inf
    assert same64(N.f32_demote_f64(-1e-300), -0.0)
    assert N.f32_demote_f64(2.0**-149) == 2.0**-149
    assert N.is_arithmetic_nan32(bits32(N.f32_demote_f64(SNAN64)))
    assert N.is_canonical_nan32(bits32(N.f32_demote_f64(-NAN)))
    assert valid_f32_rep(N.f32_demote_f64(f64b(0x7FF0000000000001)))
    assert N.is_arithmetic_nan64(bits64(N.f64_promote_f32(SNAN32)))
    assert N.is_canonical_nan64(bits64(N.f64_promote_f32(f32b(0xFFC00000))))
    assert same64(N.f64_promote_f32(-0.0), -0.0) and N.f64_promote_f32(f32b(1)) == 2.0**-149


# --------------------------------------------------------------- INLINE


def _sample_values(t: str, rng: random.Random, n: int) -> list:
    edges = {"i32": I32_EDGES, "i64": I64_EDGES, "f32": F32_EDGES, "f64": F64_EDGES}[t]
    raw = list(edges) + [RANDOM_BITS[t](rng) for _ in range(n)]
    if t == "f32":
        return [f32b(b) for b in raw]
    if t == "f64":
        return [f64b(b) for b in raw]
    return raw


def test_inline_templates_agree_with_functions() -> None:
    rng = random.Random(1234)
    assert "i32.add" in N.INLINE and "f64.mul" in N.INLINE and "i64.rotl" in N.INLINE_REPEATS
    for op, tpl in N.INLINE.items():
        assert op in N.FUNCS, op
        params, results = signature(op)
        names = ["x", "y"][: len(params)]
        expr = tpl.format(**dict(zip("ab", names)))
        code = compile(f"lambda {', '.join(names)}: {expr}", f"<{op}>", "eval")
        fn = eval(code, {})
        # literal operands must work too (templates parenthesize operands)
        lit = tpl.format(**{k: "(1)" for k in "ab"})
        eval(compile(lit, "<lit>", "eval"), {})
        ref = N.FUNCS[op]
        vals = [_sample_values(t, rng, 60) for t in params]
        for i in range(200 if len(params) == 2 else 120):
            args = [v[rng.randrange(len(v))] for v in vals]
            if i < len(vals[0]):
                args[0] = vals[0][i]
            got, want = fn(*args), ref(*args)
            assert type(got) is type(want), (op, args)
            if isinstance(want, float):
                assert bits64(got) == bits64(want) or (
                    want != want and got != got and
                    N.is_arithmetic_nan64(bits64(got)) == N.is_arithmetic_nan64(bits64(want))
                ), (op, args)
            else:
                assert got == want, (op, args)


# ------------------------------------------------- differential: wasmtime

F32_EDGES = [
    0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00800000,
    0x80800000, 0x3F800000, 0xBF800000, 0x3F000000, 0xBF000000, 0x3FC00000, 0xBFC00000,
    0x40200000, 0xC0200000, 0x3F7FFFFF, 0xBF7FFFFF, 0x3F000001, 0x3EFFFFFF, 0xBEFFFFFF,
    0x4B000000, 0x4AFFFFFF, 0xCAFFFFFF, 0x4B000001, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000,
    0xFF800000, 0x7FC00000, 0xFFC00000, 0x7FA00000, 0xFFA00001, 0x7F800001, 0x7FC00001,
    0x7FFFFFFF, 0xFFFFFFFF, 0x40490FDB, 0xC0C90FDB, 0x4F000000, 0x4EFFFFFF, 0xCF000000,
    0xCF000001, 0x4F800000, 0x4F7FFFFF, 0x5F000000, 0x5EFFFFFF, 0xDF000000, 0xDF000001,
    0x5F800000, 0x5F7FFFFF, 0x34000000, 0x33800000, 0x7F000000, 0x00000003,
]


def _d(x: float) -> int:
    return bits64(x)


F64_EDGES = [
    0x0000000000000000, 0x8000000000000000, 0x0000000000000001, 0x8000000000000001,
    0x000FFFFFFFFFFFFF, 0x800FFFFFFFFFFFFF, 0x0010000000000000, 0x8010000000000000,
    _d(1.0), _d(-1.0), _d(0.5), _d(-0.5), _d(1.5), _d(-1.5), _d(2.5), _d(-2.5),
    _d(0.49999999999999994), _d(-0.49999999999999994), _d(0.5000000000000001),
    _d(0.9999999999999999), _d(-0.9999999999999999), _d(2.0**52), _d(4503599627370495.5),
    _d(-4503599627370495.5), _d(2.0**52 + 1), _d(2.0**53), 0x7FEFFFFFFFFFFFFF,
    0xFFEFFFFFFFFFFFFF, 0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000,
    0xFFF8000000000000, 0x7FF0000000000001, 0x7FF4000000000000, 0xFFF4000000000000,
    0x7FF8000000000001, 0x7FFFFFFFFFFFFFFF, 0xFFFFFFFFFFFFFFFF, 0x7FF0000020000000,
    _d(math.pi), _d(-2 * math.pi),
    # f32 rounding points
    _d(3.4028234663852886e38), _d(3.4028235677973366e38), _d(3.4028235677973362e38),
    _d(-3.4028235677973366e38), _d(2.0**-150), _d(-(2.0**-150)), _d(2.0**-150 * 1.0000001),
    _d(2.0**-149 * 1.5), _d(1.0 + 2.0**-24), _d(1.0 + 3 * 2.0**-24), _d(1e-300), _d(1e300),
    # truncation boundaries
    _d(2.0**31), _d(2.0**31 - 1), _d(2147483647.5), _d(-(2.0**31)), _d(-2147483649.0),
    _d(-2147483648.9999998), _d(2.0**32), _d(4294967295.9999995), _d(-0.9999999999999999),
    _d(2.0**63), _d(9223372036854774784.0), _d(-(2.0**63)), _d(-9223372036854777856.0),
    _d(2.0**64), _d(18446744073709549568.0),
]

I32_EDGES = [
    0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
    0x80000000, 0x80000001, 0xFFFFFFFF, 0xFFFFFFFE, 0x00FFFFFF, 0x01000000, 0x01000001,
    0x01000003, 0xFEFFFFFF, 31, 32, 33, 63, 64, 0x12345678, 0x87654321, 0xAAAAAAAA,
    0x55555555, 0xFFFFFF80, 0xFFFF8000, 0x7FFFFF80, 0xFFFFFFC0,
]

I64_EDGES = [
    0, 1, 2, 3, 31, 32, 63, 64, 65, 127, 0x7F, 0x80, 0xFF, 0x8000, 0xFFFF, 0x7FFFFFFF,
    0x80000000, 0xFFFFFFFF, 0x100000000, (1 << 64) - 1, (1 << 64) - 2, 1 << 63, (1 << 63) - 1,
    (1 << 63) + 1, 1 << 53, (1 << 53) + 1, (1 << 53) - 1, (1 << 24) + 1, 0x0123456789ABCDEF,
    0xFEDCBA9876543210, (1 << 40) + (1 << 16), (1 << 40) + (1 << 17) + (1 << 16),
    (1 << 40) + (1 << 16) + 1, (1 << 63) + (1 << 39) + 1, (1 << 63) + (1 << 39),
    ((1 << 64) - (1 << 63) - (1 << 39) - 1), 0x7FFFFF4000000001, 0xFFFFFFFF80000000,
    (1 << 64) - (1 << 53) - 1, 0x20000000000001, 0xAAAAAAAAAAAAAAAA,
]


def _rand_f32_bits(rng: random.Random) -> int:
    k = rng.randrange(8)
    sign = rng.getrandbits(1) << 31
    if k == 0:
        return rng.getrandbits(32)
    if k == 1:  # NaN with random payload
        return sign | 0x7F800000 | (rng.getrandbits(23) or 1)
    if k == 2:  # subnormal / tiny
        return sign | rng.getrandbits(rng.randrange(1, 24))
    if k == 3:  # near-integers and halves (rounding ops, truncations)
        v = rng.randrange(-(1 << 25), 1 << 25) / rng.choice((1, 2, 4, 8))
        return bits32(f32(v))
    if k == 4:  # around conversion boundaries
        base = rng.choice((2.0**31, 2.0**32, 2.0**63, 2.0**64, 2.0**23, 2.0**24, 1.0))
        b = bits32(f32(base)) + rng.randrange(-3, 4)
        return (b | sign) & 0xFFFFFFFF
    if k == 5:  # mid-range exponent, random mantissa
        return sign | (rng.randrange(100, 160) << 23) | rng.getrandbits(23)
    if k == 6:
        return sign | (rng.randrange(0, 255) << 23) | rng.getrandbits(23)
    return rng.choice(F32_EDGES)


def _rand_f64_bits(rng: random.Random) -> int:
    k = rng.randrange(8)
    sign = rng.getrandbits(1) << 63
    if k == 0:
        return rng.getrandbits(64)
    if k == 1:
        return sign | 0x7FF0000000000000 | (rng.getrandbits(52) or 1)
    if k == 2:
        return sign | rng.getrandbits(rng.randrange(1, 53))
    if k == 3:
        v = rng.randrange(-(1 << 54), 1 << 54) / rng.choice((1, 2, 4, 8, 1 << 30))
        return bits64(v)
    if k == 4:
        base = rng.choice((2.0**31, 2.0**32, 2.0**63, 2.0**64, 2.0**52, 2.0**53, 1.0,
                           3.4028234663852886e38, 2.0**-149, 2.0**-126))
        b = bits64(base) + rng.randrange(-3, 4) * rng.choice((1, 1 << 28, 1 << 29, 1 << 30))
        return (b | sign) & N.M64
    if k == 5:  # f32 values, to exercise demote/promote and f32-like inputs
        return bits64(f32b(_rand_f32_bits(rng)))
    if k == 6:
        return sign | (rng.randrange(900, 1150) << 52) | rng.getrandbits(52)
    return rng.choice(F64_EDGES)


def _rand_int_bits(w: int, rng: random.Random) -> int:
    k = rng.randrange(6)
    mask = (1 << w) - 1
    if k == 0:
        return rng.getrandbits(w)
    if k == 1:
        return rng.randrange(-300, 300) & mask
    if k == 2:
        return ((1 << rng.randrange(w)) + rng.randrange(-3, 4)) & mask
    if k == 3:  # integers with a chosen tie pattern below 24 significant bits
        n = rng.randrange(25, w + 1)
        q = (1 << 23) | rng.getrandbits(23)
        s = n - 24
        low = rng.choice((0, 1 << (s - 1), (1 << (s - 1)) - 1, (1 << (s - 1)) + 1,
                          rng.getrandbits(s))) if s > 0 else 0
        v = ((q << s) | low) & mask
        return (-v & mask) if rng.getrandbits(1) else v
    if k == 4:
        return rng.getrandbits(rng.randrange(1, w + 1))
    return rng.choice(I32_EDGES if w == 32 else I64_EDGES) & mask


RANDOM_BITS = {
    "i32": lambda rng: _rand_int_bits(32, rng),
    "i64": lambda rng: _rand_int_bits(64, rng),
    "f32": _rand_f32_bits,
    "f64": _rand_f64_bits,
}
EDGES = {"i32": I32_EDGES, "i64": I64_EDGES, "f32": F32_EDGES, "f64": F64_EDGES}

# Results of these are bit-exact even for NaNs; others follow the NaN rules.
BIT_EXACT = {"f32.abs", "f32.neg", "f32.copysign", "f64.abs", "f64.neg", "f64.copysign",
             "f32.reinterpret_i32", "f64.reinterpret_i64"}

N_MAX = 4096
IN_BASE = 64
OUT_BASE = IN_BASE + 32 * N_MAX


def _batch_func(idx: int, op: str) -> str:
    params, results = signature(op)
    loads = []
    for k, t in enumerate(params):
        if t in ("i32", "f32"):
            load = f"(i32.load offset={8 * k} (local.get $p))"
            loads.append(f"(f32.reinterpret_i32 {load})" if t == "f32" else load)
        else:
            load = f"(i64.load offset={8 * k} (local.get $p))"
            loads.append(f"(f64.reinterpret_i64 {load})" if t == "f64" else load)
    locals_ = " ".join(f"(local $r{k} {t})" for k, t in enumerate(results))
    sets = " ".join(f"(local.set $r{k})" for k in reversed(range(len(results))))
    stores = []
    for k, t in enumerate(results):
        v = f"(local.get $r{k})"
        if t == "f32":
            v = f"(i32.reinterpret_f32 {v})"
        elif t == "f64":
            v = f"(i64.reinterpret_f64 {v})"
        store = "i32.store" if t in ("i32", "f32") else "i64.store"
        stores.append(f"({store} offset={8 * k} (local.get $q) {v})")
    return f"""
  (func (export "b{idx}") (param $start i32) (param $n i32)
    (local $i i32) (local $p i32) (local $q i32) {locals_}
    (local.set $i (local.get $start))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (i32.const 0) (local.get $i))
        (local.set $p (i32.add (i32.const {IN_BASE}) (i32.shl (local.get $i) (i32.const 5))))
        (local.set $q (i32.add (i32.const {OUT_BASE}) (i32.shl (local.get $i) (i32.const 4))))
        {' '.join(loads)}
        {op}
        {sets}
        {' '.join(stores)}
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
  )"""


class Reference:
    """wasmtime running every numeric instruction over batches of raw bits."""

    def __init__(self) -> None:
        cfg = wasmtime.Config()
        cfg.wasm_wide_arithmetic = True
        engine = wasmtime.Engine(cfg)
        self.store = wasmtime.Store(engine)
        body = "".join(_batch_func(i, op) for i, op in enumerate(NUMERIC_OPS))
        wat = f"(module (memory (export \"mem\") 4) {body})"
        module = wasmtime.Module(engine, wasmtime.wat2wasm(wat))
        inst = wasmtime.Instance(self.store, module, [])
        exports = inst.exports(self.store)
        self.mem = exports["mem"]
        self.funcs = {op: exports[f"b{i}"] for i, op in enumerate(NUMERIC_OPS)}

    def run(self, op: str, records: list[tuple[int, ...]]) -> list:
        """Per record: a tuple of result bits, or ``("trap", TrapCode name)``."""
        params, results = signature(op)
        out: list = []
        for base in range(0, len(records), N_MAX):
            chunk = records[base: base + N_MAX]
            buf = bytearray(32 * len(chunk))
            for i, rec in enumerate(chunk):
                struct.pack_into(f"<{len(rec)}Q", buf, 32 * i, *rec)
            self.mem.write(self.store, buf, IN_BASE)
            res: list = [None] * len(chunk)
            start = 0
            while start < len(chunk):
                try:
                    self.funcs[op](self.store, start, len(chunk))
                    break
                except wasmtime.Trap as e:
                    i = struct.unpack("<I", self.mem.read(self.store, 0, 4))[0]
                    res[i] = ("trap", e.trap_code.name)
                    start = i + 1
            raw = self.mem.read(self.store, OUT_BASE, OUT_BASE + 16 * len(chunk))
            for i in range(len(chunk)):
                if res[i] is None:
                    res[i] = tuple(
                        struct.unpack_from("<I" if t in ("i32", "f32") else "<Q", raw, 16 * i + 8 * k)[0]
                        for k, t in enumerate(results)
                    )
            out.extend(res)
        return out


def ours(op: str, rec: tuple[int, ...]):
    """Run our implementation on raw bits; result bits or ("trap", name)."""
    params, results = signature(op)
    args = [f32b(b) if t == "f32" else f64b(b) if t == "f64" else b for t, b in zip(params, rec)]
    try:
        r = N.FUNCS[op](*args)
    except Trap as e:
        return ("trap", e.code.name)
    vals = r if len(results) > 1 else (r,)
    out = []
    for t, v in zip(results, vals):
        if t == "f32":
            assert type(v) is float and valid_f32_rep(v), (op, rec, v)
            out.append(bits32(v))
        elif t == "f64":
            assert type(v) is float, (op, rec, v)
            out.append(bits64(v))
        else:
            assert type(v) is int and 0 <= v < (1 << int(t[1:])), (op, rec, v)
            out.append(v)
    return tuple(out)


def _nan_rule_ok(t: str, bits: int, nan_args: list[tuple[str, int]]) -> bool:
    """Whether ``bits`` is an acceptable NaN result given the NaN operands."""
    canon = N.is_canonical_nan32 if t == "f32" else N.is_canonical_nan64
    arith = N.is_arithmetic_nan32 if t == "f32" else N.is_arithmetic_nan64
    if any(not (N.is_canonical_nan32 if at == "f32" else N.is_canonical_nan64)(ab)
           for at, ab in nan_args):
        return arith(bits)
    return canon(bits)


def compare(op: str, recs: list[tuple[int, ...]], refs: list) -> list[str]:
    """Mismatches between wasmtime's results and ours, as readable lines."""
    params, results = signature(op)
    bad = []
    for rec, ref in zip(recs, refs):
        got = ours(op, rec)
        if got == ref:
            continue
        ok = False
        if ref[0] != "trap" and got[0] != "trap" and op not in BIT_EXACT:
            nan_args = [(t, b) for t, b in zip(params, rec)
                        if (t == "f32" and is_nan32(b)) or (t == "f64" and is_nan64(b))]
            ok = True
            for t, rb, gb in zip(results, ref, got):
                if rb == gb:
                    continue
                is_nan = is_nan32 if t == "f32" else is_nan64 if t == "f64" else None
                if not (is_nan and is_nan(rb) and is_nan(gb)
                        and _nan_rule_ok(t, gb, nan_args) and _nan_rule_ok(t, rb, nan_args)):
                    ok = False
        if not ok:
            bad.append(f"{op}{tuple(hex(b) for b in rec)}: wasmtime {_fmt(ref)}, ours {_fmt(got)}")
    return bad


def _fmt(r) -> str:
    return r[1] if r[0] == "trap" else str(tuple(hex(b) for b in r))


@pytest.fixture(scope="module")
def reference() -> Reference:
    return Reference()


def _edge_records(op: str) -> list[tuple[int, ...]]:
    params, _ = signature(op)
    if len(params) == 1:
        return [(b,) for b in EDGES[params[0]]]
    if len(params) == 2:
        e0, e1 = EDGES[params[0]], EDGES[params[1]]
        return [(a, b) for a in e0 for b in e1]
    e = I64_EDGES[:16]
    rng = random.Random(7)
    return [tuple(rng.choice(e) for _ in params) for _ in range(2000)]


def _random_records(op: str, n: int, seed: int) -> list[tuple[int, ...]]:
    params, _ = signature(op)
    rng = random.Random(f"{op}/{seed}")
    recs = []
    for _ in range(n):
        rec = [RANDOM_BITS[t](rng) for t in params]
        # pairs of nearby operands (cancellation, equal values, min/max ties)
        if len(params) == 2 and params[0] == params[1] and rng.random() < 0.25:
            rec[1] = (rec[0] ^ rng.getrandbits(rng.randrange(1, 8))) if rng.random() < 0.7 else rec[0]
        recs.append(tuple(rec))
    return recs


@pytest.mark.parametrize("op", NUMERIC_OPS)
def test_differential_edges_and_random(reference: Reference, op: str) -> None:
    recs = _edge_records(op) + _random_records(op, 1500, seed=0)
    bad = compare(op, recs, reference.run(op, recs))
    assert not bad, f"{len(bad)} mismatches, first: " + "\n".join(bad[:10])


def _bits_strategy(t: str) -> st.SearchStrategy[int]:
    if t in ("i32", "i64"):
        w = int(t[1:])
        return st.one_of(
            st.sampled_from(EDGES[t]),
            st.integers(0, (1 << w) - 1),
            st.integers(-1000, 1000).map(lambda v: v & ((1 << w) - 1)),
            st.randoms(use_true_random=False).map(lambda r: _rand_int_bits(w, r)),
        )
    w = int(t[1:])
    sign = st.sampled_from((0, 1 << (w - 1)))
    exp_bits, man_bits = (8, 23) if w == 32 else (11, 52)
    nan = st.builds(lambda s, p: s | (((1 << exp_bits) - 1) << man_bits) | p,
                    sign, st.integers(1, (1 << man_bits) - 1))
    floats = st.floats(width=w).map(bits32 if w == 32 else bits64)
    return st.one_of(
        st.sampled_from(EDGES[t]),
        nan,
        floats,
        st.integers(0, (1 << w) - 1),
        st.randoms(use_true_random=False).map(RANDOM_BITS[t]),
    )


@pytest.mark.parametrize("op", NUMERIC_OPS)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_differential_hypothesis(reference: Reference, op: str, data: st.DataObject) -> None:
    params, _ = signature(op)
    rec_strategy = st.tuples(*(_bits_strategy(t) for t in params))
    recs = data.draw(st.lists(rec_strategy, min_size=1, max_size=40), label="operands")
    bad = compare(op, recs, reference.run(op, recs))
    assert not bad, "\n".join(bad[:10])
