"""The preopen sandbox: resolve a guest path inside a preopened directory.

Every ``path_*`` function of WASI preview1 names a file by a directory
descriptor (a preopen or a directory opened from one) and a relative path.
:func:`resolve` turns that pair into ``(parent directory fd, final name)``;
the caller then performs its one operation with ``dir_fd=parent`` and without
following symlinks (``follow_symlinks=False`` / ``O_NOFOLLOW``), so the
operation acts on an entry of a directory known to lie inside the preopen.

How the walk stays inside:

* nothing is normalised as a string and no host path is ever built: each
  component is opened with ``os.open(name, O_RDONLY | O_DIRECTORY |
  O_NOFOLLOW, dir_fd=current)``, so the kernel itself refuses to follow a
  symlink, including one swapped in between two steps of the walk;
* ``.`` stays, ``..`` pops the stack of opened directories and never goes
  past the preopen's root (``EPERM``);
* a symlink met in the middle of the path (or at its end when following) is
  read with ``os.readlink(name, dir_fd=current)`` and its target's
  components are walked by the same loop, relative to the directory holding
  the link; an absolute target is refused (``EPERM``); at most
  :data:`MAX_SYMLINK_EXPANSIONS` expansions per resolution (``ELOOP``);
* every directory fd opened on the way is closed, except the returned
  parent, which the caller owns.

Errnos follow WASI preview1's numbering (``wasi_snapshot_preview1`` witx,
``errno`` enum) and the values wasmtime 50 returns for the same paths, as
measured with wasmtime-py on a C probe calling ``path_open`` and
``path_filestat_get`` (see tests/test_wasi_sandbox.py for the table):

===========================================  ==========================
case                                         errno
===========================================  ==========================
empty path                                   ``ENOENT`` (44)
absolute path, ``..`` past the root,         ``EPERM`` (63); wasmtime
symlink (absolute or relative) leading out   does not use ENOTCAPABLE
symlink loop / more than 40 expansions       ``ELOOP`` (32)
NUL byte in the path                         ``EINVAL`` (28)
path not valid UTF-8                         ``EILSEQ`` (25)
path of 4096 bytes or more, component of     ``ENAMETOOLONG`` (37)
more than 255 bytes
intermediate component not a directory,      ``ENOTDIR`` (54)
trailing slash on a non-directory
missing intermediate component               ``ENOENT`` (44)
bad directory fd                             ``EBADF`` (8)
out of descriptors (deep path)               ``EMFILE`` (33)
===========================================  ==========================

A trailing slash makes the final component follow symlinks (as on POSIX and
in wasmtime) and, when the entry exists, requires it to be a directory.
"""
from __future__ import annotations

import errno as _host
import os
import stat
from dataclasses import dataclass
from enum import IntEnum

from ...errors import WasmboxError
from . import errno as _wasi_errno

__all__ = [
    "Errno",
    "WasiPathError",
    "Resolved",
    "resolve",
    "errno_from_oserror",
    "MAX_SYMLINK_EXPANSIONS",
    "PATH_MAX",
    "NAME_MAX",
]

#: Symlink expansions allowed in one resolution (wasmtime/cap-std: 40 pass,
#: the 41st gives ELOOP; measured).
MAX_SYMLINK_EXPANSIONS = 40
#: A guest path of this many bytes or more is ENAMETOOLONG (Linux PATH_MAX,
#: which counts the NUL; wasmtime: 4095 bytes pass, 4097 fail).
PATH_MAX = 4096
#: Longest component in bytes (Linux NAME_MAX).
NAME_MAX = 255


class Errno(IntEnum):
    """The WASI preview1 errnos this module produces, by the numbers of
    :mod:`wasmbox.host.wasi.errno` (the one errno table)."""

    SUCCESS = _wasi_errno.SUCCESS
    ACCES = _wasi_errno.EACCES
    BADF = _wasi_errno.EBADF
    EXIST = _wasi_errno.EEXIST
    ILSEQ = _wasi_errno.EILSEQ
    INVAL = _wasi_errno.EINVAL
    IO = _wasi_errno.EIO
    ISDIR = _wasi_errno.EISDIR
    LOOP = _wasi_errno.ELOOP
    MFILE = _wasi_errno.EMFILE
    NAMETOOLONG = _wasi_errno.ENAMETOOLONG
    NFILE = _wasi_errno.ENFILE
    NOENT = _wasi_errno.ENOENT
    NOTDIR = _wasi_errno.ENOTDIR
    PERM = _wasi_errno.EPERM
    NOTCAPABLE = _wasi_errno.ENOTCAPABLE


