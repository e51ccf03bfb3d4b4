"""Text-format types: value, reference, heap, storage, field and defined types,
type uses (with implicit type definitions) and block types.

A mixin of :class:`~wasmbox.text.parse.ModuleParser`; it relies on the
module context that class sets up (``self.spaces``, ``self.types``,
``self.types_flat``, ``self.field_names``, ...).

Raises :class:`~wasmbox.errors.ParseError`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..syntax.types import (
    EXNREF,
    EXTERNREF,
    F32,
    F64,
    FUNCREF,
    I32,
    I64,
    V128,
    AbsHeap,
    ArrayType,
    ContType,
    FieldType,
    FuncType,
    GlobalType,
    PackedType,
    RecType,
    RefType,
    StructType,
    SubType,
)
from .parse_base import ParserBase

if TYPE_CHECKING:
    from ..syntax.types import CompType, HeapType, StorageType, ValType

ABS_HEAP = {h.text: h for h in AbsHeap}
REFTYPE_SHORT = {
    "funcref": FUNCREF,
    "externref": EXTERNREF,
    "exnref": EXNREF,
    "anyref": RefType(True, AbsHeap.ANY),
    "eqref": RefType(True, AbsHeap.EQ),
    "i31ref": RefType(True, AbsHeap.I31),
    "structref": RefType(True, AbsHeap.STRUCT),
    "arrayref": RefType(True, AbsHeap.ARRAY),
    "nullref": RefType(True, AbsHeap.NONE),
    "nullfuncref": RefType(True, AbsHeap.NOFUNC),
    "nullexternref": RefType(True, AbsHeap.NOEXTERN),
    "nullexnref": RefType(True, AbsHeap.NOEXN),
    "contref": RefType(True, AbsHeap.CONT),
    "nullcontref": RefType(True, AbsHeap.NOCONT),
}
NUMTYPES = {"i32": I32, "i64": I64, "f32": F32, "f64": F64, "v128": V128}
VALTYPE_KW: dict[str, "ValType"] = {**NUMTYPES, **REFTYPE_SHORT}
PACKED = {"i8": PackedType.I8, "i16": PackedType.I16}


class TypesMixin(ParserBase):
    """Parsing of types; needs the module context of ModuleParser."""

    # Declared for type checkers; ModuleParser.__init__ sets them.
    spaces: dict[str, dict[str, int]]
    types: list[RecType]
    types_flat: list[SubType]
    field_names: dict[int, dict[str, int]]
    implicit: dict[FuncType, int]
    name_annots: dict[int, str]
    field_annots: dict[int, dict[int, str]]
    param_annots: dict[int, str]

    # -- indices ------------------------------------------------------------

    def index(self, space: str) -> int:
        """Consume an index (number or identifier) of ``space``."""
        t = self.toks[self.i]
        c = t[:1]
        if c == "$":
            name = self.id_name()
            v = self.spaces[space].get(name)
            if v is None:
                raise self.error(f"unknown {_SPACE_WORD[space]} {t}")
            self.i += 1
            return v
        if "0" <= c <= "9":
            return self.u32()
        raise self.unexpected()

    def opt_index(self, space: str) -> int | None:
        """An index of ``space`` if one comes next."""
        c = self.toks[self.i][:1]
        if c == "$" or "0" <= c <= "9":
            return self.index(space)
        return None

    def type_index(self) -> int:
        return self.index("type")

    def id_annot(self) -> str | None:
        """Consume the ``(@name "...")`` annotation that names a local,
        parameter or field written without an ``$id`` at the current token."""
        if self.name_annots and self.toks[self.i][:1] != "$":
            return self.name_annots.pop(self.i, None)
        return None

    # -- value types ----------------------------------------------------------

    def valtype(self) -> "ValType":
        t = self.toks[self.i]
        v = VALTYPE_KW.get(t)
        if v is not None:
            self.i += 1
            return v
        if t == "(" and self.toks[self.i + 1] == "ref":
            return self.ref_paren()
        raise self.unexpected()

    def valtypes(self) -> list["ValType"]:
        """Value types up to (not including) the next ``)``."""
        out = []
        toks = self.toks
        while toks[self.i] != ")":
            out.append(self.valtype())
        return out

    def reftype(self) -> RefType:
        """A value type that must be a reference type."""
        at = self.i
        t = self.valtype()
        if not isinstance(t, RefType):
            raise self.unexpected(at)
        return t

    def ref_paren(self) -> RefType:
        """``(ref null? heaptype)``."""
        self.i += 2
        nullable = self.toks[self.i] == "null"
        if nullable:
            self.i += 1
        heap = self.heaptype()
        self.expect_rpar()
        return RefType(nullable, heap)

    def heaptype(self) -> "HeapType":
        t = self.toks[self.i]
        h = ABS_HEAP.get(t)
        if h is not None:
            self.i += 1
            return h
        return self.type_index()

    def storagetype(self) -> "StorageType":
        p = PACKED.get(self.toks[self.i])
        if p is not None:
            self.i += 1
            return p
        return self.valtype()

    def _maybe_mut(self, read: Callable[[], Any]) -> tuple[Any, bool]:
        """``(mut t)`` or ``t``, with ``t`` read by ``read``: (t, mutable)."""
        if self.at_group("mut"):
            self.i += 2
            t = read()
            self.expect_rpar()
            return t, True
        return read(), False

    def fieldtype(self) -> FieldType:
        return FieldType(*self._maybe_mut(self.storagetype))

    def globaltype(self) -> GlobalType:
        return GlobalType(*self._maybe_mut(self.valtype))

    # -- type definitions -----------------------------------------------------

    def typedef(self, type_idx: int) -> SubType:
        """``(type $id? subtype)`` starting at ``(``; returns the sub type."""
        self.i += 2
        if self.toks[self.i][:1] == "$":
            self.i += 1  # bound in the first pass
        st = self.subtype(type_idx)
        self.expect_rpar()
        return st

    def subtype(self, type_idx: int) -> SubType:
        if self.at_group("sub"):
            self.i += 2
            final = self.toks[self.i] == "final"
            if final:
                self.i += 1
            supers = []
            while self.toks[self.i] != "(":
                supers.append(self.type_index())
            comp = self.comptype(type_idx)
            self.expect_rpar()
            return SubType(comp, final, tuple(supers))
        return SubType(self.comptype(type_idx), True, ())

    def comptype(self, type_idx: int) -> "CompType":
        toks = self.toks
        if toks[self.i] != "(":
            raise self.unexpected()
        kw = toks[self.i + 1]
        self.i += 2
        if kw == "func":
            params, results, _ = self.func_sig(allow_names=True)
            self.expect_rpar()
            return FuncType(tuple(params), tuple(results))
        if kw == "struct":
            fields: list[FieldType] = []
            names: dict[str, int] = {}
            while self.at_group("field"):
                self.i += 2
                annot = self.id_annot()
                if annot is not None:
                    self.field_annots.setdefault(type_idx, {})[len(fields)] = annot
                    fields.append(self.fieldtype())
                    self.expect_rpar()
                    continue
                if toks[self.i][:1] == "$":
                    name = self.id_name()
                    if name in names:
                        raise self.error(f"duplicate field {toks[self.i]}")
                    self.i += 1
                    names[name] = len(fields)
                    fields.append(self.fieldtype())
                else:
                    while toks[self.i] != ")":
                        fields.append(self.fieldtype())
                self.expect_rpar()
            self.expect_rpar()
            if names:
                self.field_names[type_idx] = names
            return StructType(tuple(fields))
        if kw == "array":
            if self.at_group("field"):
                self.i += 2
                name = self.opt_id()
                ft = self.fieldtype()
                self.expect_rpar()
                if name is not None:
                    self.field_names[type_idx] = {name: 0}
            else:
                ft = self.fieldtype()
            self.expect_rpar()
            return ArrayType(ft)
        if kw == "cont":
            if self.at_group("type"):
                self.i += 2
                x = self.type_index()
                self.expect_rpar()
            else:
                x = self.type_index()
            self.expect_rpar()
            return ContType(x)
        raise self.unexpected(self.i - 1)

    # -- function signatures and type uses ----------------------------------

    def func_sig(self, allow_names: bool) -> tuple[list["ValType"], list["ValType"], list[str | None]]:
        """``(param ...)* (result ...)*``: params, results and param names.

        A named parameter ``(param $x t)`` declares exactly one type.
        """
        toks = self.toks
        params: list[ValType] = []
        names: list[str | None] = []
        self.param_annots = {}
        while toks[self.i] == "(" and toks[self.i + 1] == "param":
            self.i += 2
            if allow_names:
                annot = self.id_annot()
                if annot is not None:
                    self.param_annots[len(params)] = annot
                    names.append(None)
                    params.append(self.valtype())
                    self.expect_rpar()
                    continue
            if toks[self.i][:1] == "$":
                if not allow_names:
                    raise self.unexpected()
                names.append(self.id_name())
                self.i += 1
                params.append(self.valtype())
                self.expect_rpar()
                continue
            ts = self.valtypes()
            self.i += 1
            params.extend(ts)
            names.extend([None] * len(ts))
        results: list[ValType] = []
        while toks[self.i] == "(" and toks[self.i + 1] == "result":
            self.i += 2
            results.extend(self.valtypes())
            self.i += 1
        if toks[self.i] == "(" and toks[self.i + 1] == "param":
            raise self.unexpected(self.i + 1)
        return params, results, names

    def implicit_type(self, ft: FuncType) -> int:
        """The index of the first plain type equal to ``ft``; appends one if none."""
        x = self.implicit.get(ft)
        if x is None:
            x = len(self.types_flat)
            st = SubType(ft, True, ())
            self.types.append(RecType((st,)))
            self.types_flat.append(st)
            self.implicit[ft] = x
        return x

    def func_type_of(self, x: int, at: int) -> FuncType | None:
        """The function type at index ``x``, or None when there is none."""
        if 0 <= x < len(self.types_flat):
            comp = self.types_flat[x].comp
            if isinstance(comp, FuncType):
                return comp
        return None

    def typeuse(self, allow_names: bool) -> tuple[int, FuncType | None, list[str | None]]:
        """``(type x)? (param ...)* (result ...)*`` -> (type index, type, param names).

        With an explicit index and inline declarations, they must match. With
        an explicit index alone the type may be unknown (a validation error,
        not a parse error); the returned FuncType is then None.
        """
        toks = self.toks
        x = None
        at = self.i
        if toks[self.i] == "(" and toks[self.i + 1] == "type":
            self.i += 2
            x = self.type_index()
            self.expect_rpar()
        params, results, names = self.func_sig(allow_names)
        if x is None:
            ft = FuncType(tuple(params), tuple(results))
            return self.implicit_type(ft), ft, names
        known = self.func_type_of(x, at)
        if params or results:
            ft = FuncType(tuple(params), tuple(results))
            if known is None:
                raise self.error(f"unknown type {x}", at)
            if known != ft:
                raise self.error("inline function type does not match explicit type", at)
            return x, known, names
        return x, known, [None] * len(known.params) if known is not None else []

    def blocktype(self) -> "ValType | int | None":
        """A block type: ``(type x)? (param t*)* (result t*)*`` (no names)."""
        toks = self.toks
        if toks[self.i] != "(":
            return None
        kw = toks[self.i + 1]
        if kw == "result" and toks[self.i + 3] == ")" and not (
            toks[self.i + 4] == "(" and toks[self.i + 5] == "result"
        ):
            # Fast path: a single result type, nothing else.
            t = VALTYPE_KW.get(toks[self.i + 2])
            if t is not None:
                self.i += 4
                return t
        if kw != "type" and kw != "param" and kw != "result":
            return None
        x = None
        at = self.i
        if kw == "type":
            self.i += 2
            x = self.type_index()
            self.expect_rpar()
        params, results, _ = self.func_sig(allow_names=False)
        if x is not None:
            if params or results:
                known = self.func_type_of(x, at)
                if known is None:
                    raise self.error(f"unknown type {x}", at)
                if known != FuncType(tuple(params), tuple(results)):
                    raise self.error("inline function type does not match explicit type", at)
            return x
        if not params:
            if not results:
                return None
            if len(results) == 1:
                return results[0]
        return self.implicit_type(FuncType(tuple(params), tuple(results)))


_SPACE_WORD = {
    "type": "type",
    "func": "function",
    "table": "table",
    "memory": "memory",
    "global": "global",
    "tag": "tag",
    "elem": "elem segment",
    "data": "data segment",
    "local": "local",
    "label": "label",
    "field": "field",
}
