"""The WASI sandbox against a program that tries every way out of its
preopen (tests/data/wasi/escape.c), and against symlinks swapped in while
it works (race.c).

Layout: ``<base>/sandbox`` is preopened as ``/sandbox``; ``<base>/outside``
beside it holds canaries (``secret``, ``dir/inner``) whose atime is set older
than their mtime, so that any read of them would move the atime (relatime).
After each run the outside tree must be byte-identical (names, types,
contents, atimes, mtimes), ``<base>`` must hold nothing new, and no ``esc-*``
name may appear in ``/``, ``/tmp`` or the cwd. The engines must also print
the same thing (wasmtime-py 50 is the reference) and leave the same sandbox
behind. wasmtime and wasmbox run one after the other on the same path, so
that absolute symlink targets compare equal.

``test_*_strace`` watch the host side: the program runs under ``strace -f -y``
(see tests/wasi_strace.py for the rules). strace is required: without it
those tests fail (CI needs ``apt-get install -y strace``).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import wasi_strace as S
from wasi_fs_support import DATA, GUEST, assert_same, fresh_tree, list_quietly, run_on, snapshot, tree_diff

SECRET, INNER = b"TOP SECRET\n", b"inner secret\n"
OLD, NEWER = 1_000_000_000 * 10**9, 1_100_000_000 * 10**9   # atime, mtime (ns) of the canaries


def make_tree(base: Path) -> None:
    """The escape program's tree (see escape.c's comment)."""
    o, s = base / "outside", base / "sandbox"
    (o / "secret").write_bytes(SECRET)
    (o / "dir").mkdir()
    (o / "dir" / "inner").write_bytes(INNER)
    (s / "inside.txt").write_bytes(b"inside\n")
    (s / "sub" / "deep").mkdir(parents=True)
    links = [("link_rel_out", "../outside"), ("link_abs_out", str(o)),
             ("link_abs_secret", str(o / "secret")), ("link_etc", "/etc/passwd"),
             ("link_dotdot", ".."), ("sub/link_root", "/"), ("sub/up2", "../../outside/secret"),
             ("sub/via_link", "../link_rel_out"), ("self", "self"), ("loop_a", "loop_b"),
             ("loop_b", "loop_a"), ("chain40", "inside.txt")]
    links += [(f"chain{i}", f"chain{i + 1}") for i in range(40)]
    for name, target in links:
        os.symlink(target, s / name)
    for p in (o / "secret", o / "dir" / "inner", o / "dir", o):
        os.utime(p, ns=(OLD, NEWER))


def outside_state(base: Path) -> tuple:
    st = os.stat(base / "outside")
    return snapshot(base / "outside", times=True), (st.st_atime_ns, st.st_mtime_ns), list_quietly(base)


def stray_names() -> list[str]:
    """esc-* names where a badly resolved absolute or cwd-relative path would land."""
    return [os.path.join(d, n) for d in ("/", "/tmp", os.getcwd()) for n in os.listdir(d)
            if n.startswith("esc-")] + [p for p in ("/outside", "/sandbox") if os.path.lexists(p)]


def assert_held(out: bytes, base: Path, before: tuple) -> None:
    """Nothing leaked, nothing outside changed (see the module docstring)."""
    for canary in (SECRET.strip(), INNER.strip(), b"root:"):
        assert canary not in out, f"the guest read {canary!r}"
    assert b"LEAK" not in out
    after = outside_state(base)
    assert after[2] == ["outside", "sandbox"], f"new entries beside the sandbox: {after[2]}"
    assert tree_diff(after[0], before[0]) == [], "the outside tree changed"
    assert after[1] == before[1], "the outside directory's times changed"
    assert stray_names() == []


def run_escape(engine: str, base: Path):
    """A fresh tree at ``base/tree`` (``base`` emptied first), the program run in
    ``engine``; returns (run, tree snapshot after, outside state before, tree path)."""
    if base.exists():
        shutil.rmtree(base)
    root = fresh_tree(base / "tree", make_tree)
    before = outside_state(root)
    run = run_on(engine, root, "escape", [GUEST, str(root / "outside")], io=base / "io")
    return run, snapshot(root), before, root


@pytest.fixture(scope="module")
def escape_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("escape")


@pytest.fixture(scope="module")
def wasmtime_escape(escape_dir):
    run, tree, before, root = run_escape("wasmtime", escape_dir)
    return run, tree, before, outside_state(root)


@pytest.fixture(scope="module")
def wasmbox_escape(escape_dir, wasmtime_escape):
    try:
        return run_escape("wasmbox", escape_dir)
    except Exception as e:                      # reported by each test that uses it
        return e


def _wasmbox(result):
    if isinstance(result, Exception):
        raise result
    return result


def attack_lines(out: bytes) -> dict[str, str]:
    return dict(ln.split(": ", 1) for ln in out.decode().splitlines() if ": " in ln)


DENIED = {"EPERM", "ENOTCAPABLE", "ENOENT", "ENOTDIR", "ELOOP", "EXDEV", "EACCES"}


def assert_all_denied(out: bytes) -> None:
    """Every attempt on a way out was refused. The successes allowed are inside
    the sandbox: lstat / utimensat(AT_SYMLINK_NOFOLLOW) / filestat_get without
    follow on the sandbox's own symlinks, ``chain1`` (40 links, inside), ``.``,
    and the chdir to DIR/sub."""
    lines = attack_lines(out)
    checked = 0
    for label, answer in lines.items():
        if label.startswith(("symlink ", "readlink ", "unlink ", "rename ")) or label == "libc chdir DIR/sub":
            continue
        if label.startswith("file "):
            name, op = label.split("'")[1], label.split("'")[2].strip()
            if name in ("chain1", ".") or op == "lstat":
                continue
        elif label.endswith(("utimensat dir nofollow", "filestat_get dir nofollow")):
            continue
        assert answer in DENIED, f"{label}: {answer}"
        checked += 1
    assert checked > 400


def test_escape_wasmtime_holds(wasmtime_escape) -> None:
    """The reference: wasmtime refuses every attempt and changes nothing outside."""
    run, tree, before, held = wasmtime_escape
    assert run.status == 0 and run.err == b"" and run.lines()[-1] == "done"
    assert_all_denied(run.out)
    a = run.answers()
    assert a["../outside open secret"] == "EPERM"
    assert a["raw HOST/outside path_open secret"] == "EPERM"
    assert a["file 'chain0' open"] == "ELOOP" and a["file 'chain1' open"] == '7 "inside\\x0a"'
    assert a["symlink g_abs_out -> HOST/outside"] == "EPERM"
    assert a["readlink link_abs_out"].startswith("EPERM")
    assert held[0] == before[0] and held[1] == before[1] and held[2] == ["outside", "sandbox"]
    assert stray_names() == []


def test_escape_wasmbox_holds(wasmbox_escape) -> None:
    """wasmbox's sandbox holds, whatever errnos it picks."""
    run, tree, before, root = _wasmbox(wasmbox_escape)
    assert run.status == 0 and run.err == b"" and run.lines()[-1] == "done"
    assert_all_denied(run.out)
    assert_held(run.out, root, before)


