"""The Store, and the one boundary every call from the host into Wasm crosses.

:func:`call_wasm` is that boundary. It

* gives the call its stack budget (``Config.max_wasm_stack``, or what is
  left of it when a host function called from Wasm calls back in) and makes
  sure Python's recursion limit leaves room for it (:mod:`wasmbox.runtime.depth`);
* bounds host -> Wasm -> host re-entries (each one does use C stack);
* turns what generated code raises into the spec's errors: ``struct.error``
  and ``IndexError`` (a memory access out of bounds) into
  :class:`~wasmbox.errors.Trap` "out of bounds memory access",
  ``RecursionError`` into :class:`~wasmbox.errors.Exhaustion`
  "call stack exhausted"; an exception raised by a host function is
  re-raised as it was.

The store also holds the limits of :meth:`Store.set_limits` (checked when
an instance, memory or table is made and on every grow), its fuel and epoch
deadline (``Config.consume_fuel``, ``Config.epoch_interruption``; the
generated code reads them from cells shared by the store's instances, see
:mod:`wasmbox.exec.interrupt`), and the allocator's bookkeeping for its
instances; :meth:`Store.close` gives everything back (pool slots are wiped
and reused) and is also done when the store is garbage collected.

A store must not run Wasm in two threads at once (as in wasmtime); two
stores in two threads never see each other's budget, fuel or limits.

Raises :class:`~wasmbox.errors.Trap`, :class:`~wasmbox.errors.Exhaustion`,
or whatever a host function raised; :class:`~wasmbox.errors.WasmboxError`
for a call into a closed store or fuel asked of a store without it;
:class:`~wasmbox.errors.InstantiationError` for an instance, memory or
table past a limit.
"""
from __future__ import annotations

import struct
import threading
import types
import weakref
from typing import Any, Callable, Sequence

from ..errors import Exhaustion, InstantiationError, Trap, TrapCode, WasmboxError
from ..config import Config
from . import depth as _depth
from .engine import Engine

#: the most fuel a store can hold (wasmtime's is a u64)
MAX_FUEL = (1 << 64) - 1


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


class StoreState:
    """Everything a store holds (its instances, limits, fuel, allocator state).

    Every object of the store (instances, functions, memories, tables,
    globals) refers to this, never to the user's :class:`Store` handle, so
    that the handle is freed -- and closes the store -- as soon as the user
    drops it, whatever cycles the store's objects form among themselves.
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
        self._wasi: Any = None  # the WASI context (Store.set_wasi, host/wasi/config.py)
        self._limits: StoreLimits | None = None
        self._n_instances = 0
        self._n_memories = 0
        self._n_tables = 0
        #: elements of this store's live tables (Config.max_store_table_elements)
        self._table_elements = 0
        #: continuations made here that have not finished (Config.max_store_continuations)
        self._continuations = 0
        self._alloc_state: Any = None  # the allocator's bookkeeping (runtime.alloc)
        #: weak references to the instances made here, torn down by close()
        #: (weak: an instance the host drops is freed as before). Not a WeakSet:
        #: making one costs ~3 us, on the path of every short-lived store.
        self._instances: list[weakref.ref] = []
        self._prune_at = 64
        self._closed = False
        cfg = self.config
        #: the stack budget a call from the host starts with (see runtime.depth);
        #: a host function called from Wasm sets it to what its caller had left
        self._budget: int = cfg.max_wasm_stack
        self._frames = _depth.frames_for(cfg.max_wasm_stack, cfg.max_host_reentry)
        #: remaining fuel (may go below 0 by the cost of the last operations,
        #: as in wasmtime; get_fuel() shows 0 then) and the epoch deadline:
        #: cells that compiled code reads and writes directly
        self._fuel = types.CellType(0)
        self._deadline = types.CellType(0)
        #: the cells generated code closes over, by its free variable names
        self._cells = {"u": self._fuel, "ep": engine._epoch, "dl": self._deadline}

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
        wasmtime-py) means no limit, the default. The engine's Config bounds
        every store whatever these say: ``max_memory_pages`` (65536),
        ``max_table_elements`` (10M per table), ``max_store_table_elements``
        (10M for all tables together), ``max_wasm_stack`` (2 MiB per call),
        ``max_store_continuations`` (100,000 unfinished continuations).
        Raises TypeError.
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
        if table_mins:
            self._check_table_budget(sum(table_mins))
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

    def _check_table_budget(self, n: int) -> None:
        """Whether ``n`` more table elements fit the store's budget. Raises
        InstantiationError naming Config.max_store_table_elements."""
        cap = self.config.max_store_table_elements
        if self._table_elements + n > cap:
            raise InstantiationError(
                f"the tables need {n} elements, but the tables of a store may hold {cap} in all and "
                f"{self._table_elements} are in use (Config.max_store_table_elements)")

    def _check_table_elements(self, index: int | None, n: int) -> None:
        lim = self._limits
        if lim is not None and lim.table_elements is not None and n > lim.table_elements:
            what = "a table" if index is None else f"table {index}"
            raise InstantiationError(f"{what} needs {n} elements initially, more than "
                                     f"the store allows (Store.set_limits "
                                     f"table_elements={lim.table_elements})")

    # -- interruption -----------------------------------------------------------
    def set_fuel(self, fuel: int) -> None:
        """Give the store ``fuel`` units (replacing what is left), as wasmtime-py.

        Raises WasmboxError if the engine's config does not consume fuel,
        TypeError/ValueError for a value that is not an int in [0, 2**64).
        """
        if not self.config.consume_fuel:
            raise WasmboxError("fuel is not configured in this store "
                               "(Config.consume_fuel is False)")
        if not isinstance(fuel, int) or isinstance(fuel, bool):
            raise TypeError("Store.set_fuel: fuel must be an int")
        if not 0 <= fuel <= MAX_FUEL:
            raise ValueError("Store.set_fuel: fuel must be in [0, 2**64)")
        self._fuel.cell_contents = fuel

    def get_fuel(self) -> int:
        """The fuel left (0 once it ran out). Raises WasmboxError without fuel."""
        if not self.config.consume_fuel:
            raise WasmboxError("fuel is not configured in this store "
                               "(Config.consume_fuel is False)")
        return max(0, self._fuel.cell_contents)

    def set_epoch_deadline(self, ticks_beyond_current: int) -> None:
        """Trap (``TrapCode.INTERRUPT``) once the engine's epoch is ``ticks``
        past its current value, as wasmtime-py. A new store's deadline is 0:
        with ``Config.epoch_interruption`` on, its calls trap at once until
        this is called. Raises TypeError/ValueError for a negative or non-int.
        """
        if not isinstance(ticks_beyond_current, int) or isinstance(ticks_beyond_current, bool):
            raise TypeError("Store.set_epoch_deadline: ticks must be an int")
        if ticks_beyond_current < 0:
            raise ValueError("Store.set_epoch_deadline: ticks must not be negative")
        self._deadline.cell_contents = self.engine._epoch.cell_contents + ticks_beyond_current

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
        automatically when the Store object is dropped.
        """
        self._close(True)

    def _close(self, wait: bool) -> None:
        """close(); ``wait=False`` when the Store was dropped (see AllocState.close)."""
        if self._closed:
            return
        self._closed = True
        state = self._alloc_state
        if state is not None:
            state.close(wait)
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


