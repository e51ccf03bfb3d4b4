"""Wasm types: value, reference, heap, composite, sub and recursive types.

Covers Wasm 3.0 (typed function references, GC types with recursion groups
and subtyping, exceptions) plus the stack-switching proposal's ``cont`` types.

Representation choices (shared by decoder, encoder, parser and printer):

* Number and vector types are the singletons ``I32 I64 F32 F64 V128``.
* A heap type is either an :class:`AbsHeap` member (``func``, ``extern``,
  ``any`` ...) or a plain ``int``: the index of a defined type.
* A reference type is :class:`RefType`; ``FUNCREF`` and ``EXTERNREF`` are the
  nullable shorthands.
* A type section is a list of :class:`RecType` (recursion groups). A bare
  type definition is a group of one. Type indices count sub types across all
  groups in order.
* A ``SubType`` with ``final=True`` and no supertypes is the short form that
  the binary writes without a ``sub`` prefix.

Nothing here raises.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Union


class NumType(Enum):
    """Number and vector types. The value is the binary type code."""

    I32 = 0x7F
    I64 = 0x7E
    F32 = 0x7D
    F64 = 0x7C
    V128 = 0x7B

    def __repr__(self) -> str:
        return self.name.lower()

    @property
    def text(self) -> str:
        return self.name.lower()


I32 = NumType.I32
I64 = NumType.I64
F32 = NumType.F32
F64 = NumType.F64
V128 = NumType.V128


class AbsHeap(Enum):
    """Abstract heap types. The value is the binary code (a negative s33)."""

    FUNC = 0x70
    EXTERN = 0x6F
    ANY = 0x6E
    EQ = 0x6D
    I31 = 0x6C
    STRUCT = 0x6B
    ARRAY = 0x6A
    EXN = 0x69
    CONT = 0x68
    NOFUNC = 0x73
    NOEXTERN = 0x72
    NONE = 0x71
    NOEXN = 0x74
    NOCONT = 0x75

    def __repr__(self) -> str:
        return self.name.lower()

    @property
    def text(self) -> str:
        return self.name.lower()


HeapType = Union[AbsHeap, int]


@dataclass(frozen=True, slots=True)
class RefType:
    """``(ref null? heap)``. ``heap`` is an :class:`AbsHeap` or a type index."""

    nullable: bool
    heap: HeapType

    def __repr__(self) -> str:
        h = self.heap.text if isinstance(self.heap, AbsHeap) else str(self.heap)
        return f"(ref {'null ' if self.nullable else ''}{h})"


FUNCREF = RefType(True, AbsHeap.FUNC)
EXTERNREF = RefType(True, AbsHeap.EXTERN)
EXNREF = RefType(True, AbsHeap.EXN)

ValType = Union[NumType, RefType]


class PackedType(Enum):
    """Packed storage types for struct/array fields."""

    I8 = 0x78
    I16 = 0x77

    def __repr__(self) -> str:
        return self.name.lower()

    @property
    def text(self) -> str:
        return self.name.lower()


StorageType = Union[ValType, PackedType]


@dataclass(frozen=True, slots=True)
class FieldType:
    storage: StorageType
    mutable: bool = False


@dataclass(frozen=True, slots=True)
class FuncType:
    params: tuple[ValType, ...] = ()
    results: tuple[ValType, ...] = ()

    def __repr__(self) -> str:
        return f"{list(self.params)} -> {list(self.results)}"


@dataclass(frozen=True, slots=True)
class StructType:
    fields: tuple[FieldType, ...] = ()


@dataclass(frozen=True, slots=True)
class ArrayType:
    field: FieldType


@dataclass(frozen=True, slots=True)
class ContType:
    """Stack switching: ``(cont $ft)``; ``type_index`` names a function type."""

    type_index: int


CompType = Union[FuncType, StructType, ArrayType, ContType]


@dataclass(frozen=True, slots=True)
class SubType:
    comp: CompType
    final: bool = True
    supertypes: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class RecType:
    """A recursion group. A plain type definition is a group of one."""

    subtypes: tuple[SubType, ...]


class AddrType(Enum):
    """Address type of memories and tables (memory64 / table64)."""

    I32 = 0
    I64 = 1

    def __repr__(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class Limits:
    min: int
    max: int | None = None
    addr: AddrType = AddrType.I32
    shared: bool = False


@dataclass(frozen=True, slots=True)
class MemType:
    limits: Limits
    page_size_log2: int | None = None  # custom-page-sizes; None = default 64 KiB

    @property
    def page_shift(self) -> int:
        """log2 of the page size in bytes (16 unless custom-page-sizes says otherwise)."""
        return 16 if self.page_size_log2 is None else self.page_size_log2


@dataclass(frozen=True, slots=True)
class TableType:
    limits: Limits
    elem: RefType


@dataclass(frozen=True, slots=True)
class GlobalType:
    val: ValType
    mutable: bool = False


@dataclass(frozen=True, slots=True)
class TagType:
    """An exception/control tag: ``type_index`` names a function type."""

    type_index: int


def flatten_types(rectypes: list[RecType]) -> list[SubType]:
    """The type index space: every sub type of every group, in order."""
    out: list[SubType] = []
    for r in rectypes:
        out.extend(r.subtypes)
    return out
