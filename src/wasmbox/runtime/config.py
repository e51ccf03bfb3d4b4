"""Every tunable and limit of the runtime, each documented with its default.

:class:`Config` follows wasmtime's style: one object, one property per
option, set before the :class:`~wasmbox.runtime.engine.Engine` is made.

Raises :class:`ValueError` for an option set to a value out of its range,
:class:`TypeError` for a value of the wrong type.
"""
from __future__ import annotations


class Config:
    """Runtime options (see each attribute for its default and trade-off)."""

    def __init__(self) -> None:
        #: Maximum depth of nested Wasm calls before "call stack exhausted".
        #: Default 10_000. Each Wasm call is one Python frame; wasmbox raises
        #: Python's recursion limit to (current depth + this + a margin) for
        #: the duration of a call from the host, so a deeper setting costs
        #: memory (a frame with many locals is large), never a crash.
        self.max_call_depth: int = 10_000
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
        #: Compile functions on their first call (True, the default) or when
        #: the module is instantiated (False). Lazy compilation makes loading
        #: fast; eager compilation moves the cost to instantiation.
        self.lazy_compile: bool = True
        #: Validate modules before use. Default True. Turning it off is only
        #: safe for modules that are known to be valid (the compiler assumes
        #: validity).
        self.validate: bool = True

    def __setattr__(self, name: str, value: object) -> None:
        if name in ("max_call_depth", "max_host_reentry", "max_memory_pages", "max_table_elements"):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"Config.{name} must be an int")
            if value < 1:
                raise ValueError(f"Config.{name} must be at least 1")
            if name == "max_memory_pages" and value > 65536:
                raise ValueError("Config.max_memory_pages must be at most 65536")
        elif name in ("lazy_compile", "validate"):
            if not isinstance(value, bool):
                raise TypeError(f"Config.{name} must be a bool")
        else:
            raise AttributeError(f"unknown Config option {name!r}")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"Config({opts})"
