"""``wasmbox wast --parse-only``: check the front end on .wast scripts.

Every command of every script is parsed. Each module in it (text, binary or
quote) is taken to a syntax Module, encoded to binary and decoded back, and
the decoded module must equal the one we started from. An
``assert_malformed`` passes when parsing or decoding its module fails; every
other command passes when all of its modules parse, encode and decode.

A script that does not parse at all counts every command as failed (its
command count then comes from the testsuite manifest when known, else 1).
Nothing here raises for bad input: failures are reported and counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..errors import DecodeError, ParseError, WasmboxError
from .report import display_name, manifest_commands, print_file_result, run_parallel, write_json


@dataclass
class FileResult:
    name: str
    passed: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)  # "line N: reason"

    def as_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "failed": self.failed, "failures": self.failures}


def _module_of(sm) -> Any:
    """Parse or decode a ScriptModule into a syntax Module. Raises ParseError/DecodeError."""
    from ..binary import decode_module
    from ..text.parse import parse_module

    if sm.kind == "binary":
        return decode_module(sm.binary)
    if sm.module is not None:
        return sm.module
    return parse_module(sm.source or "")


def _round_trip(module) -> str | None:
    """Encode and decode ``module``; return a failure reason or None."""
    from ..binary import decode_module, encode_module

    again = decode_module(encode_module(module))
    if again != module:
        return "decode(encode(m)) differs from m"
    return None


def _modules_in(cmd) -> Iterable[Any]:
    from ..text import wast

    if isinstance(cmd, wast.Thread):
        for sub in cmd.commands:
            yield from _modules_in(sub)
        return
    sm = getattr(cmd, "module", None)
    if isinstance(sm, wast.ScriptModule):
        yield sm


def check_command(cmd) -> str | None:
    """Check one command; return None when it passes, else the reason."""
    from ..text import wast

    malformed = isinstance(cmd, (wast.AssertMalformed, wast.AssertMalformedCustom))
    for sm in _modules_in(cmd):
        try:
            module = _module_of(sm)
            if malformed:
                return f"module is not malformed (expected {cmd.message!r})"
            reason = _round_trip(module)
            if reason:
                return reason
        except (ParseError, DecodeError) as e:
            if malformed:
                continue
            return f"{e.kind}: {e}"
        except WasmboxError as e:
            return f"{e.kind}: {e}"
        except Exception as e:  # a bug: report it, never crash the run
            return f"internal error: {type(e).__name__}: {e}"
    return None


def check_file(path: Path) -> FileResult:
    """Parse one script and check every command."""
    from ..text.wast import parse_script

    res = FileResult(display_name(path))
    try:
        commands = parse_script(path.read_bytes(), filename=str(path))
    except (ParseError, OSError, UnicodeDecodeError) as e:
        n = manifest_commands(path) or 1
        res.failed = n
        res.failures.append(f"script does not parse: {e}")
        return res
    except Exception as e:
        res.failed = manifest_commands(path) or 1
        res.failures.append(f"internal error parsing script: {type(e).__name__}: {e}")
        return res
    for cmd in commands:
        reason = check_command(cmd)
        if reason is None:
            res.passed += 1
        else:
            res.failed += 1
            res.failures.append(f"line {cmd.line}: {reason}")
    return res


def run_files(files: list[Path], jobs: int = 1, json_out: str | None = None) -> int:
    """Check ``files``; print a line per file and the total. Returns the exit status."""
    results: list[FileResult] = run_parallel(check_file, files, jobs)
    for r in results:
        print_file_result(r.failed == 0, r.name, f"{r.passed} passed, {r.failed} failed", r.failures)
    write_json(json_out, results)
    total_p, total_f = sum(r.passed for r in results), sum(r.failed for r in results)
    print(f"{total_p} passed, {total_f} failed")
    return 0 if total_f == 0 else 1
