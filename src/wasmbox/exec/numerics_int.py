"""Integer instructions of Wasm 2.0 (i32 and i64), bit-exact.

Representation (shared with the compiler and the runtime): an i32 is a
Python ``int`` in ``[0, 2**32)``, an i64 an ``int`` in ``[0, 2**64)``. Every
function here takes and returns values in that unsigned form; signed views
are made locally where an instruction is signed. Comparisons and ``eqz``
return the i32 ``1`` or ``0`` (plain ``int``, never ``bool``).

Each function is named after its instruction with ``.`` replaced by ``_``
(``i32.div_s`` -> :func:`i32_div_s`). The wide-arithmetic instructions
(``i64.add128``, ``i64.sub128``, ``i64.mul_wide_s``, ``i64.mul_wide_u``; Wasm
3.0) return a ``(low, high)`` tuple of i64s.

Raises: the division and remainder instructions raise
:class:`wasmbox.errors.Trap` with ``TrapCode.INTEGER_DIVISION_BY_ZERO``
("integer divide by zero") and, for ``div_s`` of the minimum value by -1,
``TrapCode.INTEGER_OVERFLOW`` ("integer overflow"). Nothing else raises.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wasmbox.errors import Trap, TrapCode

_DIV0 = TrapCode.INTEGER_DIVISION_BY_ZERO
_OVERFLOW = TrapCode.INTEGER_OVERFLOW

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
_B32 = 0x100000000
_B64 = 0x10000000000000000
_S32 = 0x80000000
_S64 = 0x8000000000000000


def _div0() -> Trap:
    return Trap(_DIV0)


def _overflow() -> Trap:
    return Trap(_OVERFLOW)


# --------------------------------------------------------------------- i32


def i32_eqz(a: int) -> int:
    return 1 if a == 0 else 0


def i32_eq(a: int, b: int) -> int:
    return 1 if a == b else 0


def i32_ne(a: int, b: int) -> int:
    return 1 if a != b else 0


def i32_lt_s(a: int, b: int) -> int:
    # Flipping the sign bit maps signed order onto unsigned order.
    return 1 if (a ^ 0x80000000) < (b ^ 0x80000000) else 0


def i32_lt_u(a: int, b: int) -> int:
    return 1 if a < b else 0


def i32_gt_s(a: int, b: int) -> int:
    return 1 if (a ^ 0x80000000) > (b ^ 0x80000000) else 0


def i32_gt_u(a: int, b: int) -> int:
    return 1 if a > b else 0


def i32_le_s(a: int, b: int) -> int:
    return 1 if (a ^ 0x80000000) <= (b ^ 0x80000000) else 0


def i32_le_u(a: int, b: int) -> int:
    return 1 if a <= b else 0


def i32_ge_s(a: int, b: int) -> int:
    return 1 if (a ^ 0x80000000) >= (b ^ 0x80000000) else 0


def i32_ge_u(a: int, b: int) -> int:
    return 1 if a >= b else 0


def i32_clz(a: int) -> int:
    return 32 - a.bit_length()


def i32_ctz(a: int) -> int:
    if a == 0:
        return 32
    return (a & -a).bit_length() - 1


def i32_popcnt(a: int) -> int:
    return a.bit_count()


def i32_add(a: int, b: int) -> int:
    return (a + b) & 0xFFFFFFFF


def i32_sub(a: int, b: int) -> int:
    return (a - b) & 0xFFFFFFFF


def i32_mul(a: int, b: int) -> int:
    return (a * b) & 0xFFFFFFFF


def i32_div_s(a: int, b: int) -> int:
    """Signed division truncating toward zero.

    Raises Trap(INTEGER_DIVISION_BY_ZERO) if ``b`` is 0 and
    Trap(INTEGER_OVERFLOW) for ``-2**31 / -1``.
    """
    if b == 0:
        raise _div0()
    if a < 0x80000000:
        if b < 0x80000000:
            return a // b
        return -(a // (0x100000000 - b)) & 0xFFFFFFFF
    if b < 0x80000000:
        return -((0x100000000 - a) // b) & 0xFFFFFFFF
    if a == 0x80000000 and b == 0xFFFFFFFF:
        raise _overflow()
    return (0x100000000 - a) // (0x100000000 - b)


def i32_div_u(a: int, b: int) -> int:
    """Unsigned division. Raises Trap(INTEGER_DIVISION_BY_ZERO) if ``b`` is 0."""
    if b == 0:
        raise _div0()
    return a // b


def i32_rem_s(a: int, b: int) -> int:
    """Signed remainder (sign of the dividend). Raises Trap(INTEGER_DIVISION_BY_ZERO)."""
    if b == 0:
        raise _div0()
    if a < 0x80000000:
        if b < 0x80000000:
            return a % b
        return a % (0x100000000 - b)
    if b < 0x80000000:
        return -((0x100000000 - a) % b) & 0xFFFFFFFF
    return -((0x100000000 - a) % (0x100000000 - b)) & 0xFFFFFFFF


def i32_rem_u(a: int, b: int) -> int:
    """Unsigned remainder. Raises Trap(INTEGER_DIVISION_BY_ZERO) if ``b`` is 0."""
    if b == 0:
        raise _div0()
    return a % b


def i32_and(a: int, b: int) -> int:
    return a & b


def i32_or(a: int, b: int) -> int:
    return a | b


def i32_xor(a: int, b: int) -> int:
    return a ^ b


def i32_shl(a: int, b: int) -> int:
    return (a << (b & 31)) & 0xFFFFFFFF


def i32_shr_s(a: int, b: int) -> int:
    return (((a ^ 0x80000000) - 0x80000000) >> (b & 31)) & 0xFFFFFFFF


def i32_shr_u(a: int, b: int) -> int:
    return a >> (b & 31)


def i32_rotl(a: int, b: int) -> int:
    k = b & 31
    return ((a << k) | (a >> (32 - k))) & 0xFFFFFFFF


def i32_rotr(a: int, b: int) -> int:
    k = b & 31
    return ((a >> k) | (a << (32 - k))) & 0xFFFFFFFF


def i32_extend8_s(a: int) -> int:
    return (((a & 0xFF) ^ 0x80) - 0x80) & 0xFFFFFFFF


def i32_extend16_s(a: int) -> int:
    return (((a & 0xFFFF) ^ 0x8000) - 0x8000) & 0xFFFFFFFF


def i32_wrap_i64(a: int) -> int:
    return a & 0xFFFFFFFF


# --------------------------------------------------------------------- i64


def i64_eqz(a: int) -> int:
    return 1 if a == 0 else 0


def i64_eq(a: int, b: int) -> int:
    return 1 if a == b else 0


def i64_ne(a: int, b: int) -> int:
    return 1 if a != b else 0


def i64_lt_s(a: int, b: int) -> int:
    return 1 if (a ^ 0x8000000000000000) < (b ^ 0x8000000000000000) else 0


def i64_lt_u(a: int, b: int) -> int:
    return 1 if a < b else 0


def i64_gt_s(a: int, b: int) -> int:
    return 1 if (a ^ 0x8000000000000000) > (b ^ 0x8000000000000000) else 0


def i64_gt_u(a: int, b: int) -> int:
    return 1 if a > b else 0


def i64_le_s(a: int, b: int) -> int:
    return 1 if (a ^ 0x8000000000000000) <= (b ^ 0x8000000000000000) else 0


def i64_le_u(a: int, b: int) -> int:
    return 1 if a <= b else 0


def i64_ge_s(a: int, b: int) -> int:
    return 1 if (a ^ 0x8000000000000000) >= (b ^ 0x8000000000000000) else 0


def i64_ge_u(a: int, b: int) -> int:
    return 1 if a >= b else 0


def i64_clz(a: int) -> int:
    return 64 - a.bit_length()


def i64_ctz(a: int) -> int:
    if a == 0:
        return 64
    return (a & -a).bit_length() - 1


def i64_popcnt(a: int) -> int:
    return a.bit_count()


def i64_add(a: int, b: int) -> int:
    return (a + b) & 0xFFFFFFFFFFFFFFFF


def i64_sub(a: int, b: int) -> int:
    return (a - b) & 0xFFFFFFFFFFFFFFFF


def i64_mul(a: int, b: int) -> int:
    return (a * b) & 0xFFFFFFFFFFFFFFFF


def i64_div_s(a: int, b: int) -> int:
    """Signed division truncating toward zero.

    Raises Trap(INTEGER_DIVISION_BY_ZERO) if ``b`` is 0 and
    Trap(INTEGER_OVERFLOW) for ``-2**63 / -1``.
    """
    if b == 0:
        raise _div0()
    if a < 0x8000000000000000:
        if b < 0x8000000000000000:
            return a // b
        return -(a // (0x10000000000000000 - b)) & 0xFFFFFFFFFFFFFFFF
    if b < 0x8000000000000000:
        return -((0x10000000000000000 - a) // b) & 0xFFFFFFFFFFFFFFFF
    if a == 0x8000000000000000 and b == 0xFFFFFFFFFFFFFFFF:
        raise _overflow()
    return (0x10000000000000000 - a) // (0x10000000000000000 - b)


def i64_div_u(a: int, b: int) -> int:
    """Unsigned division. Raises Trap(INTEGER_DIVISION_BY_ZERO) if ``b`` is 0."""
    if b == 0:
        raise _div0()
    return a // b


def i64_rem_s(a: int, b: int) -> int:
    """Signed remainder (sign of the dividend). Raises Trap(INTEGER_DIVISION_BY_ZERO)."""
    if b == 0:
        raise _div0()
    if a < 0x8000000000000000:
        if b < 0x8000000000000000:
            return a % b
        return a % (0x10000000000000000 - b)
    if b < 0x8000000000000000:
        return -((0x10000000000000000 - a) % b) & 0xFFFFFFFFFFFFFFFF
    return -((0x10000000000000000 - a) % (0x10000000000000000 - b)) & 0xFFFFFFFFFFFFFFFF


def i64_rem_u(a: int, b: int) -> int:
    """Unsigned remainder. Raises Trap(INTEGER_DIVISION_BY_ZERO) if ``b`` is 0."""
    if b == 0:
        raise _div0()
    return a % b


def i64_and(a: int, b: int) -> int:
    return a & b


def i64_or(a: int, b: int) -> int:
    return a | b


def i64_xor(a: int, b: int) -> int:
    return a ^ b


def i64_shl(a: int, b: int) -> int:
    return (a << (b & 63)) & 0xFFFFFFFFFFFFFFFF


def i64_shr_s(a: int, b: int) -> int:
    return (((a ^ 0x8000000000000000) - 0x8000000000000000) >> (b & 63)) & 0xFFFFFFFFFFFFFFFF


def i64_shr_u(a: int, b: int) -> int:
    return a >> (b & 63)


def i64_rotl(a: int, b: int) -> int:
    k = b & 63
    return ((a << k) | (a >> (64 - k))) & 0xFFFFFFFFFFFFFFFF


def i64_rotr(a: int, b: int) -> int:
    k = b & 63
    return ((a >> k) | (a << (64 - k))) & 0xFFFFFFFFFFFFFFFF


def i64_extend8_s(a: int) -> int:
    return (((a & 0xFF) ^ 0x80) - 0x80) & 0xFFFFFFFFFFFFFFFF


def i64_extend16_s(a: int) -> int:
    return (((a & 0xFFFF) ^ 0x8000) - 0x8000) & 0xFFFFFFFFFFFFFFFF


def i64_extend32_s(a: int) -> int:
    return (((a & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000) & 0xFFFFFFFFFFFFFFFF


def i64_extend_i32_s(a: int) -> int:
    return ((a ^ 0x80000000) - 0x80000000) & 0xFFFFFFFFFFFFFFFF


def i64_extend_i32_u(a: int) -> int:
    return a


# ------------------------------------------- wide arithmetic (Wasm 3.0)
# Results are ``(low, high)`` i64 pairs, the order they are pushed in.


def i64_add128(a_lo: int, a_hi: int, b_lo: int, b_hi: int) -> tuple[int, int]:
    s = ((a_hi << 64) | a_lo) + ((b_hi << 64) | b_lo)
    return s & 0xFFFFFFFFFFFFFFFF, (s >> 64) & 0xFFFFFFFFFFFFFFFF


def i64_sub128(a_lo: int, a_hi: int, b_lo: int, b_hi: int) -> tuple[int, int]:
    s = ((a_hi << 64) | a_lo) - ((b_hi << 64) | b_lo)
    return s & 0xFFFFFFFFFFFFFFFF, (s >> 64) & 0xFFFFFFFFFFFFFFFF


def i64_mul_wide_s(a: int, b: int) -> tuple[int, int]:
    p = ((a ^ 0x8000000000000000) - 0x8000000000000000) * (
        (b ^ 0x8000000000000000) - 0x8000000000000000
    )
    return p & 0xFFFFFFFFFFFFFFFF, (p >> 64) & 0xFFFFFFFFFFFFFFFF


def i64_mul_wide_u(a: int, b: int) -> tuple[int, int]:
    p = a * b
    return p & 0xFFFFFFFFFFFFFFFF, p >> 64


# ------------------------------------------------------------ signed views


def to_signed32(a: int) -> int:
    """The signed value of the i32 ``a`` (``[0, 2**32)`` -> ``[-2**31, 2**31)``)."""
    return (a ^ 0x80000000) - 0x80000000


def to_signed64(a: int) -> int:
    """The signed value of the i64 ``a`` (``[0, 2**64)`` -> ``[-2**63, 2**63)``)."""
    return (a ^ 0x8000000000000000) - 0x8000000000000000


def from_signed32(v: int) -> int:
    """Any Python int wrapped to the unsigned i32 representation."""
    return v & 0xFFFFFFFF


def from_signed64(v: int) -> int:
    """Any Python int wrapped to the unsigned i64 representation."""
    return v & 0xFFFFFFFFFFFFFFFF


#: instruction name -> function, for every instruction in this module.
INT_FUNCS: dict[str, Callable[..., Any]] = {
    name.replace("_", ".", 1): fn
    for name, fn in list(globals().items())
    if (name.startswith("i32_") or name.startswith("i64_")) and callable(fn)
}

__all__ = [
    *(name.replace(".", "_") for name in INT_FUNCS),
    "to_signed32",
    "to_signed64",
    "from_signed32",
    "from_signed64",
    "M32",
    "M64",
    "INT_FUNCS",
]