class WasiPathError(WasmboxError):
    """A path the sandbox refuses or cannot resolve; ``errno`` is the WASI errno
    the ``path_*`` function returns to the guest."""

    kind = "wasi"

    def __init__(self, errno: Errno, message: str = "") -> None:
        super().__init__(message or errno.name)
        self.errno = errno


def errno_from_oserror(exc: OSError) -> Errno:
    """The WASI errno for a host ``OSError`` met during resolution (EIO for any
    errno outside this module's table). Raises nothing."""
    value = _wasi_errno.from_oserror(exc)
    try:
        return Errno(value)
    except ValueError:  # an errno this module does not produce
        return Errno.IO


@dataclass
class Resolved:
    """Where a guest path lands: ``name`` inside the directory ``parent_fd``.

    ``parent_fd`` is a new descriptor owned by the caller (close it, or use
    the object as a context manager). ``name`` is bytes, one component
    without ``/``; it is ``b"."`` when the path names a directory itself
    (``"."``, ``"a/.."``). ``trailing_slash`` says the guest wrote one."""

    parent_fd: int
    name: bytes
    trailing_slash: bool = False

    def close(self) -> None:
        """Close ``parent_fd`` (idempotent). Raises nothing."""
        if self.parent_fd >= 0:
            try:
                os.close(self.parent_fd)
            except OSError:
                pass
            self.parent_fd = -1

    def __enter__(self) -> "Resolved":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _guest_bytes(path: bytes | bytearray | memoryview | str) -> bytes:
    """The guest path as bytes, checked as wasmtime checks it: UTF-8 (EILSEQ),
    no NUL (EINVAL), shorter than PATH_MAX (ENAMETOOLONG), not empty (ENOENT),
    relative (EPERM). Raises WasiPathError."""
    if isinstance(path, str):
        try:
            raw = path.encode("utf-8")
        except UnicodeEncodeError:
            raise WasiPathError(Errno.ILSEQ, "path is not valid UTF-8") from None
    elif isinstance(path, (bytes, bytearray, memoryview)):
        raw = bytes(path)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise WasiPathError(Errno.ILSEQ, "path is not valid UTF-8") from None
    else:
        raise WasiPathError(Errno.INVAL, "path must be bytes or str")
    if b"\0" in raw:
        raise WasiPathError(Errno.INVAL, "NUL byte in path")
    if len(raw) >= PATH_MAX:
        raise WasiPathError(Errno.NAMETOOLONG, "path too long")
    if not raw:
        raise WasiPathError(Errno.NOENT, "empty path")
    if raw.startswith(b"/"):
        raise WasiPathError(Errno.PERM, "absolute path")
    return raw


