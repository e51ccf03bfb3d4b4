"""Host-side check of the WASI sandbox: run a command under
``strace -f -y`` (every file and descriptor syscall, each descriptor shown
with the path behind it) and list the syscalls that could reach outside the
preopened directory ``sandbox`` (inside the test's ``base`` directory):

1. the path behind any descriptor (``-y``), and any path argument resolved
   lexically against its directory descriptor or the cwd (``sandbox_fd`` +
   ``"../x"`` counts as ``base/x``), must not lie under ``base`` outside
   ``sandbox`` (stdio files named in ``allowed`` excepted);
2. a path looked up relative to a descriptor inside ``sandbox`` must not be
   able to leave it: either ``openat2`` with ``RESOLVE_BENEATH`` /
   ``RESOLVE_IN_ROOT`` (the kernel keeps it inside; wasmtime's way), or one
   plain name (no ``/``, no ``..``) that does not follow a symlink at its end
   (``O_NOFOLLOW``, ``AT_SYMLINK_NOFOLLOW``, a call that never follows such as
   ``mkdirat``; wasmbox's way: a walk one component at a time);
3. once the guest program is opened (the first syscall naming ``wasm``):
   no absolute or cwd-relative path into ``sandbox`` other than ``sandbox``
   itself, and nothing naming ``/etc/passwd``, ``/outside...`` or a name
   starting ``esc-`` (what the escape program tries to create) outside
   ``sandbox``: absolute escapes would land outside ``base``.

The interpreter's own start-up (libraries, ``.pyc``) never touches ``base``.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

# Which arguments of a %file syscall are paths, as (dirfd index or None, path index).
_AT = [(0, 1)]
PATH_ARGS: dict[str, list[tuple[int | None, int]]] = {
    **{n: [(None, 0)] for n in (
        "open", "creat", "stat", "lstat", "access", "chdir", "mkdir", "rmdir", "unlink", "truncate",
        "readlink", "chmod", "chown", "lchown", "statfs", "utime", "utimes", "execve", "chroot",
        "getxattr", "lgetxattr", "setxattr", "lsetxattr", "listxattr", "llistxattr",
        "removexattr", "lremovexattr", "mknod", "uselib", "swapon", "acct", "pivot_root", "mount",
        "umount2", "inotify_add_watch")},
    **{n: _AT for n in (
        "openat", "openat2", "newfstatat", "fstatat64", "statx", "mkdirat", "unlinkat", "faccessat",
        "faccessat2", "fchmodat", "fchownat", "utimensat", "futimesat", "readlinkat", "mknodat",
        "name_to_handle_at", "execveat", "open_tree", "fanotify_mark")},
    "rename": [(None, 0), (None, 1)], "link": [(None, 0), (None, 1)], "symlink": [(None, 1)],
    "renameat": [(0, 1), (2, 3)], "renameat2": [(0, 1), (2, 3)], "linkat": [(0, 1), (2, 3)],
    "symlinkat": [(1, 2)],
}

_LINE = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+([a-z_0-9]+)\((.*)$")
_FD_PATH = re.compile(r"(?:\d+|AT_FDCWD)<((?:[^>\\]|\\.)*)>")


def require_strace() -> str:
    exe = shutil.which("strace")
    if exe is None:
        raise AssertionError("strace is not installed: the host-side sandbox test needs it "
                             "(apt-get install -y strace); this test fails rather than skips")
    return exe


def run_traced(cmd: list[str], log: Path, cwd: Path, timeout: float = 120,
               **kw) -> subprocess.CompletedProcess:
    exe = require_strace()
    return subprocess.run([exe, "-f", "-y", "-qq", "-e", "trace=%file,%desc", "-o", str(log), *cmd],
                          cwd=cwd, capture_output=True, timeout=timeout, **kw)


def split_args(text: str) -> list[str]:
    """Top-level arguments of a strace call, quotes and brackets respected."""
    args, depth, cur, i = [], 0, [], 0
    while i < len(text):
        c = text[i]
        if c == '"':
            j = i + 1
            while j < len(text) and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            cur.append(text[i:j + 1])
            i = j + 1
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:                       # the call's closing parenthesis
                break
            depth -= 1
        if c == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    if "".join(cur).strip():
        args.append("".join(cur).strip())
    return args


def unquote(s: str) -> str | None:
    """A strace string literal's text (``\\xNN`` and friends decoded), or None."""
    m = re.match(r'^"((?:[^"\\]|\\.)*)"(\.\.\.)?$', s)
    if not m:
        return None
    raw = m.group(1).encode("latin-1", "backslashreplace")
    return raw.decode("unicode_escape").encode("latin-1").decode("utf-8", "surrogateescape")


