"""wasmbox: a WebAssembly runtime written in Python.

The public API is re-exported here as it lands (Engine, Store, Module, ...).
"""
from .errors import (  # noqa: F401
    DecodeError,
    Exhaustion,
    InstantiationError,
    LinkError,
    ParseError,
    Trap,
    TrapCode,
    UnsupportedFeature,
    ValidationError,
    WasmboxError,
)

from .api import (  # noqa: F401,E402
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

__version__ = "0.1.0"
