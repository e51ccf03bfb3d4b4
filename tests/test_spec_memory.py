"""The spec scripts of memory64 (with table64), multi-memory and custom page
sizes, one test per script.

The files: every one tagged ``memory64`` or ``multi-memory`` in the
testsuite manifest (``files.<path>.engine_features``) whose other features
wasmbox supports, plus all of ``proposals/custom-page-sizes/``. Every
assertion must pass: a failed or skipped assertion fails the test, and the
number that passed must equal the manifest's assertion count.
"""
from __future__ import annotations

import json

import pytest

from suites import MISSING, file_id, require
from wasmbox.paths import testsuite_dir as corpus_dir
from wasmbox.script.report import manifest_entry
from wasmbox.script.runner import run_file
from wasmbox.script.selections import CUSTOM_PAGE_SIZES_DIR, memory_selection

def memory_files() -> list:
    try:
        root = corpus_dir()
        manifest = json.loads((root / "manifest.json").read_text())
    except (FileNotFoundError, OSError):
        return [MISSING]
    return [root / rel for rel in memory_selection(manifest)]


FILES = memory_files()


def test_the_selection_is_what_the_issue_names():
    if FILES == [MISSING]:
        require(MISSING)
    names = {file_id(p) for p in FILES}
    # a few that must be there, and ones whose other features we lack
    assert {"core/memory64.wast", "core/address64.wast", "core/memory_copy64.wast",
            "core/table_copy_mixed.wast", "core/memory-multi.wast", "core/address1.wast",
            "proposals/custom-page-sizes/memory_max_i64.wast"} <= names
    assert "core/instance.wast" not in names          # needs exceptions, function-references
    assert "core/simd_memory-multi.wast" not in names  # needs simd
    assert "core/table_init64.wast" not in names       # needs gc
    assert sum(1 for n in names if n.startswith(CUSTOM_PAGE_SIZES_DIR)) == 5


@pytest.mark.parametrize("path", FILES, ids=file_id)
def test_spec_memory(path):
    path = require(path)
    res = run_file(path)
    detail = "\n".join(res.failures[:20] + res.skips[:20])
    assert res.failed == 0 and res.skipped == 0 and res.command_failures == 0, detail
    assert res.passed == manifest_entry(path)["assertions"], detail
