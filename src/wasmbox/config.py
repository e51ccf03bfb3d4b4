"""Every tunable and limit of the runtime, each documented with its default.

:class:`Config` follows wasmtime's style: one object, one property per
option, set before the :class:`~wasmbox.runtime.engine.Engine` is made
(the engine reads it once; changing a config afterwards does not change an
engine made from it). Options can also be given as keywords:
``Config(allocation_strategy=PoolingAllocationConfig(total_memories=10))``.

:class:`PoolingAllocationConfig` holds the limits of the pooling instance
allocator (see :mod:`wasmbox.runtime.alloc.pooling`).

Raises :class:`ValueError` for an option set to a value out of its range,
:class:`TypeError` for a value of the wrong type, :class:`AttributeError`
for an unknown option.
"""
from __future__ import annotations

import sys
from typing import Any

#: 4 GiB: the whole 32-bit address space
GIB4 = 1 << 32
#: a 64-bit host can reserve 4 GiB per memory; a 32-bit one cannot
_BIG_HOST = sys.maxsize > GIB4

_INT_OPTIONS = ("max_host_reentry", "max_memory_pages", "max_table_elements",
                "max_store_table_elements", "max_store_continuations")
_SIZE_OPTIONS = ("memory_reservation", "memory_reservation_for_growth", "max_wasm_stack")
_BOOL_OPTIONS = ("lazy_compile", "validate", "memory_may_move", "wasm_custom_page_sizes",
                 "wasm_stack_switching", "consume_fuel", "epoch_interruption")

#: default of Config.max_wasm_stack: 2 MiB
DEFAULT_MAX_WASM_STACK = 2 << 20


