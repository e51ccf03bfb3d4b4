"""The Store, and the one boundary every call from the host into Wasm crosses.

:func:`call_wasm` is that boundary. It

* raises Python's recursion limit so that :attr:`Config.max_call_depth`
  nested Wasm calls fit (each Wasm call is one Python frame; Python calls
  between generated functions use no C stack), and restores it afterwards;
* bounds host -> Wasm -> host re-entries (each one does use C stack);
* turns what generated code raises into the spec's errors: ``struct.error``
  and ``IndexError`` (a memory access out of bounds) into
  :class:`~wasmbox.errors.Trap` "out of bounds memory access",
  ``RecursionError`` into :class:`~wasmbox.errors.Exhaustion`
  "call stack exhausted"; an exception raised by a host function is
  re-raised as it was.

The store also holds the limits of :meth:`Store.set_limits` (checked when
an instance, memory or table is made and on every grow) and the
allocator's bookkeeping for its instances; :meth:`Store.close` gives
everything back (pool slots are wiped and reused) and is also done when the
store is garbage collected.

Raises :class:`~wasmbox.errors.Trap`, :class:`~wasmbox.errors.Exhaustion`,
or whatever a host function raised; :class:`~wasmbox.errors.WasmboxError`
for a call into a closed store; :class:`~wasmbox.errors.InstantiationError`
for an instance, memory or table past a limit.
"""
from __future__ import annotations

import struct
import sys
import threading
import weakref
from typing import Any, Callable, Sequence

from ..errors import Exhaustion, InstantiationError, Trap, TrapCode, WasmboxError
from ..config import Config
from .engine import Engine

#: Python frames allowed on top of max_call_depth (helpers, host code)
FRAME_MARGIN = 500


