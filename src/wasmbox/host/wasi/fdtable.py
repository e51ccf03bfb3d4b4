"""The WASI fd table: descriptor numbers and what each one is.

An :class:`Entry` is one open descriptor; its methods are the ``fd_*``
operations and raise :class:`WasiError` with the errno wasmtime answers
when the operation does not apply to that kind of descriptor (the function
modules only decode guest memory and call them). Three kinds:

* :class:`StreamEntry`: stdin, stdout, stderr (0, 1, 2), backed by a
  :class:`~wasmbox.host.wasi.streams.Stream` the host configured; file type
  ``character_device`` on a terminal and ``unknown`` otherwise, rights ``fd_read`` or ``fd_write``; seeking is ``ESPIPE``,
  every file operation ``EBADF``.
* :class:`FileEntry`: a regular file (or other non-directory) opened with
  ``path_open``; a host descriptor opened read, write or both.
* :class:`DirEntry`: a directory, a preopen or one opened from it; the
  ``path_*`` functions resolve guest paths under it
  (:mod:`wasmbox.host.wasi.sandbox`). It carries the preopen's
  :class:`Perms` (what may be changed in it, what files may be opened for).

Rights reported by ``fd_fdstat_get`` are wasmtime 50's constants (measured):
wasmtime does not enforce preview1 rights, it reports them; neither do we.

Raises nothing at import; lookups of a missing fd raise WasiError(EBADF).
"""
from __future__ import annotations

import fcntl
import os
import stat as _stat
from dataclasses import dataclass

from .errno import EBADF, EINVAL, ENOTSUP, EPERM, ESPIPE
from .streams import Stream

# rights: bit numbers of wasi_snapshot_preview1's `rights`
RIGHT_FD_READ = 1 << 1
RIGHT_FD_WRITE = 1 << 6
RIGHT_FD_READDIR = 1 << 14
ALL_RIGHTS = (1 << 30) - 1
#: what wasmtime reports for a preopened directory (base, inheriting)
PREOPEN_RIGHTS = (0x7B7FE00, 0xFF7FFFF)
#: for a directory opened with path_open
DIR_RIGHTS = 0x3FB7FFBB

FILETYPE_UNKNOWN = 0
FILETYPE_BLOCK_DEVICE = 1
FILETYPE_CHARACTER_DEVICE = 2
FILETYPE_DIRECTORY = 3
FILETYPE_REGULAR_FILE = 4
FILETYPE_SOCKET_STREAM = 6
FILETYPE_SYMBOLIC_LINK = 7

FDFLAG_APPEND = 1
FDFLAG_DSYNC = 2
FDFLAG_NONBLOCK = 4
FDFLAG_RSYNC = 8
FDFLAG_SYNC = 16

WHENCE = (os.SEEK_SET, os.SEEK_CUR, os.SEEK_END)


class WasiError(Exception):
    """An operation answered with a WASI errno (the binding returns it)."""

    def __init__(self, errno: int) -> None:
        super().__init__(errno)
        self.errno = errno


@dataclass(frozen=True)
class Perms:
    """What a preopen grants: ``read``/``mutate`` its directories (list and
    open in them / create, remove, rename), ``read``/``write`` its files."""

    dir_read: bool = True
    dir_mutate: bool = True
    file_read: bool = True
    file_write: bool = True


def filetype_of(mode: int) -> int:
    """The WASI filetype of a host st_mode."""
    if _stat.S_ISDIR(mode):
        return FILETYPE_DIRECTORY
    if _stat.S_ISREG(mode):
        return FILETYPE_REGULAR_FILE
    if _stat.S_ISLNK(mode):
        return FILETYPE_SYMBOLIC_LINK
    if _stat.S_ISCHR(mode):
        return FILETYPE_CHARACTER_DEVICE
    if _stat.S_ISBLK(mode):
        return FILETYPE_BLOCK_DEVICE
    if _stat.S_ISSOCK(mode):
        return FILETYPE_SOCKET_STREAM
    return FILETYPE_UNKNOWN


