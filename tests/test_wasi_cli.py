"""``wasmbox run`` with WASI programs: the README's main job, ``--dir``
preopens, argv passed through untouched, and a sleeping guest interrupted
by ``--timeout``. Runs the CLI as a subprocess, as a user would.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "wasi"
CLIFILES = DATA / "clifiles.wasm"


def wasmbox(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wasmbox", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)


def test_readme_main_job() -> None:
    r = wasmbox("run", "examples/hello.wasm", "world", cwd=ROOT)
    assert (r.returncode, r.stdout, r.stderr) == (0, "Hello, world!\n", "")
    r = wasmbox("run", "examples/hello.wasm", cwd=ROOT)
    assert (r.returncode, r.stdout, r.stderr) == (2, "", "usage: examples/hello.wasm NAME...\n")


def test_dir_with_a_guest_name(tmp_path) -> None:
    (tmp_path / "in.txt").write_text("shout\n")
    (tmp_path / "sub").mkdir()
    r = wasmbox("run", "--dir", f"{tmp_path}::/data", str(CLIFILES), "/data/in.txt",
                "/data/out.txt", "/data", "--dir", "-x", "--", "é=1")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.txt").read_text() == "SHOUT\n"
    assert r.stdout.splitlines() == [
        "entry .", "entry ..", "entry in.txt", "entry out.txt", "entry sub",
        "arg --dir", "arg -x", "arg --", "arg é=1"]


def test_dir_as_written_and_relative(tmp_path) -> None:
    (tmp_path / "in.txt").write_text("abc")
    r = wasmbox("run", "--dir", ".", str(CLIFILES), "in.txt", "out.txt", ".", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.txt").read_text() == "ABC"
    r = wasmbox("run", "--dir", str(tmp_path), str(CLIFILES), f"{tmp_path}/in.txt",
                f"{tmp_path}/o2", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "o2").read_text() == "ABC"


def test_no_dir_means_no_files(tmp_path) -> None:
    (tmp_path / "in.txt").write_text("abc")
    r = wasmbox("run", str(CLIFILES), str(tmp_path / "in.txt"), "o", ".", cwd=tmp_path)
    assert r.returncode == 1
    # wasi-libc finds no preopen for the path: ENOTCAPABLE, before any host call
    assert r.stderr == f"{tmp_path / 'in.txt'}: Capabilities insufficient\n", r.stderr
    assert not (tmp_path / "o").exists()


def test_bad_dir_is_one_line(tmp_path) -> None:
    for spec in (str(tmp_path / "missing"), f"{tmp_path}::", "::/x"):
        r = wasmbox("run", "--dir", spec, str(CLIFILES), "a", "b", "c")
        assert r.returncode == 1
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("wasmbox: error: --dir"), r.stderr


SLEEPER = """(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; one relative monotonic clock subscription of 30 s at 0; events at 64
  (data (i32.const 8) "\\00")
  (data (i32.const 16) "\\01\\00\\00\\00")
  (data (i32.const 24) "\\00\\5e\\d0\\b2\\06\\00\\00\\00")
  (func (export "_start") (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))))
"""


def test_timeout_interrupts_a_sleeping_guest(tmp_path) -> None:
    src = tmp_path / "sleep.wat"
    src.write_text(SLEEPER)
    start = time.monotonic()
    r = wasmbox("run", "--timeout", "0.5", str(src), timeout=60)
    took = time.monotonic() - start
    assert r.returncode == 1 and "timeout" in r.stderr, r.stderr
    assert took < 20, took  # the sleep is 30 s; the interruption is seen within a slice
