"""Real WASI programs on real directory trees: the C programs in
tests/data/wasi (files.c, dirs.c, readonly.c, sleep.c, stdiofs.c, argsenv.c) run in
wasmtime-py 50 and in wasmbox, each engine on its own fresh tree with the
program's directory preopened as /sandbox.

For each program, ``test_<prog>_in_wasmtime`` checks that the reference run
is what the program means to show (so that a wrong program is caught there,
not blamed on wasmbox), and ``test_<prog>_in_wasmbox`` requires wasmbox to
match it byte for byte: stdout, stderr, exit status and the tree afterwards
(names, types, permission bits, contents, symlink targets).

Run a program by hand: ``wasmtime run --dir DIR::/sandbox tests/data/wasi/files.wasm``
or ``python -m wasmbox run --dir DIR::/sandbox tests/data/wasi/files.wasm``.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from wasi_fs_support import DATA, Run, assert_same, run_in, run_wasmbox, run_wasmtime


def readonly_tree(base: Path) -> None:
    s = base / "sandbox"
    (s / "r.txt").write_bytes(b"read only\n")
    (s / "sub").mkdir()
    os.symlink("r.txt", s / "lnk")


PROGRAMS = {
    "files": {},
    "dirs": {},
    "readonly": {"setup": readonly_tree, "mutable": False},
    "sleep": {"stdin": b"x"},
    "stdiofs": {},
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """wasmtime's (run, tree) for each program, run once per module."""
    cache: dict[str, tuple[Run, dict]] = {}

    def get(prog: str) -> tuple[Run, dict]:
        if prog not in cache:
            base = tmp_path_factory.mktemp(f"{prog}-wasmtime")
            cache[prog] = run_in("wasmtime", base, prog, **PROGRAMS[prog]) + (base,)
        return cache[prog]
    return get


@pytest.mark.parametrize("prog", sorted(PROGRAMS))
def test_program_in_wasmbox(tmp_path, reference, prog: str) -> None:
    run, tree, _ = reference(prog)
    assert_same(run_in("wasmbox", tmp_path, prog, **PROGRAMS[prog]), (run, tree))


def test_files_in_wasmtime(reference) -> None:
    run, tree, base = reference("files")
    assert run.status == 0 and run.err == b"" and run.lines()[-1] == "done"
    a = run.answers()
    expect = {
        "read 4": '4 "0123"', "seek cur +2": "6", "read rest": '4 "6789"', "read at eof": "0",
        "seek end -3": "7", "seek set -1": "EINVAL", "seek cur -100": "EINVAL",
        "tell after failed seeks": "7", "read past end": "0", "size after hole": "size 21 reg=1",
        "pread 20 at 8": '13 "89' + "\\x00" * 10 + 'X"', "tell after pwrite": "21",
        "pread at 100": "0", "pwrite at -1": "EINVAL", "after ftruncate 5": '5 "01ab4"',
        "after ftruncate 8": '8 "01ab4\\x00\\x00\\x00"', "ftruncate -1": "EINVAL",
        "fsync": "ok", "fdatasync": "ok", "posix_fallocate 0 100": "ENOTSUP",
        "posix_fadvise sequential": "0", "close again": "EBADF", "fstat closed": "EBADF",
        "writev all": "100010", "readv all": "100010", "readv matches": "1", "readv to eof": "20",
        "flags append": "wronly append", "append write": "3", "tell after append": "7",
        "ap contents": '8 "baseENDP"', "flags after setfl append": "rdwr append",
        "flags after setfl nonblock": "rdwr nonblock", "ap final": '9 "AaseENDPZ"',
        "write on rdonly": "EBADF", "read on wronly": "EBADF", "size after trunc": "size 0 reg=1",
        "creat excl existing": "EEXIST", "creat excl new": "ok", "creat in missing dir": "ENOENT",
        "open file with O_DIRECTORY": "ENOTDIR", "open file/": "ENOTDIR", "open dir wronly": "EISDIR",
        "open dir rdwr": "EISDIR", "open dir rdonly": "ok", "read dir fd": "EBADF",
        "dir fd is dir": "1", "creat with trailing slash": "EISDIR",
        "fd set_times atim+atim_now": "28", "utimensat bad nsec": "EINVAL",
        "utimensat missing": "ENOENT", "sparse size": "size 5000000001 reg=1",
        "pread at 5e9": '1 "Z"', "seek end": "8589934593", "isatty file": "0 ENOTTY",
        "pread b (now a)": '4 "AAAA"', "tell b (a's position)": "4", "write a (gone)": "EBADF",
        "renumber b -> 1000 (not open)": "8", "renumber 1000 -> b": "8",
    }
    assert {k: a.get(k) for k in expect} == expect
    lines = run.lines()
    for line in ("atime 1000000000.123456789 mtime 1500000000.500000000",
                 "atime 1200000000.000000001 mtime 1300000000.999999999",
                 "atime kept 1 mtime changed 1", "atime changed 1 mtime kept 1",
                 "atime 1100000000 mtime kept 1", "both now 1", "dir mtime 1500000000.500000000"):
        assert line in lines
    assert tree["sandbox/f1"] == ("file", 0o644, b"01ab4\0\0\0")
    assert tree["sandbox/vec"][2][:5] == b"head:" and len(tree["sandbox/vec"][2]) == 100010
    assert tree["sandbox/d/inner"] == ("file", 0o644, b"in d")


