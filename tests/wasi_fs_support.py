"""Shared by the WASI file-system program tests (tests/test_wasi_*.py): run one
C program from tests/data/wasi in wasmbox and in wasmtime-py, each on its own
fresh copy of a directory tree, and compare what they print and what they
leave behind.

A program sees one preopen, ``/sandbox`` (the host's ``<tmp>/<engine>/sandbox``);
its siblings (``outside`` with canaries, for the escape tests) are never
preopened. ``both()`` builds the two trees with the same ``setup`` function,
runs the engines, asserts stdout, stderr, exit status and the trees
afterwards are identical, and returns the result for the test's own checks.
"""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import wasmtime

import wasmbox

DATA = Path(__file__).parent / "data" / "wasi"
GUEST = "/sandbox"

Preopen = tuple[Path, str, bool]        # host dir, guest path, mutable


@dataclass
class Run:
    out: bytes
    err: bytes
    status: object

    def lines(self) -> list[str]:
        return self.out.decode().splitlines()

    def answers(self) -> dict[str, str]:
        """``label: answer`` lines as a dict (the last one wins for a repeated label)."""
        return dict(ln.split(": ", 1) for ln in self.lines() if ": " in ln)


def run_wasmbox(wasm: Path, argv: list[str], preopens: Iterable[Preopen] = (),
                env: Iterable[tuple[str, str]] = (), stdin: bytes = b"") -> Run:
    engine = wasmbox.Engine()
    store = wasmbox.Store(engine)
    cfg = wasmbox.WasiConfig()
    cfg.argv = list(argv)
    cfg.env = list(env)
    cfg.stdin_bytes = stdin
    cfg.capture_stdout()
    cfg.capture_stderr()
    for host, guest, mutable in preopens:
        if mutable:
            cfg.preopen_dir(str(host), guest, wasmbox.DirPerms.READ_WRITE, wasmbox.FilePerms.READ_WRITE)
        else:
            cfg.preopen_dir(str(host), guest, wasmbox.DirPerms.READ_ONLY, wasmbox.FilePerms.READ_ONLY)
    store.set_wasi(cfg)
    linker = wasmbox.Linker(engine)
    linker.define_wasi()
    inst = linker.instantiate(store, wasmbox.Module(engine, wasm.read_bytes()))
    try:
        inst.exports(store)["_start"](store)
        status: object = 0
    except wasmbox.ExitTrap as e:
        status = e.code
    except wasmbox.Trap:
        status = "trap"
    store.set_wasi(wasmbox.WasiConfig())     # closes the preopens' descriptors
    return Run(cfg.stdout_bytes(), cfg.stderr_bytes(), status)


def run_wasmtime(wasm: Path, argv: list[str], io_dir: Path, preopens: Iterable[Preopen] = (),
                 env: Iterable[tuple[str, str]] = (), stdin: bytes = b"") -> Run:
    """wasmtime-py 50; stdio goes through files in ``io_dir`` (outside every preopen)."""
    io_dir.mkdir(parents=True, exist_ok=True)
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    cfg = wasmtime.WasiConfig()
    cfg.argv = list(argv)
    cfg.env = list(env)
    (io_dir / "in").write_bytes(stdin)
    cfg.stdin_file = str(io_dir / "in")
    cfg.stdout_file = str(io_dir / "out")
    cfg.stderr_file = str(io_dir / "err")
    for host, guest, mutable in preopens:
        cfg.preopen_dir(str(host), guest, mutable)
    store.set_wasi(cfg)
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    inst = linker.instantiate(store, wasmtime.Module(engine, wasm.read_bytes()))
    try:
        inst.exports(store)["_start"](store)
        status: object = 0
    except wasmtime.ExitTrap as e:
        status = e.code
    except wasmtime.Trap:
        status = "trap"
    del inst, linker, store                  # wasmtime closes the preopens with the store
    return Run((io_dir / "out").read_bytes(), (io_dir / "err").read_bytes(), status)