def _check_int(owner: str, name: str, value: object, low: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{owner}.{name} must be an int")
    if value < low:
        raise ValueError(f"{owner}.{name} must be at least {low}")


class PoolingAllocationConfig:
    """Limits of the pooling instance allocator (wasmtime's names and meaning).

    Every slot is made once, on first use, and then reused: instantiating
    takes a free slot in O(1), closing the store that owns the instance
    wipes what the tenant dirtied and returns the slot. A module that does
    not fit the limits below is refused before anything is allocated.
    """

    def __init__(self, **options: Any) -> None:
        #: Instances that can be alive at once, over all stores of the
        #: engine. Default 1000. Instantiating past it raises
        #: InstantiationError (the pool is exhausted; nothing waits).
        self.total_core_instances: int = 1000
        #: Linear memories that can be alive at once (each one a slot with a
        #: reserved mapping of max_memory_size bytes). Default 1000.
        self.total_memories: int = 1000
        #: Tables that can be alive at once. Default 1000.
        self.total_tables: int = 1000
        #: Bytes reserved for each memory slot: the most any pooled memory
        #: can grow to. Default 4 GiB (1 GiB on 32-bit hosts). Address space
        #: is reserved lazily per slot, physical memory only when touched.
        #: A memory whose initial size is larger is refused; memory.grow
        #: past it returns -1.
        self.max_memory_size: int = GIB4 if _BIG_HOST else 1 << 30
        #: Memories one module may define. Default 1.
        self.max_memories_per_module: int = 1
        #: Tables one module may define. Default 1.
        self.max_tables_per_module: int = 1
        #: Elements any pooled table may hold. Default 20_000. A table whose
        #: initial size is larger is refused; table.grow past it returns -1.
        self.table_elements: int = 20_000
        #: Free slots that keep their mapping ("warm", ready to reuse with no
        #: system call). Default 100. Past this, the least recently used free
        #: slot gives its mapping back to the system ("cold"); it is mapped
        #: again on its next use.
        self.max_unused_warm_slots: int = 100
        for name, value in options.items():
            setattr(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("total_core_instances", "total_memories", "total_tables",
                    "max_memories_per_module", "max_tables_per_module", "table_elements",
                    "max_unused_warm_slots"):
            _check_int("PoolingAllocationConfig", name, value, 0)
        elif name == "max_memory_size":
            _check_int("PoolingAllocationConfig", name, value, 0)
            if value > sys.maxsize:  # type: ignore[operator]
                raise ValueError("PoolingAllocationConfig.max_memory_size does not fit this host")
        else:
            raise AttributeError(f"unknown PoolingAllocationConfig option {name!r}")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"PoolingAllocationConfig({opts})"


class Config:
    """Runtime options (see each attribute for its default and trade-off)."""

    def __init__(self, **options: Any) -> None:
        #: Bytes of stack a call from the host may use before "call stack
        #: exhausted" (wasmtime's option of the same name). Default 2 MiB.
        #: Each Wasm frame is reckoned at 96 bytes plus 16 per Python local
        #: variable of its generated function (the Wasm parameters, the
        #: locals the body uses, operand-stack slots and temporaries): an
        #: estimate of what CPython's frame and the values it holds take,
        #: so a function with 50,000 locals costs 800 KB and recursion with
        #: it ends after a few frames, while a small function (about 200
        #: bytes) can recurse some 10,000 deep. The budget belongs to the
        #: caller: each store and thread counts its own (a host function
        #: that calls back into Wasm continues with what its caller had
        #: left). ``wasmbox.runtime.depth`` holds the rule and the constants.
        self.max_wasm_stack: int = DEFAULT_MAX_WASM_STACK
        #: Charge fuel for running Wasm, as wasmtime does (default False):
        #: one unit per operator (none for ``nop``, ``drop``, ``block``,
        #: ``loop``, ``end``, ``else``, ``return``, ``unreachable``), one at
        #: each function entry, and for bulk operations one more per byte,
        #: element or page they touch. Fuel is set with
        #: :meth:`Store.set_fuel` (a new store has none) and checked at
        #: function entry and loop headers (and after a bulk operation of
        #: more than 128 units); running out traps with
        #: ``TrapCode.OUT_OF_FUEL``. Costs time only when on (measured in
        #: the README).
        self.consume_fuel: bool = False
        #: Interrupt Wasm by epochs, as wasmtime does (default False):
        #: :meth:`Engine.increment_epoch` (from any thread or a signal
        #: handler) advances the engine's epoch, and a store whose deadline
        #: (:meth:`Store.set_epoch_deadline`, 0 in a new store) has been
        #: reached traps with ``TrapCode.INTERRUPT`` at the next function
        #: entry, loop header or chunk of a bulk operation. Costs time only
        #: when on.
        self.epoch_interruption: bool = False
        #: Maximum nesting of host -> Wasm -> host -> Wasm ... re-entries.
        #: Default 200. Each re-entry uses some C stack; past this the call
        #: traps with "call stack exhausted" instead of risking the process.
        self.max_host_reentry: int = 200
        #: Upper bound on any linear memory, in 64 KiB pages, on top of the
        #: memory's own maximum. Default 65536 (4 GiB, the Wasm 2.0 limit).
        #: ``memory.grow`` past it returns -1.
        self.max_memory_pages: int = 65536
        #: Upper bound on the number of elements of any table. Default
        #: 10_000_000. ``table.grow`` past it returns -1.
        self.max_table_elements: int = 10_000_000
        #: Upper bound on the elements of all tables of one store together
        #: (those alive: a table freed gives its elements back). Default
        #: 10_000_000, which is 80 MB of references: each element is a
        #: Python reference, paid for when the table is made, so without
        #: this a 638-byte module declaring 100 tables of 10M elements costs
        #: the host 8 GB. Instantiating past it raises InstantiationError
        #: before anything is allocated; ``table.grow`` past it returns -1.
        self.max_store_table_elements: int = 10_000_000
        #: Upper bound on the continuations (stack switching) of one store
        #: that have been made and have not finished or been dropped.
        #: Default 100_000: a suspended continuation keeps its stack, about
        #: 8 KiB of host memory here, so this bounds them to about 0.8 GB.
        #: ``cont.new`` past it traps ("too many live continuations").
        self.max_store_continuations: int = 100_000
        #: Compile functions on their first call (True, the default) or when
        #: the module is instantiated (False). Lazy compilation makes loading
        #: fast; eager compilation moves the cost to instantiation.
        self.lazy_compile: bool = True
        #: Validate modules before use. Default True. Turning it off is only
        #: safe for modules that are known to be valid (the compiler assumes
        #: validity).
        self.validate: bool = True
        #: How instances, memories and tables are allocated: ``"on-demand"``
        #: (the default: each memory gets its own mapping when it is made,
        #: freed with it) or a :class:`PoolingAllocationConfig` (or
        #: ``"pooling"`` for one with the defaults): slots made once and
        #: reused, wiped between tenants. See :mod:`wasmbox.runtime.alloc`.
        self.allocation_strategy: str | PoolingAllocationConfig = "on-demand"
        #: Bytes of address space reserved for a linear memory made on
        #: demand. Default 4 GiB on 64-bit hosts (256 MiB on 32-bit ones).
        #: A memory whose maximum (declared, or the Wasm limit) fits gets a
        #: reserved ("static") heap of exactly its maximum: growing only
        #: makes more of it accessible -- O(1), no copy, nothing moves. A
        #: memory whose maximum does not fit (memory64 without a maximum, or
        #: a smaller setting here) gets a dynamic heap, see the next two
        #: options. Reservations cost address space, not memory: pages are
        #: given by the system, zeroed, when first touched.
        self.memory_reservation: int = GIB4 if _BIG_HOST else 256 << 20
        #: Extra bytes mapped after a dynamic heap's current size, so that it
        #: can grow that far without moving. Default 2 GiB on 64-bit hosts
        #: (16 MiB on 32-bit ones). Growing past it moves the memory: a new
        #: mapping, one copy of the current bytes, and every host view of
        #: the old bytes is released.
        self.memory_reservation_for_growth: int = (2 << 30) if _BIG_HOST else 16 << 20
        #: Whether a dynamic heap may move when it grows past its mapping.
        #: Default True. With False, a memory never moves: it can only grow
        #: within ``max(memory_reservation, its initial size)``, and
        #: ``memory.grow`` past that returns -1.
        self.memory_may_move: bool = True
        #: Enable the custom-page-sizes proposal (memories with 1-byte
        #: pages). Default False, as in wasmtime: without it a module that
        #: declares a page size is refused -- a binary one as malformed
        #: (limits flag bit 3 is not defined in Wasm 2.0), a text one as
        #: invalid.
        self.wasm_custom_page_sizes: bool = False
        #: Enable the stack-switching proposal (continuation types, ``cont.new``,
        #: ``resume``, ``suspend``, ``switch`` ..., and tags with results).
        #: Default False, as in wasmtime: without it such a module is invalid,
        #: with a message naming this option.
        self.wasm_stack_switching: bool = False
        for name, value in options.items():
            setattr(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        if name in _INT_OPTIONS:
            _check_int("Config", name, value, 1)
            if name == "max_memory_pages" and value > 65536:  # type: ignore[operator]
                raise ValueError("Config.max_memory_pages must be at most 65536")
        elif name in _SIZE_OPTIONS:
            _check_int("Config", name, value, 1 if name == "max_wasm_stack" else 0)
            if value > sys.maxsize:  # type: ignore[operator]
                raise ValueError(f"Config.{name} does not fit this host")
        elif name in _BOOL_OPTIONS:
            if not isinstance(value, bool):
                raise TypeError(f"Config.{name} must be a bool")
        elif name == "allocation_strategy":
            if value == "pooling":
                value = PoolingAllocationConfig()
            elif value != "on-demand" and not isinstance(value, PoolingAllocationConfig):
                raise ValueError("Config.allocation_strategy must be 'on-demand', 'pooling' "
                                 "or a PoolingAllocationConfig")
        else:
            raise AttributeError(f"unknown Config option {name!r}")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"Config({opts})"
