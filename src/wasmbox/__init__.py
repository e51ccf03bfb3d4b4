"""wasmbox: a WebAssembly runtime written in Python.

The public API is re-exported here as it lands (Engine, Store, Module, ...).
"""
from .errors import (  # noqa: F401
    DecodeError,
    Exhaustion,
    ExitTrap,
    InstantiationError,
    LinkError,
    ParseError,
    Trap,
    TrapCode,
    UnsupportedFeature,
    ValidationError,
    WasmboxError,
    WasmException,
)

from .api import *  # noqa: F401,F403,E402 - the embedding API: wasmbox.api.__all__

__version__ = "0.1.0"
