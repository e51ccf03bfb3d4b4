"""docs/conformance.md's wasm3 split: which skipped assertions need later issues."""
from __future__ import annotations

from wasmbox.script.conformance import later_skips, render_split
from wasmbox.script.runner import FileResult


def test_skips_are_split_by_the_feature_they_need():
    r = FileResult("x.wast", passed=3, failed=1, skipped=4, skips=[
        "line 1: assert_return: unsupported: gc: struct.new",
        "line 2: assert_invalid: simd: v128",
        "line 3: assert_trap: unsupported: relaxed-simd: i8x16.relaxed_swizzle",
        "line 4: module: gc: array",            # a command, not an assertion
        "line 5: assert_return: threads: shared memory",
    ])
    # SIMD and relaxed SIMD are implemented: such a skip is a real one and counts
    assert later_skips(r) == [1]
    text = "\n".join(render_split({"files": ["x.wast"]}, {"x.wast": r}))
    assert "| x.wast | 3 / 7 | 1 | 3 | 1 |" in text
    assert "Counted: 7 assertions, 3 passed, 1 failed, 3 skipped (42.86%)" in text
