"""Types of the embedding API, with wasmtime-py's names and shapes.

:class:`ValType`, :class:`FuncType`, :class:`GlobalType`, :class:`Limits`,
:class:`MemoryType`, :class:`TableType`, :class:`TagType`, :class:`ImportType` and
:class:`ExportType` wrap the structures of :mod:`wasmbox.syntax.types`
(available as ``._t``/``._ft``) so users never handle those directly.

Raises :class:`TypeError` for arguments of the wrong type and
:class:`ValueError` for limits out of range.
"""
from __future__ import annotations

from typing import Any, Union

from ..syntax import types as st


class ValType:
    """A value type: ``ValType.i32()``, ``.i64()``, ``.f32()``, ``.f64()``,
    ``.v128()``, ``.funcref()``, ``.externref()``."""

    __slots__ = ("_t",)

    def __init__(self, t: Any) -> None:
        self._t = t

    @classmethod
    def i32(cls) -> "ValType":
        return cls(st.I32)

    @classmethod
    def i64(cls) -> "ValType":
        return cls(st.I64)

    @classmethod
    def f32(cls) -> "ValType":
        return cls(st.F32)

    @classmethod
    def f64(cls) -> "ValType":
        return cls(st.F64)

    @classmethod
    def v128(cls) -> "ValType":
        return cls(st.V128)

    @classmethod
    def funcref(cls) -> "ValType":
        return cls(st.FUNCREF)

    @classmethod
    def externref(cls) -> "ValType":
        return cls(st.EXTERNREF)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValType) and self._t == other._t

    def __hash__(self) -> int:
        return hash(self._t)

    def __str__(self) -> str:
        t = self._t
        if isinstance(t, st.NumType):
            return t.text
        if t == st.FUNCREF:
            return "funcref"
        if t == st.EXTERNREF:
            return "externref"
        return repr(t)

    def __repr__(self) -> str:
        return str(self)


def _vt(v: Any) -> ValType:
    if not isinstance(v, ValType):
        raise TypeError(f"expected a ValType, got {type(v).__name__}")
    return v


class FuncType:
    """``FuncType(params, results)``: lists of :class:`ValType`."""

    __slots__ = ("_ft",)

    def __init__(self, params: list[ValType], results: list[ValType]) -> None:
        self._ft = st.FuncType(tuple(_vt(p)._t for p in params), tuple(_vt(r)._t for r in results))

    @classmethod
    def _wrap(cls, ft: st.FuncType) -> "FuncType":
        obj = cls.__new__(cls)
        obj._ft = ft
        return obj

    @property
    def params(self) -> list[ValType]:
        return [ValType(t) for t in self._ft.params]

    @property
    def results(self) -> list[ValType]:
        return [ValType(t) for t in self._ft.results]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FuncType) and self._ft == other._ft

    def __hash__(self) -> int:
        return hash(self._ft)

    def __repr__(self) -> str:
        return f"FuncType({self.params}, {self.results})"


class Limits:
    """``Limits(min, max)``; ``max`` may be None (no maximum)."""

    __slots__ = ("min", "max")

    def __init__(self, min: int, max: int | None = None) -> None:  # noqa: A002 - wasmtime's names
        if not isinstance(min, int) or (max is not None and not isinstance(max, int)):
            raise TypeError("Limits(min, max): ints expected")
        if min < 0 or (max is not None and max < min):
            raise ValueError("Limits: need 0 <= min <= max")
        self.min = min
        self.max = max

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Limits) and (self.min, self.max) == (other.min, other.max)

    def __hash__(self) -> int:
        return hash((self.min, self.max))

    def __repr__(self) -> str:
        return f"Limits({self.min}, {self.max})"


class GlobalType:
    """``GlobalType(valtype, mutable)``; ``.content`` and ``.mutable``."""

    __slots__ = ("_t",)

    def __init__(self, valtype: ValType, mutable: bool) -> None:
        self._t = st.GlobalType(_vt(valtype)._t, bool(mutable))

    @classmethod
    def _wrap(cls, t: st.GlobalType) -> "GlobalType":
        obj = cls.__new__(cls)
        obj._t = t
        return obj

    @property
    def content(self) -> ValType:
        return ValType(self._t.val)

    @property
    def mutable(self) -> bool:
        return self._t.mutable

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GlobalType) and self._t == other._t

    def __hash__(self) -> int:
        return hash(self._t)

    def __repr__(self) -> str:
        return f"GlobalType({self.content}, mutable={self.mutable})"


