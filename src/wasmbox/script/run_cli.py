"""``wasmbox run`` and ``wasmbox inspect``: the CLI's engine commands.

``run`` runs a WASI command (``_start``, with argv = [FILE, ARGS...], the
``--env`` variables and inherited stdio; exit status: ``proc_exit``'s code,
0 when ``_start`` returns, :data:`TRAP_STATUS` after a trap, which is
printed as one line); or, with ``--invoke``, calls one exported function
with arguments parsed from the command line by the function's parameter
types and prints each result on its own line (WASI is defined then too). ``inspect`` lists imports and
exports, or prints the Python source generated for one function.

Raises CliError (usage), or the engine's WasmboxError subclasses, which
the CLI turns into one-line messages.
"""
from __future__ import annotations

import argparse
import math
from typing import Any

from ..cli import CliError, load_module_file
from ..syntax import types as st
from ..text.print import escape_string


def parse_arg(text: str, t: Any) -> Any:
    """A command-line argument as a *raw* value of Wasm type ``t``.

    Numbers follow the text format's literal rules exactly (the same parser
    as ``.wat`` constants): ``i32``/``i64`` take decimal or ``0x`` hex, an
    optional sign and ``_`` separators, signed or unsigned range;
    ``f32``/``f64`` also take hex floats, ``inf``, ``nan`` and
    ``nan:0x...`` (the payload is kept bit for bit). A float literal too
    large for the type is an error, as in the text format (which never
    rounds a literal to infinity; write ``inf`` for that). A ``v128`` is one
    128-bit integer literal (``0x...`` hex is the readable way: lane 0 is
    the lowest bits), signed or unsigned range.

    Raises CliError (one line) for anything else.
    """
    from ..exec.numerics import f32_from_bits, f64_from_bits
    from ..text.literals import OUT_OF_RANGE, LiteralError, parse_f32, parse_f64, parse_int

    try:
        if t is st.I32 or t is st.I64:
            bits = 32 if t is st.I32 else 64
            return parse_int(text, bits) & ((1 << bits) - 1)
        if t is st.F32:
            return f32_from_bits(parse_f32(text))
        if t is st.F64:
            return f64_from_bits(parse_f64(text))
        if t is st.V128:
            return parse_int(text, 128) & ((1 << 128) - 1)
    except LiteralError as e:
        why = ": constant out of range" if e.message == OUT_OF_RANGE else ""
        raise CliError(f"argument {_show_arg(text)} is not a valid {t.text}{why}") from None
    raise CliError(f"cannot pass a {t!r} argument from the command line")


def _show_arg(text: str) -> str:
    """A user's argument quoted for a message, shortened if long. Raises nothing."""
    if len(text) > 40:
        text = f"{text[:24]}...{text[-8:]}"
    return repr(text)


def format_result(v: Any, t: Any) -> str:
    """A result as printed by ``wasmbox run`` (a v128 as 32 hex digits)."""
    if t is st.V128:
        return f"0x{v:032x}"
    if t is st.F32 or t is st.F64:
        if math.isnan(v):
            return "nan"
        return repr(v)
    if v is None:
        return "null"
    return str(v)


def _load(args: argparse.Namespace, fuel: bool = False,
          epochs: bool = False) -> tuple[Any, Any, Any]:
    """``(engine, syntax module, validated Module)`` for ``args.file``, read
    once, with the proposals of ``-W`` (and fuel / epochs if asked). Raises
    CliError or WasmboxError."""
    from .. import Config, Engine, Module

    cps = "custom-page-sizes" in args.wasm
    engine = Engine(Config(wasm_custom_page_sizes=cps, consume_fuel=fuel,
                           epoch_interruption=epochs,
                           wasm_stack_switching="stack-switching" in args.wasm))
    syntax = load_module_file(args.file, custom_page_sizes=cps)
    return engine, syntax, Module.from_syntax(engine, syntax)


def run_command(args: argparse.Namespace) -> int:
    """``wasmbox run``. ``--fuel N`` runs with N units of fuel (instantiation
    included); ``--timeout S`` interrupts the guest (an epoch deadline and a
    timer thread) S seconds after the command started. Raises CliError
    (usage, or the timeout) or WasmboxError (the trap "all fuel consumed by
    WebAssembly" when the fuel runs out)."""
    import threading
    import time

    from .. import Store, Trap, TrapCode
    from .. import cli

    fuel, timeout = args.fuel, args.timeout
    if fuel is not None and fuel < 0:
        raise CliError(f"--fuel must not be negative (got {fuel})")
    if timeout is not None and not 0 < timeout < 1e9:
        raise CliError(f"--timeout must be a positive number of seconds (got {timeout:g})")
    engine, _, module = _load(args, fuel=fuel is not None, epochs=timeout is not None)
    store = Store(engine)
    if fuel is not None:
        store.set_fuel(min(fuel, (1 << 64) - 1))
    timer = None
    if timeout is not None:
        store.set_epoch_deadline(1)
        left = timeout - (time.monotonic() - cli.STARTED) if cli.STARTED else timeout
        timer = threading.Timer(max(0.0, left), engine.increment_epoch)
        timer.daemon = True
        timer.start()
    what = "_start" if args.invoke is None else args.invoke
    try:
        if args.invoke is None:
            return _run_command(args, engine, module, store)
        return _run(args, engine, module, store)
    except Trap as e:
        if timer is not None and e.code is TrapCode.INTERRUPT:
            raise CliError(f"timeout: {escape_string(what)} ran past {timeout:g} s "
                           f"(--timeout) and was interrupted") from None
        if args.invoke is None:
            cli._error(f"{e.kind}: {e}")
            return TRAP_STATUS
        raise
    finally:
        if timer is not None:
            timer.cancel()


