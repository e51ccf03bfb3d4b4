"""The WebAssembly text-format module parser.

:func:`parse_module` turns the text of a ``.wat`` file -- one
``(module ...)`` or just its fields -- into a :class:`~wasmbox.syntax.Module`
following the conventions of :mod:`wasmbox.syntax`: flat instruction lists
without the final ``end``, i32/i64 constants as signed ints, f32/f64 as bit
patterns, locals as runs (:class:`~wasmbox.syntax.locals.Locals`; more than
2**32 - 1 of them is "too many locals", the binary format's rule), element
segments as expression lists, identifiers recorded in ``Module.names``
(without ``$``), ``data_count`` set exactly when
a function body uses ``memory.init``, ``data.drop``, ``array.new_data`` or
``array.init_data``.

The parser works in three passes over a module's fields:

1. bind identifiers of every index space in textual order (so that any
   field may refer to any other), check import placement;
2. parse type definitions (``type`` and ``rec``);
3. parse everything else in textual order; inline function types that match
   no plain type definition are appended to the type section as they are met.

Annotations: ``(@custom "name" (before|after section)? "bytes"*)`` at module
level become ``Module.customs`` (placement as in the annotations proposal;
default ``(after last)``); ``(@name "...")`` in a binding position (after
``module``, a field keyword, ``param``/``local``/``field``, or a block
keyword) sets that entity's entry in ``Module.names``. Label names
(``$id`` or ``@name``) go to ``Names.labels`` keyed by the block opener's
order in the function body. Other annotations are ignored.

Things that are validation errors rather than syntax errors (a numeric index
out of range, ``(type 7)`` naming no type, limits out of bounds, ...) parse
fine and are left to the validator.

Folded expressions are parsed recursively: nesting them more than about 300
deep exceeds Python's recursion limit and is reported as a ParseError
("nesting too deep"); plain ``block ... end`` nesting has no such limit.

Raises :class:`~wasmbox.errors.ParseError` (with file, line, column).
"""
from __future__ import annotations

from bisect import bisect_right

from ..syntax.module import (
    Custom,
    Data,
    Elem,
    Export,
    ExternKind,
    Func,
    Global,
    Import,
    Instr,
    Memory,
    Module,
    Table,
    Tag,
)
from ..syntax.locals import TOO_MANY_LOCALS, Locals, too_many_locals
from ..syntax.types import (
    FUNCREF,
    AbsHeap,
    AddrType,
    FuncType,
    Limits,
    MemType,
    RecType,
    RefType,
    SubType,
    TableType,
    TagType,
    ValType,
)
from ..errors import ParseError
from .lexer import Annotation, Tokens, line_col, tokenize
from .literals import OUT_OF_RANGE, LiteralError, decode_name, decode_string, parse_uint
from .parse_instr import InstrMixin
from .parse_types import REFTYPE_SHORT, _SPACE_WORD

__all__ = ["parse_module", "ModuleParser", "nesting_error"]

_KIND = {
    "func": ExternKind.FUNC,
    "table": ExternKind.TABLE,
    "memory": ExternKind.MEM,
    "global": ExternKind.GLOBAL,
    "tag": ExternKind.TAG,
}
_SPACES = ("type", "func", "table", "memory", "global", "tag", "elem", "data")
_NAMES_ATTR = {
    "type": "types",
    "func": "funcs",
    "table": "tables",
    "memory": "mems",
    "global": "globals",
    "tag": "tags",
    "elem": "elems",
    "data": "datas",
}
_DEF_WORD = {
    "func": "function",
    "table": "table",
    "memory": "memory",
    "global": "global",
    "tag": "tag",
}
_REF_FUNC = RefType(False, AbsHeap.FUNC)
# Section ids for @custom placements; "first"/"last" stand for type/data.
_SECTION_IDS = {
    "type": 1, "import": 2, "func": 3, "table": 4, "memory": 5, "global": 6,
    "export": 7, "start": 8, "elem": 9, "code": 10, "data": 11, "datacount": 12,
    "tag": 13, "first": 1, "last": 11,
}
# Binary order of the non-custom sections.
_SECTION_SEQUENCE = (1, 2, 3, 4, 5, 13, 6, 7, 8, 9, 12, 10, 11)


