"""The Linker: imports resolved by (module, name), then instantiation.

Items are defined per store (:meth:`Linker.define`,
:meth:`Linker.define_instance`) or store-independently
(:meth:`Linker.define_func`, :meth:`Linker.define_raw_func`: a host function
made on demand in each store that instantiates through the linker).

Raises :class:`~wasmbox.errors.LinkError` ("unknown import: ...") when an
import has no definition, :class:`~wasmbox.errors.WasmboxError` when a name
is defined twice without ``allow_shadowing``, and what
:class:`~wasmbox.runtime.instance.Instance` raises.
"""
from __future__ import annotations

from typing import Any, Callable

from ..errors import LinkError, WasmboxError
from .engine import Engine
from .func import Func
from .global_ import Global
from .instance import Instance
from .memory import Memory
from .module import Module
from .store import Store
from .table import Table
from .tag import Tag
from .types import FuncType

_EXTERNS = (Func, Memory, Table, Global, Tag)


class _HostDef:
    """A store-independent host function definition."""

    __slots__ = ("ty", "func", "access_caller", "raw")

    def __init__(self, ty: FuncType, func: Callable[..., Any], access_caller: bool, raw: bool) -> None:
        self.ty = ty
        self.func = func
        self.access_caller = access_caller
        self.raw = raw

    def in_store(self, store: Store) -> Func:
        cache = store._state._host_funcs
        f = cache.get(id(self))
        if f is None:
            if self.raw:
                f = Func.raw_host(store, self.ty, self.func)
            else:
                f = Func(store, self.ty, self.func, self.access_caller)
            cache[id(self)] = f
        return f


class Linker:
    """Resolves imports by name; ``Linker(engine)``."""

    def __init__(self, engine: Engine) -> None:
        if not isinstance(engine, Engine):
            raise TypeError("Linker(engine): expected a wasmbox Engine")
        self.engine = engine
        self._defs: dict[tuple[str, str], Any] = {}
        self._allow_shadowing = False

    @property
    def allow_shadowing(self) -> bool:
        """Whether a later definition may replace an earlier one (default False)."""
        return self._allow_shadowing

    @allow_shadowing.setter
    def allow_shadowing(self, allow: bool) -> None:
        self._allow_shadowing = bool(allow)

    def _put(self, module: str, name: str, item: Any) -> None:
        if not isinstance(module, str) or not isinstance(name, str):
            raise TypeError("module and name must be str")
        key = (module, name)
        if key in self._defs and not self._allow_shadowing:
            raise WasmboxError(f"import of `{module}::{name}` defined twice")
        self._defs[key] = item

    def define(self, store: Store, module: str, name: str, item: Any) -> None:
        """Define an item (Func, Memory, Table, Global or Tag) under module::name."""
        if not isinstance(item, _EXTERNS):
            raise TypeError(f"Linker.define: expected a Func, Memory, Table, Global or Tag, "
                            f"got {type(item).__name__}")
        self._put(module, name, item)

    def define_func(self, module: str, name: str, ty: FuncType, func: Callable[..., Any],
                    access_caller: bool = False) -> None:
        """Define a host function taking/returning API values, usable in any store."""
        if not isinstance(ty, FuncType):
            raise TypeError("Linker.define_func: expected a FuncType")
        if not callable(func):
            raise TypeError("Linker.define_func: func must be callable")
        self._put(module, name, _HostDef(ty, func, access_caller, False))

    def define_raw_func(self, module: str, name: str, ty: FuncType,
                        func: Callable[..., Any]) -> None:
        """Define a host function taking/returning raw values (see Func.raw_host)."""
        if not callable(func):
            raise TypeError("Linker.define_raw_func: func must be callable")
        self._put(module, name, _HostDef(ty, func, False, True))

    def define_allocator(self, module: str = "env", malloc: str = "ext_allocator_malloc_version_1",
                         free: str = "ext_allocator_free_version_1", **options: Any) -> Any:
        """Give guests a host-managed heap: define ``module.malloc: (i32) -> i32``
        and ``module.free: (i32) -> ()`` backed by a freeing-bump allocator in
        the calling instance's memory.

        Returns the :class:`~wasmbox.host.alloc.AllocatorRegistry`; host code
        gets an instance's allocator with ``registry.for_instance(store,
        instance)`` to pass data in and out. ``options`` (``heap_base``,
        ``memory``, ``heap_base_export``, ``registry``) are described in
        :func:`wasmbox.host.alloc.define_allocator`. Raises what
        :meth:`define_func` raises (e.g. a name defined twice).
        """
        from ..host.alloc import define_allocator

        return define_allocator(self, module, malloc, free, **options)

    def define_wasi(self) -> None:
        """Define the implemented ``wasi_snapshot_preview1`` functions (see
        :mod:`wasmbox.host.wasi`); a store gives them their arguments, environment
        and stdio with ``Store.set_wasi(WasiConfig)``. Raises WasmboxError when
        one is already defined (without allow_shadowing).
        """
        from ..host.wasi import define_wasi

        define_wasi(self)

    def define_instance(self, store: Store, name: str, instance: Instance) -> None:
        """Define every export of instance under the module name ``name``."""
        if not isinstance(instance, Instance):
            raise TypeError("Linker.define_instance: expected an Instance")
        for ename, item in instance.exports(store).items():
            self._put(name, ename, item)

    def define_module(self, store: Store, name: str, module: Module) -> None:
        """Instantiate module through this linker and define its exports as ``name``."""
        self.define_instance(store, name, self.instantiate(store, module))

    def get(self, store: Store, module: str, name: str) -> Any:
        """The item defined as module::name. Raises LinkError if there is none."""
        item = self._defs.get((module, name))
        if item is None:
            raise LinkError(f"unknown import: `{module}::{name}` has not been defined")
        if isinstance(item, _HostDef):
            return item.in_store(store)
        return item

    def instantiate(self, store: Store, module: Module) -> Instance:
        """Resolve module's imports and instantiate it.

        Raises LinkError ("unknown import", "incompatible import type"),
        Trap, Exhaustion.
        """
        if not isinstance(module, Module):
            raise TypeError("Linker.instantiate: expected a Module")
        items = [self.get(store, imp.module, imp.name) for imp in module.syntax.imports]
        return Instance(store, module, items)
