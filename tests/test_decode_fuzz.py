"""Fuzz tests of the binary decoder (Hypothesis).

Properties:
* any input makes ``decode_module`` either return a Module or raise
  DecodeError -- never another exception -- and return quickly;
* a Module that decodes re-encodes, and decodes back equal;
* lengths and counts in the input never cause a large allocation: a vector
  count of 2**32 - 1 fails at once with "length out of bounds".

Inputs: random bytes, random section sequences behind a valid header, and
mutations (byte changes, truncations, insertions, deletions, huge LEB128
numbers) of real binaries: the bench corpus and modules of the spec suites.
"""
from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wasmbox.binary import decode_module, encode_module, leb128
from wasmbox.errors import DecodeError
from wasmbox import paths

sys.path.insert(0, str(Path(__file__).parent))
from test_binary import wast_modules  # noqa: E402  (the private .wast reader)

HEADER = b"\x00asm\x01\x00\x00\x00"
# Suite files whose modules cover most encodings (GC, SIMD, exceptions,
# stack switching, memory64, multi-memory, tables with initialisers...).
SEED_FILES = [
    "core/binary.wast",
    "core/binary-leb128.wast",
    "core/binary-gc.wast",
    "core/custom.wast",
    "core/struct.wast",
    "core/array.wast",
    "core/br_on_cast.wast",
    "core/type-rec.wast",
    "core/try_table.wast",
    "core/throw_ref.wast",
    "core/simd_lane.wast",
    "core/simd_load.wast",
    "core/relaxed_madd_nmadd.wast",
    "core/memory64.wast",
    "core/load64.wast",
    "core/table64.wast",
    "core/memory-multi.wast",
    "core/simd_memory-multi.wast",
    "core/table.wast",
    "core/elem.wast",
    "core/data.wast",
    "core/br_table.wast",
    "core/ref_func.wast",
    "core/tag.wast",
    "core/legacy/try_catch.wast",
    "proposals/stack-switching/cont.wast",
    "proposals/custom-page-sizes/custom-page-sizes.wast",
]

FUZZ = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@functools.lru_cache(maxsize=None)
def seeds() -> list[bytes]:
    import wasmtime

    out = [p.read_bytes() for p in sorted((paths.shared_dir() / "bench" / "wasm").glob("*.wasm"))]
    for rel in SEED_FILES:
        path = paths.testsuite_dir() / rel
        per_file = []
        for cmd, form, value, _ in wast_modules(str(path)):
            if (cmd == "assert_malformed" and form != "binary") or form == "instance":
                continue
            if form in ("text", "quote"):
                try:
                    value = wasmtime.wat2wasm(value)
                except Exception:
                    continue
            per_file.append(value)
        assert per_file, f"no modules in seed file {rel}"
        # the largest few modules of each file carry the most variety
        out.extend(sorted(per_file, key=len, reverse=True)[:4])
    return out


def check(data: bytes) -> None:
    """The fuzz property for one input."""
    t0 = time.perf_counter()
    try:
        m = decode_module(data)
    except DecodeError as e:
        assert isinstance(e.message, str) and e.message
        assert e.offset is None or 0 <= e.offset <= len(data)
        assert time.perf_counter() - t0 < 2.0
        return
    assert time.perf_counter() - t0 < 2.0
    again = decode_module(encode_module(m))
    assert again == m


def test_seeds_decode():
    s = seeds()
    assert len(s) >= 60
    for data in s:
        check(data)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(data):
    check(data)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_after_header(data):
    check(HEADER + data)


_section = st.tuples(st.integers(0, 15), st.binary(max_size=60)).map(
    lambda t: bytes([t[0]]) + leb128.write_u32(len(t[1])) + t[1]
)


@FUZZ
@given(st.lists(_section, max_size=6))
def test_random_sections(sections):
    check(HEADER + b"".join(sections))