class Entry:
    """An open descriptor; every operation defaults to EBADF."""

    filetype = FILETYPE_UNKNOWN
    fdflags = 0

    def rights(self) -> tuple[int, int]:
        """(base, inheriting) as fd_fdstat_get reports them."""
        return 0, 0

    def read(self, n: int) -> bytes:
        raise WasiError(EBADF)

    def write(self, data: bytes) -> int:
        raise WasiError(EBADF)

    def pread(self, n: int, offset: int) -> bytes:
        raise WasiError(EBADF)

    def pwrite(self, data: bytes, offset: int) -> int:
        raise WasiError(EBADF)

    def seek(self, offset: int, whence: int) -> int:
        raise WasiError(EBADF)

    def stat(self) -> os.stat_result | None:
        """The host stat of the descriptor (None: all fields zero, as stdio)."""
        raise WasiError(EBADF)

    def set_size(self, size: int) -> None:
        raise WasiError(EBADF)

    def set_times(self, atime_ns: int, mtime_ns: int) -> None:
        raise WasiError(EBADF)

    def advise(self, offset: int, length: int, advice: int) -> None:
        raise WasiError(EBADF)

    def allocate(self, offset: int, length: int) -> None:
        raise WasiError(EBADF)

    def sync(self, data_only: bool) -> None:
        raise WasiError(EBADF)

    def set_flags(self, flags: int) -> None:
        raise WasiError(EBADF)

    def set_rights(self) -> None:
        raise WasiError(EBADF)

    def host_fd(self) -> int | None:
        """The host descriptor, for poll_oneoff's readiness (None: always ready)."""
        return None

    def close(self) -> None:
        """Release the host resources. Raises OSError from the host close."""


class StreamEntry(Entry):
    """stdin, stdout or stderr."""

    def __init__(self, stream: Stream, rights: int) -> None:
        self.stream = stream
        self._rights = rights
        fd = stream.host_fd()
        if fd is not None and os.isatty(fd):
            # as wasmtime: a terminal is a character device, which is what
            # makes the guest's libc line-buffer it (isatty)
            self.filetype = FILETYPE_CHARACTER_DEVICE

    def rights(self) -> tuple[int, int]:
        return self._rights, self._rights

    def read(self, n: int) -> bytes:
        if not self._rights & RIGHT_FD_READ:
            raise WasiError(EBADF)
        return self.stream.read(n)

    def write(self, data: bytes) -> int:
        if not self._rights & RIGHT_FD_WRITE:
            raise WasiError(EBADF)
        return self.stream.write(data)

    def pread(self, n: int, offset: int) -> bytes:
        raise WasiError(ESPIPE)

    def pwrite(self, data: bytes, offset: int) -> int:
        raise WasiError(ESPIPE)

    def seek(self, offset: int, whence: int) -> int:
        raise WasiError(ESPIPE)

    def stat(self) -> None:
        return None

    def host_fd(self) -> int | None:
        return self.stream.host_fd()

    def close(self) -> None:
        self.stream.close()


class _HostEntry(Entry):
    """An entry owning a host descriptor."""

    def __init__(self, fd: int, perms: Perms) -> None:
        self.fd = fd
        self.perms = perms

    def stat(self) -> os.stat_result:
        return os.fstat(self.fd)

    def set_rights(self) -> None:
        raise WasiError(ENOTSUP)

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


class FileEntry(_HostEntry):
    """A file opened by path_open (``readable``/``writable``: its open mode)."""

    def __init__(self, fd: int, perms: Perms, readable: bool, writable: bool,
                 filetype: int, fdflags: int) -> None:
        super().__init__(fd, perms)
        self.readable = readable
        self.writable = writable
        self.filetype = filetype
        self.fdflags = fdflags

    def rights(self) -> tuple[int, int]:
        r = ALL_RIGHTS
        if not self.readable:
            r &= ~(RIGHT_FD_READ | RIGHT_FD_READDIR)
        if not self.writable:
            r &= ~RIGHT_FD_WRITE
        return r, r

    def read(self, n: int) -> bytes:
        if not self.readable:
            raise WasiError(EBADF)
        return os.read(self.fd, n)

    def write(self, data: bytes) -> int:
        if not self.writable:
            raise WasiError(EBADF)
        return os.write(self.fd, data)

    def pread(self, n: int, offset: int) -> bytes:
        if not self.readable:
            raise WasiError(EBADF)
        return os.pread(self.fd, n, offset)

    def pwrite(self, data: bytes, offset: int) -> int:
        if not self.writable:
            raise WasiError(EBADF)
        return os.pwrite(self.fd, data, offset)

    def seek(self, offset: int, whence: int) -> int:
        return os.lseek(self.fd, offset, WHENCE[whence])

    def _mutable(self) -> None:
        if not self.perms.file_write:
            raise WasiError(EPERM)

    def set_size(self, size: int) -> None:
        self._mutable()
        os.ftruncate(self.fd, size)

    def set_times(self, atime_ns: int, mtime_ns: int) -> None:
        self._mutable()
        os.utime(self.fd, ns=(atime_ns, mtime_ns))

    def advise(self, offset: int, length: int, advice: int) -> None:
        os.posix_fadvise(self.fd, offset, length, advice)

    def allocate(self, offset: int, length: int) -> None:
        raise WasiError(ENOTSUP)

    def sync(self, data_only: bool) -> None:
        (os.fdatasync if data_only else os.fsync)(self.fd)

    def set_flags(self, flags: int) -> None:
        if flags & (FDFLAG_DSYNC | FDFLAG_RSYNC | FDFLAG_SYNC):
            raise WasiError(EINVAL)
        os.set_blocking(self.fd, not flags & FDFLAG_NONBLOCK)
        host = fcntl.fcntl(self.fd, fcntl.F_GETFL)
        host = (host | os.O_APPEND) if flags & FDFLAG_APPEND else (host & ~os.O_APPEND)
        fcntl.fcntl(self.fd, fcntl.F_SETFL, host)
        self.fdflags = flags

    def host_fd(self) -> int | None:
        return None if self.filetype == FILETYPE_REGULAR_FILE else self.fd


