"""Function instances: Wasm functions and host functions, one class for both.

A :class:`Func` *is* the function instance: a funcref value in a table or a
global is the Func object itself. Its attribute ``call`` is the raw callable
used by compiled code (raw arguments and then the caller's remaining stack
budget in, see :mod:`wasmbox.runtime.depth`; None / one raw value / a tuple
of raw values out), ``tail`` its *tail entry* (what a tail call runs: the
same as ``call`` except for a Wasm function that makes tail calls itself,
whose body returns tail call requests to the driver of the chain, see
:mod:`wasmbox.exec.calls`) and ``tid`` its canonical type id (for
``call_indirect``).

* ``Func(store, ty, callable, access_caller=False)`` wraps a Python callable
  taking and returning API values (signed ints, floats, Func/None/objects);
  with ``access_caller`` it gets a :class:`Caller` first.
* :meth:`Func.raw_host` wraps a callable that takes and returns raw values
  (used by the spectest module and by embedders that want no conversion).
* Wasm functions are made by instantiation.

Calling: ``f(store, *args)`` (API values; 0 results -> None, 1 -> the value,
more -> a list) and :meth:`Func.call_raw` (raw values in a list, raw values
out in a list) -- the path for exact, bit-level comparisons.

Raises :class:`TypeError` for arguments that do not fit the function type,
:class:`~wasmbox.errors.Trap` / :class:`~wasmbox.errors.Exhaustion` from
running Wasm, and whatever a host function raised.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

from ..errors import WasmboxError
from ..exec.env import functype_id
from ..syntax import types as st
from .store import HostError, Store, StoreState, call_wasm, store_state
from .types import FuncType
from .values import from_raw, raw_check, to_raw


def host_type_id(ft: st.FuncType) -> int:
    """Canonical type id of a function type given structurally."""
    return functype_id(ft)


class Caller:
    """What a host function defined with ``access_caller=True`` receives first.

    ``caller.get(name)`` / ``caller[name]`` look up an export of the calling
    instance (None / KeyError when there is none or no Wasm caller).
    """

    __slots__ = ("_instance",)

    def __init__(self, instance: Any) -> None:
        self._instance = instance

    def get(self, name: str) -> Any:
        if self._instance is None:
            return None
        return self._instance._exports.get(name)

    def __getitem__(self, name: str) -> Any:
        v = self.get(name)
        if v is None:
            raise KeyError(f"failed to find export {name}")
        return v


class Func:
    """A function instance (see the module docstring)."""

    __slots__ = ("call", "tail", "tid", "_ft", "_store", "_index", "_host", "_access_caller",
                 "_raw", "__weakref__")

    def __init__(self, store: Store, ty: FuncType, func: Callable[..., Any],
                 access_caller: bool = False) -> None:
        if not isinstance(store, Store):
            raise TypeError("Func(store, ...): expected a Store")
        state = store._state
        if not isinstance(ty, FuncType):
            raise TypeError("Func(store, ty, ...): expected a FuncType")
        if not callable(func):
            raise TypeError("Func(store, ty, func): func must be callable")
        self._ft = ty._ft
        self.tid = host_type_id(ty._ft)
        self._store = state
        self._index = -1
        self._host = func
        self._access_caller = bool(access_caller)
        self._raw = False
        self.call = self.tail = _host_wrapper(state, self._ft, func, self._access_caller, None)

    # -- other constructors ---------------------------------------------------
    @classmethod
    def raw_host(cls, store: Store | StoreState, ty: FuncType | st.FuncType,
                 fn: Callable[..., Any], access_caller: bool = False) -> "Func":
        """A host function taking and returning raw values (see the module docstring).

        With ``access_caller`` it gets a :class:`Caller` first (bound once
        per importing instance, so a call costs no more than without).
        Exceptions it raises other than wasmbox errors reach the caller of
        the outermost Wasm function unchanged.
        """
        ft = ty._ft if isinstance(ty, FuncType) else ty
        self = cls.__new__(cls)
        self._ft = ft
        self.tid = host_type_id(ft)
        self._store = state = store_state(store)
        self._index = -1
        self._host = fn
        self._access_caller = bool(access_caller)
        self._raw = True
        if access_caller:
            self.call = self.tail = _raw_wrapper(state, fn, Caller(None))
        else:
            self.call = self.tail = _raw_wrapper(state, fn)
        return self

    @classmethod
    def _wasm(cls, store: StoreState, index: int, ft: st.FuncType, tid: int) -> "Func":
        """Function index of an instance (which binds ``call``; the Func keeps no
        reference to the instance, so that an instance's objects form no cycle)."""
        self = cls.__new__(cls)
        self._ft = ft
        self.tid = tid
        self._store = store
        self._index = index
        self._host = None
        self._access_caller = False
        self._raw = False
        self.call = self.tail = None
        return self

    def _call_for(self, instance: Any) -> Callable[..., Any]:
        """The raw callable to bind in an importing instance's code."""
        if self._host is not None and self._access_caller:
            if self._raw:
                return _raw_wrapper(self._store, self._host, Caller(instance))
            return _host_wrapper(self._store, self._ft, self._host, True, instance)
        return self.call

    # -- API ------------------------------------------------------------------
    def type(self, store: Store | None = None) -> FuncType:
        return FuncType._wrap(self._ft)

    def _check_store(self, store: Any) -> None:
        if isinstance(store, Store):
            if store._state is not self._store:
                raise WasmboxError("the function belongs to another store")
        elif not isinstance(store, Caller):
            raise TypeError("expected a Store as the first argument")

    def __call__(self, store: Store, *params: Any) -> Any:
        """Call with API values; returns None, one value, or a list."""
        self._check_store(store)
        ft = self._ft
        if len(params) != len(ft.params):
            raise TypeError(f"expected {len(ft.params)} arguments, got {len(params)}")
        raw = [to_raw(t, v) for t, v in zip(ft.params, params)]
        res = call_wasm(self._store, self.call, raw)
        n = len(ft.results)
        if n == 0:
            return None
        if n == 1:
            return from_raw(ft.results[0], res)
        return [from_raw(t, v) for t, v in zip(ft.results, res)]

    def call_raw(self, store: Store, args: list[Any]) -> list[Any]:
        """Call with raw values; returns the raw results as a list.

        Raw values: unsigned ints for i32/i64, floats (f32 in the f32
        representation), None/Func/object for references. Raises TypeError
        for a wrong number or kind of arguments.
        """
        self._check_store(store)
        ft = self._ft
        if len(args) != len(ft.params):
            raise TypeError(f"expected {len(ft.params)} arguments, got {len(args)}")
        raw = [raw_check(t, v) for t, v in zip(ft.params, args)]
        res = call_wasm(self._store, self.call, raw)
        n = len(ft.results)
        if n == 0:
            return []
        if n == 1:
            return [_norm(ft.results[0], res)]
        return [_norm(t, v) for t, v in zip(ft.results, res)]

    def __repr__(self) -> str:
        kind = "host" if self._host is not None else f"wasm #{self._index}"
        return f"<Func {kind} {self._ft!r}>"


def _norm(t: Any, v: Any) -> Any:
    if (t is st.I32 or t is st.I64) and type(v) is not int:
        return int(v)
    return v


def _raw_wrapper(store: StoreState, fn: Callable[..., Any],
                 caller: Caller | None = None) -> Callable[..., Any]:
    if caller is not None:  # the Caller goes first (partial: C-level, no extra frame)
        fn = partial(fn, caller)

    def call(*args: Any) -> Any:
        saved = store._budget
        store._budget = args[-1]  # a call back into Wasm continues from the caller's budget
        try:
            return fn(*args[:-1])
        except (WasmboxError, RecursionError, HostError):
            raise
        except Exception as e:  # noqa: BLE001 - carried to the host unchanged
            raise HostError(e) from None
        finally:
            store._budget = saved

    return call


def _host_wrapper(store: StoreState, ft: st.FuncType, fn: Callable[..., Any], access_caller: bool,
                  instance: Any) -> Callable[..., Any]:
    ptypes = ft.params
    rtypes = ft.results
    nres = len(rtypes)

    def call(*args: Any) -> Any:
        saved = store._budget
        store._budget = args[-1]  # a call back into Wasm continues from the caller's budget
        try:
            vals = [from_raw(t, a) for t, a in zip(ptypes, args)]
            if access_caller:
                res = fn(Caller(instance), *vals)
            else:
                res = fn(*vals)
            if nres == 0:
                return None
            if nres == 1:
                return to_raw(rtypes[0], res)
            if not isinstance(res, (list, tuple)) or len(res) != nres:
                raise TypeError(f"host function must return {nres} values")
            return tuple(to_raw(t, v) for t, v in zip(rtypes, res))
        except (WasmboxError, RecursionError, HostError):
            raise
        except Exception as e:  # noqa: BLE001 - carried to the host unchanged
            raise HostError(e) from None
        finally:
            store._budget = saved

    return call
