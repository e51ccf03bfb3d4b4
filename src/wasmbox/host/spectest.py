"""The ``spectest`` module that the official test scripts import.

:func:`define_spectest` defines into a :class:`~wasmbox.runtime.linker.Linker`:

* functions ``print``, ``print_i32``, ``print_i64``, ``print_f32``,
  ``print_f64``, ``print_i32_f32``, ``print_f64_f64`` (raw host functions;
  they print their arguments to ``out`` when one is given, else nothing);
* immutable globals ``global_i32`` = 666, ``global_i64`` = 666,
  ``global_f32`` = 666.6, ``global_f64`` = 666.6;
* ``table``: 10 funcref elements, maximum 20;
* ``table64``: the same with i64 indices (table64, from memory64);
* ``memory``: 1 page, maximum 2.

Raises nothing beyond what the Linker raises for duplicate names.
"""
from __future__ import annotations

from typing import IO, Any, Callable

from ..exec.numerics import f32_round
from ..runtime.func import Func
from ..runtime.global_ import Global
from ..runtime.linker import Linker
from ..runtime.memory import Memory
from ..runtime.store import Store
from ..runtime.table import Table
from ..syntax import types as st

_PRINTS: dict[str, tuple[Any, ...]] = {
    "print": (),
    "print_i32": (st.I32,),
    "print_i64": (st.I64,),
    "print_f32": (st.F32,),
    "print_f64": (st.F64,),
    "print_i32_f32": (st.I32, st.F32),
    "print_f64_f64": (st.F64, st.F64),
}


def _printer(params: tuple[Any, ...], out: IO[str] | None) -> Callable[..., None]:
    names = [t.text for t in params]

    def fn(*args: Any) -> None:
        if out is not None:
            out.write(" ".join(f"{v!r} : {n}" for v, n in zip(args, names)) + "\n")

    return fn


def define_spectest(linker: Linker, store: Store, out: IO[str] | None = None) -> None:
    """Define the spectest module (see the module docstring) in linker, for store."""
    for name, params in _PRINTS.items():
        f = Func.raw_host(store, st.FuncType(params, ()), _printer(params, out))
        linker.define(store, "spectest", name, f)
    globals_ = {
        "global_i32": (st.I32, 666),
        "global_i64": (st.I64, 666),
        "global_f32": (st.F32, f32_round(666.6)),
        "global_f64": (st.F64, 666.6),
    }
    for name, (t, v) in globals_.items():
        linker.define(store, "spectest", name, Global._create(store, st.GlobalType(t, False), v))
    table = Table._create(store, st.TableType(st.Limits(10, 20), st.FUNCREF))
    linker.define(store, "spectest", "table", table)
    table64 = Table._create(store, st.TableType(st.Limits(10, 20, st.AddrType.I64), st.FUNCREF))
    linker.define(store, "spectest", "table64", table64)
    memory = Memory._create(store, st.MemType(st.Limits(1, 2)))
    linker.define(store, "spectest", "memory", memory)
