"""WASI preview1 core: the shared corpus' command programs, C programs of our
own run in wasmbox and in wasmtime-py (stdout, stderr and exit status
compared byte for byte), EFAULT for bad guest pointers, and the CLI.

The C sources and their .wasm are in tests/data/wasi (build.sh rebuilds them).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import wasmtime

import wasi_fs_support
import wasmbox
from wasmbox.cli import main, split_run

HERE = Path(__file__).parent
DATA = HERE / "data" / "wasi"
BENCH = HERE.parent.parent / "shared" / "bench"
if not BENCH.exists():
    BENCH = Path("/work/shared/bench")
MANIFEST = json.loads((BENCH / "manifest.json").read_text())["benchmarks"]


# -- the shared corpus ---------------------------------------------------------
@pytest.mark.parametrize("size", ["small", "default"])
@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_corpus_prints_checksum(capfd, name: str, size: str) -> None:
    b = MANIFEST[name]
    code = main(["run", str(BENCH / "wasm" / f"{name}.wasi.wasm"), str(b["n"][size])])
    out, err = capfd.readouterr()
    assert (code, out, err) == (0, f"{b['checksum'][size]}\n", "")


# -- running a program in both engines ----------------------------------------
def run_wasmbox(wasm: Path, argv: list[str], env: list[tuple[str, str]],
                stdin: bytes) -> tuple[bytes, bytes, object]:
    r = wasi_fs_support.run_wasmbox(wasm, argv, env=env, stdin=stdin)
    return r.out, r.err, r.status


def run_wasmtime(wasm: Path, argv: list[str], env: list[tuple[str, str]], stdin: bytes,
                 tmp: Path) -> tuple[bytes, bytes, object]:
    r = wasi_fs_support.run_wasmtime(wasm, argv, tmp, env=env, stdin=stdin)
    return r.out, r.err, r.status


def same(tmp_path: Path, prog: str, argv: list[str], env: list[tuple[str, str]] = (),
         stdin: bytes = b"") -> tuple[bytes, bytes, object]:
    wasm = DATA / f"{prog}.wasm"
    ours = run_wasmbox(wasm, list(argv), list(env), stdin)
    theirs = run_wasmtime(wasm, list(argv), list(env), stdin, tmp_path)
    assert ours == theirs
    return ours


def test_stdio_printf(tmp_path) -> None:
    stdin = bytes(range(256)) * 40
    out, err, status = same(tmp_path, "stdio", ["stdio"], stdin=stdin)
    assert status == 0
    assert out.startswith(b"hello world -42 3.142 beef\n0 1 2")
    assert b"stdin: 10240 bytes" in out
    assert err == b"to stderr: 00007\ndone\n"


ARGS_CASES = {
    "none": ([], []),
    "empty": (["", ""], [("", ""), ("E", "")]),
    "utf8": (["prog", "héllo", "日本語", "🎉 emoji"], [("NAME", "vålue ✓"), ("ÜBER", "x")]),
    "equals": (["p", "a=b", "--flag=1"], [("EQ", "a=b=c"), ("X", "=")]),
    "many": ([f"arg{i}" for i in range(400)], [(f"V{i}", "v" * (i % 17)) for i in range(300)]),
}


@pytest.mark.parametrize("case", sorted(ARGS_CASES))
def test_args_and_environment(tmp_path, case: str) -> None:
    argv, env = ARGS_CASES[case]
    out, err, status = same(tmp_path, "argsenv", argv, env)
    assert status == 0
    assert out.startswith(f"argc={len(argv)}\n".encode())
    assert f"envc={len(env)}\n".encode() in out


@pytest.mark.parametrize("arg,expect", [("0", 0), ("1", 1), ("42", 42), ("125", 125),
                                         ("return", 3), ("trap", "trap")])
def test_exit_codes_atexit_and_traps(tmp_path, arg: str, expect: object) -> None:
    out, err, status = same(tmp_path, "exitcode", ["exitcode", arg])
    assert status == expect
    assert err == b"err line\n"
    if expect == "trap":
        assert out == b"buffered before exit"
    else:
        assert out == b"buffered before exitatexit 2\natexit 1\n"


@pytest.mark.parametrize("arg", ["126", "255", "-1"])
def test_exit_status_past_125_fails_as_in_wasmtime(tmp_path, arg: str) -> None:
    with pytest.raises(wasmtime.WasmtimeError) as theirs:
        run_wasmtime(DATA / "exitcode.wasm", ["e", arg], [], b"", tmp_path)
    out, err, status = run_wasmbox(DATA / "exitcode.wasm", ["e", arg], [], b"")
    assert status == "trap" and err == b"err line\n"
    with pytest.raises(wasmbox.Trap) as ours:
        engine = wasmbox.Engine()
        store = wasmbox.Store(engine)
        cfg = wasmbox.WasiConfig()
        cfg.argv = ["e", arg]
        store.set_wasi(cfg)
        linker = wasmbox.Linker(engine)
        linker.define_wasi()
        inst = linker.instantiate(store, wasmbox.Module(engine, (DATA / "exitcode.wasm").read_bytes()))
        inst.exports(store)["_start"](store)
    assert str(ours.value) == str(theirs.value).splitlines()[-1].strip()


def test_clocks_and_random(tmp_path) -> None:
    out, err, status = same(tmp_path, "clockrand", ["clockrand"])
    assert status == 0 and err == b""
    assert out == (b"monotonic ok=1 nondecreasing=1\nrealtime ok=1 after2020=1\n"
                   b"res ok=1 positive=1\ntime after2020=1\ngetentropy 0 0 differ=1\n")


def test_stdout_callback_and_files(tmp_path) -> None:
    engine = wasmbox.Engine()
    store = wasmbox.Store(engine)
    cfg = wasmbox.WasiConfig()
    cfg.argv = ["stdio"]
    writes: list[bytes] = []
    cfg.stdout_custom = writes.append
    cfg.stderr_file = tmp_path / "err.txt"
    (tmp_path / "in.txt").write_bytes(b"abc")
    cfg.stdin_file = tmp_path / "in.txt"
    store.set_wasi(cfg)
    linker = wasmbox.Linker(engine)
    linker.define_wasi()
    inst = linker.instantiate(store, wasmbox.Module(engine, (DATA / "stdio.wasm").read_bytes()))
    inst.exports(store)["_start"](store)
    store.set_wasi(wasmbox.WasiConfig())  # closes the files
    assert len(writes) > 1 and b"stdin: 3 bytes" in b"".join(writes)
    assert (tmp_path / "err.txt").read_bytes() == b"to stderr: 00007\ndone\n"


# -- EFAULT and the functions' answers, through a hand-written module -------------
PROBE = r"""
(module
 (import "wasi_snapshot_preview1" "fd_write" (func $fw (param i32 i32 i32 i32) (result i32)))
 (import "wasi_snapshot_preview1" "fd_read" (func $fr (param i32 i32 i32 i32) (result i32)))
 (import "wasi_snapshot_preview1" "args_get" (func $ag (param i32 i32) (result i32)))
 (import "wasi_snapshot_preview1" "args_sizes_get" (func $as (param i32 i32) (result i32)))
 (import "wasi_snapshot_preview1" "clock_time_get" (func $ct (param i32 i64 i32) (result i32)))
 (import "wasi_snapshot_preview1" "random_get" (func $rg (param i32 i32) (result i32)))
 (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fs (param i32 i32) (result i32)))
 (import "wasi_snapshot_preview1" "fd_seek" (func $seek (param i32 i64 i32 i32) (result i32)))
 (import "wasi_snapshot_preview1" "fd_prestat_get" (func $pg (param i32 i32) (result i32)))
 (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
 (import "wasi_snapshot_preview1" "sock_accept" (func $sa (param i32 i32 i32) (result i32)))
 (import "wasi_snapshot_preview1" "proc_raise" (func $pr (param i32) (result i32)))
 (import "wasi_snapshot_preview1" "sched_yield" (func $sy (result i32)))
 (memory (export "memory") 1)
 (func (export "fw") (param i32 i32 i32 i32) (result i32)
   (call $fw (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
 (func (export "fr") (param i32 i32 i32 i32) (result i32)
   (call $fr (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
 (func (export "ag") (param i32 i32) (result i32) (call $ag (local.get 0) (local.get 1)))
 (func (export "as") (param i32 i32) (result i32) (call $as (local.get 0) (local.get 1)))
 (func (export "ct") (param i32 i32) (result i32) (call $ct (local.get 0) (i64.const 0) (local.get 1)))
 (func (export "rg") (param i32 i32) (result i32) (call $rg (local.get 0) (local.get 1)))
 (func (export "fs") (param i32 i32) (result i32) (call $fs (local.get 0) (local.get 1)))
 (func (export "seek") (param i32) (result i32) (call $seek (local.get 0) (i64.const 0) (i32.const 1) (i32.const 200)))
 (func (export "pg") (param i32) (result i32) (call $pg (local.get 0) (i32.const 200)))
 (func (export "close") (param i32) (result i32) (call $close (local.get 0)))
 (func (export "sa") (param i32) (result i32) (call $sa (local.get 0) (i32.const 0) (i32.const 200)))
 (func (export "pr") (param i32) (result i32) (call $pr (local.get 0)))
 (func (export "sy") (result i32) (call $sy))
)"""

EFAULT = 21
TOP = 65536


def probe(argv=("a", "bc")):
    engine = wasmbox.Engine()
    store = wasmbox.Store(engine)
    cfg = wasmbox.WasiConfig()
    cfg.argv = list(argv)
    cfg.capture_stdout()
    store.set_wasi(cfg)
    linker = wasmbox.Linker(engine)
    linker.define_wasi()
    inst = linker.instantiate(store, wasmbox.Module(engine, PROBE))
    ex = inst.exports(store)
    return store, ex, ex["memory"], cfg


@pytest.mark.parametrize("call", [
    ("fw", 1, TOP - 4, 1, 0),          # the iovec array runs past the end
    ("fw", 1, 0xFFFFFFF8, 1, 0),       # ... far past it
    ("fw", 1, 0, 0x20000000, 0),       # count * 8 past the end
    ("fw", 1, 16, 1, TOP - 2),         # nwritten out of bounds
    ("fr", 0, TOP - 7, 1, 0),
    ("ag", TOP - 4, 0), ("ag", 0, TOP - 2), ("as", TOP, 0), ("as", 0, 0xFFFFFFFF),
    ("ct", 0, TOP - 7), ("rg", TOP - 10, 11), ("rg", 0xFFFFFFFF, 2), ("fs", 1, TOP - 23),
])
def test_out_of_bounds_pointers_are_efault(call) -> None:
    store, ex, mem, cfg = probe()
    before = mem.read(store)
    assert ex[call[0]](store, *[c - (1 << 32) if c >= 1 << 31 else c for c in call[1:]]) == EFAULT
    assert mem.read(store) == before
    assert cfg.stdout_bytes() == b""


def test_iovec_buffer_out_of_bounds_is_efault_and_writes_nothing() -> None:
    store, ex, mem, cfg = probe()
    mem.write_u32(store, 16, TOP - 3)   # iovec: buf near the end ...
    mem.write_u32(store, 20, 4)         # ... 4 bytes: one past the end
    assert ex["fw"](store, 1, 16, 1, 100) == EFAULT
    mem.write_u32(store, 20, 3)
    assert ex["fw"](store, 1, 16, 1, 100) == 0
    assert mem.read_u32(store, 100) == 3 and cfg.stdout_bytes() == b"\0\0\0"


def test_answers_as_wasmtime() -> None:
    """The errnos wasmtime (wasmtime-py 50, no preopens, no sockets) gives."""
    store, ex, mem, cfg = probe()
    assert [ex["seek"](store, fd) for fd in (0, 1, 2, 3)] == [70, 70, 70, 8]   # ESPIPE, EBADF
    assert [ex["pg"](store, fd) for fd in (0, 3, 4)] == [8, 8, 8]
    assert [ex["sa"](store, fd) for fd in (0, 1, 3)] == [57, 57, 8]            # ENOTSOCK, EBADF
    assert ex["pr"](store, 6) == 58 and ex["sy"](store) == 0                   # ENOTSUP
    assert ex["fs"](store, 1, 200) == 0
    assert mem.read(store, 200, 224) == bytes(8) + (64).to_bytes(8, "little") * 2
    assert ex["fs"](store, 0, 200) == 0
    assert mem.read(store, 200, 224) == bytes(8) + (2).to_bytes(8, "little") * 2
    assert ex["fw"](store, 0, 0, 0, 200) == 8 and ex["fr"](store, 1, 0, 0, 200) == 8
    assert ex["close"](store, 1) == 0 and ex["close"](store, 1) == 8
    assert ex["fw"](store, 1, 0, 0, 200) == 8
    assert ex["as"](store, 0, 4) == 0
    assert (mem.read_u32(store, 0), mem.read_u32(store, 4)) == (2, 5)
    assert ex["ag"](store, 8, 100) == 0
    assert mem.read(store, 100, 105) == b"a\0bc\0" and mem.read_u32(store, 12) == 102


def test_every_preview1_function_is_defined_and_nothing_else() -> None:
    engine = wasmbox.Engine()
    linker = wasmbox.Linker(engine)
    linker.define_wasi()
    assert len(wasmbox.host.wasi.FUNCS) == 46
    wat = '(module (import "wasi_snapshot_preview1" "path_chmod" (func (param i32) (result i32))))'
    with pytest.raises(wasmbox.LinkError, match="unknown import"):
        linker.instantiate(wasmbox.Store(engine), wasmbox.Module(engine, wat))
    for name in ("path_open", "poll_oneoff", "fd_readdir", "sock_accept"):
        assert name in wasmbox.host.wasi.FUNCS


def test_no_memory_export_traps_and_no_config_is_an_error() -> None:
    engine = wasmbox.Engine()
    linker = wasmbox.Linker(engine)
    linker.define_wasi()
    wat = ('(module (import "wasi_snapshot_preview1" "sched_yield" (func $y (result i32)))'
           ' (func (export "f") (result i32) (call $y)))')
    store = wasmbox.Store(engine)
    f = linker.instantiate(store, wasmbox.Module(engine, wat)).exports(store)["f"]
    with pytest.raises(wasmbox.WasmboxError, match="Store.set_wasi"):
        f(store)
    store.set_wasi(wasmbox.WasiConfig())
    with pytest.raises(wasmbox.Trap, match="memory"):
        f(store)


# -- the CLI -------------------------------------------------------------------
def test_split_run() -> None:
    assert split_run(["f.wasm", "--invoke", "x", "-1"]) == (["f.wasm", "--invoke", "x"], ["-1"])
    assert split_run(["--env", "A=1", "f.wasm", "--env", "B"]) == (["--env", "A=1", "f.wasm"],
                                                                   ["--env", "B"])
    assert split_run(["f.wasm", "--", "--invoke", "x"]) == (["f.wasm"], ["--invoke", "x"])
    assert split_run(["-W", "stack-switching", "f.wasm", "a", "--", "b"]) == (
        ["-W", "stack-switching", "f.wasm"], ["a", "--", "b"])


def test_cli_args_env_and_exit_status(capfd, monkeypatch) -> None:
    monkeypatch.setenv("WASMBOX_TEST_HOST_VAR", "from host")
    prog = str(DATA / "argsenv.wasm")
    code = main(["run", "--env", "EQ=a=b", "--env", "WASMBOX_TEST_HOST_VAR", "--env",
                 "WASMBOX_TEST_UNSET_VAR", prog, "--", "--env", "x=y", "--invoke"])
    out, err = capfd.readouterr()
    assert code == 0 and err == ""
    assert out == (f'argc=4\nargv[0] ({len(prog)}) = "{prog}"\nargv[1] (5) = "--env"\n'
                   'argv[2] (3) = "x=y"\nargv[3] (8) = "--invoke"\nenv[0] (6) = "EQ=a=b"\n'
                   'env[1] (31) = "WASMBOX_TEST_HOST_VAR=from host"\nenvc=2\ngetenv(EQ)=a=b\n')
    assert main(["run", str(DATA / "exitcode.wasm"), "42"]) == 42
    out, err = capfd.readouterr()
    assert (out, err) == ("buffered before exitatexit 2\natexit 1\n", "err line\n")


def test_cli_trap_after_output(capfd) -> None:
    assert main(["run", str(DATA / "exitcode.wasm"), "trap"]) == 134
    out, err = capfd.readouterr()
    assert out == "buffered before exit"
    lines = err.splitlines()
    assert lines[0] == "err line" and len(lines) == 2 and lines[1].startswith("wasmbox: trap: ")


def test_cli_no_start(capfd, tmp_path) -> None:
    f = tmp_path / "lib.wat"
    f.write_text('(module (func (export "f")))')
    assert main(["run", str(f)]) == 1
    out, err = capfd.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and "no _start" in err


def test_cli_inherits_stdin(tmp_path) -> None:
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("wasmbox")
    p = subprocess.run([str(exe), "run", str(DATA / "stdio.wasm")], input=b"abcd",
                       capture_output=True, timeout=60)
    assert p.returncode == 0
    assert p.stderr == b"to stderr: 00007\ndone\n"
    ours = run_wasmtime(DATA / "stdio.wasm", ["stdio"], [], b"abcd", tmp_path)[0]
    assert p.stdout == ours and b"stdin: 4 bytes" in p.stdout