def test_escape_wasmbox_answers_as_wasmtime(wasmbox_escape, wasmtime_escape) -> None:
    run, tree, *_ = _wasmbox(wasmbox_escape)
    assert_same((run, tree), wasmtime_escape[:2])


# -- the host side, under strace --------------------------------------------------
WASMTIME_RUNNER = """
import sys, wasmtime
wasm, sandbox, outside = sys.argv[1:4]
engine = wasmtime.Engine(); store = wasmtime.Store(engine); cfg = wasmtime.WasiConfig()
cfg.argv = ["escape", "/sandbox", outside]
cfg.preopen_dir(sandbox, "/sandbox")
cfg.inherit_stdout(); cfg.inherit_stderr()
store.set_wasi(cfg)
linker = wasmtime.Linker(engine); linker.define_wasi()
linker.instantiate(store, wasmtime.Module.from_file(engine, wasm)).exports(store)["_start"](store)
"""


def traced_escape(tmp_path: Path, engine: str) -> tuple[subprocess.CompletedProcess, list[str], Path]:
    base = tmp_path / "tree"
    fresh_tree(base, make_tree)
    before = outside_state(base)
    io = tmp_path / "io"
    io.mkdir()
    wasm = DATA / "escape.wasm"
    sandbox, outside = base / "sandbox", base / "outside"
    if engine == "wasmtime":
        cmd = [sys.executable, "-c", WASMTIME_RUNNER, str(wasm), str(sandbox), str(outside)]
    else:
        cmd = [sys.executable, "-m", "wasmbox", "run", "--dir", f"{sandbox}::{GUEST}", str(wasm),
               GUEST, str(outside)]
    p = S.run_traced(cmd, tmp_path / "strace.log", cwd=io)
    bad = S.violations(tmp_path / "strace.log", base, sandbox, wasm, io)
    assert_held(p.stdout, base, before)
    return p, bad, base