@pytest.mark.parametrize("engine", ["wasmtime", "wasmbox"])
def test_files_times_reach_the_host(tmp_path, engine: str) -> None:
    """The times files.c leaves on ``t`` are the host file's."""
    run, _ = run_in(engine, tmp_path, "files")
    assert run.lines()[-1] == "done"
    st = os.stat(tmp_path / "tree" / "sandbox" / "t")
    assert (st.st_atime_ns, st.st_mtime_ns) == (1000000000_123456789, 1500000000_500000000)
    st = os.stat(tmp_path / "tree" / "sandbox" / "d")
    assert st.st_mtime_ns == 1500000000_500000000


def test_dirs_in_wasmtime(reference) -> None:
    run, tree, _ = reference("dirs")
    assert run.status == 0 and run.err == b"" and run.lines()[-1] == "done"
    a = run.answers()
    expect = {
        "mkdir a again": "EEXIST", "mkdir a/b/c (no a/b)": "ENOENT", "mkdir over file": "EEXIST",
        "mkdir f/x": "ENOTDIR", "rmdir a (not empty)": "ENOTEMPTY", "rmdir f (a file)": "ENOTDIR",
        "rmdir missing": "ENOENT", "rmdir .": "EINVAL", "rmdir e/": "EINVAL",
        "unlink a (a dir)": "EISDIR", "unlink f/": "ENOTDIR", "unlink g again": "ENOENT",
        "r2 now": '3 "one"', "rename r2 -> r2": "ok", "a/b/r2": '3 "one"',
        "rename into missing dir": "ENOENT", "d2/in": '5 "in d1"',
        "rename dir d3 over non-empty d2": "ENOTEMPTY", "rename file over dir": "EISDIR",
        "rename dir over file": "ENOTDIR", "rename dir into itself": "EINVAL",
        "rename a/d3/ -> d4/ (slashes)": "ok", "rename f/ -> f2 (slash on file)": "ENOTDIR",
        "rename . -> x": "EBUSY",
        "stat f after link": "file size 6 nlink 2", "link onto existing": "EEXIST",
        "link a dir": "EPERM", "symlink onto existing": "EEXIST", "readlink sl": '1 "f"',
        "readlink a/up": '4 "../f"', "readlink dl into 3 bytes": '3 "a/b"',
        "readlink f (a file)": "EINVAL", "readlink sl/ (slash)": "ENOTDIR",
        "stat sl": "file size 6 nlink 2", "lstat sl": "link size 1 nlink 1", "stat dl": "dir",
        "lstat dl": "link size 3 nlink 1", "stat dangling": "ENOENT",
        "lstat dangling": "link size 7 nlink 1", "stat a/up": "file size 6 nlink 2",
        "lstat dl/": "dir", "lstat sl/": "ENOTDIR", "fstatat nofollow sl kind": "link",
        "read via a/up": '6 "file f"', "open sl O_NOFOLLOW": "ELOOP",
        "open dangling O_CREAT": "ok", "rmdir dl (link to dir)": "ENOTDIR", "unlink dl": "ok",
        "stat a/b after unlink dl": "dir", "lstat sl2.hard": "link size 1 nlink 2",
        "many entries": "304", "after rewinddir": "304",
        "empty dir": "2 [..:d .:d]", "a": "4 [..:d .:d b:d up:l]", "opendir file": "ENOTDIR",
        "getcwd": "/sandbox/a/..", "chdir f": "ENOTDIR", "creat 255-byte name": "ok",
        "creat 256-byte name": "ENAMETOOLONG", "creat bad UTF-8 name": "EILSEQ",
        "names": "15 [#hash:f -dash:f ...:f ..:d ..dots:f .:d .hidden:f back\\x5cslash:f "
                 "caf\\xc3\\xa9:f new\\x0aline:f q'uote:f sp\\x20ace:f tab\\x09here:f x.:f "
                 "\\xe6\\x97\\xa5\\xe6\\x9c\\xac:f]",
    }
    assert {k: a.get(k) for k in expect} == expect
    assert "after 120: 184 left, seekdir resumes the same: 1, matches first pass: 1" in run.lines()
    assert sum(1 for k in tree if k.startswith("sandbox/many/n")) == 300
    assert tree["sandbox/missing"] == ("file", 0o644, b"")      # created through the dangling link
    assert tree["sandbox/sl2.hard"] == ("link", "f") and tree["sandbox/a/up"] == ("link", "../f")


