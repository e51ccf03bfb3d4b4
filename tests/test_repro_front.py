"""Regression tests for the front-end defects of ../shared/repro/README.md.

1. Nested block comments are lexed in linear time.
2. Over-long numeric literals are "constant out of range" (or their exact
   value), never a Python error, and cost time linear in their length.
3. ``wasmbox run`` arguments follow the text format's literal rules.
4. Module-controlled names never reach the terminal raw.
5. Bad CLI input: one line on stderr, exit status 1.
"""
from __future__ import annotations

import io
import struct
import subprocess
import sys
import time
from fractions import Fraction

import pytest

from wasmbox.cli import main
from wasmbox.errors import ParseError
from wasmbox.paths import shared_dir
from wasmbox.text import parse_module, parse_script, tokenize
from wasmbox.text.literals import LiteralError, parse_f32, parse_f64, parse_int, parse_uint
from wasmbox.text.print import escape_string

from test_cli import assert_one_line_error

REPRO = shared_dir() / "repro"


def _best_time(fn, repeat: int = 3) -> float:
    """The fastest of ``repeat`` runs of ``fn()`` (the least noisy estimate)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


# ---------------------------------------------------------------------------
# 1. nested block comments


def _nested(levels: int) -> str:
    return "(module " + "(;" * levels + ";)" * levels + ")"


def test_deeply_nested_comment_is_skipped() -> None:
    toks = tokenize(_nested(80_000)).toks
    assert [t for t in toks if t] == ["(", "module", ")"]
    assert parse_module(_nested(80_000)).funcs == []


def test_nested_comment_time_is_linear() -> None:
    """4x the nesting costs about 4x the time (quadratic was 16x: 9 s at 40k).

    The bounds are loose on purpose (shared, noisy machine): 80k levels in
    well under 5 s, and less than 10x the time of 20k levels (+ slack).
    """
    small, big = _nested(20_000), _nested(80_000)
    t_small = _best_time(lambda: tokenize(small))
    t_big = _best_time(lambda: tokenize(big))
    assert t_big < 5.0, t_big
    assert t_big < 10 * t_small + 0.5, (t_small, t_big)


@pytest.mark.parametrize("src, message, col", [
    ("(module (;" + "(;" * 50_000, "unclosed comment", 9),
    ("(module (; (; ;) )", "unclosed comment", 9),
    ("(module (; ;) (; \udc80 ;))", "malformed UTF-8 encoding", 15),
    ("(;)", "unclosed comment", 1),
])
def test_bad_comments_keep_their_messages(src: str, message: str, col: int) -> None:
    with pytest.raises(ParseError) as e:
        tokenize(src)
    assert (e.value.message, e.value.line, e.value.col) == (message, 1, col)


def test_comment_delimiters_scan_left_to_right() -> None:
    """``(;)`` opens a comment; ``;)`` right after closes it; ``;;`` inside is no line comment."""
    assert [t for t in tokenize("a (;) ;) b (; ;; ;) c").toks if t] == ["a", "b", "c"]
    assert [t for t in tokenize("a (;(;;);) b").toks if t] == ["a", "b"]


# ---------------------------------------------------------------------------
# 2. over-long numeric literals

LONG = "1" * 5000  # more digits than int(str) converts (4300)


def _f64_bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def test_longnum_repro_is_a_one_line_parse_error(capsys) -> None:
    line = assert_one_line_error(capsys, main(["run", str(REPRO / "longnum.wat"), "--invoke", "f"]))
    assert line.endswith("constant out of range"), line
    assert "malformed" in line


@pytest.mark.parametrize("src", [
    f"(func (result i32) (i32.const {LONG}))",
    f"(func (result i64) (i64.const -{LONG}))",
    f"(func (result i64) (i64.const 0x{LONG}))",
    f"(func (result f32) (f32.const {LONG}))",
    f"(func (result f64) (f64.const {LONG}.5))",
    f"(func (result f64) (f64.const 0x{LONG}p0))",
    f"(func (result f64) (f64.const nan:0x{LONG}))",
    f"(func (result f32) (f32.const 1e{LONG}))",
    f"(func (result f64) (f64.const 0x1p{LONG}))",
    f"(func (result v128) (v128.const i32x4 0 0 0 {LONG}))",
    f"(func (result v128) (v128.const f64x2 0 {LONG}))",
    f"(memory 1) (func (result i32) (i32.load offset={LONG} (i32.const 0)))",
    f"(memory 1) (func (result i32) (i32.load align={LONG} (i32.const 0)))",
    f"(func (result i32) (i8x16.extract_lane_u {LONG} (v128.const i64x2 0 0)))",
    f"(memory {LONG})",
    f"(memory 1 {LONG})",
    f"(table 0 {LONG} funcref)",
    f"(memory 1 (pagesize {LONG}))",
    f"(memory 1) (data (i32.const {LONG}) \"\")",
    f"(func (br_table 0 {LONG} (i32.const 0)))",
])
def test_long_literals_are_out_of_range(src: str) -> None:
    with pytest.raises(ParseError) as e:
        parse_module(f"(module {src})")
    # "constant out of range", or "i64/i8 constant out of range" where the
    # reference interpreter names the immediate's width.
    assert e.value.message.endswith("constant out of range"), e.value


def test_long_literals_in_scripts_are_out_of_range() -> None:
    for value in (f"(i64.const {LONG})", f"(f64.const {LONG})", f"(f32.const nan:0x{LONG})",
                  f"(v128.const i8x16 {' '.join(['0'] * 15)} {LONG})", f"(ref.extern {LONG})"):
        with pytest.raises(ParseError) as e:
            parse_script(f'(module) (assert_return (invoke "f" {value}))')
        assert "constant out of range" in e.value.message, (value[:30], e.value)


def test_long_but_legal_integers_keep_their_value() -> None:
    zeros = "0" * 100_000
    assert parse_int(zeros + "42", 32) == 42
    assert parse_int("-0x" + zeros + "8000_0000", 32) == -(1 << 31)
    assert parse_uint(zeros + "18446744073709551615", 64) == (1 << 64) - 1
    for tok in (zeros + "18446744073709551616", "0x1" + zeros, "9" * 21):
        with pytest.raises(LiteralError) as e:
            parse_uint(tok, 64)
        assert e.value.message == "constant out of range"


def _exact_decimal(x: Fraction) -> str:
    """The exact decimal expansion of a dyadic rational ``x`` > 0."""
    k = x.denominator.bit_length() - 1  # denominator is 2**k
    digits = str(x.numerator * 5**k).rjust(k + 1, "0")
    return f"{digits[:len(digits) - k]}.{digits[len(digits) - k:] or '0'}"


@pytest.mark.parametrize("bits", [0x3FF0000000000001, 0x3FF0000000000002, 0x0000000000000001,
                                  0x7FEFFFFFFFFFFFFE, 0x1234567890ABCDEF])
def test_long_decimal_f64_near_midpoints_rounds_exactly(bits: int) -> None:
    """A midpoint written out in full (hundreds of digits), then a long tail."""
    lo = Fraction(struct.unpack("<d", struct.pack("<Q", bits))[0])
    hi = Fraction(struct.unpack("<d", struct.pack("<Q", bits + 1))[0])
    exact = (lo + hi) / 2
    mid = _exact_decimal(exact)
    even = bits if bits % 2 == 0 else bits + 1
    tail = "0" * 100_000
    assert parse_f64(mid) == even
    assert parse_f64(mid + tail) == even
    assert parse_f64(mid + tail + "1") == bits + 1
    below = _exact_decimal(exact - Fraction(1, exact.denominator * 2**200))
    assert parse_f64(below + tail + "1") == bits
    assert parse_f64("-" + mid + tail + "1") == bits + 1 + (1 << 63)


def test_long_decimal_at_the_f64_overflow_threshold() -> None:
    """Halfway between the largest f64 and 2**1024: from there on, out of range."""
    threshold = 2**1024 - 2**970
    for tok in (str(threshold), str(threshold) + "." + "0" * 100_000 + "1"):
        with pytest.raises(LiteralError) as e:
            parse_f64(tok)
        assert e.value.message == "constant out of range"
    assert parse_f64(str(threshold - 1) + "." + "9" * 100_000) == 0x7FEFFFFFFFFFFFFF


def test_long_decimal_f32_midpoint_rounds_exactly() -> None:
    one = Fraction(1)
    mid = _exact_decimal(one + Fraction(1, 2**24))  # halfway between 1 and the next f32
    assert parse_f32(mid) == 0x3F800000  # ties to even
    assert parse_f32(mid + "0" * 100_000 + "1") == 0x3F800001
    assert parse_f32("0x1.000001" + "0" * 100_000 + "p0") == 0x3F800000
    assert parse_f32("0x1.000001" + "0" * 100_000 + "1p0") == 0x3F800001


def test_million_digit_floats_are_exact_and_linear() -> None:
    n = 1_000_000
    cases = [
        ("0." + "3" * n + "e1", parse_f64, _f64_bits(10 / 3)),
        ("1" * n + "e-" + str(n), parse_f64, _f64_bits(1 / 9)),
        ("0." + "0" * (n - 1) + "1e" + str(n), parse_f32, 0x3F800000),
        ("0x0." + "0" * n + "1p" + str(4 * n), parse_f64, _f64_bits(1 / 16)),
        ("0" * n, parse_f32, 0),
        ("-0" * 1 + "0" * n + ".0", parse_f64, 1 << 63),
    ]
    for tok, fn, expected in cases:
        assert fn(tok) == expected, tok[:20]
    # time: a loose bound, far above the few milliseconds it takes.
    tok = "7" * n + "e-" + str(n)
    assert _best_time(lambda: parse_f64.__wrapped__(tok), repeat=2) < 2.0


@pytest.mark.parametrize("tok, expected", [
    ("1e1000000000", "constant out of range"),
    ("1e-1000000000", 0),
    ("-1e-1000000000", 1 << 63),
    ("1e" + "9" * 5000, "constant out of range"),
    ("1e-" + "9" * 5000, 0),
    ("0e" + "9" * 5000, 0),
    ("0x1p" + "9" * 5000, "constant out of range"),
    ("0x1p-" + "9" * 5000, 0),
    ("0x1p99999", "constant out of range"),
    ("1" * 5000 + "e-" + "0" * 5000 + "4999", _f64_bits(1.1111111111111112)),
    ("nan:0x" + "0" * 5000 + "1", 0x7FF0000000000001),
])
def test_huge_exponents_decide_without_big_ints(tok: str, expected) -> None:
    try:
        got = parse_f64(tok)
    except LiteralError as e:
        got = e.message
    assert got == expected


# ---------------------------------------------------------------------------
# 3. command-line arguments follow the text format's literal rules

PARAMS = """(module
  (func (export "f32") (param f32) (result i32) (i32.reinterpret_f32 (local.get 0)))
  (func (export "f64") (param f64) (result i64) (i64.reinterpret_f64 (local.get 0)))
  (func (export "i32") (param i32) (result i32) (local.get 0))
  (func (export "i64") (param i64) (result i64) (local.get 0))
  (func (export "ref") (param externref)))"""


@pytest.fixture()
def params_wat(tmp_path) -> str:
    f = tmp_path / "params.wat"
    f.write_text(PARAMS)
    return str(f)


def _run_out(capsys, path: str, func: str, *args: str) -> str:
    code = main(["run", path, "--invoke", func, *args])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out.strip()


def _signed(v: int, bits: int) -> int:
    return v - (1 << bits) if v >> (bits - 1) else v


FLOAT_ARGS = ["0", "-0", "1.5", "-1_000.25", "0x1.8p1", "-0x1p-149", "0x1p-1074", "3.4028235e38",
              "1e-50", "inf", "-inf", "nan", "-nan", "nan:0x1", "nan:0x200000", "-nan:0x7fffff",
              "0.1" + "0" * 5000 + "1", "1e-1000000000", "+12_3.4_5e-1_0"]


@pytest.mark.parametrize("text", FLOAT_ARGS)
def test_float_arguments_are_text_format_literals(capsys, params_wat: str, text: str) -> None:
    """The argument reaches the function with exactly the bits ``f32.const text`` has
    (NaN payloads, signalling ones included, survive)."""
    assert int(_run_out(capsys, params_wat, "f32", text)) == _signed(parse_f32(text), 32)
    if not text.startswith(("nan:0x2", "-nan:0x7")):  # an f32-only payload
        assert int(_run_out(capsys, params_wat, "f64", text)) == _signed(parse_f64(text), 64)


@pytest.mark.parametrize("func, text, reason", [
    ("f32", "0x1p99999", ": constant out of range"),
    ("f64", "0x1p99999", ": constant out of range"),
    ("f32", "1e39", ": constant out of range"),
    ("f64", "1" * 5000, ": constant out of range"),
    ("f32", "nan:0x800000", ": constant out of range"),
    ("f64", "1e" + "9" * 5000, ": constant out of range"),
    ("i32", "-2147483649", ": constant out of range"),
    ("i64", "9" * 5000, ": constant out of range"),
    ("i64", "-0x" + "f" * 5000, ": constant out of range"),
    ("f32", "1.5e", ""),
    ("f64", "0x1p", ""),
    ("f32", "infinity", ""),
    ("f64", "nan:canonical", ""),
    ("i32", "0b101", ""),   # Python's int(text, 0) took these; .wat does not
    ("i32", " 5", ""),
    ("i32", "1.0", ""),
])
def test_bad_arguments_are_one_line_usage_errors(capsys, params_wat: str, func: str, text: str,
                                                 reason: str) -> None:
    line = assert_one_line_error(capsys, main(["run", params_wat, "--invoke", func, text]))
    assert line.startswith("wasmbox: error: argument '"), line
    assert line.endswith(f" is not a valid {func}{reason}"), line
    assert len(line) < 200, line  # a 5000-digit argument is shortened


def test_integer_arguments(capsys, params_wat: str) -> None:
    assert _run_out(capsys, params_wat, "i32", "0xffff_ffff") == "-1"
    assert _run_out(capsys, params_wat, "i32", "+4_294_967_295") == "-1"
    assert _run_out(capsys, params_wat, "i32", "-0x8000_0000") == "-2147483648"
    assert _run_out(capsys, params_wat, "i64", "0" * 5000 + "7") == "7"
    assert _run_out(capsys, params_wat, "i64", "18446744073709551615") == "-1"


def test_unpassable_argument_type(capsys, params_wat: str) -> None:
    line = assert_one_line_error(capsys, main(["run", params_wat, "--invoke", "ref", "0"]))
    assert "cannot pass" in line


# ---------------------------------------------------------------------------
# 4. module-controlled names never reach the terminal raw

NAMES = REPRO / "names.wasm"


def _clean(text: str) -> bool:
    """Printable ASCII only: no control character, escape or newline inside."""
    return all(" " <= ch <= "~" for ch in text)


def test_inspect_escapes_export_names_like_wasm2wat(capsys) -> None:
    from wasmbox.binary import decode_module
    from wasmbox.text.literals import decode_name

    assert main(["inspect", str(NAMES)]) == 0
    lines = capsys.readouterr().out.splitlines()
    exports = decode_module(NAMES.read_bytes()).exports
    assert len(lines) == len(exports) == 3
    for line, exp in zip(lines, exports):
        assert _clean(line), line
        assert line.startswith("export " + escape_string(exp.name) + ": "), line
        quoted = line[len("export "):line.index(": ", len(escape_string(exp.name)) + 6)]
        assert decode_name(quoted) == exp.name  # the escaping loses nothing
    assert lines[2].startswith('export "\\1b[31mred\\1b[0m\\0aexport fake: spoofed": Memory')
    # The same spelling as the wasm2wat printer.
    assert main(["wasm2wat", str(NAMES)]) == 0
    printed = capsys.readouterr().out
    for exp in exports:
        assert f"(export {escape_string(exp.name)} " in printed


EVIL = r"""(module
  (import "m\0a\1b[31m" "n\0dwasmbox: forged\e2\80\ae" (func))
  (func (export "f\0awasmbox: also forged")))"""


def test_inspect_escapes_import_module_and_name(capsys, tmp_path) -> None:
    f = tmp_path / "evil.wat"
    f.write_text(EVIL)
    assert main(["inspect", str(f)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        r'import "m\0a\1b[31m" "n\0dwasmbox: forged\e2\80\ae": FuncType([], [])',
        r'export "f\0awasmbox: also forged": FuncType([], [])',
    ]


def test_error_messages_with_names_are_escaped(capsys, tmp_path) -> None:
    f = tmp_path / "evil.wat"
    f.write_text(EVIL)
    # The linker's message, built in the runtime, escaped where the CLI prints it.
    line = assert_one_line_error(capsys, main(["run", str(f), "--invoke", "f"]))
    assert _clean(line), line
    assert r"m\0a\1b[31m::n\0dwasmbox: forged\e2\80\ae" in line
    # The CLI's own message lists export names as string literals.
    g = tmp_path / "names.wat"
    g.write_text('(module (func (export "a\\0a\\1bb")) (memory (export "m\\07") 1))')
    line = assert_one_line_error(capsys, main(["run", str(g), "--invoke", "x\x1b[2J"]))
    assert line == 'wasmbox: error: no exported function "x\\1b[2J" (exported functions: "a\\0a\\1bb")'
    line = assert_one_line_error(capsys, main(["inspect", str(g), "--python", "\x07\n"]))
    assert _clean(line) and '"\\07\\0a"' in line, line


def test_file_names_and_arguments_in_messages_are_escaped(capsys, tmp_path) -> None:
    line = assert_one_line_error(capsys, main(["run", str(tmp_path / "a\nb\x1b.wat"), "--invoke", "f"]))
    assert _clean(line) and "a\\0ab\\1b.wat" in line, line
    f = tmp_path / "p.wat"
    f.write_text(PARAMS)
    line = assert_one_line_error(capsys, main(["run", str(f), "--invoke", "i32", "1\n2"]))
    assert _clean(line), line


def test_terminal_safe() -> None:
    from wasmbox.cli import terminal_safe

    assert terminal_safe("plain: é ok") == "plain: é ok"
    assert terminal_safe("a\nb\r\x1b[31m\x7f\x85\u202e\u2028\udcff") == (
        "a\\0ab\\0d\\1b[31m\\7f\\c2\\85\\e2\\80\\ae\\e2\\80\\a8\\ed\\b3\\bf")
    sample = "".join(map(chr, [*range(0x10000), *range(0x10000, 0x110000, 97)]))
    assert terminal_safe(sample).isprintable()


# ---------------------------------------------------------------------------
# 5. bad CLI input: one line on stderr, exit status 1


@pytest.mark.parametrize("args, needle", [
    (["run", "{dir}", "--invoke", "f"], "cannot read"),
    (["inspect", "{dir}"], "cannot read"),
    (["wat2wasm", "{dir}"], "cannot read"),
    (["wasm2wat", "{dir}"], "cannot read"),
    (["run", "{notdir}", "--invoke", "f"], "cannot read"),
    (["run", "{latin1}", "--invoke", "f"], "neither a Wasm binary nor UTF-8 text"),
    (["wat2wasm", "{latin1}"], "not UTF-8 text"),
    (["run", "{empty}", "--invoke", "f"], "no exported function \"f\" (exported functions: none)"),
    (["run", "{script}", "--invoke", "f"], "run it with 'wasmbox wast'"),
    (["run", "{wat}", "-W", "nope", "--invoke", "f"], "invalid choice: 'nope'"),
    (["inspect", "{wat}", "-W", "nope"], "invalid choice: 'nope'"),
    (["run", "{wat}"], "required: --invoke"),
    (["run", "{wat}", "--invoke", "f", "--bogus"], "unrecognized arguments: --bogus"),
    ([], "required: COMMAND"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["wast", "-j", "many", "{script}"], "invalid int value: 'many'"),
    (["inspect", "{wat}", "--python", "7"], "no defined function '7'"),
    (["inspect", "{wat}", "--python", "9" * 5000], "no defined function"),
    (["inspect", "{wat}", "--python", "imp"], 'export "imp" is an imported function'),
    (["inspect", "{invalid}", "--python", "0"], "invalid: type mismatch"),
    (["inspect", "{invalid}"], "invalid: type mismatch"),
])
def test_bad_input_is_one_line(capsys, tmp_path, args, needle) -> None:
    files = {
        "dir": tmp_path,
        "notdir": tmp_path / "plain.wat" / "x.wat",
        "latin1": tmp_path / "latin1.wat",
        "empty": tmp_path / "empty.wat",
        "script": tmp_path / "s.wast",
        "wat": tmp_path / "plain.wat",
        "invalid": tmp_path / "invalid.wat",
    }
    files["latin1"].write_bytes(b'(module (func (export "caf\xe9")))')
    files["empty"].write_bytes(b"")
    files["script"].write_text('(module) (assert_return (invoke "f"))')
    files["wat"].write_text('(module (import "m" "f" (func)) (export "imp" (func 0)) (func (export "g")))')
    files["invalid"].write_text("(module (func (result i32) (i64.const 1)))")
    line = assert_one_line_error(capsys, main([a.format(**files) for a in args]))
    assert needle in line, line


def test_unwritable_json_output_is_one_line(capsys, tmp_path) -> None:
    script = tmp_path / "s.wast"
    script.write_text("(module)")
    code = main(["wast", str(script), "--json", str(tmp_path / "no" / "such" / "out.json")])
    out = capsys.readouterr()
    assert code == 1
    assert out.err.count("\n") == 1 and "internal error" not in out.err, out.err
    assert out.err.startswith("wasmbox: error: ") and "No such file" in out.err


def test_stdin_is_read_once(capsys, monkeypatch) -> None:
    """``inspect -`` used to read stdin twice and list nothing."""
    for data in (b'(module (func (export "f")))', wat2wasm_bytes('(module (func (export "f")))')):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        assert main(["inspect", "-"]) == 0
        assert capsys.readouterr().out == 'export "f": FuncType([], [])\n'
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(
        b'(module (func (export "f") (result i32) (i32.const 7)))')))
    assert main(["run", "-", "--invoke", "f"]) == 0
    assert capsys.readouterr().out == "7\n"


def test_help_still_exits_zero(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["run", "--help"])
    assert e.value.code == 0
    assert "--invoke" in capsys.readouterr().out


def wat2wasm_bytes(text: str) -> bytes:
    from wasmbox.binary import encode_module

    return encode_module(parse_module(text))


def test_closed_standard_streams_are_one_line(capsys, monkeypatch, tmp_path) -> None:
    """``wasmbox inspect - <&-``: Python's sys.stdin is None, which was an internal error."""
    monkeypatch.setattr(sys, "stdin", None)
    line = assert_one_line_error(capsys, main(["inspect", "-"]))
    assert line == "wasmbox: error: cannot read standard input: it is closed"
    src = tmp_path / "m.wat"
    src.write_text("(module)")
    monkeypatch.setattr(sys, "stdout", None)
    line = assert_one_line_error(capsys, main(["wat2wasm", str(src), "-o", "-"]))
    assert line == "wasmbox: error: cannot write standard output: it is closed"


def test_wast_report_escapes_module_controlled_text(tmp_path) -> None:
    """`wasmbox wast` failure lines quote export names: never raw."""
    script = tmp_path / "evil.wast"
    script.write_text('(module (func (export "ok")))\n'
                      '(assert_return (invoke "a\\0aforged\\1b[31m"))\n')
    proc = subprocess.run([sys.executable, "-m", "wasmbox", "wast", str(script)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    for line in proc.stdout.splitlines():
        assert line.isprintable(), line
    assert "forged" in proc.stdout and not any(l.startswith("forged") for l in proc.stdout.splitlines())
