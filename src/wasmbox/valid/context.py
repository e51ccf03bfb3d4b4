"""The validation context of a module, kept as the result of validation.

:class:`ModuleInfo` is the spec's context *C* without the per-function parts
(locals, labels, return): every index space with imports first, plus what
later stages need (canonical type keys, the declared function references,
per-function operand stack maxima).

Lookups raise :class:`~wasmbox.errors.ValidationError` with the reference
interpreter's messages: ``"unknown <space> <index>"``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable

from ..errors import ValidationError
from ..syntax.types import FuncType, GlobalType, MemType, RefType, SubType, TableType
from .types import TypeSpace


@dataclass
class ModuleInfo:
    """What validation learned about a module.

    ``types``: the flattened type index space (one SubType per index).
    ``type_keys``: a canonical, structural key per type index: two function
    types are the same type exactly when their keys are equal (also across
    modules), which is what ``call_indirect`` and linking compare.
    ``func_type_indices`` / ``func_types``: per function index, imports first.
    ``globals`` / ``tables`` / ``mems``: their types, imports first.
    ``elem_types``: the reference type of each element segment.
    ``num_datas``: number of data segments.
    ``tags``: the function type index of each tag, imports first.
    ``refs``: function indices declared for ``ref.func`` (those referenced
    anywhere in the module outside function bodies and the start function).
    ``max_stack``: per *defined* function, the greatest operand stack height
    reached (values, not bytes), for the compiler.
    """

    types: list[SubType] = field(default_factory=list)
    type_keys: list[Hashable] = field(default_factory=list)
    func_type_indices: list[int] = field(default_factory=list)
    func_types: list[FuncType] = field(default_factory=list)
    num_imported_funcs: int = 0
    globals: list[GlobalType] = field(default_factory=list)
    num_imported_globals: int = 0
    tables: list[TableType] = field(default_factory=list)
    num_imported_tables: int = 0
    mems: list[MemType] = field(default_factory=list)
    num_imported_mems: int = 0
    elem_types: list[RefType] = field(default_factory=list)
    num_datas: int = 0
    #: per tag index (imports first): the index of its function type
    tags: list[int] = field(default_factory=list)
    num_imported_tags: int = 0
    refs: frozenset[int] = frozenset()
    max_stack: list[int] = field(default_factory=list)
    #: the stack-switching proposal is enabled (Config.wasm_stack_switching):
    #: continuation types and instructions, and tags with results
    stack_switching: bool = False
    space: TypeSpace = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.space = TypeSpace(self.types, self.type_keys)

    # -- lookups ------------------------------------------------------------

    def type(self, x: int) -> SubType:
        """The sub type at index x; raises ValidationError("unknown type x")."""
        if not 0 <= x < len(self.types):
            raise ValidationError(f"unknown type {x}")
        return self.types[x]

    def func_type(self, x: int) -> FuncType:
        """The function type at type index x.

        Raises ValidationError("unknown type x"), or "type mismatch" when
        the type is not a function type.
        """
        c = self.type(x).comp
        if not isinstance(c, FuncType):
            raise ValidationError(f"type mismatch: type {x} is not a function type")
        return c

    def func(self, x: int) -> FuncType:
        """The type of function x; raises ValidationError("unknown function x")."""
        if not 0 <= x < len(self.func_types):
            raise ValidationError(f"unknown function {x}")
        return self.func_types[x]

    def table(self, x: int) -> TableType:
        """Raises ValidationError("unknown table x")."""
        if not 0 <= x < len(self.tables):
            raise ValidationError(f"unknown table {x}")
        return self.tables[x]

    def mem(self, x: int) -> MemType:
        """Raises ValidationError("unknown memory x")."""
        if not 0 <= x < len(self.mems):
            raise ValidationError(f"unknown memory {x}")
        return self.mems[x]

    def global_(self, x: int, visible: int | None = None) -> GlobalType:
        """Raises ValidationError("unknown global x"); ``visible`` limits the space."""
        n = len(self.globals) if visible is None else visible
        if not 0 <= x < n:
            raise ValidationError(f"unknown global {x}")
        return self.globals[x]

    def elem(self, x: int) -> RefType:
        """Raises ValidationError("unknown elem segment x")."""
        if not 0 <= x < len(self.elem_types):
            raise ValidationError(f"unknown elem segment {x}")
        return self.elem_types[x]

    def tag(self, x: int) -> FuncType:
        """The function type of tag x; raises ValidationError("unknown tag x")."""
        if not 0 <= x < len(self.tags):
            raise ValidationError(f"unknown tag {x}")
        return self.func_type(self.tags[x])

    def data(self, x: int) -> None:
        """Raises ValidationError("unknown data segment x")."""
        if not 0 <= x < self.num_datas:
            raise ValidationError(f"unknown data segment {x}")
