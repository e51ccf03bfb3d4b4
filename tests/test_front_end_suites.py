"""The front end on the spec scripts (issue 2's acceptance checks).

For every file of the wasm3, stack-switching and legacy-exceptions suites:
* the parse-only runner passes every command: each module parses or decodes,
  encodes and decodes back to an equal module; assert_malformed modules are
  rejected;
* parse(print(m)) == m for every module.
"""
from __future__ import annotations

import pytest

from suites import file_id, files_of, require
from wasmbox.binary import decode_module
from wasmbox.script.parse_check import check_file
from wasmbox.text import wast
from wasmbox.text.parse import parse_module
from wasmbox.text.print import print_module

FILES = files_of("wasm3", "stack-switching", "legacy-exceptions")


@pytest.mark.parametrize("path", FILES, ids=file_id)
def test_parse_only_passes_every_command(path):
    res = check_file(require(path))
    assert res.passed > 0
    assert res.failed == 0, "\n".join(res.failures[:20])


def _modules(path):
    for cmd in wast.parse_script(path.read_bytes(), filename=str(path)):
        if isinstance(cmd, (wast.AssertMalformed, wast.AssertMalformedCustom)):
            continue
        sm = getattr(cmd, "module", None)
        if not isinstance(sm, wast.ScriptModule):
            continue
        if sm.kind == "binary":
            yield cmd.line, decode_module(sm.binary)
        elif sm.module is not None:
            yield cmd.line, sm.module
        else:
            yield cmd.line, parse_module(sm.source)


@pytest.mark.parametrize("path", FILES, ids=file_id)
def test_print_then_parse_round_trips(path):
    for line, m in _modules(require(path)):
        text = print_module(m)
        assert parse_module(text) == m, f"line {line}: parse(print(m)) != m\n{text[:2000]}"
