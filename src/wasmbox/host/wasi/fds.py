"""fd_* functions: reading, writing, seeking, stat and flags of descriptors.

Each decodes the guest's arguments (bounds-checked, :mod:`.guestmem`) and
calls the descriptor's :class:`~wasmbox.host.wasi.fdtable.Entry`, which
answers with wasmtime's errno when an operation does not apply (a missing
fd is EBADF, seeking a stream ESPIPE, ...). Values outside an enum or a
flags set of the witx (whence, advice, fstflags, fdflags) trap, as in
wasmtime, before the descriptor is looked at. Raises Fault (EFAULT) for a bad pointer, WasiError for an errno,
OSError from the host (mapped by the binding), Trap for a bad enum value.
"""
from __future__ import annotations

import hashlib
import os
import struct
import time

from ...errors import Trap, TrapCode
from .errno import EBADF, EINVAL, ENAMETOOLONG, SUCCESS
from .fdtable import ALL_RIGHTS, DirEntry, WasiError, filetype_of
from .guestmem import check, gather, iovecs, scatter, set_bytes, set_u32, set_u64

_FDSTAT = struct.Struct("<BxHxxxxQQ")
_FILESTAT = struct.Struct("<QQBxxxxxxxQQQQQ")
_PRESTAT = struct.Struct("<BxxxI")
_DIRENT = struct.Struct("<QQIBxxx")

FSTFLAG_ATIM, FSTFLAG_ATIM_NOW, FSTFLAG_MTIM, FSTFLAG_MTIM_NOW = 1, 2, 4, 8
#: most bytes one fd_read/fd_pread asks the host for (a short read is
#: allowed; a guest's 4 GiB iovec does not become a 4 GiB host buffer)
MAX_READ = 16 << 20


def bad_value(what: str) -> Trap:
    """The trap for an argument outside its witx enum or flags (as wasmtime)."""
    return Trap(TrapCode.HOST, f"invalid {what} value")


def signed64(v: int) -> int:
    """A raw i64 as a signed int."""
    return v - (1 << 64) if v >= 1 << 63 else v


# -- reading and writing -------------------------------------------------------
def fd_write(ctx, m: memoryview, fd: int, iovs: int, count: int, out: int) -> int:
    e = ctx.fds.get(fd)
    data = gather(m, iovs, count)
    check(m, out, 4)
    set_u32(m, out, e.write(data))
    return SUCCESS


def fd_read(ctx, m: memoryview, fd: int, iovs: int, count: int, out: int) -> int:
    e = ctx.fds.get(fd)
    vecs = iovecs(m, iovs, count)
    check(m, out, 4)
    data = e.read(min(MAX_READ, sum(n for _, n in vecs)))
    scatter(m, vecs, data)
    set_u32(m, out, len(data))
    return SUCCESS


def fd_pwrite(ctx, m: memoryview, fd: int, iovs: int, count: int, offset: int,
              out: int) -> int:
    e = ctx.fds.get(fd)
    data = gather(m, iovs, count)
    check(m, out, 4)
    set_u32(m, out, e.pwrite(data, offset))
    return SUCCESS


def fd_pread(ctx, m: memoryview, fd: int, iovs: int, count: int, offset: int,
             out: int) -> int:
    e = ctx.fds.get(fd)
    vecs = iovecs(m, iovs, count)
    check(m, out, 4)
    data = e.pread(min(MAX_READ, sum(n for _, n in vecs)), offset)
    scatter(m, vecs, data)
    set_u32(m, out, len(data))
    return SUCCESS


def fd_seek(ctx, m: memoryview, fd: int, offset: int, whence: int, out: int) -> int:
    if whence > 2:
        raise bad_value("whence")
    e = ctx.fds.get(fd)
    check(m, out, 8)
    set_u64(m, out, e.seek(signed64(offset), whence))
    return SUCCESS


def fd_tell(ctx, m: memoryview, fd: int, out: int) -> int:
    e = ctx.fds.get(fd)
    check(m, out, 8)
    set_u64(m, out, e.seek(0, 1))
    return SUCCESS