def _annot_string(tokens: Tokens, a: Annotation) -> str:
    """The name of a ``(@name "...")`` annotation. Raises ParseError."""
    if len(a.body) != 1 or a.body[0][:1] != '"':
        line, col = line_col(tokens.text, a.offset)
        raise ParseError("@name annotation: string expected", tokens.file, line, col)
    try:
        return decode_name(a.body[0])
    except LiteralError as e:
        line, col = line_col(tokens.text, a.offset)
        raise ParseError("@name annotation: " + e.message, tokens.file, line, col) from None


def parse_module(text: str | bytes, filename: str | None = None) -> Module:
    """Parse a text module: ``(module $id? field*)`` or a bare ``field*``.

    ``bytes`` are decoded as UTF-8 (invalid sequences are reported as
    "malformed UTF-8 encoding"). Raises ParseError.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "surrogateescape")
    tokens = tokenize(text, filename)
    toks = tokens.toks
    p = ModuleParser(tokens, 0)
    try:
        if toks[0] == "(" and toks[1] == "module":
            _, module = p.module_form()
        else:
            module = p.fields()
    except RecursionError:
        raise nesting_error(tokens, p.i) from None
    if toks[p.i] != "":
        raise p.unexpected()
    return module


def nesting_error(tokens: Tokens, i: int) -> ParseError:
    """The error for folded expressions nested deeper than Python's stack allows."""
    return tokens.error("nesting too deep (folded expressions)", min(i, len(tokens.toks) - 1))


