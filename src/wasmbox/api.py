"""The embedding API, with wasmtime-py's names and call shapes.

Everything here is re-exported from :mod:`wasmbox`::

    from wasmbox import Engine, Store, Module, Linker, Instance, Func, FuncType, ValType

    engine = Engine()
    store = Store(engine)
    module = Module(engine, wasm_bytes_or_wat_text)
    linker = Linker(engine)
    linker.define_func("env", "log", FuncType([ValType.i32()], []), print)
    instance = linker.instantiate(store, module)
    result = instance.exports(store)["run"](store, 10)

Raw-value path (for exact, bit-level work such as the spec runner):
``Func.call_raw(store, args) -> list`` and ``Func.raw_host(store, ty, fn)``;
``Global.raw``, ``Table.elems``, ``Memory.buf`` hold raw values/bytes. See
:mod:`wasmbox.runtime.values` for the raw representation.

Nothing here raises on import.
"""
from .runtime import (  # noqa: F401
    Caller,
    Config,
    Engine,
    ExportType,
    Func,
    FuncType,
    Global,
    GlobalType,
    ImportType,
    Instance,
    InstanceExports,
    Limits,
    Linker,
    Memory,
    MemoryType,
    Module,
    Store,
    Table,
    TableType,
    ValType,
)

__all__ = [
    "Caller", "Config", "Engine", "ExportType", "Func", "FuncType", "Global", "GlobalType",
    "ImportType", "Instance", "InstanceExports", "Limits", "Linker", "Memory", "MemoryType",
    "Module", "Store", "Table", "TableType", "ValType",
]
