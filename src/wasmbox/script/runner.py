"""``wasmbox wast``: run .wast spec scripts on the engine.

One :class:`ScriptRunner` per file mirrors the script grammar: a method per
command kind. Assertions are counted as passed, failed or skipped; a skip
(an engine feature not supported yet, reported with its reason) counts as
not passed. Modules, registrations and top-level actions are not
assertions, but when one of them fails the file fails too and the reason
is listed.

Message rule (as in the reference interpreter's runner): the expected
message must be a prefix of ours.

Nothing here raises for bad scripts or engine errors: everything is caught,
reported and counted.
"""
from __future__ import annotations

import signal
import threading
import traceback
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ..errors import (
    DecodeError,
    Exhaustion,
    LinkError,
    ParseError,
    Trap,
    TrapCode,
    UnsupportedFeature,
    ValidationError,
    WasmboxError,
    WasmException,
)
from ..text import wast
from .compare import ScriptValueError, matches, show, to_raw
from .report import display_name, manifest_entry, print_file_result, run_parallel, write_json

ASSERTIONS = (
    wast.AssertReturn, wast.AssertTrap, wast.AssertUninstantiable, wast.AssertExhaustion,
    wast.AssertInvalid, wast.AssertMalformed, wast.AssertUnlinkable, wast.AssertException,
    wast.AssertSuspension, wast.AssertInvalidCustom, wast.AssertMalformedCustom,
)


class Failure(Exception):
    """The command did not do what the script expects."""


class Skip(Exception):
    """The command needs something the engine does not support yet."""


class CommandTimeout(Exception):
    """A command ran longer than COMMAND_TIMEOUT seconds (an engine bug)."""


# No spec command needs more than a few seconds; a guest stuck in a loop
# because of an engine bug must not hang the whole run.
COMMAND_TIMEOUT = 120.0


class _Alarm:
    """Per-command wall-clock limit via SIGALRM (main thread, POSIX only)."""

    def __init__(self) -> None:
        self.enabled = (hasattr(signal, "setitimer")
                        and threading.current_thread() is threading.main_thread())
        if self.enabled:
            self.previous = signal.signal(signal.SIGALRM, self._on_alarm)

    @staticmethod
    def _on_alarm(signum: int, frame: Any) -> None:
        raise CommandTimeout(f"timed out after {COMMAND_TIMEOUT:g} s")

    def start(self) -> None:
        if self.enabled:
            signal.setitimer(signal.ITIMER_REAL, COMMAND_TIMEOUT)

    def stop(self) -> None:
        if self.enabled:
            signal.setitimer(signal.ITIMER_REAL, 0)

    def close(self) -> None:
        if self.enabled:
            self.stop()
            signal.signal(signal.SIGALRM, self.previous)


@dataclass
class FileResult:
    name: str
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    command_failures: int = 0  # non-assertion commands that failed
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # kind -> [passed, failed, skipped]
    failures: list[str] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)

    def count(self, kind: str, outcome: int) -> None:
        self.by_kind.setdefault(kind, [0, 0, 0])[outcome] += 1

    def as_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed, "failed": self.failed, "skipped": self.skipped,
            "command_failures": self.command_failures,
            "by_kind": {k: dict(zip(("passed", "failed", "skipped"), v)) for k, v in self.by_kind.items()},
            "failures": self.failures, "skips": self.skips,
        }


_KINDS = {
    wast.ModuleCommand: "module", wast.ModuleInstance: "module_instance",
    wast.Register: "register", wast.Invoke: "invoke", wast.Get: "get",
    wast.AssertReturn: "assert_return", wast.AssertTrap: "assert_trap",
    wast.AssertUninstantiable: "assert_uninstantiable", wast.AssertExhaustion: "assert_exhaustion",
    wast.AssertInvalid: "assert_invalid", wast.AssertMalformed: "assert_malformed",
    wast.AssertUnlinkable: "assert_unlinkable", wast.AssertException: "assert_exception",
    wast.AssertSuspension: "assert_suspension", wast.AssertInvalidCustom: "assert_invalid_custom",
    wast.AssertMalformedCustom: "assert_malformed_custom", wast.Thread: "thread", wast.Wait: "wait",
}


def _kind(cmd: Any) -> str:
    """The script keyword of a command (``assert_return``, ``module``, ...)."""
    return _KINDS.get(type(cmd), type(cmd).__name__)


def _prefix_ok(expected: str, err: WasmboxError) -> bool:
    return err.message.startswith(expected)


