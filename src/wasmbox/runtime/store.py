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

Raises :class:`~wasmbox.errors.Trap`, :class:`~wasmbox.errors.Exhaustion`,
or whatever a host function raised.
"""
from __future__ import annotations

import struct
import sys
import threading
from typing import Any, Callable

from ..errors import Exhaustion, Trap, TrapCode, WasmboxError
from .config import Config
from .engine import Engine

#: Python frames allowed on top of max_call_depth (helpers, host code)
FRAME_MARGIN = 500


class HostError(Exception):
    """Internal: carries an exception raised by a host function through Wasm frames."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(repr(exc))
        self.exc = exc


class Store:
    """Owns instances and their objects; ``Store(engine=None, data=None)``."""

    def __init__(self, engine: Engine | None = None, data: Any = None) -> None:
        if engine is None:
            engine = Engine()
        if not isinstance(engine, Engine):
            raise TypeError("Store(engine): expected a wasmbox Engine")
        self.engine = engine
        self.config: Config = engine.config
        self._data = data
        self._host_funcs: dict[int, Any] = {}  # Linker.define_func cache

    def data(self) -> Any:
        """The user data given at construction."""
        return self._data

    def set_data(self, data: Any) -> None:
        self._data = data


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
    except ZeroDivisionError:  # pragma: no cover - numerics checks divisors
        raise Trap(TrapCode.INTEGER_DIVISION_BY_ZERO) from None
    finally:
        _tls.depth = depth
        if saved > 0:
            sys.setrecursionlimit(saved)