# -- closing and renumbering ---------------------------------------------------
def fd_close(ctx, m: memoryview, fd: int) -> int:
    ctx.fds.close(fd)
    return SUCCESS


def fd_renumber(ctx, m: memoryview, fd: int, to: int) -> int:
    ctx.fds.renumber(fd, to)
    return SUCCESS


# -- descriptor state ----------------------------------------------------------
def fd_fdstat_get(ctx, m: memoryview, fd: int, out: int) -> int:
    e = ctx.fds.get(fd)
    check(m, out, 24)
    base, inheriting = e.rights()
    _FDSTAT.pack_into(m, out, e.filetype, e.fdflags, base, inheriting)
    return SUCCESS


def fd_fdstat_set_flags(ctx, m: memoryview, fd: int, flags: int) -> int:
    if flags >= 32:
        raise bad_value("fdflags")
    ctx.fds.get(fd).set_flags(flags)
    return SUCCESS


def check_rights(*rights: int) -> None:
    """Trap for a rights value with bits outside the witx's 30 (as wasmtime)."""
    if any(r > ALL_RIGHTS for r in rights):
        raise bad_value("rights")


def fd_fdstat_set_rights(ctx, m: memoryview, fd: int, base: int, inheriting: int) -> int:
    check_rights(base, inheriting)
    ctx.fds.get(fd).set_rights()
    return SUCCESS


def fd_prestat_get(ctx, m: memoryview, fd: int, out: int) -> int:
    e = ctx.fds.get(fd)
    if not isinstance(e, DirEntry) or e.guest_path is None:
        return EBADF
    check(m, out, 8)
    _PRESTAT.pack_into(m, out, 0, len(e.guest_path))
    return SUCCESS


def fd_prestat_dir_name(ctx, m: memoryview, fd: int, path: int, n: int) -> int:
    e = ctx.fds.get(fd)
    if not isinstance(e, DirEntry) or e.guest_path is None:
        return EBADF
    if n < len(e.guest_path):
        return ENAMETOOLONG
    set_bytes(m, path, e.guest_path)
    return SUCCESS


# -- stat and times ------------------------------------------------------------
def guest_ino(ctx, st: os.stat_result) -> int:
    """The inode number the guest sees: a keyed hash of the host's (device,
    inode), so that identity holds and host inode numbers stay hidden."""
    h = hashlib.blake2b(struct.pack("<QQ", st.st_dev & (2**64 - 1), st.st_ino),
                        digest_size=8, key=ctx.ino_key)
    return int.from_bytes(h.digest(), "little")


def pack_filestat(ctx, m: memoryview, out: int, st: os.stat_result | None) -> None:
    """Write a filestat (all zero for None, as wasmtime does for stdio)."""
    check(m, out, 64)
    if st is None:
        _FILESTAT.pack_into(m, out, 0, 0, 0, 0, 0, 0, 0, 0)
        return
    _FILESTAT.pack_into(m, out, 1, guest_ino(ctx, st), filetype_of(st.st_mode), st.st_nlink,
                        st.st_size, st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns)


def fd_filestat_get(ctx, m: memoryview, fd: int, out: int) -> int:
    st = ctx.fds.get(fd).stat()
    pack_filestat(ctx, m, out, st)
    return SUCCESS


def fd_filestat_set_size(ctx, m: memoryview, fd: int, size: int) -> int:
    ctx.fds.get(fd).set_size(size)
    return SUCCESS


def new_times(current: os.stat_result | None, atim: int, mtim: int, flags: int) -> tuple[int, int]:
    """(atime, mtime) in ns for fstflags: a value, now, or unchanged.
    Raises Trap for unknown bits, WasiError(EINVAL) for a time both given
    and "now"."""
    if flags >= 16:
        raise bad_value("fstflags")
    if flags & FSTFLAG_ATIM and flags & FSTFLAG_ATIM_NOW or (
            flags & FSTFLAG_MTIM and flags & FSTFLAG_MTIM_NOW):
        raise WasiError(EINVAL)
    now = time.time_ns()
    a = atim if flags & FSTFLAG_ATIM else now if flags & FSTFLAG_ATIM_NOW else None
    mt = mtim if flags & FSTFLAG_MTIM else now if flags & FSTFLAG_MTIM_NOW else None
    if current is not None:
        a = current.st_atime_ns if a is None else a
        mt = current.st_mtime_ns if mt is None else mt
    return a or 0, mt or 0


