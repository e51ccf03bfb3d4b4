"""Helpers for tests that walk the spec suites (imported by test modules).

File lists are computed at collection time; a missing ../shared yields one
placeholder entry whose test then fails with the reason (never a silent skip).
"""
from __future__ import annotations

from pathlib import Path

from wasmbox.paths import suite_files, testsuite_dir

MISSING = "MISSING-SHARED-CORPUS"


def files_of(*suites: str) -> list:
    try:
        out: list = []
        for s in suites:
            out.extend(suite_files(s))
        return out
    except FileNotFoundError:
        return [MISSING]


def file_id(p) -> str:
    if p == MISSING:
        return p
    try:
        return str(Path(p).relative_to(testsuite_dir()))
    except (ValueError, FileNotFoundError):
        return str(p)


def require(p) -> Path:
    """Fail clearly when the corpus is missing."""
    import pytest

    if p == MISSING:
        pytest.fail("../shared is missing: the spec testsuite must sit beside the repository")
    return Path(p)
