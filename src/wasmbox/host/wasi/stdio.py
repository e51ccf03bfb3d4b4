"""fd_* functions on the descriptors the fd table holds today (stdio).

fd_write/fd_read gather/scatter iovecs; fd_seek/fd_tell answer ESPIPE on
a stream (as wasmtime); fd_fdstat_get reports the entry; fd_fdstat_set_flags
on a stream is EBADF (as wasmtime); fd_prestat_get/fd_prestat_dir_name are
EBADF since there are no preopens yet. A missing fd or one without the right
is EBADF. Raises Fault (EFAULT) for a bad pointer, OSError from the host
stream (mapped to an errno by the binding).
"""
from __future__ import annotations

import struct

from .errno import EBADF, EINVAL, ESPIPE, SUCCESS
from .guestmem import check, gather, iovecs, scatter, set_u32
from .fdtable import RIGHT_FD_READ, RIGHT_FD_WRITE

_FDSTAT = struct.Struct("<BxHxxxxQQ")


def fd_write(ctx, m: memoryview, fd: int, iovs: int, count: int, out: int) -> int:
    e = ctx.fds.entries.get(fd)
    if e is None or not e.rights & RIGHT_FD_WRITE:
        return EBADF
    data = gather(m, iovs, count)
    check(m, out, 4)
    n = e.stream.write(data)
    set_u32(m, out, n)
    return SUCCESS


def fd_read(ctx, m: memoryview, fd: int, iovs: int, count: int, out: int) -> int:
    e = ctx.fds.entries.get(fd)
    if e is None or not e.rights & RIGHT_FD_READ:
        return EBADF
    vecs = iovecs(m, iovs, count)
    check(m, out, 4)
    total = sum(n for _, n in vecs)
    data = e.stream.read(total) if total else b""
    scatter(m, vecs, data)
    set_u32(m, out, len(data))
    return SUCCESS


def fd_close(ctx, m: memoryview, fd: int) -> int:
    return SUCCESS if ctx.fds.close(fd) else EBADF


def fd_seek(ctx, m: memoryview, fd: int, offset: int, whence: int, out: int) -> int:
    if fd not in ctx.fds.entries:
        return EBADF
    if whence > 2:
        return EINVAL
    return ESPIPE


def fd_tell(ctx, m: memoryview, fd: int, out: int) -> int:
    if fd not in ctx.fds.entries:
        return EBADF
    return ESPIPE


def fd_fdstat_get(ctx, m: memoryview, fd: int, out: int) -> int:
    e = ctx.fds.entries.get(fd)
    if e is None:
        return EBADF
    check(m, out, 24)
    _FDSTAT.pack_into(m, out, e.filetype, e.fdflags, e.rights, e.inheriting)
    return SUCCESS


def fd_fdstat_set_flags(ctx, m: memoryview, fd: int, flags: int) -> int:
    return EBADF


def fd_prestat_get(ctx, m: memoryview, fd: int, out: int) -> int:
    return EBADF


def fd_prestat_dir_name(ctx, m: memoryview, fd: int, path: int, n: int) -> int:
    return EBADF


FUNCS = {
    "fd_write": ("iiii", fd_write),
    "fd_read": ("iiii", fd_read),
    "fd_close": ("i", fd_close),
    "fd_seek": ("iIii", fd_seek),
    "fd_tell": ("ii", fd_tell),
    "fd_fdstat_get": ("ii", fd_fdstat_get),
    "fd_fdstat_set_flags": ("ii", fd_fdstat_set_flags),
    "fd_prestat_get": ("ii", fd_prestat_get),
    "fd_prestat_dir_name": ("iii", fd_prestat_dir_name),
}