def fd_filestat_set_times(ctx, m: memoryview, fd: int, atim: int, mtim: int,
                          flags: int) -> int:
    if flags >= 16:
        raise bad_value("fstflags")
    e = ctx.fds.get(fd)
    current = e.stat()
    a, mt = new_times(current, atim, mtim, flags)
    e.set_times(a, mt)
    return SUCCESS


# -- hints ---------------------------------------------------------------------
def fd_advise(ctx, m: memoryview, fd: int, offset: int, length: int, advice: int) -> int:
    if advice > 5:
        raise bad_value("advice")
    ctx.fds.get(fd).advise(offset, length, advice)
    return SUCCESS


def fd_allocate(ctx, m: memoryview, fd: int, offset: int, length: int) -> int:
    ctx.fds.get(fd).allocate(offset, length)
    return SUCCESS


def fd_sync(ctx, m: memoryview, fd: int) -> int:
    ctx.fds.get(fd).sync(False)
    return SUCCESS


def fd_datasync(ctx, m: memoryview, fd: int) -> int:
    ctx.fds.get(fd).sync(True)
    return SUCCESS


# -- directories ---------------------------------------------------------------
def _listing(ctx, e: DirEntry) -> list[tuple[bytes, int, int]]:
    """(name, inode, filetype) of ".", ".." and the entries, in host order."""
    st = os.fstat(e.fd)
    here = guest_ino(ctx, st)
    out = [(b".", here, 3), (b"..", here, 3)]
    with os.scandir(e.fd) as it:
        for d in it:
            try:
                s = d.stat(follow_symlinks=False)
            except OSError:
                continue  # removed meanwhile
            out.append((os.fsencode(d.name), guest_ino(ctx, s), filetype_of(s.st_mode)))
    return out


def fd_readdir(ctx, m: memoryview, fd: int, buf: int, n: int, cookie: int, out: int) -> int:
    e = ctx.fds.get(fd)
    if not isinstance(e, DirEntry):
        return EBADF
    check(m, buf, n)
    check(m, out, 4)
    if cookie == 0 or e.listing is None:
        e.listing = _listing(ctx, e)
    chunks = []
    size = 0
    for i in range(cookie, len(e.listing)):
        if size >= n:
            break
        name, ino, ftype = e.listing[i]
        chunks.append(_DIRENT.pack(i + 1, ino, len(name), ftype))
        chunks.append(name)
        size += _DIRENT.size + len(name)
    data = b"".join(chunks)[:n]
    set_bytes(m, buf, data)
    set_u32(m, out, len(data))
    return SUCCESS


FUNCS = {
    "fd_write": ("iiii", fd_write),
    "fd_read": ("iiii", fd_read),
    "fd_pwrite": ("iiiIi", fd_pwrite),
    "fd_pread": ("iiiIi", fd_pread),
    "fd_seek": ("iIii", fd_seek),
    "fd_tell": ("ii", fd_tell),
    "fd_close": ("i", fd_close),
    "fd_renumber": ("ii", fd_renumber),
    "fd_fdstat_get": ("ii", fd_fdstat_get),
    "fd_fdstat_set_flags": ("ii", fd_fdstat_set_flags),
    "fd_fdstat_set_rights": ("iII", fd_fdstat_set_rights),
    "fd_prestat_get": ("ii", fd_prestat_get),
    "fd_prestat_dir_name": ("iii", fd_prestat_dir_name),
    "fd_filestat_get": ("ii", fd_filestat_get),
    "fd_filestat_set_size": ("iI", fd_filestat_set_size),
    "fd_filestat_set_times": ("iIIi", fd_filestat_set_times),
    "fd_advise": ("iIIi", fd_advise),
    "fd_allocate": ("iII", fd_allocate),
    "fd_sync": ("i", fd_sync),
    "fd_datasync": ("i", fd_datasync),
    "fd_readdir": ("iiiIi", fd_readdir),
}
