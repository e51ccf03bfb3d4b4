"""Where the shared corpus lives: ``../shared`` beside the repository root.

Raises :class:`FileNotFoundError` with a clear message when it is missing.
"""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """The shared directory (``$WASMBOX_SHARED`` or ``<repo>/../shared``).

    Raises FileNotFoundError if it does not exist.
    """
    env = os.environ.get("WASMBOX_SHARED")
    p = Path(env) if env else REPO_ROOT.parent / "shared"
    if not (p / "testsuite" / "manifest.json").is_file():
        raise FileNotFoundError(
            f"the shared corpus is missing: expected {p}/testsuite/manifest.json "
            "(put the shared/ directory beside the repository or set WASMBOX_SHARED)"
        )
    return p


def testsuite_dir() -> Path:
    return shared_dir() / "testsuite"


def suite_files(suite: str) -> list[Path]:
    """The .wast files of a named suite in the testsuite manifest.

    Raises KeyError for an unknown suite name.
    """
    import json

    ts = testsuite_dir()
    manifest = json.loads((ts / "manifest.json").read_text())
    suites = manifest["suites"]
    if suite not in suites:
        raise KeyError(f"unknown suite {suite!r}; known: {', '.join(sorted(suites))}")
    return [ts / f for f in suites[suite]["files"]]
