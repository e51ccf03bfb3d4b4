"""Conversion of text-format literal tokens: numbers, strings and names.

Every function takes the raw token text as the lexer produced it and returns
a Python value. Float literals are rounded *exactly* (round to nearest, ties
to even) from the literal's exact rational value straight to the target
format -- f32 is never rounded through f64 -- and come back as IEEE bit
patterns (unsigned ints) so that NaN payloads survive. A literal of any
length costs time linear in its length: no intermediate number grows with
it (a million-digit mantissa or an exponent of 10**9 is decided exactly
from a bounded prefix, see ``_significand``).

Raises :class:`LiteralError` (not a :class:`~wasmbox.errors.WasmboxError`:
callers attach a source position and re-raise a ``ParseError``) with the
spec test suite's messages: ``"unknown operator"`` for a token that is not a
literal of the wanted kind, ``"constant out of range"`` for one that is but
does not fit.
"""
from __future__ import annotations

import re
import struct
from functools import lru_cache

__all__ = [
    "LiteralError",
    "parse_uint",
    "parse_int",
    "parse_f32",
    "parse_f64",
    "parse_float",
    "is_nat",
    "decode_string",
    "decode_name",
    "NAT_RE",
    "INT_RE",
    "FLOAT_RE",
]


class LiteralError(Exception):
    """A malformed or out-of-range literal; ``message`` is the spec's text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Digits with single underscores between them. The runs are possessive
# (nothing after a number is a digit or "_", so no backtracking is lost):
# matching stays fast on a literal of a million digits.
_NUM = r"[0-9]++(?:_[0-9]++)*+"
_HEXNUM = r"[0-9a-fA-F]++(?:_[0-9a-fA-F]++)*+"
NAT_RE = re.compile(rf"(?:{_NUM}|0x{_HEXNUM})\Z")
INT_RE = re.compile(rf"[+-]?(?:{_NUM}|0x{_HEXNUM})\Z")
# Groups: sign, decimal int, decimal frac, decimal exp, hex int, hex frac,
# hex exp, inf, nan, nan payload.
FLOAT_RE = re.compile(
    rf"""([+-]?)(?:
        ({_NUM})(?:\.({_NUM})?)?(?:[eE]([+-]?{_NUM}))?
      | 0x({_HEXNUM})(?:\.({_HEXNUM})?)?(?:[pP]([+-]?{_NUM}))?
      | (inf)
      | (nan)(?::0x({_HEXNUM}))?
    )\Z""",
    re.VERBOSE,
)

OUT_OF_RANGE = "constant out of range"
UNKNOWN = "unknown operator"


def is_nat(tok: str) -> bool:
    """True if ``tok`` is an unsigned integer literal (decimal or hex)."""
    return NAT_RE.match(tok) is not None


@lru_cache(maxsize=8192)
def parse_uint(tok: str, bits: int) -> int:
    """An unsigned integer literal (no sign) that must fit in ``bits`` bits.

    Raises LiteralError.
    """
    if NAT_RE.match(tok) is None:
        raise LiteralError(UNKNOWN)
    n = _nat_value(tok.replace("_", ""), bits)
    if n >> bits:
        raise LiteralError(OUT_OF_RANGE)
    return n


@lru_cache(maxsize=65536)
def parse_int(tok: str, bits: int) -> int:
    """An ``iN`` literal, signed or unsigned form, as a *signed* Python int.

    Accepts values in ``[-2**(bits-1), 2**bits)``; e.g. ``0xffffffff`` gives
    ``-1`` for 32 bits. Raises LiteralError.
    """
    if INT_RE.match(tok) is None:
        raise LiteralError(UNKNOWN)
    s = tok.replace("_", "")
    neg = s[0] == "-"
    if s[0] in "+-":
        s = s[1:]
    n = _nat_value(s, bits)
    if neg:
        n = -n
        if n < -(1 << (bits - 1)):
            raise LiteralError(OUT_OF_RANGE)
        return n
    if n >> bits:
        raise LiteralError(OUT_OF_RANGE)
    if n >> (bits - 1):
        n -= 1 << bits
    return n


def _nat_value(s: str, bits: int) -> int:
    """The value of the unsigned digits ``s`` (``0x`` prefix for hex, no
    underscores), or some value of at least ``2**bits`` when it has too
    many digits to fit: a long literal never becomes a big int.
    Raises nothing.
    """
    if s[:2] == "0x":
        digits = s[2:].lstrip("0")
        if len(digits) > (bits + 3) // 4:
            return 1 << bits
        return int(digits or "0", 16)
    digits = s.lstrip("0")
    if len(digits) > _dec_digits(bits):
        return 1 << bits
    return int(digits or "0", 10)


@lru_cache(maxsize=None)
def _dec_digits(bits: int) -> int:
    """How many decimal digits ``2**bits`` has: a longer number cannot fit."""
    return len(str(1 << bits))


# ---------------------------------------------------------------------------
# Floats

_F32 = (23, 8)
_F64 = (52, 11)
_pack_f = struct.Struct("<f").pack
_unpack_f = struct.Struct("<f").unpack
_unpack_I = struct.Struct("<I").unpack
_pack_I = struct.Struct("<I").pack
_pack_d = struct.Struct("<d").pack
_unpack_Q = struct.Struct("<Q").unpack
# The f32 value halfway between the largest finite f32 and 2**128.
_F32_OVERFLOW_MID = float(2**128 - 2**103)


def _round_exact(neg: bool, num: int, den: int, fmt: tuple[int, int]) -> int:
    """Round ``num/den`` (> 0) to the format; return the bit pattern.

    Raises LiteralError when the rounded value overflows to infinity.
    """
    mant_bits, exp_bits = fmt
    sign = (1 << (mant_bits + exp_bits)) if neg else 0
    if num == 0:
        return sign
    p = mant_bits + 1
    bias = (1 << (exp_bits - 1)) - 1
    emin = 1 - bias
    e = num.bit_length() - den.bit_length()
    if e >= 0:
        if num < (den << e):
            e -= 1
    elif (num << -e) < den:
        e -= 1
    q = (e if e > emin else emin) - (p - 1)
    if q >= 0:
        n, d = num, den << q
    else:
        n, d = num << -q, den
    m, r = divmod(n, d)
    r2 = r << 1
    if r2 > d or (r2 == d and m & 1):
        m += 1
    if m == (1 << p):
        m >>= 1
        q += 1
    if m >> (p - 1):
        biased = q + (p - 1) + bias
        if biased >= (1 << exp_bits) - 1:
            raise LiteralError(OUT_OF_RANGE)
        return sign | (biased << mant_bits) | (m - (1 << (p - 1)))
    return sign | m


# Significant digits kept from a long mantissa. Every value where rounding
# to f32 or f64 changes (a midpoint between neighbours, the overflow
# threshold) is m * 2**q with m < 2**54 and q >= -1075, which has at most
# 17 + 752 significant decimal digits (5**1075 has 752) or 15 hex digits.
# Beyond these, only whether the remaining digits are all zero matters, so
# they are replaced by one nonzero "sticky" digit.
_KEEP_DEC = 800
_KEEP_HEX = 32
# Exponents are clamped to this magnitude: far beyond any digit count, so a
# clamped literal still overflows or underflows exactly as the real one.
_EXP_CLAMP = 10**18


def _significand(whole: str, frac: str, keep: int) -> tuple[str, int]:
    """``(digits, shift)`` with value(whole.frac) == value(digits) * base**shift
    as far as rounding can tell.

    ``digits`` has no leading or trailing zeros (``""`` for zero) and at most
    ``keep + 1`` digits: a longer mantissa is cut after ``keep`` digits and a
    ``1`` stands for the nonzero rest. Underscores are already removed.
    Raises nothing.
    """
    digits = (whole + frac).lstrip("0")
    shift = -len(frac)
    trimmed = digits.rstrip("0")
    shift += len(digits) - len(trimmed)
    if len(trimmed) > keep:
        shift += len(trimmed) - keep - 1
        trimmed = trimmed[:keep] + "1"
    return trimmed, shift


def _exponent(text: str | None) -> int:
    """A decimal exponent (sign, digits, underscores), clamped to
    ``+-_EXP_CLAMP``. Raises nothing."""
    if not text:
        return 0
    text = text.replace("_", "")
    neg = text[0] == "-"
    digits = text.lstrip("+-").lstrip("0")
    if len(digits) > 18:
        return -_EXP_CLAMP if neg else _EXP_CLAMP
    v = int(digits or "0", 10)
    return -v if neg else v


def _float_bits(tok: str, fmt: tuple[int, int]) -> int:
    """The bit pattern of float literal ``tok`` in format ``fmt``.

    Time is linear in the token's length and no intermediate number grows
    with it. Raises LiteralError.
    """
    m = FLOAT_RE.match(tok)
    if m is None:
        raise LiteralError(UNKNOWN)
    sign_s, dint, dfrac, dexp, hint, hfrac, hexp, inf, nan, payload = m.groups()
    neg = sign_s == "-"
    mant_bits, exp_bits = fmt
    sign = (1 << (mant_bits + exp_bits)) if neg else 0
    exp_all = ((1 << exp_bits) - 1) << mant_bits
    if inf:
        return sign | exp_all
    if nan:
        if payload is None:
            return sign | exp_all | (1 << (mant_bits - 1))
        pl = _nat_value("0x" + payload.replace("_", ""), mant_bits)
        if pl == 0 or pl >> mant_bits:
            raise LiteralError(OUT_OF_RANGE)
        return sign | exp_all | pl
    if hint is not None:
        digits, shift = _significand(
            hint.replace("_", ""), (hfrac or "").replace("_", ""), _KEEP_HEX
        )
        if not digits:
            return sign
        mant = int(digits, 16)
        e2 = _exponent(hexp) + 4 * shift
        mag = mant.bit_length() + e2
        if mag > (1 << (exp_bits - 1)) + 2:
            raise LiteralError(OUT_OF_RANGE)
        if mag < -(1 << (exp_bits - 1)) - mant_bits - 4:
            return sign
        if e2 >= 0:
            return _round_exact(neg, mant << e2, 1, fmt)
        return _round_exact(neg, mant, 1 << -e2, fmt)
    digits, shift = _significand(
        dint.replace("_", ""), (dfrac or "").replace("_", ""), _KEEP_DEC
    )
    if not digits:
        return sign
    e10 = _exponent(dexp) + shift
    mag = len(digits) + e10  # 10**(mag-1) <= value < 10**mag
    if mag > 400:
        raise LiteralError(OUT_OF_RANGE)
    if mag < -400:
        return sign
    d = float(f"{digits}e{e10}")  # correctly rounded by CPython
    if fmt is _F64:
        if d == float("inf"):
            raise LiteralError(OUT_OF_RANGE)
        return sign | _unpack_Q(_pack_d(d))[0]
    # f32: round through f64 only when that cannot double-round.
    fast = _f32_from_f64(d)
    if fast is not None:
        return sign | fast
    mant = int(digits, 10)
    if e10 >= 0:
        return _round_exact(neg, mant * 10**e10, 1, fmt)
    return _round_exact(neg, mant, 10**-e10, fmt)


def _f32_from_f64(d: float) -> int | None:
    """RN32(d) as bits when it equals RN32 of every x with RN64(x) = d, else None.

    That holds unless ``d`` lies exactly halfway between two f32 values (or
    at the overflow threshold), where the exact literal decides.
    """
    if d == float("inf"):
        raise LiteralError(OUT_OF_RANGE)
    try:
        b = _pack_f(d)
    except OverflowError:
        if d == _F32_OVERFLOW_MID:
            return None
        raise LiteralError(OUT_OF_RANGE) from None
    bits = _unpack_I(b)[0]
    f = _unpack_f(b)[0]
    if f == d:
        return bits
    other_bits = bits + 1 if d > f else bits - 1
    if other_bits < 0:
        return bits
    if other_bits >= 0x7F800000:
        # The neighbour is infinity: midpoint is the overflow threshold.
        return None if d == _F32_OVERFLOW_MID else bits
    other = _unpack_f(_pack_I(other_bits))[0]
    if (f + other) / 2 == d:
        return None
    return bits


@lru_cache(maxsize=65536)
def parse_f32(tok: str) -> int:
    """An f32 literal as its 32-bit IEEE pattern. Raises LiteralError."""
    return _float_bits(tok, _F32)


@lru_cache(maxsize=65536)
def parse_f64(tok: str) -> int:
    """An f64 literal as its 64-bit IEEE pattern. Raises LiteralError."""
    return _float_bits(tok, _F64)


def parse_float(tok: str, bits: int) -> int:
    """``parse_f32`` or ``parse_f64`` by width. Raises LiteralError."""
    return parse_f32(tok) if bits == 32 else parse_f64(tok)


# ---------------------------------------------------------------------------
# Strings and names

_ESC_RE = re.compile(r"\\(?:([0-9a-fA-F]{2})|u\{([0-9a-fA-F_]+)\}|(.))", re.S)
_SIMPLE_ESC = {"n": b"\n", "t": b"\t", "r": b"\r", "\\": b"\\", "'": b"'", '"': b'"'}


def decode_string(raw: str) -> bytes:
    """The bytes of a string token (with its quotes). Raises LiteralError.

    The lexer has already checked the token's shape, so only ``\\u{...}``
    values (which must be Unicode scalar values) can still be wrong.
    """
    body = raw[1:-1]
    if "\\" not in body:
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError:
            raise LiteralError("malformed UTF-8 encoding") from None
    out = bytearray()
    pos = 0
    for m in _ESC_RE.finditer(body):
        if m.start() > pos:
            try:
                out += body[pos : m.start()].encode("utf-8")
            except UnicodeEncodeError:
                raise LiteralError("malformed UTF-8 encoding") from None
        hh, uu, simple = m.groups()
        if hh is not None:
            out.append(int(hh, 16))
        elif uu is not None:
            cp = int(uu.replace("_", ""), 16)
            if cp >= 0x110000 or 0xD800 <= cp < 0xE000:
                raise LiteralError("malformed UTF-8 encoding")
            out += chr(cp).encode("utf-8")
        else:
            esc = _SIMPLE_ESC.get(simple)
            if esc is None:
                raise LiteralError("illegal escape")
            out += esc
        pos = m.end()
    try:
        out += body[pos:].encode("utf-8")
    except UnicodeEncodeError:
        raise LiteralError("malformed UTF-8 encoding") from None
    return bytes(out)


def decode_name(raw: str) -> str:
    """A string token that must hold valid UTF-8, as ``str``. Raises LiteralError."""
    if "\\" not in raw:
        body = raw[1:-1]
        try:
            body.encode("utf-8")
        except UnicodeEncodeError:
            raise LiteralError("malformed UTF-8 encoding") from None
        return body
    try:
        return decode_string(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise LiteralError("malformed UTF-8 encoding") from None
