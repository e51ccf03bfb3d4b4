"""Tables of references.

A :class:`Table` owns ``elems``, a Python list of raw references (None, a
:class:`~wasmbox.runtime.func.Func`, or an externref object). Compiled code
binds the list once, so it is only ever changed in place (growing extends
it; closing the store empties it).

A table's size is bounded by its declared maximum, ``Config.max_table_elements``,
the allocator (a pool's ``table_elements``), the store's ``table_elements``
limit (:meth:`Store.set_limits`) and what is left of the store's budget for
all its tables (``Config.max_store_table_elements``; a table gives its
elements back when it is freed): a table made past one is refused,
``table.grow`` past one returns -1.

Raises :class:`~wasmbox.errors.WasmboxError` for API operations that cannot
be done (index out of bounds on ``set``, growing past the maximum),
:class:`~wasmbox.errors.InstantiationError` for a table past a limit,
:class:`TypeError` for values of the wrong type.
"""
from __future__ import annotations

from typing import Any

from ..errors import WasmboxError
from ..exec.bulk import tgrow
from ..syntax import types as st
from .store import Store, StoreState, store_state
from .types import TableType
from .values import from_raw, to_raw


class Table:
    """A table; ``Table(store, TableType(ValType.funcref(), Limits(n, m)), init)``."""

    #: ``_ct``: the element type in canonical form (see Global), for import matching
    __slots__ = ("elems", "_type", "_ct", "max", "_store", "_counted", "__weakref__")

    def __init__(self, store: Store, ty: TableType, init: Any) -> None:
        if not isinstance(store, Store):
            raise TypeError("Table(store, ty, init): expected a Store")
        if not isinstance(ty, TableType):
            raise TypeError("Table(store, ty, init): expected a TableType")
        if store.closed:
            raise WasmboxError("the store is closed")
        self._init(store._state, ty._t, to_raw(ty._t.elem, init))

    @classmethod
    def _create(cls, store: Store | StoreState, tt: st.TableType, init: Any = None,
                ct: Any = None) -> "Table":
        """A table of a module (``ct``: its canonical element type, if it names a type index)."""
        self = cls.__new__(cls)
        self._init(store_state(store), tt, init, ct)
        return self

    def _init(self, store: StoreState, tt: st.TableType, init: Any, ct: Any = None) -> None:
        self._store = store
        self._type = tt
        self._ct = tt.elem if ct is None else ct
        cap = store.config.max_table_elements
        self.max = cap if tt.limits.max is None else min(cap, tt.limits.max)
        if tt.limits.min > self.max:
            raise WasmboxError(f"table minimum of {tt.limits.min} elements exceeds the limit "
                               f"of {self.max}")
        self._counted = 0
        store._check_counts(0, 1)
        store._check_table_elements(None, tt.limits.min)
        store._check_table_budget(tt.limits.min)
        self.elems: list[Any] = []
        self.max = min(self.max, store.engine._allocator.table(store, tt.limits.min, self.elems))
        if tt.limits.min > self.max:
            raise WasmboxError(f"table minimum of {tt.limits.min} elements exceeds the limit "
                               f"of {self.max}")
        store._n_tables += 1
        store._table_elements += tt.limits.min
        self._counted = tt.limits.min
        if tt.limits.min:
            self.elems.extend([init] * tt.limits.min)

    # -- used by compiled code ------------------------------------------------
    def grow_raw(self, init: Any, delta: int) -> int:
        """table.grow: the old size, or -1 (as an unsigned value)."""
        old = len(self.elems)
        if delta > self.max - old or not self._may_grow(old + delta, delta):
            return 0xFFFFFFFFFFFFFFFF if self._type.limits.addr is st.AddrType.I64 else 0xFFFFFFFF
        if delta:
            store = self._store
            store._table_elements += delta
            self._counted += delta
            if store.config.epoch_interruption:
                tgrow(self.elems, init, delta, store.engine._epoch, store._deadline)
            else:
                tgrow(self.elems, init, delta)
        return old

    def _may_grow(self, new: int, delta: int) -> bool:
        """The store's limits allow growing by delta to new elements."""
        store = self._store
        if store._table_elements + delta > store.config.max_store_table_elements:
            return False
        lim = store._limits
        return lim is None or lim.table_elements is None or new <= lim.table_elements

    def __del__(self) -> None:
        try:
            self._store._table_elements -= self._counted
        except AttributeError:  # never finished its set-up
            pass

    # -- API ------------------------------------------------------------------
    def type(self, store: Any = None) -> TableType:
        lim = self._type.limits
        return TableType._wrap(st.TableType(st.Limits(len(self.elems), lim.max, lim.addr),
                                            self._type.elem))

    def size(self, store: Any = None) -> int:
        return len(self.elems)

    def grow(self, store: Any, amt: int, init: Any) -> int:
        """Grow by amt elements set to init; returns the old size. Raises WasmboxError."""
        if not isinstance(amt, int) or amt < 0:
            raise TypeError("Table.grow: amt must be a non-negative int")
        raw = to_raw(self._type.elem, init)
        old = len(self.elems)
        if amt > self.max - old or not self._may_grow(old + amt, amt):
            raise WasmboxError(f"failed to grow table by {amt}")
        self.elems.extend([raw] * amt)
        self._store._table_elements += amt
        self._counted += amt
        return old

    def get(self, store: Any, idx: int) -> Any:
        """The element at idx (None for null or when idx is out of bounds)."""
        if not isinstance(idx, int) or not 0 <= idx < len(self.elems):
            return None
        return from_raw(self._type.elem, self.elems[idx])

    def set(self, store: Any, idx: int, val: Any) -> None:
        """Set the element at idx. Raises WasmboxError when idx is out of bounds."""
        raw = to_raw(self._type.elem, val)
        if not isinstance(idx, int) or not 0 <= idx < len(self.elems):
            raise WasmboxError("table index out of bounds")
        self.elems[idx] = raw

    def __repr__(self) -> str:
        return f"<Table {len(self.elems)} elements>"
