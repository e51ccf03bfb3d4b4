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


def parse_arg(text: str, t: Any) -> Any:
    """A command-line argument as an API value of Wasm type ``t``. Raises CliError."""
    try:
        if t is st.I32 or t is st.I64:
            v = int(text, 0)
            bits = 32 if t is st.I32 else 64
            if not -(1 << (bits - 1)) <= v < (1 << bits):
                raise CliError(f"argument {text!r} is out of range for {t.text}")
            if v >= 1 << (bits - 1):
                v -= 1 << bits
            return v
        if t is st.F32 or t is st.F64:
            low = text.lower()
            if low.startswith(("0x", "-0x", "+0x")):
                return float.fromhex(text)
            return float(text)
    except ValueError:
        raise CliError(f"argument {text!r} is not a valid {t.text}") from None
    raise CliError(f"cannot pass a {t!r} argument from the command line")


def format_result(v: Any, t: Any) -> str:
    """A result as printed by ``wasmbox run``."""
    if t is st.F32 or t is st.F64:
        if math.isnan(v):
            return "nan"
        return repr(v)
    if v is None:
        return "null"
    return str(v)


def _load(args: argparse.Namespace):
    """(engine, module) for ``args.file`` with the proposals of ``-W``."""
    from .. import Config, Engine, Module

    cps = "custom-page-sizes" in args.wasm
    engine = Engine(Config(wasm_custom_page_sizes=cps))
    return engine, Module.from_syntax(engine, load_module_file(args.file, custom_page_sizes=cps))


def run_command(args: argparse.Namespace) -> int:
    from .. import Linker, Store

    engine, module = _load(args)
    store = Store(engine)
    instance = Linker(engine).instantiate(store, module)
    func = instance.exports(store).get(args.invoke)
    if func is None or not hasattr(func, "call_raw"):
        names = [e.name for e in module.exports if hasattr(e.type, "params")]
        raise CliError(f"no exported function {args.invoke!r} (exported functions: "
                       f"{', '.join(names) or 'none'})")
    ft = func.type(store)._ft
    if len(args.args) != len(ft.params):
        raise CliError(f"{args.invoke} takes {len(ft.params)} argument(s), got {len(args.args)}")
    params = [parse_arg(a, t) for a, t in zip(args.args, ft.params)]
    results = func(store, *params)
    if len(ft.results) == 1:
        results = [results]
    elif not ft.results:
        results = []
    for v, t in zip(results, ft.results):
        print(format_result(v, t))
    return 0


def inspect_command(args: argparse.Namespace) -> int:
    from ..exec.compile import function_source

    syntax = load_module_file(args.file)
    if args.python is None:
        _, module = _load(args)
        for imp in module.imports:
            print(f"import {imp.module}.{imp.name}: {imp.type}")
        for exp in module.exports:
            print(f"export {exp.name}: {exp.type}")
        return 0
    index = _func_index(syntax, args.python)
    print(function_source(syntax, index), end="")
    return 0


def _func_index(module: Any, which: str) -> int:
    """A function index from a number or an export name. Raises CliError."""
    from ..syntax.module import ExternKind

    if which.isdigit():
        return int(which)
    for e in module.exports:
        if e.name == which and e.kind is ExternKind.FUNC:
            return e.index
    raise CliError(f"no function {which!r} (give an index or an exported function name)")
