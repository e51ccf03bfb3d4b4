"""Compare our wat2wasm with wasmtime's on every text module of some suites.

    python benchmarks/compare_wat2wasm.py [--suite wasm2-nosimd --suite wasm2-simd]

For each text module (plain modules and those in assert_invalid/unlinkable/
trap-on-module): our bytes = encode(parse(text)), theirs =
wasmtime.wat2wasm(text). Prints how many decode to equal modules (custom
sections and names aside), how many are byte-identical, and how many are
byte-identical once custom sections are dropped from both. Needs the
`wasmtime` package (a test extra).
"""
from __future__ import annotations

import argparse

import wasmtime

from wasmbox.binary import decode_module, encode_module
from wasmbox.paths import suite_files
from wasmbox.text import wast


def strip_custom_sections(wasm: bytes) -> bytes:
    """The same binary with its custom sections (id 0) cut out, byte for byte."""
    from wasmbox.binary.leb128 import read_u32

    out, pos = bytearray(wasm[:8]), 8
    while pos < len(wasm):
        start = pos
        sid = wasm[pos]
        size, body = read_u32(wasm, pos + 1)
        pos = body + size
        if sid != 0:
            out += wasm[start:pos]
    return bytes(out)


def text_modules(suite: str):
    for path in suite_files(suite):
        for cmd in wast.parse_script(path.read_bytes(), filename=str(path)):
            sm = getattr(cmd, "module", None)
            if isinstance(cmd, (wast.AssertMalformed, wast.AssertMalformedCustom)):
                continue
            if isinstance(sm, wast.ScriptModule) and sm.kind == "text" and sm.module is not None:
                yield path.name, cmd.line, sm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", action="append")
    suites = ap.parse_args().suite or ["wasm2-nosimd", "wasm2-simd"]
    for suite in suites:
        n = equal = identical = identical_nc = 0
        refused: list[str] = []
        differ: list[str] = []
        for name, line, sm in text_modules(suite):
            n += 1
            src = sm.source.replace("(module definition", "(module", 1)
            try:
                theirs = wasmtime.wat2wasm(src)
            except Exception as e:  # wasmtime refuses a few texts
                refused.append(f"{name}:{line}: {str(e).splitlines()[0][:70]}")
                continue
            ours = encode_module(sm.module)
            if decode_module(theirs).without_custom() == sm.module.without_custom():
                equal += 1
            else:
                differ.append(f"{name}:{line}")
            identical += ours == theirs
            identical_nc += strip_custom_sections(ours) == strip_custom_sections(theirs)
        print(f"{suite}: {n} text modules; wasmtime refused {len(refused)}; "
              f"equal after decoding {equal}; byte-identical {identical}; "
              f"byte-identical without custom sections {identical_nc}")
        for r in refused:
            print(f"  refused: {r}")
        for d in differ:
            print(f"  differs: {d}")


if __name__ == "__main__":
    main()
