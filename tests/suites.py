"""Helpers for tests that walk the spec suites (imported by test modules).

File lists are computed at collection time; a missing ../shared yields one
placeholder entry whose test then fails with the reason (never a silent skip).

The modules of the scripts are read with the project's script parser
(:func:`wasmbox.text.wast.parse_script`); each script is parsed once per
test session (:func:`parsed_script`) and shared by every test module.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from wasmbox.binary import decode_module
from wasmbox.paths import suite_files, testsuite_dir
from wasmbox.syntax.module import Module
from wasmbox.text.parse import parse_module
from wasmbox.text.wast import Command, ScriptModule, Thread, parse_script

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


def assert_every_assertion_passes(p) -> None:
    """Run one spec script: no assertion may fail or be skipped, no command
    fail, and the number passed must equal the manifest's count (so an
    assertion the runner never reached cannot go unnoticed)."""
    from wasmbox.script.report import manifest_entry
    from wasmbox.script.runner import run_file

    path = require(p)
    res = run_file(path)
    detail = "\n".join(res.failures[:20] + res.skips[:20])
    assert res.failed == 0 and res.skipped == 0 and res.command_failures == 0, detail
    assert res.passed == manifest_entry(path)["assertions"], detail


def require(p) -> Path:
    """Fail clearly when the corpus is missing."""
    import pytest

    if p == MISSING:
        pytest.fail("../shared is missing: the spec testsuite must sit beside the repository")
    return Path(p)


# ---------------------------------------------------------------------------
# The modules of the scripts


@functools.lru_cache(maxsize=None)
def parsed_script(path: Path, parse_modules: bool = True) -> list[Command]:
    """The commands of the ``.wast`` script at ``path``, parsed once per test
    session (see :func:`~wasmbox.text.wast.parse_script` for
    ``parse_modules``). Raises ParseError, OSError."""
    return parse_script(Path(path).read_bytes(), str(path), parse_modules=parse_modules)


def module_commands(commands: Iterable[Command]) -> Iterator[tuple[Command, ScriptModule]]:
    """``(command, module)`` for every command that holds a script module
    (``module``, ``assert_invalid``, ``assert_malformed``, ``assert_trap`` /
    ``assert_unlinkable`` on a module, ...), in script order, also inside
    ``thread`` commands. ``(module instance ...)`` holds none."""
    for c in commands:
        if isinstance(c, Thread):
            yield from module_commands(c.commands)
            continue
        sm = getattr(c, "module", None)
        if isinstance(sm, ScriptModule):
            yield c, sm


def script_modules(
    suites: Iterable[str] = (), *, files: Iterable[Path] = (), parse_modules: bool = True
) -> Iterator[tuple[Path, Command, ScriptModule]]:
    """``(path, command, module)`` for every script module of the files of
    the named ``suites`` (manifest order), then of ``files``.

    Raises KeyError (unknown suite), FileNotFoundError (no corpus), ParseError.
    """
    paths = [p for s in suites for p in suite_files(s)] + [Path(f) for f in files]
    for path in paths:
        for c, sm in module_commands(parsed_script(path, parse_modules)):
            yield path, c, sm


_DEFINITION = re.compile(r"\A\(\s*module\s+definition\b")


def wat_text(sm: ScriptModule) -> str:
    """The text of a text or quote module as ``wasmtime.wat2wasm`` takes it:
    ``(module definition ...)`` is written ``(module ...)``; a quote module
    (module fields only) is its text as it is."""
    if sm.kind not in ("text", "quote") or sm.source is None:
        raise ValueError(f"no module text: a {sm.kind} module (line {sm.line})")
    if sm.kind == "quote":
        return sm.source
    return _DEFINITION.sub("(module", sm.source, count=1)


def module_of(sm: ScriptModule) -> Module:
    """The Module of a script module: its parsed text (parsed now when the
    script was read without parsing modules), decoded binary or parsed quote.

    Raises DecodeError, ParseError.
    """
    if sm.kind == "binary":
        return decode_module(sm.binary or b"")
    if sm.module is None:
        return parse_module(sm.source or "")
    return sm.module