class Store:
    """Owns instances and their objects; ``Store(engine=None, data=None)``.

    The store's objects live as long as it does: closing it (:meth:`close`,
    leaving a ``with`` block, or dropping the last reference to the Store)
    frees them and gives pool slots back at once. (A host function that
    refers to its own Store object keeps it alive until the cycle collector
    runs; :meth:`close` is the deterministic way.) A store must not run Wasm
    in two threads at once.
    """

    __slots__ = ("_state", "__weakref__")

    def __init__(self, engine: Engine | None = None, data: Any = None) -> None:
        self._state = StoreState(engine, data)

    @property
    def engine(self) -> Engine:
        return self._state.engine

    @property
    def config(self) -> Config:
        return self._state.config

    def data(self) -> Any:
        """The user data given at construction."""
        return self._state._data

    def set_data(self, data: Any) -> None:
        self._state._data = data

    def set_limits(self, memory_size: int | None = None, table_elements: int | None = None,
                   instances: int | None = None, tables: int | None = None,
                   memories: int | None = None) -> None:
        self._state.set_limits(memory_size, table_elements, instances, tables, memories)

    set_limits.__doc__ = StoreState.set_limits.__doc__

    @property
    def limits(self) -> StoreLimits:
        """The current limits."""
        return self._state.limits

    def set_wasi(self, config: Any) -> None:
        """Give this store's WASI guests what ``config`` (a WasiConfig) grants.

        Replaces an earlier configuration (closing the files it opened).
        Raises TypeError for another kind of object, WasmboxError when a
        configured file cannot be opened.
        """
        from ..host.wasi.config import WasiCtx

        ctx = WasiCtx(config)
        if self._state.config.epoch_interruption:  # poll_oneoff's sleeps notice it
            ctx.epoch = (self.engine._epoch, self._state._deadline)
        old, self._state._wasi = self._state._wasi, ctx
        if old is not None:
            old.fds.close_all()

    def set_fuel(self, fuel: int) -> None:
        self._state.set_fuel(fuel)

    set_fuel.__doc__ = StoreState.set_fuel.__doc__

    def get_fuel(self) -> int:
        return self._state.get_fuel()

    get_fuel.__doc__ = StoreState.get_fuel.__doc__

    def set_epoch_deadline(self, ticks_beyond_current: int) -> None:
        self._state.set_epoch_deadline(ticks_beyond_current)

    set_epoch_deadline.__doc__ = StoreState.set_epoch_deadline.__doc__

    def close(self) -> None:
        self._state.close()

    close.__doc__ = StoreState.close.__doc__

    @property
    def closed(self) -> bool:
        return self._state._closed

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._state.close()

    def __del__(self) -> None:
        try:
            self._state._close(False)
        except Exception:  # noqa: BLE001 - at interpreter exit the runtime may be half gone
            pass

    def __repr__(self) -> str:
        return f"<Store {'closed' if self._state._closed else 'open'}>"


def store_state(store: Any) -> StoreState:
    """The state behind a :class:`Store` (a StoreState is its own). Raises TypeError."""
    if isinstance(store, Store):
        return store._state
    if isinstance(store, StoreState):
        return store
    raise TypeError(f"expected a wasmbox Store, got {type(store).__name__}")


class _Local(threading.local):
    #: host -> Wasm re-entry depth of this thread (a class default: reading it
    #: never misses, which runtime/cont.py does at every resume)
    depth = 0


_tls = _Local()
_MEM_OOB = TrapCode.MEMORY_OUT_OF_BOUNDS


def call_wasm(store: StoreState, fn: Callable[..., Any], args: Any) -> Any:
    """Call raw callable fn(*args, budget) from the host (see the module docstring)."""
    if store._closed:
        raise WasmboxError("the store is closed")
    depth = getattr(_tls, "depth", 0)
    if depth == 0:
        _depth.enter(store._frames)
    elif depth >= store.config.max_host_reentry:
        raise Exhaustion()
    _tls.depth = depth + 1
    try:
        return fn(*args, store._budget)
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
        if depth == 0:
            _depth.leave()
