"""The module structure: plain dataclasses for instructions and module fields.

Instructions are kept *flat*, exactly as in the binary format: a function
body is a list of :class:`Instr` in which ``block``/``loop``/``if``/``try``/
``try_table`` open a construct, ``else``/``catch``/``catch_all`` separate its
parts, and ``end`` (or legacy ``delegate``) closes it. The final ``end`` of a
body or a constant expression is *not* stored.

``Instr.op`` is the instruction's name in :mod:`wasmbox.syntax.opcodes`;
``Instr.imm`` holds its immediates in the order given by that table. The
kinds of immediate and their Python values:

=========== ===================================================================
kind        value
=========== ===================================================================
bt          block type: ``None`` (empty), a ValType, or an int (type index)
label ...   plain ints for every index kind (label func type table mem local
            global tag elem data field) and for ``lane`` and ``u32``
labels      ``tuple[int, ...]`` (br_table targets; the default is a ``label``)
memarg      :class:`MemArg` (align as log2, offset, memory index)
i32 i64     signed Python ints (``i32.const -1``, never ``0xFFFFFFFF``)
f32 f64     the IEEE bit pattern as an unsigned int (NaN payloads survive)
v128        the 128-bit little-endian value as an unsigned int
shuffle     ``tuple`` of 16 lane indices
heap        a heap type (AbsHeap or type index)
valtypes    ``tuple`` of ValTypes (typed ``select``)
castflags   int (bit 0: first type nullable, bit 1: second type nullable)
catches     ``tuple`` of :class:`Catch` (``try_table``)
handlers    ``tuple`` of :class:`Handler` (``resume``/``resume_throw*``)
=========== ===================================================================

``Func.locals`` is a :class:`~wasmbox.syntax.locals.Locals` (run-length
encoded, never expanded); assigning a list of ValTypes converts it.

Nothing here raises.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple, Union

from .locals import Locals
from .types import (
    GlobalType,
    MemType,
    RecType,
    RefType,
    TableType,
    TagType,
)


class Instr(NamedTuple):
    op: str
    imm: tuple[Any, ...] = ()

    def __repr__(self) -> str:
        if not self.imm:
            return self.op
        return f"{self.op} {' '.join(map(repr, self.imm))}"


class MemArg(NamedTuple):
    align: int  # log2 of the alignment
    offset: int
    mem: int = 0


class Catch(NamedTuple):
    """A ``try_table`` clause. ``kind`` is one of CATCH_KINDS; tag is None for catch_all*."""

    kind: str
    tag: int | None
    label: int


CATCH_KINDS = ("catch", "catch_ref", "catch_all", "catch_all_ref")  # binary codes 0..3


class Handler(NamedTuple):
    """A stack-switching handler: ``(on tag label)``, or ``(on tag switch)`` when label is None."""

    tag: int
    label: int | None


Expr = list[Instr]


class ExternKind(Enum):
    """Kinds of imports and exports; the value is the binary code."""

    FUNC = 0
    TABLE = 1
    MEM = 2
    GLOBAL = 3
    TAG = 4

    @property
    def text(self) -> str:
        return "memory" if self is ExternKind.MEM else self.name.lower()


ImportDesc = Union[int, TableType, MemType, GlobalType, TagType]


@dataclass
class Import:
    """``desc`` is a type index for functions, else the entity's type."""

    module: str
    name: str
    kind: ExternKind
    desc: ImportDesc


@dataclass
class Export:
    name: str
    kind: ExternKind
    index: int


class _LocalsField:
    """A dataclass field that stores any iterable of ValTypes as :class:`Locals`."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr = "_" + name

    def __get__(self, obj: object, objtype: type | None = None) -> Locals:
        if obj is None:
            return _NO_LOCALS  # the dataclass default
        return getattr(obj, self.attr)

    def __set__(self, obj: object, value: Any) -> None:
        setattr(obj, self.attr, value if isinstance(value, Locals) else Locals(value))


_NO_LOCALS = Locals()


@dataclass
class Func:
    """A defined function. ``locals`` are the declared locals (not the
    parameters), as runs; a plain list of ValTypes is accepted and converted."""

    type_index: int
    locals: Locals = _LocalsField()  # type: ignore[assignment]
    body: Expr = field(default_factory=list)


@dataclass
class Table:
    type: TableType
    init: Expr | None = None  # Wasm 3.0 tables with an initialiser expression


@dataclass
class Memory:
    type: MemType


@dataclass
class Global:
    type: GlobalType
    init: Expr


@dataclass
class Tag:
    type: TagType


@dataclass
class Elem:
    """An element segment. ``init`` holds one constant expression per element.

    ``mode`` is "active", "passive" or "declarative"; ``table`` and
    ``offset`` are meaningful only when active.
    """

    type: RefType
    init: list[Expr]
    mode: str = "passive"
    table: int = 0
    offset: Expr | None = None


@dataclass
class Data:
    """A data segment; ``mode`` is "active" or "passive"."""

    init: bytes
    mode: str = "passive"
    mem: int = 0
    offset: Expr | None = None


@dataclass
class Custom:
    """A custom section kept verbatim. ``after`` is the id of the last
    non-custom section before it (0 when it comes first)."""

    name: str
    data: bytes
    after: int = 0


@dataclass
class Names:
    """The decoded ``name`` custom section (and the identifiers of a text module).

    ``locals``/``labels``/``fields`` map an outer index to an inner map.
    """

    module: str | None = None
    funcs: dict[int, str] = field(default_factory=dict)
    locals: dict[int, dict[int, str]] = field(default_factory=dict)
    labels: dict[int, dict[int, str]] = field(default_factory=dict)
    types: dict[int, str] = field(default_factory=dict)
    tables: dict[int, str] = field(default_factory=dict)
    mems: dict[int, str] = field(default_factory=dict)
    globals: dict[int, str] = field(default_factory=dict)
    elems: dict[int, str] = field(default_factory=dict)
    datas: dict[int, str] = field(default_factory=dict)
    fields: dict[int, dict[int, str]] = field(default_factory=dict)
    tags: dict[int, str] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return not any(getattr(self, f) for f in self.__dataclass_fields__)


@dataclass
class Module:
    """A decoded or parsed module, before validation."""

    types: list[RecType] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    funcs: list[Func] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    mems: list[Memory] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    globals: list[Global] = field(default_factory=list)
    exports: list[Export] = field(default_factory=list)
    start: int | None = None
    elems: list[Elem] = field(default_factory=list)
    datas: list[Data] = field(default_factory=list)
    # Whether the binary carries a data count section (and its value). It is a
    # detail of the binary format, absent from the spec's abstract syntax and
    # inexpressible in text, so it takes no part in module equality.
    data_count: int | None = field(default=None, compare=False)
    customs: list[Custom] = field(default_factory=list)
    names: Names = field(default_factory=Names)

    def imports_of(self, kind: ExternKind) -> list[Import]:
        return [i for i in self.imports if i.kind is kind]

    def without_custom(self) -> "Module":
        """A copy with custom sections and names dropped (for comparisons)."""
        import copy

        m = copy.copy(self)
        m.customs = []
        m.names = Names()
        return m