_HUGE = [b"\xff\xff\xff\xff\x0f", b"\x80\x80\x80\x80\x08", b"\xff\xff\xff\xff\x7f", b"\x80"]


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["set", "insert", "delete", "truncate", "huge"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del data[pos : pos + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del data[pos:]
        elif kind == "huge":
            data[pos : pos + 1] = draw(st.sampled_from(_HUGE))
    return bytes(data)


@settings(FUZZ, max_examples=1500)
@given(mutated())
def test_mutated_binaries(data):
    check(data)


def _funcs(code_body: bytes) -> bytes:
    """type () -> (); one function with the given body (locals + code)."""
    body = leb128.write_u32(len(code_body)) + code_body
    return (
        HEADER
        + b"\x01\x04\x01\x60\x00\x00"
        + b"\x03\x02\x01\x00"
        + b"\x0a"
        + leb128.write_u32(len(body) + 1)
        + b"\x01"
        + body
    )


def _sec(sid: int, content: bytes) -> bytes:
    return bytes([sid]) + leb128.write_u32(len(content)) + content


BIG = b"\xff\xff\xff\xff\x0f"  # 2**32 - 1

HUGE_COUNT_CASES = {
    "types": HEADER + _sec(1, BIG),
    "imports": HEADER + _sec(2, BIG),
    "funcs": HEADER + _sec(3, BIG),
    "tables": HEADER + _sec(4, BIG),
    "mems": HEADER + _sec(5, BIG),
    "tags": HEADER + _sec(13, BIG),
    "globals": HEADER + _sec(6, BIG),
    "exports": HEADER + _sec(7, BIG),
    "elems": HEADER + _sec(9, BIG),
    "code": HEADER + _sec(10, BIG),
    "datas": HEADER + _sec(11, BIG),
    "rec group": HEADER + _sec(1, b"\x01\x4e" + BIG),
    "supertypes": HEADER + _sec(1, b"\x01\x50" + BIG),
    "params": HEADER + _sec(1, b"\x01\x60" + BIG),
    "struct fields": HEADER + _sec(1, b"\x01\x5f" + BIG),
    "import name": HEADER + _sec(2, b"\x01" + BIG),
    "custom name": HEADER + _sec(0, BIG),
    "elem items": HEADER + _sec(9, b"\x01\x01\x00" + BIG),
    "elem exprs": HEADER + _sec(9, b"\x01\x05\x70" + BIG),
    "data bytes": HEADER + _sec(11, b"\x01\x01" + BIG),
    "local groups": _funcs(BIG),
    "br_table": _funcs(b"\x00\x0e" + BIG),
    "select_t": _funcs(b"\x00\x1c" + BIG),
    "try_table catches": _funcs(b"\x00\x1f\x40" + BIG),
    "resume handlers": _funcs(b"\x00\xe3\x00" + BIG),
}


@pytest.mark.parametrize("case", sorted(HUGE_COUNT_CASES))
def test_huge_counts_fail_fast(case):
    data = HUGE_COUNT_CASES[case]
    t0 = time.perf_counter()
    with pytest.raises(DecodeError) as e:
        decode_module(data)
    assert time.perf_counter() - t0 < 0.05
    assert e.value.message.startswith(("length out of bounds", "unexpected end")), e.value.message


def test_huge_local_counts_fail_fast():
    # 2**32 and 2**33 - 2 locals: more than the spec's 2**32 - 1
    for locals_ in (b"\x02" + BIG + b"\x7f\x01\x7e", b"\x02" + BIG + b"\x7f" + BIG + b"\x7e"):
        t0 = time.perf_counter()
        with pytest.raises(DecodeError, match="^too many locals"):
            decode_module(_funcs(locals_ + b"\x0b"))
        assert time.perf_counter() - t0 < 0.05
    # exactly 2**32 - 1 is valid: decoded as one run, just as fast
    t0 = time.perf_counter()
    m = decode_module(_funcs(b"\x01" + BIG + b"\x7f\x0b"))
    assert time.perf_counter() - t0 < 0.05
    assert len(m.funcs[0].locals) == 2**32 - 1 and len(m.funcs[0].locals.runs) == 1
