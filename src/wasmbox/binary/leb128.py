"""LEB128 integers as the WebAssembly binary format uses them.

Readers follow the spec's ``uN``/``sN`` grammar exactly (as the reference
interpreter implements it), so they reject what the spec rejects and with
the spec test suite's messages:

* more bytes than ``ceil(N / 7)``: "integer representation too long"
* unused bits of the last byte that are not a zero (unsigned) or sign
  (signed) extension: "integer too large"
* input ending inside the number: "unexpected end of section or function"

Every reader takes ``(data, pos)`` and returns ``(value, new_pos)``; ``data``
is anything indexable as bytes (``bytes``, ``bytearray``, ``memoryview``).
Readers raise :class:`~wasmbox.errors.DecodeError` (with the byte offset)
and nothing else.

Writers return ``bytes`` with the shortest encoding and raise
:class:`ValueError` when the value does not fit the requested width (a
programming error, not bad input).
"""
from __future__ import annotations

from ..errors import DecodeError

__all__ = [
    "read_unsigned",
    "read_signed",
    "read_u32",
    "read_u64",
    "read_s32",
    "read_s33",
    "read_s64",
    "write_unsigned",
    "write_signed",
    "write_u32",
    "write_u64",
    "write_s32",
    "write_s33",
    "write_s64",
    "MSG_TOO_LONG",
    "MSG_TOO_LARGE",
    "MSG_EOF",
    "SMALL_UNSIGNED",
]

MSG_TOO_LONG = "integer representation too long"
MSG_TOO_LARGE = "integer too large"
MSG_EOF = "unexpected end of section or function"


def read_unsigned(data, pos: int, bits: int) -> tuple[int, int]:
    """Read an unsigned LEB128 number of at most ``bits`` bits.

    Raises DecodeError ("integer representation too long", "integer too
    large", "unexpected end of section or function").
    """
    end = len(data)
    result = 0
    shift = 0
    n = bits
    while True:
        if n <= 0:
            raise DecodeError(MSG_TOO_LONG, pos)
        if pos >= end:
            raise DecodeError(MSG_EOF, end)
        b = data[pos]
        pos += 1
        if n < 7 and (b & 0x7F) >= (1 << n):
            raise DecodeError(MSG_TOO_LARGE, pos - 1)
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        n -= 7


def read_signed(data, pos: int, bits: int) -> tuple[int, int]:
    """Read a signed LEB128 number of at most ``bits`` bits (two's complement).

    Raises DecodeError ("integer representation too long", "integer too
    large", "unexpected end of section or function").
    """
    end = len(data)
    result = 0
    shift = 0
    n = bits
    while True:
        if n <= 0:
            raise DecodeError(MSG_TOO_LONG, pos)
        if pos >= end:
            raise DecodeError(MSG_EOF, end)
        b = data[pos]
        pos += 1
        if n < 7:
            mask = (-1 << (n - 1)) & 0x7F
            if (b & mask) != 0 and (b & mask) != mask:
                raise DecodeError(MSG_TOO_LARGE, pos - 1)
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            if b & 0x40:
                result -= 1 << shift
            return result, pos
        n -= 7


def read_u32(data, pos: int) -> tuple[int, int]:
    """u32 (see :func:`read_unsigned`). Raises DecodeError."""
    b = data[pos] if pos < len(data) else 0x80
    if b < 0x80:
        return b, pos + 1
    return read_unsigned(data, pos, 32)


def read_u64(data, pos: int) -> tuple[int, int]:
    """u64 (see :func:`read_unsigned`). Raises DecodeError."""
    return read_unsigned(data, pos, 64)


def read_s32(data, pos: int) -> tuple[int, int]:
    """s32 (see :func:`read_signed`). Raises DecodeError."""
    return read_signed(data, pos, 32)


def read_s33(data, pos: int) -> tuple[int, int]:
    """s33, used for block types and heap types. Raises DecodeError."""
    return read_signed(data, pos, 33)


def read_s64(data, pos: int) -> tuple[int, int]:
    """s64 (see :func:`read_signed`). Raises DecodeError."""
    return read_signed(data, pos, 64)


# Single-byte encodings are by far the most common: precompute them.
#: ``SMALL_UNSIGNED[v]`` is the (one-byte) encoding of ``v`` for ``0 <= v < 128``.
SMALL_UNSIGNED = [bytes([i]) for i in range(128)]
_SMALL_S = {i: bytes([i & 0x7F]) for i in range(-64, 64)}


def write_unsigned(value: int, bits: int = 64) -> bytes:
    """The shortest unsigned LEB128 encoding of ``value``.

    Raises ValueError if ``value`` is negative or needs more than ``bits`` bits.
    """
    if 0 <= value < 128 and bits >= 7:
        return SMALL_UNSIGNED[value]
    if value < 0 or value >> bits:
        raise ValueError(f"{value} does not fit in u{bits}")
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        if value:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def write_signed(value: int, bits: int = 64) -> bytes:
    """The shortest signed LEB128 encoding of ``value``.

    Raises ValueError if ``value`` is outside ``[-2**(bits-1), 2**(bits-1))``.
    """
    small = _SMALL_S.get(value) if bits >= 7 else None
    if small is not None:
        return small
    lim = 1 << (bits - 1)
    if not -lim <= value < lim:
        raise ValueError(f"{value} does not fit in s{bits}")
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7  # arithmetic shift: keeps the sign
        if (value == 0 and not b & 0x40) or (value == -1 and b & 0x40):
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


def write_u32(value: int) -> bytes:
    """u32 encoding. Raises ValueError when out of range."""
    return write_unsigned(value, 32)


def write_u64(value: int) -> bytes:
    """u64 encoding. Raises ValueError when out of range."""
    return write_unsigned(value, 64)


def write_s32(value: int) -> bytes:
    """s32 encoding. Raises ValueError when out of range."""
    return write_signed(value, 32)


def write_s33(value: int) -> bytes:
    """s33 encoding. Raises ValueError when out of range."""
    return write_signed(value, 33)


def write_s64(value: int) -> bytes:
    """s64 encoding. Raises ValueError when out of range."""
    return write_signed(value, 64)
