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

__version__ = "0.1.0"