def _fd_path(arg: str) -> str | None:
    m = _FD_PATH.fullmatch(arg.strip())
    return unquote('"' + m.group(1) + '"') if m else None


class Lookup:
    """One path argument of one syscall."""

    def __init__(self, call: str, args: list[str], dir_i: int | None, path_i: int, cwd: str) -> None:
        self.call, self.args, self.path_i = call, args, path_i
        self.name = unquote(args[path_i]) if path_i < len(args) else None
        self.dir = (_fd_path(args[dir_i]) if dir_i is not None and dir_i < len(args) else None)
        self.via_fd = self.dir is not None and not args[dir_i].startswith("AT_FDCWD")
        start = self.dir or cwd
        self.resolved = (os.path.normpath(os.path.join(start, self.name)) if self.name
                         else start) if self.name is not None else None

    def flags(self, i: int) -> str:
        return self.args[i] if i < len(self.args) else ""

    def contained(self) -> bool:
        """Rule 2: this lookup cannot leave the directory of its descriptor."""
        if self.call == "openat2":
            return "RESOLVE_BENEATH" in self.flags(2) or "RESOLVE_IN_ROOT" in self.flags(2)
        if self.name in ("", "."):
            return True
        if "/" in self.name or self.name == "..":
            return False
        return not self.follows_final()

    def follows_final(self) -> bool:
        c = self.call
        if c in ("mkdirat", "unlinkat", "renameat", "renameat2", "symlinkat", "readlinkat", "mknodat"):
            return False
        if c == "linkat":
            return self.path_i == 1 and "AT_SYMLINK_FOLLOW" in self.flags(4)
        if c == "openat":
            f = self.flags(2)
            return "O_NOFOLLOW" not in f and not ("O_CREAT" in f and "O_EXCL" in f)
        where = {"newfstatat": 3, "fstatat64": 3, "statx": 2, "utimensat": 3, "fchownat": 4,
                 "faccessat2": 3, "fchmodat2": 3, "name_to_handle_at": 4}.get(c)
        return where is None or "AT_SYMLINK_NOFOLLOW" not in self.flags(where)


def parse(line: str, cwd: str) -> tuple[list[str], list[Lookup]]:
    """The descriptor paths (``-y``) and the path arguments of one strace line."""
    fds = [p for p in (unquote('"' + m.group(1) + '"') for m in _FD_PATH.finditer(line))
           if p and p.startswith("/")]
    m = _LINE.match(line)
    if not m or m.group(2) not in PATH_ARGS:
        return fds, []
    name, rest = m.group(2), m.group(3).replace(" <unfinished ...>", ")")
    args = split_args(rest)
    return fds, [lk for d, p in PATH_ARGS[name] if (lk := Lookup(name, args, d, p, cwd)).name is not None]


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def violations(log: Path, base: Path, sandbox: Path, wasm: Path, cwd: Path,
               allowed: tuple[Path, ...] = ()) -> list[str]:
    """The strace lines that break the rules in this module's docstring, each
    prefixed with the rule and the path concerned."""
    base_s, sandbox_s, wasm_s = str(base), str(sandbox), str(wasm)
    allowed_s = {str(a) for a in allowed}
    bad, guest_started = [], False

    def outside(p: str) -> bool:
        return _under(p, base_s) and not _under(p, sandbox_s) and p not in allowed_s

    for line in log.read_text(errors="replace").splitlines():
        fds, lookups = parse(line, str(cwd))
        if any(lk.resolved == wasm_s for lk in lookups):
            guest_started = True
        for p in fds:
            if outside(p):
                bad.append(f"rule 1 (descriptor) {p}: {line}")
        for lk in lookups:
            p = lk.resolved
            if lk.via_fd and _under(lk.dir, sandbox_s):
                if not lk.contained():
                    bad.append(f"rule 2 {lk.name!r}: {line}")
                continue
            if outside(p):
                bad.append(f"rule 1 {p}: {line}")
            elif guest_started and _under(p, sandbox_s) and p != sandbox_s:
                bad.append(f"rule 3 (absolute into the sandbox) {p}: {line}")
            elif guest_started and not _under(p, sandbox_s) and (
                    p == "/etc/passwd" or _under(p, "/outside") or os.path.basename(p).startswith("esc-")):
                bad.append(f"rule 3 {p}: {line}")
    return bad