class ScriptRunner:
    """Runs the commands of one script against a fresh store."""

    def __init__(self, features: frozenset[str] = frozenset()) -> None:
        from .. import Config, Engine, Linker, Store
        from ..host.spectest import define_spectest

        # Proposals that change how binaries decode are enabled per file, from
        # the manifest's tags (core/binary.wast and the custom-page-sizes
        # proposal disagree about limits flag bit 3).
        self.custom_page_sizes = "custom-page-sizes" in features
        self.engine = Engine(Config(wasm_custom_page_sizes=self.custom_page_sizes,
                                    wasm_stack_switching="stack-switching" in features))
        self.store = Store(self.engine)
        self.linker = Linker(self.engine)
        self.linker.allow_shadowing = True
        define_spectest(self.linker, self.store)
        self.instances: dict[str, Any] = {}
        self.definitions: dict[str, Any] = {}
        #: names of modules, definitions and instances that could not be made
        #: because of an unsupported feature -> the reason (their users skip too)
        self.unsupported: dict[str, str] = {}
        #: names given to ``register`` whose instance was skipped -> (the reason,
        #: the names that module would have exported)
        self.skipped_registrations: dict[str, tuple[str, frozenset[str]]] = {}
        self.skipped_exports: frozenset[str] = frozenset()
        self.current: Any = None
        self.current_error: str | None = None

    # -- modules ----------------------------------------------------------

    def syntax_module(self, sm: wast.ScriptModule) -> Any:
        """Parse or decode a script module. Raises ParseError/DecodeError."""
        from ..binary import decode_module
        from ..text.parse import parse_module

        if sm.kind == "binary":
            return decode_module(sm.binary, custom_page_sizes=self.custom_page_sizes)
        if sm.module is not None:
            return sm.module
        return parse_module(sm.source or "")

    def compile(self, sm: wast.ScriptModule) -> Any:
        """A validated engine Module. Raises WasmboxError."""
        from .. import Module

        return Module.from_syntax(self.engine, self.syntax_module(sm))

    def instantiate(self, module: Any) -> Any:
        """Instantiate through the script's linker. Raises WasmboxError, or Skip
        when an import fails because the module registered under its module
        name could not be made (an unsupported feature)."""
        try:
            return self.linker.instantiate(self.store, module)
        except LinkError:
            for imp in module.syntax.imports:
                skipped = self.skipped_registrations.get(imp.module)
                if skipped is not None and imp.name in skipped[1]:
                    try:
                        self.linker.get(self.store, imp.module, imp.name)
                    except LinkError:
                        raise Skip(f"imports from {imp.module!r}, which was not registered: "
                                   f"{skipped[0]}") from None
            raise

    def cmd_module(self, cmd: wast.ModuleCommand) -> None:
        self.current = None
        self.current_error = f"module at line {cmd.line} failed"
        try:
            module = self.compile(cmd.module)
        except UnsupportedFeature as e:
            self.current_error = f"unsupported: {e}"
            self._note_skipped(cmd, str(e))
            raise Skip(str(e)) from None
        if cmd.module.definition:
            if cmd.module.name:
                self.definitions[cmd.module.name] = module
            self.current_error = None
            return
        try:
            inst = self.instantiate(module)
        except UnsupportedFeature as e:
            self.current_error = f"unsupported: {e}"
            self._note_skipped(cmd, str(e))
            raise Skip(str(e)) from None
        self.current = inst
        self.current_error = None
        if cmd.module.name:
            self.instances[cmd.module.name] = inst

    def definition(self, name: str | None) -> Any:
        """A module defined with ``(module definition $name ...)``. Raises Skip
        (its definition needed an unsupported feature) or Failure."""
        module = self.definitions.get(name or "")
        if module is None:
            if name in self.unsupported:
                raise Skip(f"module definition {name}: {self.unsupported[name]}")
            raise Failure(f"unknown module definition {name}")
        return module

    def _note_skipped(self, cmd: wast.ModuleCommand, reason: str) -> None:
        """Remember a module skipped for an unsupported feature, and its export names."""
        try:
            names = frozenset(x.name for x in self.syntax_module(cmd.module).exports)
        except WasmboxError:
            names = frozenset()
        self.skipped_exports = names
        if cmd.module.name:
            self.unsupported[cmd.module.name] = reason

    def cmd_module_instance(self, cmd: wast.ModuleInstance) -> None:
        self.current = None
        self.current_error = f"module instance at line {cmd.line} failed"
        try:
            module = self.definition(cmd.module)
        except Skip as e:
            if cmd.instance:
                self.unsupported[cmd.instance] = str(e)
            raise
        try:
            inst = self.instantiate(module)
        except UnsupportedFeature as e:
            self.current_error = f"unsupported: {e}"
            if cmd.instance:
                self.unsupported[cmd.instance] = str(e)
            raise Skip(str(e)) from None
        self.current = inst
        self.current_error = None
        if cmd.instance:
            self.instances[cmd.instance] = inst

    def cmd_register(self, cmd: wast.Register) -> None:
        try:
            inst = self.instance(cmd.module)
        except Skip as e:
            self.skipped_registrations[cmd.name] = (str(e), self.skipped_exports)
            raise
        self.linker.define_instance(self.store, cmd.name, inst)

    # -- actions ----------------------------------------------------------

    def instance(self, name: str | None) -> Any:
        if name is not None:
            if name not in self.instances:
                if name in self.unsupported:
                    raise Skip(f"instance ${name}: {self.unsupported[name]}")
                raise Failure(f"unknown instance ${name}")
            return self.instances[name]
        if self.current is None:
            if self.current_error and self.current_error.startswith("unsupported"):
                raise Skip(self.current_error)
            raise Failure(self.current_error or "no current module")
        return self.current

    def action(self, act: Any) -> list[Any]:
        """Perform an invoke/get; return raw results. Engine errors propagate."""
        inst = self.instance(act.module)
        item = inst.exports(self.store).get(act.name)
        if item is None:
            raise Failure(f"unknown export {act.name!r}")
        if isinstance(act, wast.Get):
            return [item.raw]
        try:
            args = [to_raw(a) for a in act.args]
        except ScriptValueError as e:
            raise Skip(str(e)) from None
        return item.call_raw(self.store, args)

    def cmd_invoke(self, cmd: Any) -> None:
        self.action(cmd)

    cmd_get = cmd_invoke

    # -- assertions -------------------------------------------------------

    def cmd_assert_return(self, cmd: wast.AssertReturn) -> None:
        got = self.action(cmd.action)
        if len(got) != len(cmd.results):
            raise Failure(f"expected {len(cmd.results)} results, got {len(got)}: {got!r}")
        try:
            for i, (exp, g) in enumerate(zip(cmd.results, got)):
                if not matches(exp, g):
                    raise Failure(f"result {i}: expected {exp}, got {show(g)}")
        except ScriptValueError as e:
            raise Skip(str(e)) from None

    def _expect_error(self, fn, kinds: tuple[type, ...], message: str, what: str) -> None:
        try:
            fn()
        except kinds as e:
            if not _prefix_ok(message, e):
                raise Failure(f"expected {what} {message!r}, got {e.kind} {e.message!r}") from None
            return
        except UnsupportedFeature as e:
            raise Skip(str(e)) from None
        except WasmboxError as e:
            raise Failure(f"expected {what} {message!r}, got {e.kind} {e.message!r}") from None
        raise Failure(f"expected {what} {message!r}, but it succeeded")

    def cmd_assert_trap(self, cmd: wast.AssertTrap) -> None:
        self._expect_error(lambda: self.action(cmd.action), (Trap,), cmd.message, "trap")

    def cmd_assert_exhaustion(self, cmd: wast.AssertExhaustion) -> None:
        self._expect_error(lambda: self.action(cmd.action), (Exhaustion,), cmd.message, "exhaustion")

    def _module_or_instance(self, m: Any) -> Any:
        if isinstance(m, wast.ModuleInstance):
            return self.definition(m.module)
        return self.compile(m)

    def cmd_assert_uninstantiable(self, cmd: wast.AssertUninstantiable) -> None:
        def run() -> None:
            self.instantiate(self._module_or_instance(cmd.module))

        self._expect_error(run, (Trap,), cmd.message, "trap")

    def cmd_assert_unlinkable(self, cmd: wast.AssertUnlinkable) -> None:
        def run() -> None:
            self.instantiate(self._module_or_instance(cmd.module))

        self._expect_error(run, (LinkError,), cmd.message, "link error")

    def cmd_assert_invalid(self, cmd: wast.AssertInvalid) -> None:
        self._expect_error(lambda: self.compile(cmd.module), (ValidationError,), cmd.message, "invalid")

    def cmd_assert_malformed(self, cmd: wast.AssertMalformed) -> None:
        self._expect_error(lambda: self.syntax_module(cmd.module), (ParseError, DecodeError),
                           cmd.message, "malformed")

    def cmd_assert_exception(self, cmd: wast.AssertException) -> None:
        """The invoke must end in a Wasm exception that no handler caught."""
        try:
            self.action(cmd.action)
        except WasmException:
            return
        except UnsupportedFeature as e:
            raise Skip(str(e)) from None
        except WasmboxError as e:
            raise Failure(f"expected an uncaught exception, got {e.kind} {e.message!r}") from None
        raise Failure("expected an uncaught exception, but it returned")

    def cmd_assert_suspension(self, cmd: wast.AssertSuspension) -> None:
        """The invoke must suspend to a tag no handler handles: the trap
        "unhandled tag" (its message must start with the script's text)."""
        try:
            self.action(cmd.action)
        except UnsupportedFeature as e:
            raise Skip(str(e)) from None
        except WasmboxError as e:
            if isinstance(e, Trap) and e.code is TrapCode.UNHANDLED_TAG and \
                    e.message.startswith(cmd.message):
                return
            raise Failure(f"expected a suspension {cmd.message!r}, got {e.kind} {e.message!r}") from None
        raise Failure("expected a suspension, but it returned")

    def cmd_assert_invalid_custom(self, cmd: Any) -> None:
        raise Skip("custom-section annotations are not checked yet")

    cmd_assert_malformed_custom = cmd_assert_invalid_custom

    def cmd_thread(self, cmd: Any) -> None:
        raise Skip("threads are not supported")

    cmd_wait = cmd_thread