def test_stdiofs_in_wasmtime(reference) -> None:
    run, tree, _ = reference("stdiofs")
    assert run.status == 0 and run.err == b""
    assert run.lines()[1:] == [
        "rows 500 odd 250 sum 155937.50 eof 1", "ftell at end: 7552", "fseek 10: 0 ftell 10",
        "getc '0' ungetc '#' getc '#'", "after rewind: 0,even,0.00", "a+ first line: X,even,0.00",
        "copied 7562 bytes, same: 1", "rename notes: 0", "remove missing: -1 ENOENT", "remove dir: -1",
        "remove empty dir: 0", "fopen dir for writing: EISDIR", "fopen missing: ENOENT", "copy/",
        "  NOTES file 6 10907258", "  deeper/", "    table.bak file 7562 f6bcdb84",
        "  latest link 0 00000000", "table.csv file 7562 f6bcdb84", "walk: 4 files", "done"]
    table = tree["sandbox/table.csv"][2]
    assert table.startswith(b"X,even,0.00\n") and table.endswith(b"499,odd,62!!!!\ntail line\n")
    assert tree["sandbox/copy/deeper/table.bak"] == tree["sandbox/table.csv"]


def test_readonly_in_wasmtime(reference) -> None:
    run, tree, _ = reference("readonly")
    assert run.status == 0 and run.err == b"" and run.lines()[-1] == "done"
    a = run.answers()
    assert a["read"] == '10 "read only\\x0a"' and a["readlink lnk"] == '5 "r.txt"'
    changes = ["write on it", "ftruncate it", "futimens it", "open r.txt wronly", "open r.txt rdwr",
               "open r.txt append", "open r.txt trunc", "creat new", "creat new rdonly", "mkdir",
               "rmdir sub", "unlink r.txt", "rename", "link", "symlink", "utimensat", "truncate",
               "creat in sub via openat"]
    assert {k: a[k] for k in changes} == {k: "EBADF" if k == "write on it" else "EPERM" for k in changes}
    assert a["stat r.txt"] == "ok" and a["open via lnk"] == "ok" and a["readdir ."] == "5 entries"
    assert tree == {"outside": ("dir", 0o755), "sandbox": ("dir", 0o755),
                    "sandbox/lnk": ("link", "r.txt"), "sandbox/r.txt": ("file", 0o644, b"read only\n"),
                    "sandbox/sub": ("dir", 0o755)}


def test_sleep_in_wasmtime(reference) -> None:
    run, tree, _ = reference("sleep")
    assert run.status == 0 and run.err == b"" and run.lines()[-1] == "done"
    a = run.answers()
    for label, ms in [("nanosleep 50ms", 50), ("usleep 20ms", 20), ("clock_nanosleep monotonic 30ms", 30),
                      ("clock_nanosleep realtime abstime +40ms", 40), ("poll no fds 50ms", 50),
                      ("select no fds 30ms", 30)]:
        assert a[label] == f"0, waited >= {ms}ms: 1, < 5s: 1", label
    assert a["nanosleep nsec 1e9"] == "EINVAL"
    assert a["poll stdin in"] == "1 [in]" and a["poll stdout+stderr out"] == "2 [out, out]"
    assert a["poll stdin in + stdout out"] == "2 [in, out]" and a["poll fd 99"] == "EBADF"
    assert a["select stdin/stdout"] == "2 read0 1 write1 1"
    assert a["poll file in"] == "1 [in hup]" and a["poll file out"] == "1 [out]"
    assert a["stdin read after polls"] == "1"
    assert "  waited >= 30ms: 0" in run.lines()    # wasi-libc: poll with no events is ENOSYS at once


# -- arguments and environment: more cases for argsenv.c ----------------------------
ARGS_CASES = {
    "control characters": (["p", "a\nb", "tab\there", "back\\slash", 'q"uote', "\x7f\x01", ""],
                           [("NL", "x\ny"), ("EQ", "="), ("T", "\t")]),
    "= in names, empty name": (["p"], [("A=B", "c"), ("", "v"), ("EQ", ""), ("==", "==")]),
    "NUL cuts a string": (["p", "a\x00b", "\x00"], [("EQ", "x\x00y")]),
    "astral and combining": (["p", "\U0001F600\u0301\u200f", "\ufeff"], [("E", "\U00010348"), ("Ω", "ω")]),
    "long": (["p", "x" * 100_000, "y" * 70_000], [("BIG", "z" * 100_000)]),
    "1000 each": ([f"a{i}" for i in range(1000)], [(f"K{i}", "v" * (i % 7)) for i in range(1000)]),
}


@pytest.mark.parametrize("case", sorted(ARGS_CASES))
def test_args_and_environment_edge_cases(tmp_path, case: str) -> None:
    argv, env = ARGS_CASES[case]
    theirs = run_wasmtime(DATA / "argsenv.wasm", argv, tmp_path, env=env)
    cut = [a.split("\0")[0] for a in argv]                  # C strings end at the first NUL
    assert theirs.status == 0 and theirs.lines()[0] == f"argc={len(argv)}"
    assert f"envc={len(env)}" in theirs.lines()
    for i, a in enumerate(cut):
        assert f"argv[{i}] ({len(a.encode())}) = " in theirs.out.decode()
    ours = run_wasmbox(DATA / "argsenv.wasm", argv, env=env)
    assert ours == theirs

