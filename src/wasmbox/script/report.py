"""Shared plumbing of the script runners: file names, manifest counts, workers.

Nothing here raises for a missing manifest: lookups then return None.
"""
from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Callable, TypeVar

from ..text.print import terminal_safe

T = TypeVar("T")


@lru_cache(maxsize=1)
def _manifest() -> dict | None:
    from ..paths import testsuite_dir

    try:
        return json.loads((testsuite_dir() / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def display_name(path: Path) -> str:
    """``core/foo.wast`` for files in the testsuite, else the path as given."""
    try:
        from ..paths import testsuite_dir

        return str(Path(path).resolve().relative_to(testsuite_dir().resolve()))
    except (ValueError, FileNotFoundError):
        return str(path)


def manifest_entry(path: Path) -> dict | None:
    m = _manifest()
    if m is None:
        return None
    return m["files"].get(display_name(path))


def manifest_commands(path: Path) -> int | None:
    """Number of commands the manifest counts in a testsuite file, if known."""
    e = manifest_entry(path)
    if e is None:
        return None
    return sum(e.get("commands", {}).values()) or None


def run_parallel(fn: Callable[[Path], T], files: list[Path], jobs: int) -> list[T]:
    """``[fn(f) for f in files]``, in ``jobs`` worker processes when jobs > 1."""
    if jobs <= 1 or len(files) <= 1:
        return [fn(f) for f in files]
    with ProcessPoolExecutor(max_workers=jobs) as ex:
        return list(ex.map(fn, files, chunksize=1))


def print_file_result(ok: bool, name: str, counts: str, failures: list[str], limit: int = 8) -> None:
    """One line per file (``ok``/``FAIL``), then its first failure reasons."""
    print(f"{'ok  ' if ok else 'FAIL'} {terminal_safe(name)}: {counts}")
    for f in failures[:limit]:  # reasons quote module-controlled names: escaped
        print(f"       {terminal_safe(f)}")
    if len(failures) > limit:
        print(f"       ... and {len(failures) - limit} more")


def write_json(path: str | None, results: list) -> None:
    """Write ``{file name: result.as_json()}`` to ``path`` when given."""
    if path:
        Path(path).write_text(json.dumps({r.name: r.as_json() for r in results}, indent=1))
