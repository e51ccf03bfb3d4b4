"""The runtime: engine, store, modules, instances and their objects.

See :mod:`wasmbox.api` for the public names.
"""
from ..config import Config
from .engine import Engine
from .func import Caller, Func
from .global_ import Global
from .instance import Instance, InstanceExports
from .linker import Linker
from .memory import Memory
from .module import Module
from .store import Store
from .table import Table
from .tag import Tag
from .types import (
    ExportType,
    FuncType,
    GlobalType,
    ImportType,
    Limits,
    MemoryType,
    TableType,
    TagType,
    ValType,
)

__all__ = [
    "Caller", "Config", "Engine", "ExportType", "Func", "FuncType", "Global", "GlobalType",
    "ImportType", "Instance", "InstanceExports", "Limits", "Linker", "Memory", "MemoryType",
    "Module", "Store", "Table", "TableType", "Tag", "TagType", "ValType",
]