# -- directory trees -------------------------------------------------------------
def _open_quietly(path: Path, flags: int) -> int:
    """os.open with O_NOATIME, so that looking does not move the atime."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | getattr(os, "O_NOATIME", 0))
    except PermissionError:                  # O_NOATIME needs the file's owner
        return os.open(path, flags | os.O_NOFOLLOW)


def read_quietly(path: Path) -> bytes:
    with os.fdopen(_open_quietly(path, os.O_RDONLY), "rb") as f:
        return f.read()


def list_quietly(path: Path) -> list[str]:
    fd = _open_quietly(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return sorted(os.listdir(fd))
    finally:
        os.close(fd)


def snapshot(root: Path, times: bool = False) -> dict[str, tuple]:
    """Every entry under ``root`` (not following symlinks): its type, permission
    bits, and contents (file bytes, symlink target); with ``times`` also
    the atime and mtime in ns."""
    out: dict[str, tuple] = {}

    def walk(d: Path, rel: str) -> None:
        for name in list_quietly(d):
            p, r = d / name, f"{rel}{name}"
            st = os.lstat(p)
            extra = (st.st_atime_ns, st.st_mtime_ns) if times else ()
            if stat.S_ISLNK(st.st_mode):
                out[r] = ("link", os.readlink(p)) + extra
            elif stat.S_ISDIR(st.st_mode):
                out[r] = ("dir", stat.S_IMODE(st.st_mode)) + extra
                walk(p, r + "/")
            elif stat.S_ISREG(st.st_mode):
                out[r] = ("file", stat.S_IMODE(st.st_mode), read_quietly(p)) + extra
            else:
                out[r] = ("other", stat.S_IFMT(st.st_mode)) + extra

    walk(root, "")
    return out


Setup = Callable[[Path], None]


def fresh_tree(base: Path, setup: Setup | None) -> Path:
    """``base/sandbox`` and ``base/outside`` (empty), then ``setup(base)``."""
    (base / "sandbox").mkdir(parents=True)
    (base / "outside").mkdir()
    if setup is not None:
        setup(base)
    return base


def run_on(engine: str, root: Path, prog: str, args: Iterable[str] = (), mutable: bool = True,
           env: Iterable[tuple[str, str]] = (), stdin: bytes = b"", io: Path | None = None) -> Run:
    """Run ``prog`` in ``engine`` ("wasmbox" or "wasmtime") with ``root/sandbox``
    preopened as /sandbox (wasmtime's stdio files go in ``io``, default ``root/../io``)."""
    wasm = DATA / f"{prog}.wasm"
    argv = [prog, *args]
    pre = [(root / "sandbox", GUEST, mutable)]
    if engine == "wasmtime":
        return run_wasmtime(wasm, argv, io or root.parent / "io", pre, env, stdin)
    return run_wasmbox(wasm, argv, pre, env, stdin)


def run_in(engine: str, base: Path, prog: str, args: Iterable[str] = (), setup: Setup | None = None,
           mutable: bool = True, env: Iterable[tuple[str, str]] = (), stdin: bytes = b"",
           ) -> tuple[Run, dict[str, tuple]]:
    """:func:`run_on` on a fresh tree ``base/tree/{sandbox,outside}`` built by
    ``setup``; returns the run and the tree's snapshot after."""
    root = fresh_tree(base / "tree", setup)
    run = run_on(engine, root, prog, args, mutable, env, stdin, base / "io")
    return run, snapshot(root)


def assert_same(ours: tuple[Run, dict], theirs: tuple[Run, dict]) -> None:
    """wasmbox's (run, tree) equals wasmtime's, the first differing line named."""
    assert_same_lines(ours[0], theirs[0])
    assert ours[0] == theirs[0]
    assert tree_diff(ours[1], theirs[1]) == []


def tree_diff(ours: dict[str, tuple], theirs: dict[str, tuple]) -> list[str]:
    """The entries where two snapshots differ, each described in one short line."""
    def brief(v: tuple | None) -> str:
        if v is None:
            return "absent"
        if v[0] == "file":
            return f"file mode {v[1]:o} {len(v[2])} bytes {v[2][:40]!r}"
        return " ".join(f"{x:o}" if isinstance(x, int) and i == 1 and v[0] == "dir" else str(x)
                        for i, x in enumerate(v))
    return [f"{k}: wasmbox {brief(ours.get(k))} / wasmtime {brief(theirs.get(k))}"
            for k in sorted(set(ours) | set(theirs)) if ours.get(k) != theirs.get(k)]


def both(tmp_path: Path, prog: str, args: Iterable[str] = (), setup: Setup | None = None,
         mutable: bool = True, env: Iterable[tuple[str, str]] = (), stdin: bytes = b"",
         ) -> tuple[Run, dict[str, tuple]]:
    """Run ``prog`` in both engines on two fresh trees; assert they agree on
    stdout, stderr, exit status and the whole tree afterwards (``sandbox`` and
    ``outside``). Returns wasmtime's run and tree."""
    theirs = run_in("wasmtime", tmp_path / "wasmtime", prog, args, setup, mutable, env, stdin)
    ours = run_in("wasmbox", tmp_path / "wasmbox", prog, args, setup, mutable, env, stdin)
    assert_same(ours, theirs)
    return theirs


def assert_same_lines(ours: Run, theirs: Run) -> None:
    """A readable first failure: the first line of stdout where the engines differ."""
    a, b = ours.out.decode(errors="replace").splitlines(), theirs.out.decode(errors="replace").splitlines()
    for i, (x, y) in enumerate(zip(a, b)):
        assert x == y, f"stdout line {i + 1}: wasmbox {x!r} != wasmtime {y!r}"
    assert len(a) == len(b), (f"wasmbox printed {len(a)} lines, wasmtime {len(b)}; "
                              f"then wasmbox {a[len(b):][:3]!r} / wasmtime {b[len(a):][:3]!r} "
                              f"(stderr wasmbox {ours.err[-300:]!r})")
