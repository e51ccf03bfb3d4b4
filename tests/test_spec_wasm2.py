"""The wasm2-nosimd spec suite, one test per script (issue 3's acceptance check).

Every assertion must pass: a failed or skipped assertion fails the test, and
the number that passed must equal the manifest's assertion count, so an
assertion the runner never reached cannot go unnoticed.
"""
from __future__ import annotations

import pytest

from suites import assert_every_assertion_passes, file_id, files_of

FILES = files_of("wasm2-nosimd")


@pytest.mark.parametrize("path", FILES, ids=file_id)
def test_wasm2_nosimd(path):
    assert_every_assertion_passes(path)
