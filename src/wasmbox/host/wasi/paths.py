"""path_* functions: every operation that names a file by (directory fd, path).

Each resolves the guest path inside the directory with
:func:`wasmbox.host.wasi.sandbox.resolve` (component by component, never
above the directory, symlinks expanded only inside it) and then performs
its one host operation on the final name relative to the returned parent
descriptor, without following a final symlink (``O_NOFOLLOW``,
``follow_symlinks=False``): the operation cannot leave the preopen even
when the tree changes meanwhile.

A changing operation in a directory whose preopen is not mutable, or
opening a file for writing where the preopen's files are read-only, is
EPERM (as wasmtime). The errnos of the rest are the host's, mapped; the
cases where wasmtime answers differently from the host call are handled
here and named. Raises Fault (EFAULT), WasiError / WasiPathError (errnos),
OSError (mapped by the binding), Trap for flags outside the witx.
"""
from __future__ import annotations

import os
import stat

from .errno import EINVAL, EISDIR, ELOOP, ENOENT, ENOTDIR, ENOTSUP, EPERM, SUCCESS
from .fds import bad_value, check_rights, new_times, pack_filestat
from .fdtable import (FDFLAG_APPEND, FDFLAG_DSYNC, FDFLAG_NONBLOCK, FDFLAG_RSYNC, FDFLAG_SYNC,
                      RIGHT_FD_READ, RIGHT_FD_WRITE, DirEntry, FileEntry, WasiError,
                      filetype_of)
from .guestmem import check, get_bytes, set_bytes, set_u32
from .sandbox import resolve

LOOKUP_FOLLOW = 1
OFLAG_CREAT, OFLAG_DIRECTORY, OFLAG_EXCL, OFLAG_TRUNC = 1, 2, 4, 8
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _lookup(flags: int) -> bool:
    """Whether lookupflags say follow. Raises Trap for unknown bits."""
    if flags >= 2:
        raise bad_value("lookupflags")
    return bool(flags & LOOKUP_FOLLOW)


def _dir(ctx, fd: int, mutate: bool = False) -> DirEntry:
    d = ctx.fds.dir(fd)
    d.require(mutate)
    return d