#: the exit status after a trap in a WASI command: wasmtime's CLI exits
#: 128 + SIGABRT on Unix
TRAP_STATUS = 134


def wasi_config(args: argparse.Namespace) -> Any:
    """The WasiConfig of ``run``: argv = [FILE as given, *ARGS], exactly the
    ``--env`` variables (``NAME`` alone: the host's value, skipped when the
    host has none), the ``--dir`` preopens (read-write; ``HOST::GUEST``, or
    HOST as the guest's name too), inherited stdio. Raises CliError for an
    empty NAME or a --dir that is not a directory."""
    import os

    from .. import WasiConfig

    cfg = WasiConfig()
    cfg.argv = [args.file, *args.args] if args.invoke is None else [args.file]
    env = []
    for item in args.env:
        name, eq, value = item.partition("=")
        if not name:
            raise CliError(f"--env {item!r}: the variable needs a name")
        if not eq:
            if name not in os.environ:
                continue
            value = os.environ[name]
        env.append((name, value))
    cfg.env = env
    for item in args.dir:
        host, sep, guest = item.partition("::")
        if not host or (sep and not guest):
            raise CliError(f"--dir {item!r}: expected HOST or HOST::GUEST")
        if not os.path.isdir(host):
            raise CliError(f"--dir {item!r}: {host!r} is not a directory")
        cfg.preopen_dir(host, guest if sep else host)
    cfg.inherit_stdin()
    cfg.inherit_stdout()
    cfg.inherit_stderr()
    return cfg


def _wasi_linker(args: argparse.Namespace, engine: Any, store: Any) -> Any:
    from .. import Linker

    store.set_wasi(wasi_config(args))
    linker = Linker(engine)
    linker.define_wasi()
    return linker


def _run_command(args: argparse.Namespace, engine: Any, module: Any, store: Any) -> int:
    """Run a WASI command's ``_start``; the exit status is proc_exit's code (0
    when _start returns). Raises CliError when there is no _start, and what
    running raises."""
    import sys

    from .. import ExitTrap

    linker = _wasi_linker(args, engine, store)
    if not any(e.name == "_start" for e in module.exports):
        raise CliError(f"{escape_string(args.file)} exports no _start (not a WASI command), "
                       f"so an option is required: --invoke NAME")
    sys.stdout.flush()
    try:
        instance = linker.instantiate(store, module)
        start = instance.exports(store).get("_start")
        if start is None or not hasattr(start, "call_raw"):
            raise CliError("_start is not a function")
        start.call_raw(store, [])
    except ExitTrap as e:
        return e.code
    return 0


def _run(args: argparse.Namespace, engine: Any, module: Any, store: Any) -> int:
    """Instantiate, call ``--invoke`` with the arguments, print the results."""
    from ..runtime.values import from_raw

    instance = _wasi_linker(args, engine, store).instantiate(store, module)
    func = instance.exports(store).get(args.invoke)
    if func is None or not hasattr(func, "call_raw"):
        names = [escape_string(e.name) for e in module.exports if hasattr(e.type, "params")]
        raise CliError(f"no exported function {escape_string(args.invoke)} (exported functions: "
                       f"{', '.join(names) or 'none'})")
    ft = func.type(store)._ft
    if len(args.args) != len(ft.params):
        raise CliError(f"{escape_string(args.invoke)} takes {len(ft.params)} argument(s), "
                       f"got {len(args.args)}")
    params = [parse_arg(a, t) for a, t in zip(args.args, ft.params)]
    # Raw values: an f32 NaN's payload reaches the function unchanged.
    results = func.call_raw(store, params)
    for v, t in zip(results, ft.results):
        print(format_result(from_raw(t, v), t))
    return 0


def inspect_command(args: argparse.Namespace) -> int:
    """``wasmbox inspect``: imports and exports, one per line, names written
    as WAT string literals (as ``wasm2wat`` writes them, so a name can never
    break or forge a line); or, with ``--python``, one function's generated
    source. The module is validated first. Raises CliError or WasmboxError.
    """
    from ..exec.compile import function_source

    fuel, epochs = args.consume_fuel, args.epoch_interruption
    _, syntax, module = _load(args, fuel=fuel, epochs=epochs)
    if args.python is None:
        for imp in module.imports:
            print(f"import {escape_string(imp.module)} {escape_string(imp.name)}: {imp.type}")
        for exp in module.exports:
            print(f"export {escape_string(exp.name)}: {exp.type}")
        return 0
    index = _func_index(syntax, args.python)
    print(function_source(syntax, index, fuel=fuel, epochs=epochs), end="")
    return 0


def _func_index(module: Any, which: str) -> int:
    """The index of a defined function, from a number (a text-format ``u32``)
    or an export name. Raises CliError."""
    from ..syntax.module import ExternKind
    from ..text.literals import LiteralError, is_nat, parse_uint

    n_imported = sum(1 for i in module.imports if i.kind is ExternKind.FUNC)
    if is_nat(which):
        try:
            index = parse_uint(which, 32)
        except LiteralError:
            index = -1
        if not n_imported <= index < n_imported + len(module.funcs):
            raise CliError(f"no defined function {_show_arg(which)} (the module defines "
                           f"functions {n_imported} to {n_imported + len(module.funcs) - 1})"
                           if module.funcs else "the module defines no functions")
        return index
    for e in module.exports:
        if e.name == which and e.kind is ExternKind.FUNC:
            if e.index < n_imported:
                raise CliError(f"export {escape_string(which)} is an imported function")
            return e.index
    raise CliError(f"no function {escape_string(which)} (give an index or an exported "
                   "function name)")