class DirEntry(_HostEntry):
    """A directory: a preopen (``guest_path`` set) or one opened in one."""

    filetype = FILETYPE_DIRECTORY

    def __init__(self, fd: int, perms: Perms, guest_path: bytes | None = None) -> None:
        super().__init__(fd, perms)
        self.guest_path = guest_path
        #: the listing fd_readdir serves cookies from (taken at cookie 0)
        self.listing: list[tuple[bytes, int, int]] | None = None

    def rights(self) -> tuple[int, int]:
        if self.guest_path is not None:
            return PREOPEN_RIGHTS
        return DIR_RIGHTS, DIR_RIGHTS

    def set_times(self, atime_ns: int, mtime_ns: int) -> None:
        if not self.perms.dir_mutate:
            raise WasiError(EPERM)
        os.utime(self.fd, ns=(atime_ns, mtime_ns))

    def read(self, n: int) -> bytes:
        raise WasiError(EBADF)

    def require(self, mutate: bool = False) -> None:
        """EPERM unless the preopen lets the guest look in (or change) this
        directory."""
        if not self.perms.dir_read or (mutate and not self.perms.dir_mutate):
            raise WasiError(EPERM)


class FdTable:
    """fd number -> :class:`Entry`. A new descriptor takes the highest number
    freed so far, or one past the highest open one (wasmtime's order,
    measured: programs that print their fds see the same numbers)."""

    def __init__(self, stdin: Stream, stdout: Stream, stderr: Stream) -> None:
        self.entries: dict[int, Entry] = {
            0: StreamEntry(stdin, RIGHT_FD_READ),
            1: StreamEntry(stdout, RIGHT_FD_WRITE),
            2: StreamEntry(stderr, RIGHT_FD_WRITE),
        }
        self.free: set[int] = set()

    def get(self, fd: int) -> Entry:
        """The entry of fd. Raises WasiError(EBADF) when it is not open."""
        e = self.entries.get(fd)
        if e is None:
            raise WasiError(EBADF)
        return e

    def dir(self, fd: int) -> DirEntry:
        """The directory entry of fd. Raises WasiError(EBADF) for a missing fd
        or a descriptor that is not a directory (as wasmtime)."""
        e = self.entries.get(fd)
        if not isinstance(e, DirEntry):
            raise WasiError(EBADF)
        return e

    def add(self, entry: Entry) -> int:
        """Give entry a descriptor number (see the class); returns it."""
        if self.free:
            fd = max(self.free)
            self.free.discard(fd)
        else:
            fd = max(self.entries, default=-1) + 1
        self.entries[fd] = entry
        return fd

    def renumber(self, src: int, dst: int) -> None:
        """Move src onto dst (closing what dst held). Both must be open
        (EBADF otherwise, as wasmtime). Raises WasiError, OSError."""
        e = self.get(src)
        old = self.get(dst)
        if src == dst:
            return
        self.entries[dst] = e
        del self.entries[src]
        self.free.add(src)
        old.close()

    def close(self, fd: int) -> None:
        """Close fd. Raises WasiError(EBADF) when it is not open, OSError from
        the host close."""
        self.get(fd)
        self.free.add(fd)
        self.entries.pop(fd).close()

    def close_all(self) -> None:
        """Close every descriptor (errors are ignored)."""
        for fd in list(self.entries):
            try:
                self.close(fd)
            except (OSError, WasiError):
                pass