def test_escape_wasmtime_strace(tmp_path) -> None:
    """The rules hold for wasmtime (which keeps the kernel on its side with
    openat2 + RESOLVE_BENEATH): the check itself sees no false alarm."""
    p, bad, base = traced_escape(tmp_path, "wasmtime")
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.endswith(b"done\n")
    assert bad == [], "\n".join(bad[:20])
    log = (tmp_path / "strace.log").read_text()
    assert "../outside/secret" in log            # the guest's attempts did reach the host


def test_escape_wasmbox_strace(tmp_path) -> None:
    p, bad, base = traced_escape(tmp_path, "wasmbox")
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.endswith(b"done\n")
    assert bad == [], f"{len(bad)} host syscalls could leave the sandbox:\n" + "\n".join(bad[:20])


@pytest.mark.parametrize("line,rule", [
    ('9 openat(AT_FDCWD</x>, "/B/outside/secret", O_RDONLY) = 3</B/outside/secret>', "rule 1"),
    ('9 openat(5</B/sandbox>, "../outside/secret", O_RDONLY|O_NOFOLLOW) = -1 ENOENT', "rule 2"),
    ('9 newfstatat(5</B/sandbox>, "a/b", {st_mode=S_IFREG}, AT_SYMLINK_NOFOLLOW) = 0', "rule 2"),
    ('9 newfstatat(5</B/sandbox/sub>, "link", {st_mode=S_IFREG}, 0) = 0', "rule 2"),
    ('9 openat(5</B/sandbox>, "link", O_RDONLY) = 6</B/sandbox/x>', "rule 2"),
    ('9 read(6</B/outside/secret>, "TOP", 3) = 3', "rule 1"),
    ('9 statx(5</B/sandbox>, "..", AT_SYMLINK_NOFOLLOW, STATX_ALL, {}) = 0', "rule 2"),
    ('9 openat(AT_FDCWD</x>, "/etc/passwd", O_RDONLY) = 3</etc/passwd>', "rule 3"),
    ('9 openat(AT_FDCWD</x>, "/B/sandbox/link/x", O_RDONLY) = -1 ENOENT', "rule 3"),
    ('9 mkdirat(AT_FDCWD</x>, "/esc-dir", 0777) = 0', "rule 3"),
    ('9 renameat2(5</B/sandbox>, "a", 5</B/sandbox>, "../b", 0) = 0', "rule 2"),
    ('9 openat2(5</B/sandbox>, "../x", {flags=O_RDONLY, resolve=RESOLVE_BENEATH}, 24) = -1 EXDEV', None),
    ('9 openat(5</B/sandbox>, "a", O_RDONLY|O_NOFOLLOW|O_DIRECTORY) = 6</B/sandbox/a>', None),
    ('9 newfstatat(5</B/sandbox>, "", {st_mode=S_IFDIR}, AT_EMPTY_PATH) = 0', None),
    ('9 symlinkat("../../outside", 5</B/sandbox>, "l") = 0', None),
    ('9 readlinkat(5</B/sandbox>, "l", "../../outside", 4096) = 13', None),
    ('9 unlinkat(5</B/sandbox>, "l", 0) = 0', None),
    ('9 openat(AT_FDCWD</x>, "/etc/passwd", O_RDONLY) = 3</etc/passwd>', None),   # before the guest
])
def test_strace_rules(tmp_path, line: str, rule) -> None:
    log = tmp_path / "log"
    start = '9 openat(AT_FDCWD</x>, "/w/p.wasm", O_RDONLY) = 3</w/p.wasm>\n'
    before_guest = rule is None and "passwd" in line
    log.write_text(line + "\n" + start if before_guest else start + line + "\n")
    bad = S.violations(log, Path("/B"), Path("/B/sandbox"), Path("/w/p.wasm"), Path("/x"))
    if rule is None:
        assert bad == []
    else:
        assert bad and bad[0].startswith(rule), bad


