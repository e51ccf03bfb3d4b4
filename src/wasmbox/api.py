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

Allocation and limits: ``Config(allocation_strategy=PoolingAllocationConfig(...))``
selects the pooling allocator (``engine.pooling_allocator_metrics()`` ->
:class:`PoolingAllocatorMetrics`); ``store.set_limits(...)`` (see
:class:`StoreLimits`) and ``store.close()``.

Nothing here raises on import.
"""
from . import runtime as _runtime
from .runtime import *  # noqa: F401,F403 - the names of runtime.__all__
from .runtime.alloc import PoolingAllocatorMetrics
from .config import PoolingAllocationConfig
from .runtime.store import StoreLimits
from .host.wasi.config import DirPerms, FilePerms, WasiConfig

#: The public names, re-exported by :mod:`wasmbox`: the runtime's objects
#: and types (``wasmbox.runtime.__all__``) and the allocation/limits types.
__all__ = [
    *_runtime.__all__,
    "PoolingAllocationConfig", "PoolingAllocatorMetrics", "StoreLimits", "WasiConfig", "DirPerms", "FilePerms",
]
