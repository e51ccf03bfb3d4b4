"""The WASI fd table: descriptor numbers, their rights and fdflags.

0, 1 and 2 are the guest's stdin, stdout and stderr, backed by a
:class:`Stream` the host configured (:mod:`wasmbox.host.wasi.config`).
What each answers to ``fd_fdstat_get`` follows wasmtime: file type
``unknown``, no fdflags, rights ``fd_read`` (stdin) or ``fd_write``
(stdout, stderr), the same inheriting rights. File and directory fds (the
preopens) come with the sandbox and are not here yet.

Raises nothing; lookups of a missing fd return None (callers answer EBADF).
"""
from __future__ import annotations

import os
from typing import Any, Callable

# rights (a subset; bit numbers of wasi_snapshot_preview1's `rights`)
RIGHT_FD_READ = 1 << 1
RIGHT_FD_WRITE = 1 << 6

FILETYPE_UNKNOWN = 0


class Stream:
    """A stdio stream: ``write(data) -> n`` / ``read(n) -> bytes``; OSError on failure."""

    readable = False
    writable = False

    def write(self, data: bytes) -> int:
        raise OSError(9, "not writable")

    def read(self, n: int) -> bytes:
        raise OSError(9, "not readable")

    def close(self) -> None:
        pass


class NullOut(Stream):
    """Discards what is written (a stream the host did not configure)."""

    writable = True

    def write(self, data: bytes) -> int:
        return len(data)


class NullIn(Stream):
    """Always at end of file."""

    readable = True

    def read(self, n: int) -> bytes:
        return b""


class HostFdOut(Stream):
    """Writes to a host file descriptor (inherit_stdout/stderr, *_file)."""

    writable = True

    def __init__(self, fd: int, owned: bool = False) -> None:
        self.fd = fd
        self.owned = owned

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            n = os.write(self.fd, view)
            view = view[n:]
        return len(data)

    def close(self) -> None:
        if self.owned:
            os.close(self.fd)


class HostFdIn(Stream):
    """Reads from a host file descriptor (inherit_stdin, stdin_file)."""

    readable = True

    def __init__(self, fd: int, owned: bool = False) -> None:
        self.fd = fd
        self.owned = owned

    def read(self, n: int) -> bytes:
        return os.read(self.fd, n)

    def close(self) -> None:
        if self.owned:
            os.close(self.fd)


class BytesIn(Stream):
    """Reads a bytes object given by the host (stdin_bytes)."""

    readable = True

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.pos = 0

    def read(self, n: int) -> bytes:
        chunk = self.data[self.pos:self.pos + n]
        self.pos += len(chunk)
        return chunk


class CaptureOut(Stream):
    """Appends to a bytearray and/or calls a callback with each write's bytes."""

    writable = True

    def __init__(self, sink: bytearray | None, callback: Callable[[bytes], Any] | None) -> None:
        self.sink = sink
        self.callback = callback

    def write(self, data: bytes) -> int:
        if self.sink is not None:
            self.sink += data
        if self.callback is not None:
            self.callback(data)
        return len(data)


class Entry:
    """One open descriptor: its stream, file type, rights and fdflags."""

    __slots__ = ("stream", "filetype", "rights", "inheriting", "fdflags")

    def __init__(self, stream: Stream, rights: int) -> None:
        self.stream = stream
        self.filetype = FILETYPE_UNKNOWN
        self.rights = rights
        self.inheriting = rights
        self.fdflags = 0


class FdTable:
    """fd number -> :class:`Entry`."""

    def __init__(self, stdin: Stream, stdout: Stream, stderr: Stream) -> None:
        self.entries: dict[int, Entry] = {
            0: Entry(stdin, RIGHT_FD_READ),
            1: Entry(stdout, RIGHT_FD_WRITE),
            2: Entry(stderr, RIGHT_FD_WRITE),
        }

    def get(self, fd: int) -> Entry | None:
        """The entry of fd, or None."""
        return self.entries.get(fd)

    def close(self, fd: int) -> bool:
        """Close fd; False when it is not open. Raises OSError from the host close."""
        e = self.entries.pop(fd, None)
        if e is None:
            return False
        e.stream.close()
        return True

    def close_all(self) -> None:
        """Close every descriptor (errors are ignored)."""
        for fd in list(self.entries):
            try:
                self.close(fd)
            except OSError:
                pass
