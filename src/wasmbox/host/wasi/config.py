"""WasiConfig (wasmtime-py's shape) and the per-store WASI context it makes.

``WasiConfig`` holds what the host grants: ``argv``, ``env``,
``inherit_argv()`` / ``inherit_env()`` (the host process's), and for each of
stdin/stdout/stderr one source: ``inherit_stdin()`` etc., ``stdin_file`` /
``stdout_file`` / ``stderr_file`` (a path; stdout/stderr files are created or
truncated), and beyond wasmtime-py:

* ``stdin_bytes = b"..."``: stdin reads these bytes, then end of file;
* ``capture_stdout()`` / ``capture_stderr()``: collect what the guest writes,
  read it with ``stdout_bytes()`` / ``stderr_bytes()`` (everything written by
  every store configured with this config since the capture was set);
* ``stdout_custom = callback`` / ``stderr_custom = callback`` (wasmtime-py's
  names): ``callback(data: bytes)`` is called once per ``fd_write``.

By default a guest sees no arguments, no environment, an empty stdin, and
its output is discarded. ``Store.set_wasi(config)`` builds a
:class:`WasiCtx` from the config (files are opened then; an OSError is
raised as a WasmboxError).
"""
from __future__ import annotations

import enum
import os
import sys
import weakref
from typing import Any, Callable, Iterable

from ...errors import WasmboxError
from .fdtable import DirEntry, FdTable, Perms
from .streams import BytesIn, CaptureOut, HostFdIn, HostFdOut, NullIn, NullOut, Stream


class DirPerms(enum.Enum):
    """What a guest may do with a preopened directory (wasmtime-py's enum):
    list and open entries (read), create/remove/rename entries (write)."""

    READ_ONLY = 1
    WRITE_ONLY = 2
    READ_WRITE = 3


class FilePerms(enum.Enum):
    """What the files of a preopened directory may be opened for."""

    READ_ONLY = 1
    WRITE_ONLY = 2
    READ_WRITE = 3


def _perms(dir_perms: Any, file_perms: Any) -> Perms:
    """Perms from wasmtime-py's enums, or from wasmtime-py 50's ``fs_mutable``
    bool. Raises TypeError for anything else."""
    if isinstance(dir_perms, bool):
        if file_perms is not None:
            raise TypeError("preopen_dir: fs_mutable (a bool) takes no file_perms")
        dir_perms = file_perms = DirPerms.READ_WRITE if dir_perms else DirPerms.READ_ONLY
        file_perms = FilePerms(dir_perms.value)
    if file_perms is None:
        file_perms = FilePerms.READ_WRITE
    if not isinstance(dir_perms, DirPerms) or not isinstance(file_perms, FilePerms):
        raise TypeError("preopen_dir: expected DirPerms and FilePerms (or a bool fs_mutable)")
    return Perms(bool(dir_perms.value & 1), bool(dir_perms.value & 2),
                 bool(file_perms.value & 1), bool(file_perms.value & 2))