class ModuleParser(InstrMixin):
    """Parses one module from a token list, starting at ``i``."""

    def __init__(self, tokens: Tokens, i: int = 0) -> None:
        super().__init__(tokens, i)
        self.spaces: dict[str, dict[str, int]] = {k: {} for k in _SPACES}
        self.counts: dict[str, int] = dict.fromkeys(_SPACES, 0)
        self.defined: dict[str, int] = dict.fromkeys(_SPACES, 0)  # pass-3 counters
        self.types: list[RecType] = []
        self.types_flat: list[SubType] = []
        self.field_names: dict[int, dict[str, int]] = {}
        self.implicit: dict[FuncType, int] = {}
        self.locals_map: dict[str, int] = {}
        self.labels: list[str | None] = [None]
        self.uses_data_count = False
        self.module = Module()
        self.names = self.module.names
        # @name annotations by the index of the token that follows them.
        self.name_annots: dict[int, str] = {}  # consumed (popped) where used
        self.name_annot_at: dict[int, Annotation] = {}
        for a in tokens.annots:
            if a.id == "name":
                if a.index in self.name_annots:
                    toks = tokens.toks
                    j = a.index - 1 if toks[a.index - 1][:1] != "$" else a.index - 2
                    what = "module" if toks[j] == "module" else "names for one entity"
                    raise self._annot_error(a, f"@name annotation: multiple {what}")
                self.name_annots[a.index] = _annot_string(tokens, a)
                self.name_annot_at[a.index] = a
        self.label_count = 0
        self.label_names: dict[int, str] = {}
        self.field_annots: dict[int, dict[int, str]] = {}
        self.param_annots: dict[int, str] = {}
        self._pending_customs: list[tuple[tuple[str, int], Custom]] = []

    # -- entry points -----------------------------------------------------------

    def module_form(self) -> tuple[str | None, Module]:
        """``(module $id? field*)`` at ``(``; returns (id, module).

        The script form ``(module definition $id? ...)`` is accepted too, so
        that the source text of any script module can be parsed again.
        """
        lo = self.i
        self.i += 2
        if self.toks[self.i] == "definition":
            self.i += 1
        name = self.opt_id()
        if name is not None:
            self.names.module = name
        annot = self.name_annots.pop(self.i, None)
        if annot is not None:
            self.names.module = annot
        module = self.fields(lo)
        self.expect_rpar()
        return name, module

    def fields(self, lo: int | None = None) -> Module:
        """The module fields from the current token up to ``)`` or the end.

        ``lo`` is where the module's text starts (its ``(module``), for
        placing ``@custom`` annotations; default: the current token.
        """
        if lo is None:
            lo = self.i
        fields, end = self._bind_pass()
        if self.tokens.annots:
            self._customs(lo, end, fields)
        self._types_pass(fields)
        self._fields_pass(fields)
        if self.name_annots:
            for idx in sorted(self.name_annots):
                if lo <= idx <= end:
                    a = self.name_annot_at[idx]
                    raise self._annot_error(a, "misplaced @name annotation")
        self.i = end
        return self._finish()

    def _fields_pass(self, fields: list[tuple[str, int]]) -> None:
        handlers = {
            "func": self._func,
            "table": self._table,
            "memory": self._memory,
            "global": self._global,
            "tag": self._tag,
            "import": self._import,
            "export": self._export,
            "start": self._start,
            "elem": self._elem,
            "data": self._data,
        }
        for kw, i in fields:
            h = handlers.get(kw)
            if h is None:
                continue  # type / rec: done in pass 2
            self.i = i + 2
            h()
            if self.toks[self.i] != ")":
                raise self.unexpected()
            self.i += 1

    def _finish(self) -> Module:
        m = self.module
        m.types = self.types
        if self.uses_data_count:
            m.data_count = len(m.datas)
        if self._pending_customs:
            self._place_customs()
        names = m.names
        for idx, fmap in self.field_names.items():
            names.fields[idx] = {v: k for k, v in fmap.items()}
        for idx, amap in self.field_annots.items():
            names.fields.setdefault(idx, {}).update(amap)
            names.fields[idx] = dict(sorted(names.fields[idx].items()))
        return m

    # -- annotations ----------------------------------------------------------------

    def _customs(self, lo: int, end: int, fields: list[tuple[str, int]]) -> None:
        """``(@custom ...)`` annotations of this module -> ``Module.customs``."""
        starts = [i for _, i in fields]
        customs = []
        for a in self.tokens.annots:
            if a.id != "custom" or not lo <= a.index <= end:
                continue
            k = bisect_right(starts, a.index) - 1
            if k >= 0 and a.index < self.skip_group(starts[k]) and a.index != starts[k]:
                raise self._annot_error(a, "misplaced @custom annotation")
            customs.append(self._custom(a))
        self._pending_customs = customs

    def _annot_error(self, a: Annotation, message: str) -> ParseError:
        line, col = line_col(self.tokens.text, a.offset)
        return ParseError(message, self.tokens.file, line, col)

    def _custom(self, a: Annotation) -> tuple[tuple[str, int], Custom]:
        b = a.body
        if not b or b[0][:1] != '"':
            raise self._annot_error(a, "@custom annotation: missing section name")
        try:
            name = decode_name(b[0])
        except LiteralError:
            raise self._annot_error(a, "@custom annotation: malformed UTF-8 encoding") from None
        k = 1
        place: tuple[str, int] = ("last", _SECTION_IDS["last"])  # the default: (after last)
        if k < len(b) and b[k] == "(":
            direction = b[k + 1] if k + 1 < len(b) else ""
            if direction not in ("before", "after"):
                raise self._annot_error(a, "@custom annotation: malformed placement")
            sec = b[k + 2] if k + 2 < len(b) else ""
            sid = _SECTION_IDS.get(sec)
            if sid is None:
                raise self._annot_error(a, "@custom annotation: malformed section kind")
            if k + 3 >= len(b) or b[k + 3] != ")":
                raise self._annot_error(a, "@custom annotation: unexpected token")
            place = ("last", sid) if (direction, b[k + 2]) == ("after", "last") else (direction, sid)
            k += 4
        data = bytearray()
        while k < len(b) and b[k][:1] == '"':
            try:
                data += decode_string(b[k])
            except LiteralError as e:
                raise self._annot_error(a, "@custom annotation: " + e.message) from None
            k += 1
        if k < len(b):
            raise self._annot_error(a, "@custom annotation: unexpected token")
        return (place, Custom(name, bytes(data)))

    def _place_customs(self) -> None:
        """Set ``after`` of the @custom sections and order them by placement.

        ``(after X)`` names section X. ``(before X)`` and ``(after last)`` (the
        default) name the last section *present* in the module that comes
        before that place (0 when none), as a decoder would report for the
        encoded binary.
        """
        m = self.module
        present = {
            1: bool(m.types), 2: bool(m.imports), 3: bool(m.funcs), 4: bool(m.tables),
            5: bool(m.mems), 13: bool(m.tags), 6: bool(m.globals), 7: bool(m.exports),
            8: m.start is not None, 9: bool(m.elems), 12: m.data_count is not None,
            10: bool(m.funcs), 11: bool(m.datas),
        }
        out = []
        pending = sorted(
            self._pending_customs,
            key=lambda pc: 2 * _SECTION_SEQUENCE.index(pc[0][1]) + (pc[0][0] != "before"),
        )
        for (direction, sid), c in pending:
            if direction == "after":
                after = sid
            else:
                pos = _SECTION_SEQUENCE.index(sid) + (direction == "last")
                after = next((x for x in reversed(_SECTION_SEQUENCE[:pos]) if present[x]), 0)
            out.append(Custom(c.name, c.data, after))
        m.customs = out

    # -- pass 1: identifiers -------------------------------------------------------

    def _bind(self, space: str, j: int) -> int:
        """Allocate the next index of ``space``; bind the identifier at ``j`` if any."""
        idx = self.counts[space]
        self.counts[space] = idx + 1
        t = self.toks[j]
        if t[:1] == "$":
            name = self.id_name(j)
            sp = self.spaces[space]
            if name in sp:
                raise self.error(f"duplicate {_SPACE_WORD[space]} {t}", j)
            sp[name] = idx
            getattr(self.names, _NAMES_ATTR[space])[idx] = name
            j += 1
        if self.name_annots:
            annot = self.name_annots.pop(j, None)
            if annot is not None:
                getattr(self.names, _NAMES_ATTR[space])[idx] = annot
        return idx

    def _bind_pass(self) -> tuple[list[tuple[str, int]], int]:
        """Bind identifiers; return the fields (keyword, start) and the end index."""
        toks = self.toks
        i = self.i
        fields: list[tuple[str, int]] = []
        last_def: str | None = None
        skip = self.skip_group
        while toks[i] == "(":
            kw = toks[i + 1]
            end = skip(i)
            fields.append((kw, i))
            j = i + 2
            if kw == "type":
                self._bind("type", j)
            elif kw == "rec":
                k = j
                while toks[k] == "(" and toks[k + 1] == "type":
                    self._bind("type", k + 2)
                    k = skip(k)
            elif kw in _KIND:
                self._bind(kw, j)
                k = j + 1 if toks[j][:1] == "$" else j
                imported = False
                while toks[k] == "(" and toks[k + 1] in ("export", "import"):
                    if toks[k + 1] == "import":
                        imported = True
                    k = skip(k)
                if imported:
                    if last_def is not None:
                        raise self.error(f"import after {_DEF_WORD[last_def]}", i)
                else:
                    last_def = kw
                    if kw == "table" or kw == "memory":
                        inline = "elem" if kw == "table" else "data"
                        while k < end - 1:
                            if toks[k] == "(":
                                if toks[k + 1] == inline:
                                    self.counts[inline] += 1
                                    break
                                k = skip(k)
                            else:
                                k += 1
            elif kw == "import":
                if last_def is not None:
                    raise self.error(f"import after {_DEF_WORD[last_def]}", i)
                if toks[j + 2] == "(" and toks[j + 3] in _KIND:
                    self._bind(toks[j + 3], j + 4)
            elif kw == "elem" or kw == "data":
                self._bind(kw, j)
            elif kw == "export" or kw == "start":
                pass
            else:
                raise self.unexpected(i + 1)
            i = end
        if toks[i] != ")" and toks[i] != "":
            raise self.unexpected(i)
        return fields, i

    # -- pass 2: types --------------------------------------------------------------

    def _types_pass(self, fields: list[tuple[str, int]]) -> None:
        toks = self.toks
        for kw, i in fields:
            if kw == "type":
                self.i = i
                st = self.typedef(len(self.types_flat))
                self.types.append(RecType((st,)))
                self.types_flat.append(st)
            elif kw == "rec":
                self.i = i + 2
                sts = []
                while toks[self.i] == "(" and toks[self.i + 1] == "type":
                    st = self.typedef(len(self.types_flat))
                    sts.append(st)
                    self.types_flat.append(st)
                self.expect_rpar()
                self.types.append(RecType(tuple(sts)))
        implicit = self.implicit
        x = 0
        for rt in self.types:
            if len(rt.subtypes) == 1:
                st = rt.subtypes[0]
                if st.final and not st.supertypes and isinstance(st.comp, FuncType):
                    implicit.setdefault(st.comp, x)
            x += len(rt.subtypes)

    # -- pass 3: fields ---------------------------------------------------------------

    def _next(self, space: str) -> int:
        idx = self.defined[space]
        self.defined[space] = idx + 1
        return idx

    def _skip_id(self) -> None:
        if self.toks[self.i][:1] == "$":
            self.i += 1

    def _inline_exports(self, kind: ExternKind, idx: int) -> None:
        toks = self.toks
        while toks[self.i] == "(" and toks[self.i + 1] == "export":
            self.i += 2
            self.module.exports.append(Export(self.name(), kind, idx))
            self.expect_rpar()

    def _inline_import(self) -> tuple[str, str] | None:
        if self.at_group("import"):
            self.i += 2
            mod = self.name()
            nm = self.name()
            self.expect_rpar()
            return mod, nm
        return None

    def _field_head(self, space: str) -> tuple[int, tuple[str, str] | None]:
        """After the keyword of a func/table/memory/global/tag field: its
        index, then its id, inline exports and inline import (if any)."""
        idx = self._next(space)
        self._skip_id()
        self._inline_exports(_KIND[space], idx)
        return idx, self._inline_import()

    def _add_import(self, imp: tuple[str, str], space: str, desc: object) -> None:
        self.module.imports.append(Import(imp[0], imp[1], _KIND[space], desc))  # type: ignore[arg-type]

    def _func(self) -> None:
        idx, imp = self._field_head("func")
        x, ft, pnames = self.typeuse(allow_names=True)
        if imp is not None:
            self._add_import(imp, "func", x)
            self._param_names(idx, pnames)
            return
        self.func_body(idx, x, ft, pnames)

    def _param_names(self, idx: int, pnames: list[str | None]) -> None:
        """Record the parameter names of imported function ``idx``."""
        names = {k: n for k, n in enumerate(pnames) if n is not None}
        names.update(self.param_annots)
        if names:
            self.names.locals[idx] = dict(sorted(names.items()))

    def func_body(self, idx: int, x: int, ft: FuncType | None, pnames: list[str | None]) -> None:
        """Locals and instructions of function ``idx``, up to its ``)``."""
        toks = self.toks
        lm: dict[str, int] = {}
        for k, n in enumerate(pnames):
            if n is not None:
                if n in lm:
                    raise self.error(f"duplicate local ${n}")
                lm[n] = k
        nparams = len(ft.params) if ft is not None else None
        runs: list[tuple[int, ValType]] = []  # (count, type), merged by Locals.from_runs
        nlocals = 0
        display = dict(self.param_annots)
        while toks[self.i] == "(" and toks[self.i + 1] == "local":
            at = self.i
            self.i += 2
            annot = self.id_annot()
            if annot is not None:
                display[(nparams or 0) + nlocals] = annot
                decl = [self.valtype()]
                self.expect_rpar()
            elif toks[self.i][:1] == "$":
                name = self.id_name()
                if nparams is None:
                    raise self.error(f"unknown type {x}")
                if name in lm:
                    raise self.error(f"duplicate local {toks[self.i]}")
                lm[name] = nparams + nlocals
                self.i += 1
                decl = [self.valtype()]
                self.expect_rpar()
            else:
                decl = self.valtypes()
                self.i += 1
            nlocals += len(decl)
            if too_many_locals(nlocals):  # the binary format's rule, applied to text alike
                raise self.error(TOO_MANY_LOCALS, at)
            runs.extend((1, t) for t in decl)
        locals_ = Locals.from_runs(runs)
        self.locals_map = lm
        self.labels = [None]
        self.label_count = 0
        self.label_names = {}
        body: list[Instr] = []
        self.instrs(body)
        self.module.funcs.append(Func(x, locals_, body))
        if lm or display:
            local_names = {v: k for k, v in lm.items()}
            local_names.update(display)
            self.names.locals[idx] = dict(sorted(local_names.items()))
        if self.label_names:
            self.names.labels[idx] = self.label_names
            self.label_names = {}  # labels outside function bodies are not named

    def limits(self, addr: AddrType) -> Limits:
        mn = self._limit()
        mx = self._limit() if self.is_nat() else None
        return Limits(mn, mx, addr)

    def _limit(self) -> int:
        """A limit: a u64 literal. One past 2^64-1 is "i64 constant out of
        range", as the reference interpreter says (memory_max_i64.wast)."""
        t = self.toks[self.i]
        try:
            parse_uint(t, 64)
        except LiteralError as e:
            if e.message == OUT_OF_RANGE:
                raise self.error("i64 constant out of range") from None
        return self.u64()

    def _addr(self) -> AddrType:
        t = self.toks[self.i]
        if t == "i64":
            self.i += 1
            return AddrType.I64
        if t == "i32":
            self.i += 1
        return AddrType.I32

    def tabletype(self) -> TableType:
        addr = self._addr()
        lim = self.limits(addr)
        return TableType(lim, self.reftype())

    def _offset_zero(self, addr: AddrType) -> list[Instr]:
        return [Instr("i64.const", (0,)) if addr is AddrType.I64 else Instr("i32.const", (0,))]

    def _table(self) -> None:
        idx, imp = self._field_head("table")
        if imp is not None:
            self._add_import(imp, "table", self.tabletype())
            return
        addr = self._addr()
        if self.is_nat():
            lim = self.limits(addr)
            rt = self.reftype()
            init = None
            if self.toks[self.i] != ")":
                init = self.expr()
            self.module.tables.append(Table(TableType(lim, rt), init))
            return
        rt = self.reftype()
        if not self.at_group("elem"):
            raise self.unexpected()
        self.i += 2
        if self.toks[self.i] == "(":
            init = self._elem_exprs()
            et = rt
        else:
            init = self._elem_funcs()
            # A function-index list is written as the binary's "elemkind"
            # form when it can be, whose element type is (ref func).
            et = _REF_FUNC if rt == FUNCREF else rt
        self.expect_rpar()
        n = len(init)
        self.module.tables.append(Table(TableType(Limits(n, n, addr), rt)))
        self._next("elem")
        self.module.elems.append(Elem(et, init, "active", idx, self._offset_zero(addr)))

    def memtype(self) -> MemType:
        addr = self._addr()
        lim = self.limits(addr)
        if self.toks[self.i] == "shared":
            self.i += 1
            lim = Limits(lim.min, lim.max, lim.addr, True)
        return MemType(lim, self._pagesize())

    def _pagesize(self) -> int | None:
        if not self.at_group("pagesize"):
            return None
        self.i += 2
        at = self.i
        n = self.u64()
        self.expect_rpar()
        if n == 0 or n & (n - 1):
            raise self.error("invalid custom page size", at)
        return n.bit_length() - 1

    def _memory(self) -> None:
        idx, imp = self._field_head("memory")
        if imp is not None:
            self._add_import(imp, "memory", self.memtype())
            return
        j = self.i + 1 if self.toks[self.i] in ("i32", "i64") else self.i
        if self.is_nat(j):
            self.module.mems.append(Memory(self.memtype()))
            return
        addr = self._addr()
        log2 = self._pagesize()
        if not self.at_group("data"):
            raise self.unexpected()
        self.i += 2
        data = self.strings()
        self.expect_rpar()
        page = 1 << (16 if log2 is None else log2)
        n = (len(data) + page - 1) // page
        self.module.mems.append(Memory(MemType(Limits(n, n, addr), log2)))
        self._next("data")
        self.module.datas.append(Data(data, "active", idx, self._offset_zero(addr)))

    def _global(self) -> None:
        _, imp = self._field_head("global")
        gt = self.globaltype()
        if imp is not None:
            self._add_import(imp, "global", gt)
            return
        self.labels = [None]
        self.locals_map = {}
        self.module.globals.append(Global(gt, self.expr()))

    def _tag(self) -> None:
        _, imp = self._field_head("tag")
        x, _, _ = self.typeuse(allow_names=True)
        if imp is not None:
            self._add_import(imp, "tag", TagType(x))
            return
        self.module.tags.append(Tag(TagType(x)))

    def _extern_kind(self) -> str:
        """Consume the ``( kind`` that opens an import or export description;
        the kind keyword (func, table, memory, global or tag)."""
        toks = self.toks
        if toks[self.i] != "(" or toks[self.i + 1] not in _KIND:
            raise self.unexpected(self.i + 1 if toks[self.i] == "(" else self.i)
        kw = toks[self.i + 1]
        self.i += 2
        return kw

    def _import(self) -> None:
        mod = self.name()
        nm = self.name()
        kw = self._extern_kind()
        idx = self._next(kw)
        self._skip_id()
        desc: object
        if kw == "func" or kw == "tag":
            x, _, pnames = self.typeuse(allow_names=True)
            desc = x if kw == "func" else TagType(x)
            if kw == "func":
                self._param_names(idx, pnames)
        elif kw == "table":
            desc = self.tabletype()
        elif kw == "memory":
            desc = self.memtype()
        else:
            desc = self.globaltype()
        self.expect_rpar()
        self._add_import((mod, nm), kw, desc)

    def _export(self) -> None:
        nm = self.name()
        kw = self._extern_kind()
        x = self.index(kw)
        self.expect_rpar()
        self.module.exports.append(Export(nm, _KIND[kw], x))

    def _start(self) -> None:
        at = self.i
        x = self.index("func")
        if self.module.start is not None:
            raise self.error("multiple start sections", at)
        self.module.start = x

    def _offset(self) -> list[Instr]:
        """``(offset instr*)`` or one folded instruction."""
        toks = self.toks
        self.labels = [None]
        self.locals_map = {}
        if toks[self.i] != "(":
            raise self.unexpected()
        if toks[self.i + 1] == "offset":
            self.i += 2
            e = self.expr()
            self.i += 1
            return e
        out: list[Instr] = []
        self.folded(out)
        return out

    def _elem_exprs(self) -> list[list[Instr]]:
        """Element expressions: ``(item instr*)`` or single folded instructions."""
        toks = self.toks
        self.labels = [None]
        self.locals_map = {}
        out = []
        while toks[self.i] == "(":
            if toks[self.i + 1] == "item":
                self.i += 2
                out.append(self.expr())
                self.i += 1
            else:
                e: list[Instr] = []
                self.folded(e)
                out.append(e)
        return out

    def _elem_funcs(self) -> list[list[Instr]]:
        out = []
        toks = self.toks
        while True:
            c = toks[self.i][:1]
            if c == "$" or "0" <= c <= "9":
                out.append([Instr("ref.func", (self.index("func"),))])
            else:
                return out

    def _elem(self) -> None:
        toks = self.toks
        self._next("elem")
        self._skip_id()
        mode = "passive"
        table = 0
        offset = None
        bare_ok = False
        if self.is_nat() and toks[self.i + 1] == "(":
            # The Wasm 1.0 form ``(elem tableidx offset funcidx*)``.
            table = self.u32()
            offset = self._offset()
            mode = "active"
            bare_ok = True
        elif toks[self.i] == "declare":
            self.i += 1
            mode = "declarative"
        elif toks[self.i] == "(":
            kw = toks[self.i + 1]
            if kw == "table":
                self.i += 2
                table = self.index("table")
                self.expect_rpar()
                offset = self._offset()
                mode = "active"
                bare_ok = True
            elif kw != "ref":
                offset = self._offset()
                mode = "active"
                bare_ok = True
        t = toks[self.i]
        if t == "func":
            self.i += 1
            rt = _REF_FUNC
            init = self._elem_funcs()
        elif t in REFTYPE_SHORT or (t == "(" and toks[self.i + 1] == "ref"):
            rt = self.reftype()
            init = self._elem_exprs()
        elif bare_ok:
            rt = _REF_FUNC
            init = self._elem_funcs()
        else:
            raise self.unexpected()
        self.module.elems.append(Elem(rt, init, mode, table, offset))

    def _data(self) -> None:
        toks = self.toks
        self._next("data")
        self._skip_id()
        mode = "passive"
        mem = 0
        offset = None
        if self.is_nat() and toks[self.i + 1] == "(":
            # The Wasm 1.0 form ``(data memidx offset string*)``.
            mem = self.u32()
            offset = self._offset()
            mode = "active"
        elif toks[self.i] == "(":
            if toks[self.i + 1] == "memory":
                self.i += 2
                mem = self.index("memory")
                self.expect_rpar()
            offset = self._offset()
            mode = "active"
        data = self.strings()
        self.module.datas.append(Data(data, mode, mem, offset))

