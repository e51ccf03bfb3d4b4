"""The streams behind stdin, stdout and stderr (what WasiConfig configured).

A :class:`Stream` is ``write(data) -> n`` / ``read(n) -> bytes`` and raises
OSError on failure (the binding maps it to an errno). ``host_fd()`` names
the host descriptor poll_oneoff waits on (None: always ready).
"""
from __future__ import annotations

import os
from typing import Any, Callable


class Stream:
    """Base: neither readable nor writable."""

    def write(self, data: bytes) -> int:
        raise OSError(9, "not writable")

    def read(self, n: int) -> bytes:
        raise OSError(9, "not readable")

    def host_fd(self) -> int | None:
        return None

    def close(self) -> None:
        pass


class NullOut(Stream):
    """Discards what is written (a stream the host did not configure)."""

    def write(self, data: bytes) -> int:
        return len(data)


class NullIn(Stream):
    """Always at end of file."""

    def read(self, n: int) -> bytes:
        return b""


class HostFdOut(Stream):
    """Writes to a host file descriptor (inherit_stdout/stderr, *_file)."""

    def __init__(self, fd: int, owned: bool = False) -> None:
        self.fd = fd
        self.owned = owned

    def write(self, data: bytes) -> int:
        n = os.write(self.fd, data)
        if n < len(data):  # a short write (a pipe, a signal): write the rest
            view = memoryview(data)[n:]
            while view:
                view = view[os.write(self.fd, view):]
        return len(data)

    def host_fd(self) -> int | None:
        return self.fd

    def close(self) -> None:
        if self.owned:
            os.close(self.fd)


class HostFdIn(Stream):
    """Reads from a host file descriptor (inherit_stdin, stdin_file)."""

    def __init__(self, fd: int, owned: bool = False) -> None:
        self.fd = fd
        self.owned = owned

    def read(self, n: int) -> bytes:
        return os.read(self.fd, n)

    def host_fd(self) -> int | None:
        return self.fd

    def close(self) -> None:
        if self.owned:
            os.close(self.fd)


class BytesIn(Stream):
    """Reads a bytes object given by the host (stdin_bytes)."""

    def __init__(self, data: bytes) -> None:
        self.data = bytes(data)
        self.pos = 0

    def read(self, n: int) -> bytes:
        chunk = self.data[self.pos:self.pos + n]
        self.pos += len(chunk)
        return chunk


class CaptureOut(Stream):
    """Appends to a bytearray and/or calls a callback with each write's bytes."""

    def __init__(self, sink: bytearray | None, callback: Callable[[bytes], Any] | None) -> None:
        self.sink = sink
        self.callback = callback

    def write(self, data: bytes) -> int:
        if self.sink is not None:
            self.sink += data
        if self.callback is not None:
            self.callback(data)
        return len(data)