def _components(raw: bytes) -> list[bytes]:
    """Components of a relative path, empty ones (``a//b``) dropped."""
    return [c for c in raw.split(b"/") if c]


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def _readlink(name: bytes, dir_fd: int) -> bytes | None:
    """The target of ``name`` in ``dir_fd`` if it is a symlink; None if it is
    not one or does not exist. Raises WasiPathError for other failures."""
    try:
        return os.readlink(name, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (_host.EINVAL, _host.ENOENT):
            return None
        raise WasiPathError(errno_from_oserror(exc), str(exc)) from None


def resolve(
    dir_fd: int,
    path: bytes | bytearray | memoryview | str,
    *,
    follow: bool,
    must_exist: bool = False,
    trailing_slash_dir: bool = True,
) -> Resolved:
    """Resolve ``path`` relative to the preopen directory ``dir_fd``.

    ``dir_fd`` is an ``O_DIRECTORY`` descriptor owned by the caller; it is the
    sandbox root (``..`` never goes above it) and is not closed. ``follow``
    expands a symlink in the final component (``lookupflags.symlink_follow``);
    symlinks in intermediate components are always expanded. ``must_exist``
    requires the final entry to exist (ENOENT otherwise).
    ``trailing_slash_dir`` makes a trailing slash require an existing final
    entry to be a directory (ENOTDIR otherwise); a trailing slash always
    follows a final symlink.

    Returns a :class:`Resolved` whose ``parent_fd`` the caller must close.
    Raises :class:`WasiPathError` with the WASI errno of the refusal (table
    in the module docstring); no other exception escapes.
    """
    raw = _guest_bytes(path)
    trailing = raw.endswith(b"/")
    parts = _components(raw)
    parts.reverse()  # a stack: the next component is parts[-1]
    follow_final = follow or trailing
    try:
        root = os.dup(dir_fd)
    except OSError as exc:
        raise WasiPathError(errno_from_oserror(exc), str(exc)) from None
    stack = [root]  # stack[0] is our dup of the root; all entries are ours
    name = b"."
    expansions = 0
    try:
        while parts:
            comp = parts.pop()
            last = not parts
            if comp == b".":
                name = b"."
                continue
            if comp == b"..":
                if len(stack) == 1:
                    raise WasiPathError(Errno.PERM, "path leaves the preopen")
                os.close(stack.pop())
                name = b"."
                continue
            if len(comp) > NAME_MAX:
                raise WasiPathError(Errno.NAMETOOLONG, "component too long")
            cur = stack[-1]
            if last:
                target = _readlink(comp, cur) if follow_final else None
                if target is None:
                    name = comp
                    break
            else:
                try:
                    stack.append(os.open(comp, _DIR_FLAGS, dir_fd=cur))
                    continue
                except OSError as exc:
                    if exc.errno not in (_host.ELOOP, _host.ENOTDIR):
                        raise WasiPathError(errno_from_oserror(exc), str(exc)) from None
                    # A symlink, or not a directory at all.
                    target = _readlink(comp, cur)
                    if target is None:
                        raise WasiPathError(Errno.NOTDIR, "not a directory") from None
            # Expand the symlink ``comp`` (whose target is ``target``) in place.
            expansions += 1
            if expansions > MAX_SYMLINK_EXPANSIONS:
                raise WasiPathError(Errno.LOOP, "too many levels of symbolic links")
            if not target:
                raise WasiPathError(Errno.NOENT, "empty symlink")
            if target.startswith(b"/"):
                raise WasiPathError(Errno.PERM, "symlink to an absolute path")
            if last and target.endswith(b"/"):
                trailing = follow_final = True
            expanded = _components(target)
            expanded.reverse()
            parts.extend(expanded)
            name = b"."
        parent = stack.pop()
        result = Resolved(parent, name, trailing)
    except WasiPathError:
        for fd in stack:
            os.close(fd)
        raise
    except OSError as exc:  # os.close failing: report it, leak nothing more
        for fd in stack:
            try:
                os.close(fd)
            except OSError:
                pass
        raise WasiPathError(errno_from_oserror(exc), str(exc)) from None
    for fd in stack:
        os.close(fd)
    try:
        _check_final(result, must_exist, trailing and trailing_slash_dir)
    except WasiPathError:
        result.close()
        raise
    return result


def _check_final(result: Resolved, must_exist: bool, want_dir: bool) -> None:
    """Apply ``must_exist`` and the trailing-slash rule to the final entry
    (not following it: a final symlink left here was not to be followed).
    Raises WasiPathError (ENOENT, ENOTDIR, or a mapped host errno)."""
    if not (must_exist or want_dir) or result.name == b".":
        return
    try:
        st = os.stat(result.name, dir_fd=result.parent_fd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno == _host.ENOENT and not must_exist:
            return
        raise WasiPathError(errno_from_oserror(exc), str(exc)) from None
    if want_dir and not stat.S_ISDIR(st.st_mode):
        raise WasiPathError(Errno.NOTDIR, "not a directory")
