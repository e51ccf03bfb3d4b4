"""The CLI: exit codes and one-line errors, never a traceback.

Runs the real console entry point in-process through ``wasmbox.cli.main``
and, for a few cases, as a subprocess to check what a user sees.
"""
from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import pytest

from wasmbox.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "add.wat"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wasmbox", *args], capture_output=True,
                          text=True, timeout=120)


def assert_one_line_error(capsys, code: int) -> str:
    out = capsys.readouterr()
    assert code == 1, out
    lines = out.err.strip().splitlines()
    assert len(lines) == 1, out.err
    assert lines[0].startswith("wasmbox: "), lines[0]
    assert "Traceback" not in out.err and "internal error" not in out.err, out.err
    return lines[0]


def test_wat2wasm_and_back(tmp_path, capsys):
    out = tmp_path / "add.wasm"
    assert main(["wat2wasm", str(EXAMPLE), "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\0asm"
    assert main(["wasm2wat", str(out)]) == 0
    assert '(export "add"' in capsys.readouterr().out


def test_run_prints_results(capsys):
    assert main(["run", str(EXAMPLE), "--invoke", "add", "2", "3"]) == 0
    assert capsys.readouterr().out == "5\n"
    assert main(["run", str(EXAMPLE), "--invoke", "add", "-1", "0x7fffffff"]) == 0
    assert capsys.readouterr().out == "2147483646\n"
    assert main(["run", str(EXAMPLE), "--invoke", "fac", "20"]) == 0
    assert capsys.readouterr().out == "2432902008176640000\n"


def test_run_enables_proposals_with_w(tmp_path, capsys):
    """-W custom-page-sizes turns the proposal on; without it the module is refused clearly."""
    src = tmp_path / "bytes.wat"
    src.write_text('(module (memory 3 (pagesize 1)) (func (export "size") (result i32) memory.size))')
    binary = tmp_path / "bytes.wasm"
    assert main(["wat2wasm", str(src), "-o", str(binary)]) == 0
    for path in (src, binary):
        assert main(["run", str(path), "-W", "custom-page-sizes", "--invoke", "size"]) == 0
        assert capsys.readouterr().out == "3\n"
        line = assert_one_line_error(capsys, main(["run", str(path), "--invoke", "size"]))
        assert "custom page sizes are not enabled" in line or "malformed" in line, line


def test_run_as_a_user_sees_it():
    p = run_cli("run", str(EXAMPLE), "--invoke", "add", "40", "2")
    assert (p.returncode, p.stdout, p.stderr) == (0, "42\n", "")
    p = run_cli("run", str(EXAMPLE), "--invoke", "nosuch")
    assert p.returncode == 1 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr


@pytest.mark.parametrize("args, needle", [
    (["run", "{missing}", "--invoke", "f"], "cannot read"),
    (["run", "{example}", "--invoke", "add", "1"], "takes 2 argument"),
    (["run", "{example}", "--invoke", "add", "x", "1"], "not a valid i32"),
    (["run", "{example}", "--invoke", "add", "99999999999", "1"], "out of range"),
    (["wasm2wat", "{example}"], "malformed"),
    (["wat2wasm", "{missing}"], "cannot read"),
])
def test_usage_errors_are_one_line(capsys, tmp_path, args, needle):
    args = [a.format(missing=tmp_path / "nope.wasm", example=EXAMPLE) for a in args]
    line = assert_one_line_error(capsys, main(args))
    assert needle in line


TRAPPING = """(module
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func $r (export "recurse") (call $r))
  (func (export "oob") (result i32) (i32.load (i32.const 100000)))
  (memory 1))"""


@pytest.mark.parametrize("func, args, needle", [
    ("div", ["1", "0"], "trap: integer divide by zero"),
    ("div", ["-2147483648", "-1"], "trap: integer overflow"),
    ("oob", [], "trap: out of bounds memory access"),
    ("recurse", [], "call stack exhausted"),
])
def test_traps_are_one_line(capsys, tmp_path, func, args, needle):
    f = tmp_path / "t.wat"
    f.write_text(TRAPPING)
    line = assert_one_line_error(capsys, main(["run", str(f), "--invoke", func, *args]))
    assert needle in line


@pytest.mark.parametrize("text, kind", [
    ("(module (func (result i32) (i64.const 1)))", "invalid: type mismatch"),
    ("(module (func (unknown_instr)))", "malformed"),
    ('(module (import "env" "f" (func)))', "unlinkable: unknown import"),
])
def test_bad_modules_are_one_line(capsys, tmp_path, text, kind):
    f = tmp_path / "bad.wat"
    f.write_text(text)
    line = assert_one_line_error(capsys, main(["run", str(f), "--invoke", "f"]))
    assert kind in line


def _bench_binaries():
    from wasmbox.paths import shared_dir

    try:
        return sorted((shared_dir() / "bench" / "wasm").glob("*.pure.wasm"))
    except FileNotFoundError:
        pytest.fail("../shared is missing")


def test_truncated_random_and_mutated_files(capsys, tmp_path):
    """Bad bytes in every command that reads a module: one line, exit 1."""
    rng = random.Random(1234)
    # (bytes, may it be run?) -- mutated code could loop forever, so mutants
    # are only decoded and printed; truncations and noise are also run.
    blobs = [(b"", True), (b"\0asm", True), (b"\0asm\x01\0\0\0\x01", True),
             (bytes(rng.randrange(256) for _ in range(300)), True)]
    for src in _bench_binaries()[:4]:
        data = src.read_bytes()
        for _ in range(10):
            blobs.append((data[:rng.randrange(len(data))], True))
            b = bytearray(data)
            for _ in range(3):
                b[rng.randrange(8, len(b))] = rng.randrange(256)
            blobs.append((bytes(b), False))
    f = tmp_path / "bad.wasm"
    for blob, runnable in blobs:
        f.write_bytes(blob)
        commands = [["wasm2wat", str(f)], ["inspect", str(f)]]
        if runnable:
            commands.append(["run", str(f), "--invoke", "run", "1"])
        for args in commands:
            code = main(args)
            out = capsys.readouterr()
            if code == 0:  # a mutation may still be a valid module
                continue
            assert code == 1, (args, blob[:40], out.err)
            assert len(out.err.strip().splitlines()) == 1, out.err
            assert "internal error" not in out.err and "Traceback" not in out.err, out.err


SUSPENDS = """(module (tag $t (param i32) (result i32))
  (type $ft (func (result i32))) (type $ct (cont $ft))
  (type $kft (func (param i32) (result i32))) (type $kt (cont $kft))
  (func $body (result i32) (i32.add (suspend $t (i32.const 20)) (i32.const 1)))
  (elem declare func $body)
  (func (export "run") (result i32) (local $k (ref null $kt)) (local $v i32)
    (block $h (result i32 (ref $kt))
      (return (resume $ct (on $t $h) (cont.new $ct (ref.func $body)))))
    (local.set $k) (local.set $v)
    (resume $kt (i32.mul (local.get $v) (i32.const 2)) (local.get $k)))
  (func (export "lost") (result i32) (suspend $t (i32.const 0))))"""


def test_stack_switching_from_the_command_line(tmp_path, capsys):
    wat = tmp_path / "k.wat"
    wat.write_text(SUSPENDS)
    assert main(["run", "-W", "stack-switching", str(wat), "--invoke", "run"]) == 0
    assert capsys.readouterr().out.strip() == "41"
    msg = assert_one_line_error(capsys, main(["run", str(wat), "--invoke", "run"]))
    assert "Config.wasm_stack_switching" in msg
    msg = assert_one_line_error(capsys, main(["run", "-W", "stack-switching", str(wat),
                                              "--invoke", "lost"]))
    assert "unhandled tag" in msg
    script = tmp_path / "k.wast"
    script.write_text(f'(module {SUSPENDS[len("(module "):]}\n(assert_return (invoke "run") (i32.const 41))\n'
                      '(assert_suspension (invoke "lost") "unhandled")\n')
    assert main(["wast", "-W", "stack-switching", str(script)]) == 0
    assert "2 passed, 0 failed" in capsys.readouterr().out
    assert main(["wast", str(script)]) == 1  # off unless asked for (or tagged in the manifest)
