"""Runtime support bound into the globals of generated code.

:data:`BASE` maps every helper name the compiler may emit to its object:
pre-bound ``struct`` methods for memory access, the numeric functions of
:mod:`wasmbox.exec.numerics` and :mod:`wasmbox.exec.numerics_simd` (named
after their instruction), the bulk
memory and table helpers below, and the trap constructors, on top of
Python's builtins. It is shared, read-only, by every instance: an
instance's code globals hold only that instance's names and use ``BASE``
as their ``__builtins__`` (names not found in the globals are looked up
there, as fast as globals), so making an instance copies nothing.

The bulk helpers (:mod:`wasmbox.exec.bulk`) follow the spec's bulk-memory
rules: bounds are checked before anything is written, and an
out-of-bounds operation traps without partial effects; they work in
bounded chunks.

Raises :class:`~wasmbox.errors.Trap` (out of bounds memory/table access,
call_indirect failures); nothing else. ``call_indirect`` compares type ids
in one test; only when that fails and the expected type may have subtypes
does :func:`ci_sub` consult the process-wide registry of supertypes.
"""
from __future__ import annotations

import builtins
import math
import struct
from typing import Any

from ..errors import Exhaustion, Thrown, Trap, TrapCode, WasmException
from ..runtime import cont as _cont
from . import numerics, numerics_simd
from .bulk import mem_copy, mem_fill, mem_init, tcopy, tfill, tinit
from .env import SUPERS

_S16 = struct.Struct("<h")
_U16 = struct.Struct("<H")
_S32 = struct.Struct("<i")
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_F64 = struct.Struct("<d")

TABLE_OOB = TrapCode.TABLE_OUT_OF_BOUNDS


# f32 loads/stores keep NaN payloads (signalling ones too); one definition.
f32_load = numerics.f32_load
f32_store = numerics.f32_store


def tget(tab: list, i: int) -> Any:
    """table.get."""
    if i >= len(tab):
        raise Trap(TABLE_OOB)
    return tab[i]


def tset(tab: list, i: int, v: Any) -> None:
    """table.set."""
    if i >= len(tab):
        raise Trap(TABLE_OOB)
    tab[i] = v


def ci_trap(tab: list, i: int, tid: int) -> Trap:
    """The trap of a failed call_indirect (never called when the call is fine)."""
    if i >= len(tab):
        return Trap(TrapCode.TABLE_OUT_OF_BOUNDS, f"undefined element {i}")
    f = tab[i]
    if f is None:
        return Trap(TrapCode.INDIRECT_CALL_TO_NULL, f"uninitialized element {i}")
    return Trap(TrapCode.BAD_SIGNATURE)


class Delegated(Exception):
    """Internal: a legacy ``delegate`` carrying ``(exception, target context)``
    past the handlers it skips (see :mod:`wasmbox.exec.exceptions`)."""


def throw_ref(v: Any) -> BaseException:
    """What ``throw_ref`` raises: the exception itself (a fresh traceback), or
    the trap "null exception reference" for null."""
    if v is None:
        return Trap(TrapCode.NULL_EXCEPTION_REFERENCE)
    return v.with_traceback(None)


def ci_sub(tab: list, i: int, tid: int) -> Any:
    """call_indirect whose type id test failed: the function instance when the
    element's type is a declared subtype of type ``tid``, else raises the
    trap :func:`ci_trap` picks. Only emitted for non-final expected types."""
    if i < len(tab):
        f = tab[i]
        if f is not None and tid in SUPERS.get(f.tid, ()):
            return f
    raise ci_trap(tab, i, tid)


class TailCall:
    """A tail call request: a function that makes tail calls returns one instead
    of calling; its driver calls ``f(*a, d)`` (see :mod:`wasmbox.exec.calls`)."""

    __slots__ = ("f", "a")

    def __init__(self, f: Any, a: tuple) -> None:
        self.f = f
        self.a = a


def new_f32_scratch() -> memoryview:
    """A one-element array of C floats: storing a double rounds it to f32.

    Each instance gets its own, so no two threads share one.
    """
    return memoryview(bytearray(4)).cast("f")


def _names() -> dict[str, Any]:
    d: dict[str, Any] = dict(vars(builtins))
    d.update({
        "U16": _U16.unpack_from,
        "S16": _S16.unpack_from,
        "U32": _U32.unpack_from,
        "S32": _S32.unpack_from,
        "U64": _U64.unpack_from,
        "S64": struct.Struct("<q").unpack_from,
        "UD": _F64.unpack_from,
        "P16": _U16.pack_into,
        "P32": _U32.pack_into,
        "P64": _U64.pack_into,
        "PD": _F64.pack_into,
        "f32_load": f32_load,
        "f32_store": f32_store,
        "mem_fill": mem_fill,
        "mem_copy": mem_copy,
        "mem_init": mem_init,
        "tget": tget,
        "tset": tset,
        "tfill": tfill,
        "tcopy": tcopy,
        "tinit": tinit,
        "ci_trap": ci_trap,
        "WX": Thrown,
        "WXE": WasmException,
        "DG": Delegated,
        "XR": throw_ref,
        "ci_sub": ci_sub,
        "C_NULL_REF": TrapCode.NULL_REFERENCE,
        "C_NULL_FREF": TrapCode.NULL_FUNCTION_REFERENCE,
        "TC": TailCall,
        "Trap": Trap,
        "Exhaustion": Exhaustion,
        "SQRT": math.sqrt,
        "C_UNREACHABLE": TrapCode.UNREACHABLE,
        "C_OOF": TrapCode.OUT_OF_FUEL,
        "C_INT": TrapCode.INTERRUPT,
        # stack switching (docs/stack-switching.md)
        "cont_new": _cont.cont_new,
        "cont_bind": _cont.cont_bind,
        "cont_resume": _cont.resume,
        "cont_resume_throw": _cont.resume_throw,
        "cont_resume_throw_ref": _cont.resume_throw_ref,
        "cont_suspend": _cont.suspend,
        "cont_switch": _cont.switch,
        "CONT_NOH": _cont.NO_HANDLERS,
    })
    for name, fn in numerics.FUNCS.items():
        d[name.replace(".", "_")] = fn
    for table in (numerics_simd.SIMD_FUNCS, numerics_simd.SIMD_MEM_FUNCS):
        for name, fn in table.items():
            d[name.replace(".", "_")] = fn
    return d


#: helper name -> object (and Python's builtins): the ``__builtins__`` of all generated code.
#: The per-instance f32 scratch ``R32`` is deliberately not here (see new_f32_scratch).
BASE: dict[str, Any] = _names()
