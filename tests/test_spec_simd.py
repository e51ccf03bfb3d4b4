"""The wasm2-simd spec suite, one test per script (issue 12's acceptance check).

Every assertion must pass: a failed or skipped assertion fails the test, and
the number that passed must equal the manifest's assertion count, so an
assertion the runner never reached (a module skipped as unsupported, say)
cannot go unnoticed.
"""
from __future__ import annotations

import pytest

from suites import file_id, files_of, require
from wasmbox.script.report import manifest_entry
from wasmbox.script.runner import run_file

FILES = files_of("wasm2-simd")


@pytest.mark.parametrize("path", FILES, ids=file_id)
def test_wasm2_simd(path):
    path = require(path)
    res = run_file(path)
    detail = "\n".join(res.failures[:20] + res.skips[:20])
    assert res.failed == 0 and res.skipped == 0 and res.command_failures == 0, detail
    assert res.passed == manifest_entry(path)["assertions"], detail
