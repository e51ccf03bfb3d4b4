"""The fuzzer's regression cases: every saved divergence must agree with wasmtime.

Each case in ``tests/fuzz_cases/`` is a minimised module (``.wasm``, its
text in ``.wat``) and a ``.json`` saying which calls to make, what each
engine did when it was found, and where it came from (see
docs/fuzzing.md). Replaying needs no binaryen: the module is loaded in
both engines with the fuzzer's host imports and NaN canonicalisation
(``tools/fuzz_support.replay_case``) and compared as the fuzzer compares.

A case fails until the wasmbox bug it found is fixed; that is expected,
and nothing here is marked xfail.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import fuzz_support as F  # noqa: E402

CASES = F.load_cases()
#: Every case must say at least this.
FIELDS = {"module", "seed", "kind", "signature", "export", "calls", "wasmbox", "wasmtime"}


def test_there_are_cases():
    """The directory holds cases (an empty one would test nothing, silently)."""
    assert CASES, f"no cases in {F.CASES_DIR}"


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_case_is_complete(path: Path):
    meta = json.loads(path.read_text())
    assert FIELDS <= set(meta), FIELDS - set(meta)
    assert (path.parent / meta["module"]).is_file()
    assert path.with_suffix(".wat").is_file()
    assert meta["kind"] in ("divergence", "crash")


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_case_agrees_with_wasmtime(path: Path):
    stats = F.replay_case(path)
    assert stats.counts["instances"] >= 1
