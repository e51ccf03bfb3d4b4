"""Bounds-checked access to a guest's linear memory for WASI host functions.

Every function takes the memory's current bytes ``m`` (a memoryview, see
:attr:`wasmbox.runtime.memory.Memory.buf`) and an unsigned address from the
guest. An access that does not fit raises :class:`Fault`, which the binding
(:mod:`wasmbox.host.wasi.define`) turns into the errno ``EFAULT``: a guest's
bad pointer is never a host exception or a trap.
"""
from __future__ import annotations

import struct

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_U32X2 = struct.Struct("<II")


class Fault(Exception):
    """An out-of-bounds guest pointer or length (becomes EFAULT)."""


def check(m: memoryview, addr: int, n: int) -> None:
    """Raise Fault unless [addr, addr+n) lies in memory."""
    if addr + n > len(m):
        raise Fault()


def get_u8(m: memoryview, addr: int) -> int:
    """The byte at addr. Raises Fault."""
    if addr >= len(m):
        raise Fault()
    return m[addr]


def get_u16(m: memoryview, addr: int) -> int:
    """The little-endian u16 at addr. Raises Fault."""
    if addr + 2 > len(m):
        raise Fault()
    return _U16.unpack_from(m, addr)[0]


def get_u32(m: memoryview, addr: int) -> int:
    """The little-endian u32 at addr. Raises Fault."""
    if addr + 4 > len(m):
        raise Fault()
    return _U32.unpack_from(m, addr)[0]


def get_u64(m: memoryview, addr: int) -> int:
    """The little-endian u64 at addr. Raises Fault."""
    if addr + 8 > len(m):
        raise Fault()
    return _U64.unpack_from(m, addr)[0]


def set_u8(m: memoryview, addr: int, v: int) -> None:
    """Store a byte. Raises Fault."""
    if addr >= len(m):
        raise Fault()
    m[addr] = v


def set_u16(m: memoryview, addr: int, v: int) -> None:
    """Store a little-endian u16. Raises Fault."""
    if addr + 2 > len(m):
        raise Fault()
    _U16.pack_into(m, addr, v)


def set_u32(m: memoryview, addr: int, v: int) -> None:
    """Store a little-endian u32. Raises Fault."""
    if addr + 4 > len(m):
        raise Fault()
    _U32.pack_into(m, addr, v)


def set_u64(m: memoryview, addr: int, v: int) -> None:
    """Store a little-endian u64. Raises Fault."""
    if addr + 8 > len(m):
        raise Fault()
    _U64.pack_into(m, addr, v)


def get_bytes(m: memoryview, addr: int, n: int) -> bytes:
    """A copy of n bytes at addr. Raises Fault."""
    if addr + n > len(m):
        raise Fault()
    return bytes(m[addr:addr + n])


def set_bytes(m: memoryview, addr: int, data: bytes) -> None:
    """Store data at addr. Raises Fault."""
    end = addr + len(data)
    if end > len(m):
        raise Fault()
    m[addr:end] = data


def iovecs(m: memoryview, addr: int, count: int) -> list[tuple[int, int]]:
    """The (buf, len) pairs of an iovec/ciovec array, each range checked. Raises Fault."""
    if addr + 8 * count > len(m):
        raise Fault()
    size = len(m)
    out = list(_U32X2.iter_unpack(m[addr:addr + 8 * count]))
    for buf, n in out:
        if buf + n > size:
            raise Fault()
    return out


def gather(m: memoryview, addr: int, count: int) -> bytes:
    """The bytes of a ciovec array, concatenated. Raises Fault."""
    if count == 1:
        if addr + 8 > len(m):
            raise Fault()
        buf, n = _U32X2.unpack_from(m, addr)
        if buf + n > len(m):
            raise Fault()
        return bytes(m[buf:buf + n])
    return b"".join([m[b:b + n] for b, n in iovecs(m, addr, count)])


def scatter(m: memoryview, vecs: list[tuple[int, int]], data: bytes) -> None:
    """Spread data over the (checked) iovecs, in order."""
    pos = 0
    for buf, n in vecs:
        if pos >= len(data):
            break
        chunk = data[pos:pos + n]
        m[buf:buf + len(chunk)] = chunk
        pos += len(chunk)
