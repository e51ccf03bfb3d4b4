"""``wasmbox run`` and ``wasmbox inspect``: the CLI's engine commands.

``run`` loads a module without imports, calls one exported function with
arguments parsed from the command line by the function's parameter types,
and prints each result on its own line. ``inspect`` lists imports and
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
    rounds a literal to infinity; write ``inf`` for that).

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
    """A result as printed by ``wasmbox run``."""
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
    try:
        return _run(args, engine, module, store)
    except Trap as e:
        if timer is not None and e.code is TrapCode.INTERRUPT:
            raise CliError(f"timeout: {escape_string(args.invoke)} ran past {timeout:g} s "
                           f"(--timeout) and was interrupted") from None
        raise
    finally:
        if timer is not None:
            timer.cancel()


def _run(args: argparse.Namespace, engine: Any, module: Any, store: Any) -> int:
    """Instantiate, call ``--invoke`` with the arguments, print the results."""
    from .. import Linker
    from ..runtime.values import from_raw

    instance = Linker(engine).instantiate(store, module)
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
