"""The wasm2-simd spec suite, one test per script (issue 12's acceptance check).

Every assertion must pass: a failed or skipped assertion fails the test, and
the number that passed must equal the manifest's assertion count, so an
assertion the runner never reached (a module skipped as unsupported, say)
cannot go unnoticed.
"""
from __future__ import annotations

import pytest

from suites import assert_every_assertion_passes, file_id, files_of

FILES = files_of("wasm2-simd")


@pytest.mark.parametrize("path", FILES, ids=file_id)
def test_wasm2_simd(path):
    assert_every_assertion_passes(path)