class HostError(Exception):
    """Internal: carries an exception raised by a host function through Wasm frames."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(repr(exc))
        self.exc = exc


class StoreLimits:
    """The limits of :meth:`Store.set_limits` (None = no limit)."""

    __slots__ = ("memory_size", "table_elements", "instances", "tables", "memories")

    def __init__(self, memory_size: int | None = None, table_elements: int | None = None,
                 instances: int | None = None, tables: int | None = None,
                 memories: int | None = None) -> None:
        self.memory_size = memory_size
        self.table_elements = table_elements
        self.instances = instances
        self.tables = tables
        self.memories = memories

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__)
        return f"StoreLimits({opts})"


def _limit(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"Store.set_limits: {name} must be an int or None")
    return None if value < 0 else value


class Store:
    """Owns instances and their objects; ``Store(engine=None, data=None)``.

    Usable as a context manager: leaving the ``with`` block closes it.
    """

    def __init__(self, engine: Engine | None = None, data: Any = None) -> None:
        if engine is None:
            engine = Engine()
        if not isinstance(engine, Engine):
            raise TypeError("Store(engine): expected a wasmbox Engine")
        self.engine = engine
        self.config: Config = engine.config
        self._data = data
        self._host_funcs: dict[int, Any] = {}  # Linker.define_func cache
        self._limits: StoreLimits | None = None
        self._n_instances = 0
        self._n_memories = 0
        self._n_tables = 0
        self._alloc_state: Any = None  # the allocator's bookkeeping (runtime.alloc)
        #: weak references to the instances made here, torn down by close()
        #: (weak: an instance the host drops is freed as before). Not a WeakSet:
        #: making one costs ~3 us, on the path of every short-lived store.
        self._instances: list[weakref.ref] = []
        self._prune_at = 64
        self._closed = False

    def data(self) -> Any:
        """The user data given at construction."""
        return self._data

    def set_data(self, data: Any) -> None:
        self._data = data

    # -- limits ---------------------------------------------------------------
    def set_limits(self, memory_size: int | None = None, table_elements: int | None = None,
                   instances: int | None = None, tables: int | None = None,
                   memories: int | None = None) -> None:
        """Limit what this store may hold (wasmtime-py's names and meaning).

        * ``memory_size``: bytes any one linear memory may have. A module
          whose memory starts larger fails to instantiate
          (InstantiationError); ``memory.grow`` past it returns -1.
        * ``table_elements``: elements any one table may have (the same two
          rules).
        * ``instances``, ``tables``, ``memories``: how many of each may be
          made in this store (instantiation past them fails).

        Each call replaces all five; None (or a negative number, as in
        wasmtime-py) means no limit, the default. Raises TypeError.
        """
        self._limits = StoreLimits(_limit("memory_size", memory_size),
                                   _limit("table_elements", table_elements),
                                   _limit("instances", instances), _limit("tables", tables),
                                   _limit("memories", memories))

    @property
    def limits(self) -> StoreLimits:
        """The current limits."""
        return self._limits if self._limits is not None else StoreLimits()

    def _admit(self, mem_min_bytes: Sequence[int], table_mins: Sequence[int]) -> None:
        """Before an instance allocates anything: check every limit, reserve slots.

        Raises WasmboxError (closed store), InstantiationError (a limit).
        """
        if self._closed:
            raise WasmboxError("the store is closed")
        lim = self._limits
        if lim is not None:
            if lim.instances is not None and self._n_instances >= lim.instances:
                raise InstantiationError(f"instance limit of {lim.instances} reached "
                                         f"(Store.set_limits instances={lim.instances})")
            self._check_counts(len(mem_min_bytes), len(table_mins))
            for i, b in enumerate(mem_min_bytes):
                self._check_memory_size(i, b)
            for i, n in enumerate(table_mins):
                self._check_table_elements(i, n)
        self.engine._allocator.admit(self, mem_min_bytes, table_mins)
        self._n_instances += 1

    def _check_counts(self, memories: int, tables: int) -> None:
        lim = self._limits
        if lim is None:
            return
        if lim.memories is not None and self._n_memories + memories > lim.memories:
            raise InstantiationError(f"memory limit of {lim.memories} reached "
                                     f"(Store.set_limits memories={lim.memories})")
        if lim.tables is not None and self._n_tables + tables > lim.tables:
            raise InstantiationError(f"table limit of {lim.tables} reached "
                                     f"(Store.set_limits tables={lim.tables})")

    def _check_memory_size(self, index: int | None, min_bytes: int) -> None:
        lim = self._limits
        if lim is not None and lim.memory_size is not None and min_bytes > lim.memory_size:
            what = "a memory" if index is None else f"memory {index}"
            raise InstantiationError(f"{what} needs {min_bytes} bytes initially, more "
                                     f"than the store allows (Store.set_limits "
                                     f"memory_size={lim.memory_size})")

    def _check_table_elements(self, index: int | None, n: int) -> None:
        lim = self._limits
        if lim is not None and lim.table_elements is not None and n > lim.table_elements:
            what = "a table" if index is None else f"table {index}"
            raise InstantiationError(f"{what} needs {n} elements initially, more than "
                                     f"the store allows (Store.set_limits "
                                     f"table_elements={lim.table_elements})")

    # -- the end --------------------------------------------------------------
    def close(self) -> None:
        """Give back everything the store holds; calling it again does nothing.

        Every memory is detached: instances of this store see empty memories
        (accesses trap), host views from ``Memory.buffer`` are released, and
        with the pooling allocator the slots are wiped and reused. Calls
        into the store's functions raise WasmboxError afterwards (a call
        that is running when a host function closes the store ends with
        that error too), and each instance's code is unbound, so that its
        objects are freed at once rather than by the cycle collector. Done
        automatically when the store is garbage collected.
        """
        if self._closed:
            return
        self._closed = True
        state = self._alloc_state
        if state is not None:
            state.close()
        instances, self._instances = self._instances, []
        for ref in instances:
            inst = ref()
            if inst is not None:
                inst._teardown()

    def _track(self, instance: Any) -> None:
        """Remember an instance for close() (dead entries pruned, amortised O(1))."""
        refs = self._instances
        if len(refs) >= self._prune_at:
            refs[:] = [r for r in refs if r() is not None]
            self._prune_at = max(64, 2 * len(refs))
        refs.append(weakref.ref(instance))

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


_tls = threading.local()


def _python_depth() -> int:
    f = sys._getframe(1)
    n = 0
    while f is not None:
        n += 1
        f = f.f_back
    return n


_MEM_OOB = TrapCode.MEMORY_OUT_OF_BOUNDS


def call_wasm(store: Store, fn: Callable[..., Any], args: Any) -> Any:
    """Call raw callable fn(*args) from the host (see the module docstring)."""
    if store._closed:
        raise WasmboxError("the store is closed")
    depth = getattr(_tls, "depth", 0)
    cfg = store.config
    saved = -1
    if depth == 0:
        saved = sys.getrecursionlimit()
        need = _python_depth() + cfg.max_call_depth + FRAME_MARGIN
        if need > saved:
            sys.setrecursionlimit(need)
    elif depth >= cfg.max_host_reentry:
        raise Exhaustion()
    _tls.depth = depth + 1
    try:
        return fn(*args)
    except WasmboxError:
        raise
    except RecursionError:
        raise Exhaustion() from None
    except (struct.error, IndexError):
        raise Trap(_MEM_OOB) from None
    except HostError as e:
        raise e.exc from None
    except NameError:  # the code's globals were torn down by a close() from a host function
        if store._closed:
            raise WasmboxError("the store was closed during the call") from None
        raise
    except ZeroDivisionError:  # pragma: no cover - numerics checks divisors
        raise Trap(TrapCode.INTEGER_DIVISION_BY_ZERO) from None
    finally:
        _tls.depth = depth
        if saved > 0:
            sys.setrecursionlimit(saved)
