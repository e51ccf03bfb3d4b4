"""Binding the WASI functions into a Linker as ``wasi_snapshot_preview1``.

Each function is a raw host function with the caller (see
:meth:`wasmbox.runtime.func.Func.raw_host`): per call it finds the store's
:class:`~wasmbox.host.wasi.config.WasiCtx` and the calling instance's
exported ``memory`` and runs the implementation on the memory's current
bytes. A :class:`~wasmbox.host.wasi.guestmem.Fault` becomes EFAULT, a
:class:`~wasmbox.host.wasi.fdtable.WasiError` or sandbox refusal its errno
a host OSError its WASI errno, and a value the host call cannot take
(OverflowError, ValueError: a 64-bit offset past the host's off_t) EINVAL,
as in wasmtime; nothing else is caught.

All 46 functions of preview1 are defined (:data:`FUNCS`); a name outside
it fails to link with "unknown import".

Raises (at call time) :class:`~wasmbox.errors.Trap` when the caller exports
no memory, :class:`~wasmbox.errors.WasmboxError` when the store has no WASI
configuration (:meth:`Store.set_wasi`), :class:`~wasmbox.errors.ExitTrap`
from ``proc_exit``.
"""
from __future__ import annotations

from typing import Any, Callable

from ...errors import Trap, TrapCode, WasmboxError
from ...runtime.linker import Linker, _HostDef
from ...runtime.types import FuncType, ValType
from . import args, clocks, fds, paths, poll, proc
from .errno import EFAULT, EINVAL, from_oserror
from .fdtable import WasiError
from .guestmem import Fault
from .sandbox import WasiPathError

WASI_MODULE = "wasi_snapshot_preview1"

#: the implemented functions: name -> (param letters: i = i32, I = i64; function)
FUNCS: dict[str, tuple[str, Callable[..., Any]]] = {
    **args.FUNCS, **clocks.FUNCS, **fds.FUNCS, **paths.FUNCS, **poll.FUNCS, **proc.FUNCS,
}

_VT = {"i": ValType.i32, "I": ValType.i64}


def _bind(state: Any, fn: Callable[..., Any]) -> Callable[..., Any]:
    """fn(ctx, memory bytes, *raw args) as a raw host function with the caller."""

    def call(caller: Any, *a: Any) -> Any:
        ctx = state._wasi
        if ctx is None:
            raise WasmboxError("WASI is not configured for this store (Store.set_wasi)")
        inst = caller._instance
        mem = inst._exports.get("memory") if inst is not None else None
        buf = getattr(mem, "buf", None)  # one property read per call
        if buf is None:
            raise Trap(TrapCode.HOST, "missing required memory export")
        try:
            return fn(ctx, buf, *a)
        except Fault:
            return EFAULT
        except (WasiError, WasiPathError) as e:
            return int(e.errno)
        except (OverflowError, ValueError):  # an offset or size the host cannot take
            return EINVAL
        except OSError as e:
            return from_oserror(e)

    return call


class _WasiDef(_HostDef):
    """A WASI function definition: bound to each store's WASI context."""

    __slots__ = ("impl",)

    def __init__(self, ty: FuncType, impl: Callable[..., Any]) -> None:
        super().__init__(ty, impl, True, True)
        self.impl = impl

    def in_store(self, store: Any) -> Any:
        from ...runtime.func import Func

        cache = store._state._host_funcs
        f = cache.get(id(self))
        if f is None:
            f = Func.raw_host(store, self.ty, _bind(store._state, self.impl),
                              access_caller=True)
            cache[id(self)] = f
        return f


def define_wasi(linker: Linker) -> None:
    """Define every implemented preview1 function in linker. Raises what
    Linker.define_func raises (a name defined twice)."""
    for name, (params, impl) in FUNCS.items():
        results = [] if name == "proc_exit" else [ValType.i32()]
        ty = FuncType([_VT[c]() for c in params], results)
        linker._put(WASI_MODULE, name, _WasiDef(ty, impl))
