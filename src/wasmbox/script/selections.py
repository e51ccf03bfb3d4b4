"""Spec-file selections that are not manifest suites, shared by tests and reports.

:func:`memory_selection` is the set issue 4 names: every script tagged
``memory64`` or ``multi-memory`` in the testsuite manifest whose other
features wasmbox supports, plus all of ``proposals/custom-page-sizes/``.
:func:`memory_suite` presents it like a manifest suite (for
``docs/conformance.md``).

Raises nothing; the caller reads the manifest.
"""
from __future__ import annotations

from typing import Any

#: what wasmbox runs beyond the manifest's Wasm 2.0 feature list
EXTRA_FEATURES = frozenset({"memory64", "multi-memory", "custom-page-sizes", "extended-const"})
#: the tags that put a file in the selection
MEMORY_TAGS = frozenset({"memory64", "multi-memory"})
CUSTOM_PAGE_SIZES_DIR = "proposals/custom-page-sizes/"
#: the name of the selection in reports
MEMORY_SUITE = "memory64+multi-memory+custom-page-sizes"


def memory_selection(manifest: dict[str, Any]) -> list[str]:
    """Relative paths of the memory selection, sorted."""
    supported = frozenset(manifest["wasm2_features"]) | EXTRA_FEATURES
    out = []
    for rel, entry in sorted(manifest["files"].items()):
        feats = frozenset(entry["engine_features"])
        if rel.startswith(CUSTOM_PAGE_SIZES_DIR) or (feats & MEMORY_TAGS and feats <= supported):
            out.append(rel)
    return out


def memory_suite(manifest: dict[str, Any]) -> dict[str, Any]:
    """The memory selection as a suite entry: files, assertions, description."""
    files = memory_selection(manifest)
    return {
        "files": files,
        "assertions": sum(manifest["files"][f]["assertions"] for f in files),
        "description": "Every script tagged memory64 or multi-memory whose other features "
                       "wasmbox supports, plus proposals/custom-page-sizes/ (issue 4).",
    }