def path_open(ctx, m: memoryview, fd: int, dirflags: int, path: int, n: int, oflags: int,
              base: int, inheriting: int, fdflags: int, out: int) -> int:
    follow = _lookup(dirflags)
    if oflags >= 16:
        raise bad_value("oflags")
    if fdflags >= 32:
        raise bad_value("fdflags")
    check_rights(base, inheriting)
    d = _dir(ctx, fd)
    raw = get_bytes(m, path, n)
    check(m, out, 4)
    if oflags & OFLAG_DIRECTORY and oflags & (OFLAG_CREAT | OFLAG_TRUNC):
        return EINVAL
    if fdflags & (FDFLAG_DSYNC | FDFLAG_RSYNC | FDFLAG_SYNC):
        return ENOTSUP
    # the open mode, as wasmtime derives it from the rights and oflags
    write = bool(base & RIGHT_FD_WRITE or oflags & (OFLAG_CREAT | OFLAG_TRUNC))
    read = bool(base & RIGHT_FD_READ or not base & RIGHT_FD_WRITE)
    if write and not d.perms.file_write or oflags & OFLAG_CREAT and not d.perms.dir_mutate:
        return EPERM
    flags = os.O_NOFOLLOW | _CLOEXEC
    flags |= os.O_RDWR if read and write else os.O_WRONLY if write else os.O_RDONLY
    for bit, host in ((OFLAG_CREAT, os.O_CREAT), (OFLAG_EXCL, os.O_EXCL),
                      (OFLAG_TRUNC, os.O_TRUNC), (OFLAG_DIRECTORY, os.O_DIRECTORY)):
        if oflags & bit:
            flags |= host
    if fdflags & FDFLAG_APPEND:
        flags |= os.O_APPEND
    if fdflags & FDFLAG_NONBLOCK:
        flags |= os.O_NONBLOCK
    with resolve(d.fd, raw, follow=follow) as r:
        if r.trailing_slash:
            if oflags & OFLAG_CREAT:
                return EISDIR  # creating "name/": wasmtime (and Linux) say EISDIR
            flags |= os.O_DIRECTORY
        try:
            host = os.open(r.name, flags, 0o666, dir_fd=r.parent_fd)
        except NotADirectoryError:
            # O_DIRECTORY on a symlink not to be followed: wasmtime says ELOOP
            st = os.stat(r.name, dir_fd=r.parent_fd, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                raise WasiError(ELOOP) from None
            raise
    try:
        mode = os.fstat(host).st_mode
        if stat.S_ISDIR(mode):
            if write:  # the host refuses most of these; O_CREAT alone opens
                raise WasiError(EISDIR)
            entry = DirEntry(host, d.perms)
        else:
            entry = FileEntry(host, d.perms, read, write, filetype_of(mode),
                              fdflags & (FDFLAG_APPEND | FDFLAG_NONBLOCK))
    except BaseException:
        os.close(host)
        raise
    set_u32(m, out, ctx.fds.add(entry))
    return SUCCESS


def path_create_directory(ctx, m: memoryview, fd: int, path: int, n: int) -> int:
    d = _dir(ctx, fd, mutate=True)
    with resolve(d.fd, get_bytes(m, path, n), follow=False) as r:
        os.mkdir(r.name, 0o777, dir_fd=r.parent_fd)
    return SUCCESS


def path_remove_directory(ctx, m: memoryview, fd: int, path: int, n: int) -> int:
    d = _dir(ctx, fd, mutate=True)
    with resolve(d.fd, get_bytes(m, path, n), follow=False, trailing_slash_dir=False) as r:
        if r.trailing_slash or r.name == b".":
            return EINVAL  # wasmtime: the path names "." of a directory
        os.rmdir(r.name, dir_fd=r.parent_fd)
    return SUCCESS


def path_unlink_file(ctx, m: memoryview, fd: int, path: int, n: int) -> int:
    d = _dir(ctx, fd, mutate=True)
    with resolve(d.fd, get_bytes(m, path, n), follow=False) as r:
        os.unlink(r.name, dir_fd=r.parent_fd)
    return SUCCESS


def _link_target(raw: bytes) -> bytes:
    """A new symlink's target: stored as given, but never absolute (EPERM)
    or empty (ENOENT), as wasmtime. Raises WasiError."""
    if b"\0" in raw:
        raise WasiError(EINVAL)
    if not raw:
        raise WasiError(ENOENT)
    if raw.startswith(b"/"):
        raise WasiError(EPERM)
    return raw


def path_symlink(ctx, m: memoryview, old: int, old_n: int, fd: int, new: int,
                 new_n: int) -> int:
    target = get_bytes(m, old, old_n)
    d = _dir(ctx, fd, mutate=True)
    raw = get_bytes(m, new, new_n)
    target = _link_target(target)
    with resolve(d.fd, raw, follow=False) as r:
        os.symlink(target, r.name, dir_fd=r.parent_fd)
    return SUCCESS


def path_readlink(ctx, m: memoryview, fd: int, path: int, n: int, buf: int, buf_n: int,
                  out: int) -> int:
    d = _dir(ctx, fd)
    raw = get_bytes(m, path, n)
    check(m, buf, buf_n)
    check(m, out, 4)
    with resolve(d.fd, raw, follow=False) as r:
        target = os.readlink(r.name, dir_fd=r.parent_fd)
    if target.startswith(b"/"):
        return EPERM  # as wasmtime: a host path is never shown to the guest
    target = target[:buf_n]
    set_bytes(m, buf, target)
    set_u32(m, out, len(target))
    return SUCCESS


def path_link(ctx, m: memoryview, old_fd: int, old_flags: int, old: int, old_n: int,
              new_fd: int, new: int, new_n: int) -> int:
    if _lookup(old_flags):
        return EINVAL  # wasmtime does not link through a symlink
    src_dir = _dir(ctx, old_fd, mutate=True)
    dst_dir = _dir(ctx, new_fd, mutate=True)
    src_raw, dst_raw = get_bytes(m, old, old_n), get_bytes(m, new, new_n)
    with resolve(src_dir.fd, src_raw, follow=False) as src, \
            resolve(dst_dir.fd, dst_raw, follow=False) as dst:
        os.link(src.name, dst.name, src_dir_fd=src.parent_fd, dst_dir_fd=dst.parent_fd,
                follow_symlinks=False)
    return SUCCESS


def path_rename(ctx, m: memoryview, fd: int, old: int, old_n: int, new_fd: int, new: int,
                new_n: int) -> int:
    src_dir = _dir(ctx, fd, mutate=True)
    dst_dir = _dir(ctx, new_fd, mutate=True)
    src_raw, dst_raw = get_bytes(m, old, old_n), get_bytes(m, new, new_n)
    with resolve(src_dir.fd, src_raw, follow=False) as src, \
            resolve(dst_dir.fd, dst_raw, follow=False, trailing_slash_dir=False) as dst:
        if src.trailing_slash or dst.trailing_slash:
            st = os.stat(src.name, dir_fd=src.parent_fd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                return ENOTDIR
        os.rename(src.name, dst.name, src_dir_fd=src.parent_fd, dst_dir_fd=dst.parent_fd)
    return SUCCESS


def path_filestat_get(ctx, m: memoryview, fd: int, flags: int, path: int, n: int,
                      out: int) -> int:
    follow = _lookup(flags)
    d = _dir(ctx, fd)
    raw = get_bytes(m, path, n)
    with resolve(d.fd, raw, follow=follow) as r:
        st = os.stat(r.name, dir_fd=r.parent_fd, follow_symlinks=False)
    pack_filestat(ctx, m, out, st)
    return SUCCESS


def path_filestat_set_times(ctx, m: memoryview, fd: int, flags: int, path: int, n: int,
                            atim: int, mtim: int, fstflags: int) -> int:
    follow = _lookup(flags)
    if fstflags >= 16:
        raise bad_value("fstflags")
    d = _dir(ctx, fd, mutate=True)
    raw = get_bytes(m, path, n)
    with resolve(d.fd, raw, follow=follow) as r:
        current = os.stat(r.name, dir_fd=r.parent_fd, follow_symlinks=False)
        times = new_times(current, atim, mtim, fstflags)
        os.utime(r.name, ns=times, dir_fd=r.parent_fd, follow_symlinks=False)
    return SUCCESS


FUNCS = {
    "path_open": ("iiiiiIIii", path_open),
    "path_create_directory": ("iii", path_create_directory),
    "path_remove_directory": ("iii", path_remove_directory),
    "path_unlink_file": ("iii", path_unlink_file),
    "path_symlink": ("iiiii", path_symlink),
    "path_readlink": ("iiiiii", path_readlink),
    "path_link": ("iiiiiii", path_link),
    "path_rename": ("iiiiii", path_rename),
    "path_filestat_get": ("iiiii", path_filestat_get),
    "path_filestat_set_times": ("iiiiIIi", path_filestat_set_times),
}