LEAKY_HOST = """
import os, sys
sandbox = sys.argv[1]
open(sys.argv[2], "rb").close()                      # "the guest starts"
fd = os.open(sandbox, os.O_RDONLY | os.O_DIRECTORY)
for path in ("../outside/secret", "link_rel_out/secret"):
    try:
        os.close(os.open(path, os.O_RDONLY, dir_fd=fd))
    except OSError:
        pass
os.close(os.open("inside.txt", os.O_RDONLY | os.O_NOFOLLOW, dir_fd=fd))   # the safe way
os.stat("link_abs_out", dir_fd=fd)                   # follows a link out
os.readlink(os.path.join(sandbox, "link_rel_out"))   # an absolute path into the sandbox
"""


def test_strace_catches_a_leaky_host(tmp_path) -> None:
    """End to end: a host that resolves guest paths naively is caught, once per mistake."""
    base = tmp_path / "tree"
    fresh_tree(base, make_tree)
    sandbox, marker = base / "sandbox", tmp_path / "p.wasm"
    marker.write_bytes(b"")
    p = S.run_traced([sys.executable, "-c", LEAKY_HOST, str(sandbox), str(marker)], tmp_path / "log",
                     cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    bad = S.violations(tmp_path / "log", base, sandbox, marker, tmp_path)
    assert any("../outside/secret" in b and b.startswith("rule 2") for b in bad), bad
    assert any("link_rel_out/secret" in b and b.startswith("rule 2") for b in bad), bad
    assert any("link_abs_out" in b and b.startswith("rule 2") for b in bad), bad
    assert any(b.startswith("rule 1 (descriptor)") and "outside/secret" in b for b in bad), bad
    assert any(b.startswith("rule 3 (absolute into the sandbox)") for b in bad), bad
    assert not any("inside.txt" in b for b in bad), bad


def test_strace_is_required(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(AssertionError, match="strace is not installed"):
        S.require_strace()


# -- symlinks swapped in while the guest works -------------------------------------
def race_tree(base: Path) -> None:
    o, s = base / "outside", base / "sandbox"
    (o / "secret").write_bytes(SECRET)
    (s / "d").mkdir()
    (s / "d" / "secret").write_bytes(b"inside d\n")
    (s / "f").write_bytes(b"inside f\n")
    for p in (o / "secret", o):
        os.utime(p, ns=(OLD, NEWER))


def swapper(sandbox: Path, stop: threading.Event, counts: list[int]) -> None:
    """Swap d between a directory and a link to ../outside, and f between a file
    and a link to ../outside/secret, until told to stop."""
    d, d_real, f, f_real = sandbox / "d", sandbox / "d.real", sandbox / "f", sandbox / "f.real"
    while not stop.is_set():
        os.rename(d, d_real)
        os.symlink("../outside", d)
        os.rename(f, f_real)
        os.symlink("../outside/secret", f)
        counts[0] += 1
        os.unlink(d)
        os.rename(d_real, d)
        os.unlink(f)
        os.rename(f_real, f)


@pytest.mark.parametrize("engine", ["wasmtime", "wasmbox"])
def test_symlink_swapped_in_during_operations(tmp_path, engine: str) -> None:
    base = tmp_path / "tree"
    fresh_tree(base, race_tree)
    before = outside_state(base)
    stop, counts = threading.Event(), [0]
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)               # let the swapper interleave with a Python guest
    t = threading.Thread(target=swapper, args=(base / "sandbox", stop, counts))
    t.start()
    try:
        run = run_on(engine, base, "race", [GUEST, "3000"], io=tmp_path / "io")
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(old_interval)
    assert run.status == 0, run.err
    a = run.answers()
    assert a["leaked"] == "0", run.out.decode()
    assert counts[0] > 0 and int(a["ok"]) > 0 and int(a["denied"]) > 0, (counts, a)
    assert_held(run.out, base, before)
    assert sorted(os.listdir(base / "sandbox")) == ["d", "f"]
    assert set(os.listdir(base / "sandbox" / "d")) <= {"secret", "esc-new"}