class MemoryType:
    """``MemoryType(limits, is_64=False)``; limits in 64 KiB pages."""

    __slots__ = ("_t",)

    def __init__(self, limits: Limits, is_64: bool = False) -> None:
        if not isinstance(limits, Limits):
            raise TypeError("MemoryType(limits): expected Limits")
        addr = st.AddrType.I64 if is_64 else st.AddrType.I32
        cap = 1 << 48 if is_64 else 1 << 16
        if limits.min > cap or (limits.max is not None and limits.max > cap):
            raise ValueError("memory size must be at most 65536 pages (4GiB)")
        self._t = st.MemType(st.Limits(limits.min, limits.max, addr))

    @classmethod
    def _wrap(cls, t: st.MemType) -> "MemoryType":
        obj = cls.__new__(cls)
        obj._t = t
        return obj

    @property
    def limits(self) -> Limits:
        return Limits(self._t.limits.min, self._t.limits.max)

    @property
    def is_64(self) -> bool:
        return self._t.limits.addr is st.AddrType.I64

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MemoryType) and self._t == other._t

    def __hash__(self) -> int:
        return hash(self._t)

    def __repr__(self) -> str:
        return f"MemoryType({self.limits})"


class TableType:
    """``TableType(valtype, limits)``; ``.element`` and ``.limits``."""

    __slots__ = ("_t",)

    def __init__(self, valtype: ValType, limits: Limits) -> None:
        t = _vt(valtype)._t
        if not isinstance(t, st.RefType):
            raise TypeError("TableType: the element type must be a reference type")
        if not isinstance(limits, Limits):
            raise TypeError("TableType(valtype, limits): expected Limits")
        self._t = st.TableType(st.Limits(limits.min, limits.max), t)

    @classmethod
    def _wrap(cls, t: st.TableType) -> "TableType":
        obj = cls.__new__(cls)
        obj._t = t
        return obj

    @property
    def element(self) -> ValType:
        return ValType(self._t.elem)

    @property
    def limits(self) -> Limits:
        return Limits(self._t.limits.min, self._t.limits.max)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TableType) and self._t == other._t

    def __hash__(self) -> int:
        return hash(self._t)

    def __repr__(self) -> str:
        return f"TableType({self.element}, {self.limits})"


class TagType:
    """``TagType(functype)``: the type of a tag; ``.functype`` (no results)."""

    __slots__ = ("_ft",)

    def __init__(self, functype: FuncType) -> None:
        if not isinstance(functype, FuncType):
            raise TypeError("TagType(functype): expected a FuncType")
        if functype._ft.results:
            raise ValueError("TagType: a tag's function type has no results")
        self._ft = functype._ft

    @classmethod
    def _wrap(cls, ft: st.FuncType) -> "TagType":
        obj = cls.__new__(cls)
        obj._ft = ft
        return obj

    @property
    def functype(self) -> FuncType:
        return FuncType._wrap(self._ft)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TagType) and self._ft == other._ft

    def __hash__(self) -> int:
        return hash(("tag", self._ft))

    def __repr__(self) -> str:
        return f"TagType({self.functype!r})"


ExternType = Union[FuncType, GlobalType, MemoryType, TableType, TagType]


class ImportType:
    """One import of a module: ``.module``, ``.name``, ``.type``."""

    __slots__ = ("module", "name", "type")

    def __init__(self, module: str, name: str, type: ExternType) -> None:  # noqa: A002
        self.module = module
        self.name = name
        self.type = type

    def __repr__(self) -> str:
        return f"ImportType({self.module!r}, {self.name!r}, {self.type!r})"


class ExportType:
    """One export of a module: ``.name``, ``.type``."""

    __slots__ = ("name", "type")

    def __init__(self, name: str, type: ExternType) -> None:  # noqa: A002
        self.name = name
        self.type = type

    def __repr__(self) -> str:
        return f"ExportType({self.name!r}, {self.type!r})"