def run_file(path: Path, features: frozenset[str] = frozenset()) -> FileResult:
    """Run one script; never raises. The proposals the manifest tags the file
    with are enabled, and ``features`` (``wasmbox wast -W NAME``) too."""
    res = FileResult(display_name(path))
    try:
        commands = wast.parse_script(path.read_bytes(), filename=str(path))
    except (ParseError, OSError) as e:
        entry = manifest_entry(path) or {}
        res.failed = entry.get("assertions", 1) or 1
        res.failures.append(f"script does not parse: {e}")
        return res
    entry = manifest_entry(path) or {}
    try:
        runner = ScriptRunner(frozenset(entry.get("engine_features", ())) | features)
    except Exception as e:  # noqa: BLE001
        res.failed = sum(isinstance(c, ASSERTIONS) for c in commands) or 1
        res.failures.append(f"cannot set up the runner: {type(e).__name__}: {e}")
        return res
    alarm = _Alarm()
    try:
        for cmd in commands:
            _run_command(runner, cmd, res, alarm)
    finally:
        alarm.close()
    return res


def _run_command(runner: ScriptRunner, cmd: Any, res: FileResult, alarm: _Alarm) -> None:
    """Run one command and count its outcome in ``res``; never raises."""
    kind = _kind(cmd)
    is_assert = isinstance(cmd, ASSERTIONS)
    method = getattr(runner, "cmd_" + kind, None)
    try:
        if method is None:
            raise Skip(f"command {kind} is not supported")
        alarm.start()
        try:
            method(cmd)
        finally:
            alarm.stop()
    except Skip as e:
        if is_assert:
            res.skipped += 1
            res.count(kind, 2)
        res.skips.append(f"line {cmd.line}: {kind}: {e}")
        return
    except (Failure, CommandTimeout) as e:
        reason = str(e)
    except WasmboxError as e:
        reason = f"{e.kind}: {e.message}"
    except RecursionError:
        reason = "internal error: Python recursion limit reached"
    except Exception as e:  # noqa: BLE001 - a bug in wasmbox: report, keep going
        tb = traceback.extract_tb(e.__traceback__)[-1]
        reason = f"internal error: {type(e).__name__}: {e} ({Path(tb.filename).name}:{tb.lineno})"
    else:
        if is_assert:
            res.passed += 1
            res.count(kind, 0)
        return
    if is_assert:
        res.failed += 1
        res.count(kind, 1)
    else:
        res.command_failures += 1
    res.failures.append(f"line {cmd.line}: {kind}: {reason}")


def run_files(files: list[Path], jobs: int = 1, json_out: str | None = None,
              features: frozenset[str] = frozenset()) -> int:
    """Run scripts, print a line per file and the totals; returns the exit status.
    ``features``: proposals to enable beyond the manifest's tags (see run_file)."""
    results: list[FileResult] = run_parallel(partial(run_file, features=features), files, jobs)
    for r in results:
        ok = r.failed == 0 and r.skipped == 0 and r.command_failures == 0
        extra = f", {r.command_failures} other commands failed" if r.command_failures else ""
        print_file_result(ok, r.name, f"{r.passed} passed, {r.failed} failed, {r.skipped} skipped{extra}",
                          r.failures)
    write_json(json_out, results)
    tp, tf = sum(r.passed for r in results), sum(r.failed for r in results)
    ts, tc = sum(r.skipped for r in results), sum(r.command_failures for r in results)
    if tc:
        print(f"({tc} non-assertion commands failed)")
    print(f"{tp} passed, {tf} failed, {ts} skipped")
    return 0 if tf == 0 and ts == 0 and tc == 0 else 1
