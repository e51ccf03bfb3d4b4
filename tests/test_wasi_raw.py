"""Raw preview1 calls, in wasmbox and in wasmtime-py side by side.

``rawcalls.wasm`` (tests/data/wasi/rawcalls.c) makes some 300 calls of
every fd_*/path_*/poll function on a fixed tree and prints each errno and
result; both engines run it on identical fresh trees, and their output and
the trees afterwards must agree byte for byte. Then single calls with
arguments outside the witx's enums and flags, which wasmtime traps on
before looking at the descriptor: wasmbox must trap too, or answer the
same errno. The deliberate deviations are listed (and asserted) in
:data:`DEVIATIONS`.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import wasmtime

import wasmbox

DATA = Path(__file__).parent / "data" / "wasi"


def make_tree(root: Path) -> tuple[Path, Path]:
    """The tree rawcalls.c expects: a read-write and a read-only preopen."""
    rw, ro = root / "rw", root / "ro"
    rw.mkdir()
    ro.mkdir()
    (rw / "f").write_bytes(b"hello world\n")
    (rw / "d").mkdir()
    (rw / "d" / "g").write_bytes(b"g\n")
    os.symlink("f", rw / "l")
    os.symlink("d", rw / "dl")
    (ro / "ro").write_bytes(b"read only\n")
    return rw, ro


def snapshot(root: Path) -> list[tuple]:
    """Every entry under root: path, kind and contents or link target."""
    out = []
    for dirpath, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out.append((rel, "link", os.readlink(p)))
            elif p.is_dir():
                out.append((rel, "dir", None))
            else:
                out.append((rel, "file", p.read_bytes()))
    return sorted(out)


def run_raw(W, root: Path, wasm: bytes) -> tuple[str, bytes]:
    rw, ro = make_tree(root)
    engine = W.Engine()
    store = W.Store(engine)
    cfg = W.WasiConfig()
    cfg.argv = ["rawcalls"]
    cfg.stdout_file = str(root / "stdout")
    cfg.preopen_dir(str(rw), "/sandbox", True)
    cfg.preopen_dir(str(ro), "/ro", False)
    store.set_wasi(cfg)
    linker = W.Linker(engine)
    linker.define_wasi()
    inst = linker.instantiate(store, W.Module(engine, wasm))
    try:
        inst.exports(store)["_start"](store)
        status = "returned"
    except W.ExitTrap as e:
        status = f"exit {e.code}"
    return status, (root / "stdout").read_bytes()


def test_raw_calls_agree_with_wasmtime(tmp_path) -> None:
    wasm = (DATA / "rawcalls.wasm").read_bytes()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    expect = run_raw(wasmtime, tmp_path / "a", wasm)
    got = run_raw(wasmbox, tmp_path / "b", wasm)
    assert expect[0] == got[0] == "returned"
    assert got[1].decode().splitlines() == expect[1].decode().splitlines()
    assert len(expect[1].splitlines()) > 200
    assert snapshot(tmp_path / "b" / "rw") == snapshot(tmp_path / "a" / "rw")
    assert snapshot(tmp_path / "b" / "ro") == snapshot(tmp_path / "a" / "ro")


# (function, param types, arguments): decoded as in wasmtime, which traps for
# a value outside its enum/flags even when the fd is not open.
CALLS = [
    ("fd_advise", "i32 i64 i64 i32", "3 0 0 9"),
    ("fd_advise", "i32 i64 i64 i32", "99 0 0 9"),
    ("fd_advise", "i32 i64 i64 i32", "99 0 0 1"),
    ("fd_seek", "i32 i64 i32 i32", "1 0 3 100"),
    ("fd_seek", "i32 i64 i32 i32", "99 0 3 100"),
    ("fd_seek", "i32 i64 i32 i32", "1 0 256 100"),
    ("fd_fdstat_set_flags", "i32 i32", "1 32"),
    ("fd_fdstat_set_flags", "i32 i32", "99 32"),
    ("fd_fdstat_set_rights", "i32 i64 i64", "3 -1 0"),
    ("fd_fdstat_set_rights", "i32 i64 i64", "99 -1 0"),
    ("fd_fdstat_set_rights", "i32 i64 i64", "3 1073741823 0"),
    ("fd_fdstat_set_rights", "i32 i64 i64", "1 0 1073741824"),
    ("fd_filestat_set_times", "i32 i64 i64 i32", "3 0 0 16"),
    ("fd_filestat_set_times", "i32 i64 i64 i32", "99 0 0 16"),
    ("path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32", "3 0 0 1 0 -1 0 0 100"),
    ("path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32", "3 0 0 1 0 0 -1 0 100"),
    ("path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32", "3 0 0 1 0 1073741824 0 0 100"),
    ("path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32", "3 2 0 1 0 0 0 0 100"),
    ("path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32", "3 0 0 1 16 0 0 0 100"),
    ("path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32", "3 0 0 1 0 0 0 32 100"),
    ("path_open", "i32 i32 i32 i32 i32 i64 i64 i32 i32", "99 2 0 1 0 0 0 0 100"),
    ("path_filestat_get", "i32 i32 i32 i32 i32", "3 2 0 1 100"),
    ("path_filestat_set_times", "i32 i32 i32 i32 i64 i64 i32", "3 0 0 1 0 0 16"),
    ("path_link", "i32 i32 i32 i32 i32 i32 i32", "3 2 0 1 3 0 1"),
    ("clock_time_get", "i32 i64 i32", "9 0 100"),
    ("clock_time_get", "i32 i64 i32", "4 0 100"),
    ("clock_res_get", "i32 i32", "9 100"),
    ("clock_time_get", "i32 i64 i32", "1 0 104"),
    ("proc_raise", "i32", "6"),
    ("proc_raise", "i32", "31"),
    ("sched_yield", "", ""),
    ("sock_shutdown", "i32 i32", "1 1"),
    ("sock_shutdown", "i32 i32", "1 4"),
    ("sock_shutdown", "i32 i32", "99 3"),
    ("sock_accept", "i32 i32 i32", "1 5 100"),
    ("sock_accept", "i32 i32 i32", "1 99 100"),
    ("sock_accept", "i32 i32 i32", "99 0 100"),
    ("sock_recv", "i32 i32 i32 i32 i32 i32", "1 0 0 3 100 104"),
    ("sock_recv", "i32 i32 i32 i32 i32 i32", "1 0 0 4 100 104"),
    ("sock_send", "i32 i32 i32 i32 i32", "1 0 0 1 100"),
    ("sock_send", "i32 i32 i32 i32 i32", "3 0 0 0 100"),
    ("poll_oneoff", "i32 i32 i32 i32", "0 0 0 100"),
    ("args_get", "i32 i32", "65535 0"),
]

EFAULT = 21
#: where wasmbox answers differently on purpose: (function, arguments) ->
#: (what wasmtime does, what wasmbox answers). A pointer or length outside
#: memory is EFAULT here (the issue's rule: a bounds check, never a trap of
#: the host); wasmtime traps. wasmtime also traps for a pointer not aligned
#: to its type (a u64 result at 100); wasmbox accepts any address. The CPU-time clocks are the host's here;
#: wasmtime has none (EBADF).
DEVIATIONS = {
    ("fd_write", "1 65530 1 100"): ("trap", EFAULT),
    ("fd_prestat_dir_name", "3 65535 10"): ("trap", EFAULT),
    ("random_get", "65535 10"): ("trap", EFAULT),
    ("path_open", "3 0 65535 10 0 0 0 0 100"): ("trap", EFAULT),
    ("path_open", "3 0 0 1 0 0 0 0 65535"): ("trap", EFAULT),
    ("poll_oneoff", "0 0 100000 100"): ("trap", EFAULT),
    ("clock_time_get", "1 0 100"): ("trap", 0),
    ("clock_time_get", "2 0 104"): (8, 0),
    ("clock_res_get", "3 104"): (8, 0),
}
SIGNATURES = {"fd_write": "i32 i32 i32 i32", "fd_prestat_dir_name": "i32 i32 i32",
              "random_get": "i32 i32", "path_open": "i32 i32 i32 i32 i32 i64 i64 i32 i32",
              "poll_oneoff": "i32 i32 i32 i32", "clock_time_get": "i32 i64 i32",
              "clock_res_get": "i32 i32"}


def call_one(W, tmp: Path, name: str, params: str, args: str) -> object:
    """The errno of one call from a tiny module, or "trap"."""
    consts = " ".join(f"({t}.const {a})" for t, a in zip(params.split(), args.split()))
    ptypes = f"(param {params})" if params else ""
    wat = f'''(module
      (import "wasi_snapshot_preview1" "{name}" (func $f {ptypes} (result i32)))
      (memory (export "memory") 1) (data (i32.const 0) ".")
      (func (export "go") (result i32) {consts} (call $f)))'''
    return go(W, tmp, wat)


def go(W, tmp: Path, wat: str) -> object:
    """Instantiate wat with WASI (tmp preopened as /s) and call its "go":
    the errno it returns, or "trap"."""
    engine = W.Engine()
    store = W.Store(engine)
    cfg = W.WasiConfig()
    cfg.preopen_dir(str(tmp), "/s", True)
    store.set_wasi(cfg)
    linker = W.Linker(engine)
    linker.define_wasi()
    inst = linker.instantiate(store, W.Module(engine, wat))
    try:
        return inst.exports(store)["go"](store)
    except (W.Trap, wasmtime.WasmtimeError):  # wasmtime reports a host trap as either
        return "trap"


@pytest.mark.parametrize("name,params,args", CALLS, ids=[f"{c[0]}({c[2]})" for c in CALLS])
def test_decoding_agrees_with_wasmtime(tmp_path, name: str, params: str, args: str) -> None:
    assert (name, args) not in DEVIATIONS
    assert call_one(wasmbox, tmp_path, name, params, args) == \
        call_one(wasmtime, tmp_path, name, params, args)


@pytest.mark.parametrize("key", sorted(DEVIATIONS), ids=[f"{k[0]}({k[1]})" for k in sorted(DEVIATIONS)])
def test_deliberate_deviations(tmp_path, key: tuple[str, str]) -> None:
    name, args = key
    theirs, ours = DEVIATIONS[key]
    assert call_one(wasmtime, tmp_path, name, SIGNATURES[name], args) == theirs
    assert call_one(wasmbox, tmp_path, name, SIGNATURES[name], args) == ours


TTY_RUNNER = """
import sys
W = __import__(sys.argv[1])
engine = W.Engine(); store = W.Store(engine); cfg = W.WasiConfig()
cfg.inherit_stdin(); cfg.inherit_stdout(); cfg.inherit_stderr(); store.set_wasi(cfg)
linker = W.Linker(engine); linker.define_wasi()
module = W.Module(engine, open(sys.argv[2], "rb").read())
linker.instantiate(store, module).exports(store)["_start"](store)
"""


def on_a_terminal(engine: str) -> bytes:
    """What ttystat.wasm prints when stdio is a pseudo-terminal."""
    import subprocess
    import sys

    main, sub = os.openpty()
    try:
        p = subprocess.Popen([sys.executable, "-c", TTY_RUNNER, engine, str(DATA / "ttystat.wasm")],
                             stdin=sub, stdout=sub, stderr=sub)
        os.close(sub)
        out = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # EIO once the child has closed the terminal
                break
            if not chunk:
                break
            out += chunk
        assert p.wait(timeout=60) == 0, out
        return out
    finally:
        os.close(main)


def test_a_terminal_is_a_character_device_as_in_wasmtime() -> None:
    ours = on_a_terminal("wasmbox")
    assert ours == on_a_terminal("wasmtime")
    assert ours.count(b"type=2") == 3 and ours.count(b"isatty=1") == 3, ours


PATH_OPEN = "i32 i32 i32 i32 i32 i64 i64 i32 i32"
# (function, param types, arguments) on fd 4, a file "f" created read-write
ON_A_FILE = [
    ("fd_pread", "i32 i32 i32 i64 i32", "4 200 1 -1 300"),
    ("fd_pwrite", "i32 i32 i32 i64 i32", "4 200 1 -1 300"),
    ("fd_filestat_set_size", "i32 i64", "4 -1"),
    ("fd_advise", "i32 i64 i64 i32", "4 -1 -1 0"),
    ("fd_seek", "i32 i64 i32 i32", "4 -9223372036854775808 1 304"),
    ("fd_filestat_set_times", "i32 i64 i64 i32", "4 -1 -1 5"),
    ("fd_allocate", "i32 i64 i64", "4 -1 -1"),
    ("fd_readdir", "i32 i32 i32 i64 i32", "3 400 100 -1 300"),
]


def call_on_file(W, tmp: Path, name: str, params: str, args: str) -> object:
    consts = " ".join(f"({t}.const {a})" for t, a in zip(params.split(), args.split()))
    wat = f'''(module
      (import "wasi_snapshot_preview1" "{name}" (func $f (param {params}) (result i32)))
      (import "wasi_snapshot_preview1" "path_open" (func $open (param {PATH_OPEN}) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "f") (data (i32.const 200) "\\d0\\00\\00\\00\\01\\00\\00\\00")
      (func (export "go") (result i32)
        (drop (call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 1)
                          (i64.const 0x46) (i64.const 0) (i32.const 0) (i32.const 100)))
        {consts} (call $f)))'''
    return go(W, tmp, wat)


@pytest.mark.parametrize("name,params,args", ON_A_FILE, ids=[c[0] for c in ON_A_FILE])
def test_offsets_past_the_host_are_errnos_as_in_wasmtime(tmp_path, name, params, args) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    ours = call_on_file(wasmbox, tmp_path / "a", name, params, args)
    assert ours == call_on_file(wasmtime, tmp_path / "b", name, params, args)
    assert ours != "trap"