class WasiConfig:
    """What a WASI guest may see (see the module docstring)."""

    def __init__(self) -> None:
        self._argv: list[str] = []
        self._env: list[tuple[str, str]] = []
        self._stdin: tuple[str, Any] = ("null", None)
        self._stdout: tuple[str, Any] = ("null", None)
        self._stderr: tuple[str, Any] = ("null", None)
        self._captured = {"stdout": bytearray(), "stderr": bytearray()}
        self._preopens: list[tuple[str, str, Perms]] = []

    # -- arguments and environment -------------------------------------------
    @property
    def argv(self) -> list[str]:
        return list(self._argv)

    @argv.setter
    def argv(self, argv: Iterable[str]) -> None:
        """The guest's argv (argv[0] included). Raises TypeError for a non-str."""
        args = list(argv)
        if not all(isinstance(a, str) for a in args):
            raise TypeError("WasiConfig.argv: expected a list of str")
        self._argv = args

    def inherit_argv(self) -> None:
        """Give the guest this process's sys.argv."""
        self._argv = list(sys.argv)

    @property
    def env(self) -> list[tuple[str, str]]:
        return list(self._env)

    @env.setter
    def env(self, pairs: Iterable[Iterable[str]]) -> None:
        """The guest's environment as (name, value) pairs. Raises TypeError."""
        out = []
        for pair in pairs:
            k, v = pair
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("WasiConfig.env: expected (str, str) pairs")
            out.append((k, v))
        self._env = out

    def inherit_env(self) -> None:
        """Give the guest this process's environment."""
        self._env = list(os.environ.items())

    # -- preopened directories ------------------------------------------------
    def preopen_dir(self, path: Any, guest_path: str, dir_perms: Any = DirPerms.READ_WRITE,
                    file_perms: Any = None, *, fs_mutable: bool | None = None) -> None:
        """Let the guest reach the host directory ``path`` as ``guest_path``
        (its descriptors 3, 4, ... in the order of these calls), with what
        ``dir_perms`` and ``file_perms`` allow (default: everything). As in
        wasmtime-py 50, a bool third argument (or ``fs_mutable=``) means
        read-write (True) or read-only (False) for both.

        Raises WasmboxError when ``path`` is not a directory, TypeError for
        bad permissions or a guest path that is not a str.
        """
        if fs_mutable is not None:
            dir_perms = bool(fs_mutable)
        perms = _perms(dir_perms, file_perms)
        if not isinstance(guest_path, str):
            raise TypeError("preopen_dir: guest_path must be a str")
        host = os.fspath(path)
        if not os.path.isdir(host):
            raise WasmboxError(f"WASI: cannot preopen {host!r}: not a directory")
        self._preopens.append((host, guest_path, perms))

    # -- stdio ----------------------------------------------------------------
    def inherit_stdin(self) -> None:
        self._stdin = ("fd", 0)

    def inherit_stdout(self) -> None:
        self._stdout = ("fd", 1)

    def inherit_stderr(self) -> None:
        self._stderr = ("fd", 2)

    def _set_file(self, which: str, path: Any) -> None:
        setattr(self, f"_{which}", ("file", os.fspath(path)))

    stdin_file = property(None, lambda self, p: self._set_file("stdin", p),
                          doc="stdin reads this file (a path)")
    stdout_file = property(None, lambda self, p: self._set_file("stdout", p),
                           doc="stdout writes this file (created or truncated)")
    stderr_file = property(None, lambda self, p: self._set_file("stderr", p),
                           doc="stderr writes this file (created or truncated)")

    def _set_stdin_bytes(self, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError("WasiConfig.stdin_bytes: expected bytes")
        self._stdin = ("bytes", bytes(data))

    stdin_bytes = property(None, _set_stdin_bytes, doc="stdin reads these bytes, then EOF")

    def _set_custom(self, which: str, callback: Callable[[bytes], Any]) -> None:
        if not callable(callback):
            raise TypeError(f"WasiConfig.{which}_custom: expected a callable")
        setattr(self, f"_{which}", ("custom", callback))

    stdout_custom = property(None, lambda self, cb: self._set_custom("stdout", cb),
                             doc="callback(bytes) for each write to stdout")
    stderr_custom = property(None, lambda self, cb: self._set_custom("stderr", cb),
                             doc="callback(bytes) for each write to stderr")

    def capture_stdout(self) -> None:
        """Collect stdout; read it with :meth:`stdout_bytes`."""
        self._captured["stdout"] = bytearray()
        self._stdout = ("capture", None)

    def capture_stderr(self) -> None:
        """Collect stderr; read it with :meth:`stderr_bytes`."""
        self._captured["stderr"] = bytearray()
        self._stderr = ("capture", None)

    def stdout_bytes(self) -> bytes:
        """What the guest wrote to a captured stdout so far."""
        return bytes(self._captured["stdout"])

    def stderr_bytes(self) -> bytes:
        """What the guest wrote to a captured stderr so far."""
        return bytes(self._captured["stderr"])

    def _out_stream(self, which: str) -> Stream:
        kind, arg = getattr(self, f"_{which}")
        if kind == "fd":
            return HostFdOut(arg)
        if kind == "file":
            return HostFdOut(os.open(arg, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666), owned=True)
        if kind == "capture":
            return CaptureOut(self._captured[which], None)
        if kind == "custom":
            return CaptureOut(None, arg)
        return NullOut()

    def _in_stream(self) -> Stream:
        kind, arg = self._stdin
        if kind == "fd":
            return HostFdIn(arg)
        if kind == "file":
            return HostFdIn(os.open(arg, os.O_RDONLY), owned=True)
        if kind == "bytes":
            return BytesIn(arg)
        return NullIn()


def _encode_one(s: str) -> bytes:
    """UTF-8; a host argument Python decoded with surrogateescape (bytes that
    are not UTF-8) gets its original bytes back, any other lone surrogate
    becomes ``?``."""
    try:
        return s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return s.encode("utf-8", "replace")


def _encode(strings: Iterable[str]) -> list[bytes]:
    """NUL-terminated (see :func:`_encode_one`)."""
    return [_encode_one(s) + b"\0" for s in strings]


class WasiCtx:
    """A store's WASI state: encoded args/environ and the fd table."""

    def __init__(self, config: WasiConfig) -> None:
        if not isinstance(config, WasiConfig):
            raise TypeError("Store.set_wasi: expected a wasmbox WasiConfig")
        self.args = _encode(config._argv)
        self.environ = _encode(f"{k}={v}" for k, v in config._env)
        try:
            self.fds = FdTable(config._in_stream(), config._out_stream("stdout"),
                               config._out_stream("stderr"))
        except OSError as e:
            raise WasmboxError(f"WASI: cannot open {e.filename}: {e.strerror or e}") from None
        #: key of the inode numbers shown to the guest (host inodes stay hidden)
        self.ino_key = os.urandom(16)
        weakref.finalize(self, FdTable.close_all, self.fds)
        for host, guest, perms in config._preopens:
            try:
                fd = os.open(host, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
            except OSError as e:
                self.fds.close_all()
                raise WasmboxError(f"WASI: cannot preopen {host}: {e.strerror or e}") from None
            self.fds.add(DirEntry(fd, perms, guest.encode("utf-8", "replace")))
