"""Global variables.

A :class:`Global` holds its raw value in ``raw``; compiled code reads and
writes ``g<i>.raw`` for mutable globals and binds immutable ones by value.

Raises :class:`~wasmbox.errors.WasmboxError` when setting an immutable
global through the API, :class:`TypeError` for values of the wrong type.
"""
from __future__ import annotations

from typing import Any

from ..errors import WasmboxError
from ..syntax import types as st
from .store import Store, StoreState, store_state
from .types import GlobalType
from .values import from_raw, to_raw


class Global:
    """A global; ``Global(store, GlobalType(ValType.i32(), True), 5)``."""

    #: ``_ct``: the value type in canonical form (type indices as canonical
    #: ids, see wasmbox.exec.env.canon_valtype), for import matching
    __slots__ = ("raw", "_type", "_ct", "_store", "__weakref__")

    def __init__(self, store: Store, ty: GlobalType, val: Any) -> None:
        if not isinstance(store, Store):
            raise TypeError("Global(store, ty, val): expected a Store")
        if not isinstance(ty, GlobalType):
            raise TypeError("Global(store, ty, val): expected a GlobalType")
        self._store = store._state
        self._type = ty._t
        self._ct = ty._t.val
        self.raw = to_raw(ty._t.val, val)

    @classmethod
    def _create(cls, store: Store | StoreState, gt: st.GlobalType, raw: Any,
                ct: Any = None) -> "Global":
        """A global of a module (``ct``: its canonical value type, if it names a type index)."""
        self = cls.__new__(cls)
        self._store = store_state(store)
        self._type = gt
        self._ct = gt.val if ct is None else ct
        self.raw = raw
        return self

    def type(self, store: Any = None) -> GlobalType:
        return GlobalType._wrap(self._type)

    def value(self, store: Any = None) -> Any:
        """The value (signed ints, floats, Func/None/object)."""
        return from_raw(self._type.val, self.raw)

    def set_value(self, store: Any, val: Any) -> None:
        """Set the value. Raises WasmboxError for an immutable global."""
        if not self._type.mutable:
            raise WasmboxError("cannot set the value of an immutable global")
        self.raw = to_raw(self._type.val, val)

    def __repr__(self) -> str:
        return f"<Global {self._type!r} = {self.raw!r}>"
