"""The text-format printer: :class:`~wasmbox.syntax.module.Module` -> WAT.

:func:`print_module` writes a module in the WebAssembly text format so that
parsing the text (or assembling it with any spec-conforming tool) gives back
an equal module structure. The choices that make that hold:

* Every field is written out separately (imports and exports are never
  inlined), in index order, imports first. Functions and blocks use explicit
  ``(type N)`` uses, so no implicit type is ever added to the type section.
* Instructions are printed flat (unfolded), one per line, indented by block
  depth; branch labels are numeric depths.
* Floating-point constants are printed exactly: hexadecimal floats for finite
  values, ``inf``, and ``nan``/``nan:0x...`` with the exact payload and sign.
* Identifiers come from :class:`~wasmbox.syntax.module.Names`: ``$name`` when
  the name is made of identifier characters, ``$"..."`` otherwise. A name that
  cannot be an identifier (empty, or a duplicate within its index space) is
  written as a ``(@name "...")`` annotation and the entity is referred to by
  its number. References to unnamed entities are numbers.
* Element segments whose type is ``(ref func)`` and whose items are all
  single ``ref.func`` use the ``func x*`` abbreviation; every other segment
  uses the general ``reftype (item ...)*`` form.
* Custom sections become ``(@custom "name" (after sec) "bytes")``
  annotations (``(before first)`` when they come before every section).

The small helpers (:func:`print_valtype`, :func:`print_func_type`,
:func:`format_f32`, ...) are public for the CLI and the script runner.

Raises :class:`~wasmbox.errors.ValidationError` only for a structure that no
decoder or parser can produce (an unknown instruction name, or immediates of
the wrong shape); a module that is merely invalid (bad indices, mistyped
code) is printed as it is. Raises :class:`PrintLimitError` for a module
declaring more than :data:`MAX_PRINTED_LOCALS` locals in all: the text
format writes one keyword per local, and a few bytes of binary can declare
billions (they are never expanded in memory to find that out).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Iterable, Sequence, TypeVar

from ..errors import ValidationError, WasmboxError
from ..syntax.module import (
    Custom,
    Data,
    Elem,
    Export,
    Expr,
    ExternKind,
    Func,
    Global,
    Import,
    Instr,
    MemArg,
    Module,
    Names,
    Table,
)
from ..syntax.opcodes import BLOCK_OPENERS, OPS, Op
from ..syntax.types import (
    AbsHeap,
    AddrType,
    ArrayType,
    ContType,
    FieldType,
    FuncType,
    GlobalType,
    HeapType,
    Limits,
    MemType,
    NumType,
    PackedType,
    RecType,
    RefType,
    StorageType,
    StructType,
    SubType,
    TableType,
    TagType,
    ValType,
    flatten_types,
)

__all__ = [
    "print_module",
    "print_valtype",
    "print_reftype",
    "print_heaptype",
    "print_func_type",
    "print_instr",
    "format_f32",
    "format_f64",
    "format_v128",
    "escape_bytes",
    "escape_string",
    "format_id",
    "module_lines",
    "print_exprs",
    "print_import_desc",
    "MAX_PRINTED_LOCALS",
    "PrintLimitError",
]

_F = TypeVar("_F", bound=Callable[..., Any])

#: The most declared locals :func:`print_module` writes for one module. The
#: text format has no repetition form: a run of ``n`` locals is ``n`` type
#: keywords, and one binary group of a few bytes can declare 2**32 - 1 of
#: them (16 GiB of text). A module declaring more in all (more than about
#: 40 MB of text) is refused with :class:`PrintLimitError` before anything
#: is written, instead of exhausting memory.
MAX_PRINTED_LOCALS = 10_000_000


class PrintLimitError(WasmboxError):
    """The module is well formed but too large to print (see MAX_PRINTED_LOCALS)."""

    kind = "limit"


def _guarded(fn: _F) -> _F:
    """Turn the Python errors a malformed structure causes into ValidationError."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (TypeError, ValueError, AttributeError, IndexError, KeyError) as exc:
            raise ValidationError(f"cannot print: malformed structure ({exc})") from None

    return wrapper  # type: ignore[return-value]


_INDENT = "  "

# Section ids as the @custom placement names them (binary order differs:
# tag (13) comes before global, datacount (12) before code).
_SECTION_NAMES = {
    1: "type",
    2: "import",
    3: "func",
    4: "table",
    5: "memory",
    6: "global",
    7: "export",
    8: "start",
    9: "elem",
    10: "code",
    11: "data",
    13: "tag",
}

# Ops that never appear folded: they open, separate or close a construct.
_STRUCTURAL = BLOCK_OPENERS | {"end", "else", "catch", "catch_all", "delegate"}

# ---------------------------------------------------------------------------
# Strings and identifiers


def _make_byte_escapes() -> list[str]:
    table = []
    for b in range(256):
        if 0x20 <= b < 0x7F and b not in (0x22, 0x5C):
            table.append(chr(b))
        else:
            table.append(f"\\{b:02x}")
    return table


_BYTE_ESCAPES = _make_byte_escapes()


def escape_bytes(data: bytes) -> str:
    """A WAT string literal (with quotes) holding exactly ``data``.

    Printable ASCII other than ``"`` and ``\\`` is written as is, every other
    byte as ``\\hh``. Raises nothing.
    """
    esc = _BYTE_ESCAPES
    return '"' + "".join([esc[b] for b in data]) + '"'


def escape_string(s: str) -> str:
    """A WAT string literal for a name: its UTF-8 bytes, escaped.

    Raises nothing (lone surrogates are encoded with ``surrogatepass``).
    """
    return escape_bytes(s.encode("utf-8", "surrogatepass"))


_IDCHARS = frozenset(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&'*+-./:<=>?@\\^_`|~"
)


def format_id(name: str) -> str | None:
    """``$name`` or ``$"..."`` for a name, or None if it cannot be an identifier.

    Only the empty name (and a name that is not valid Unicode) cannot be one.
    Raises nothing.
    """
    if not name:
        return None
    if all(c in _IDCHARS for c in name):
        return "$" + name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return "$" + escape_string(name)


def _name_annot(name: str) -> str:
    return f"(@name {escape_string(name)})"


class _Space:
    """Printable identifiers of one index space."""

    __slots__ = ("ids", "annots")

    def __init__(self, names: dict[int, str] | None, *, unique: bool = True) -> None:
        self.ids: dict[int, str] = {}
        self.annots: dict[int, str] = {}
        if not names:
            return
        seen: set[str] = set()
        for idx in sorted(names):
            name = names[idx]
            if not isinstance(name, str):
                continue
            ident = format_id(name)
            if ident is None or (unique and name in seen):
                self.annots[idx] = _name_annot(name)
                continue
            seen.add(name)
            self.ids[idx] = ident

    def ref(self, idx: int) -> str:
        if not isinstance(idx, int) or isinstance(idx, bool):
            raise ValidationError(f"index must be an int, got {idx!r}")
        return self.ids.get(idx) or str(idx)

    def bind(self, idx: int) -> str:
        """The text that binds the entity: `` $id``, `` (@name "..")`` or ``""``."""
        ident = self.ids.get(idx)
        if ident is not None:
            return " " + ident
        annot = self.annots.get(idx)
        return " " + annot if annot is not None else ""


_EMPTY = _Space(None)


class _Ctx:
    """Names of the module being printed, by index space."""

    def __init__(self, m: Module | None) -> None:
        names = m.names if m is not None else Names()
        self.m = m
        self.names = names
        self.types = _Space(names.types)
        self.funcs = _Space(names.funcs)
        self.tables = _Space(names.tables)
        self.mems = _Space(names.mems)
        self.globals = _Space(names.globals)
        self.tags = _Space(names.tags)
        self.elems = _Space(names.elems)
        self.datas = _Space(names.datas)
        self.subtypes: list[SubType] = flatten_types(m.types) if m is not None else []
        self._fields: dict[int, _Space] = {}
        self.locals: _Space = _EMPTY
        self.labels: _Space = _EMPTY

    def fields(self, type_idx: int) -> _Space:
        sp = self._fields.get(type_idx)
        if sp is None:
            sp = _Space(self.names.fields.get(type_idx))
            self._fields[type_idx] = sp
        return sp

    def func_type(self, type_idx: Any) -> FuncType | None:
        if isinstance(type_idx, int) and 0 <= type_idx < len(self.subtypes):
            comp = self.subtypes[type_idx].comp
            if isinstance(comp, FuncType):
                return comp
        return None


_NO_NAMES = _Ctx(None)

# ---------------------------------------------------------------------------
# Types


def _heaptype(h: HeapType, ctx: _Ctx | None = None) -> str:
    if isinstance(h, AbsHeap):
        return h.text
    if isinstance(h, int) and not isinstance(h, bool):
        return (ctx or _NO_NAMES).types.ref(h)
    raise ValidationError(f"not a heap type: {h!r}")


def _reftype(t: RefType, ctx: _Ctx | None = None) -> str:
    if t.nullable and t.heap is AbsHeap.FUNC:
        return "funcref"
    if t.nullable and t.heap is AbsHeap.EXTERN:
        return "externref"
    return f"(ref {'null ' if t.nullable else ''}{_heaptype(t.heap, ctx)})"


def _valtype(t: ValType, ctx: _Ctx | None = None) -> str:
    if isinstance(t, NumType):
        return t.text
    if isinstance(t, RefType):
        return _reftype(t, ctx)
    raise ValidationError(f"not a value type: {t!r}")


def _storage(t: StorageType, ctx: _Ctx) -> str:
    if isinstance(t, PackedType):
        return t.text
    return _valtype(t, ctx)


def _fieldtype(f: FieldType, ctx: _Ctx) -> str:
    s = _storage(f.storage, ctx)
    return f"(mut {s})" if f.mutable else s


def _params_results(ft: FuncType, ctx: _Ctx, local_names: _Space | None = None) -> str:
    """`` (param ...) (result ...)``, naming params from ``local_names``."""
    parts: list[str] = []
    pending: list[str] = []
    for i, t in enumerate(ft.params):
        bind = local_names.bind(i) if local_names is not None else ""
        if bind:
            if pending:
                parts.append(f"(param {' '.join(pending)})")
                pending = []
            parts.append(f"(param{bind} {_valtype(t, ctx)})")
        else:
            pending.append(_valtype(t, ctx))
    if pending:
        parts.append(f"(param {' '.join(pending)})")
    if ft.results:
        parts.append(f"(result {' '.join(_valtype(t, ctx) for t in ft.results)})")
    return "".join(" " + p for p in parts)


def _functype(ft: FuncType, ctx: _Ctx | None = None) -> str:
    return f"(func{_params_results(ft, ctx or _NO_NAMES)})"


def _comptype(comp: Any, type_idx: int, ctx: _Ctx) -> str:
    if isinstance(comp, FuncType):
        return _functype(comp, ctx)
    if isinstance(comp, StructType):
        names = ctx.fields(type_idx)
        fields = "".join(
            f" (field{names.bind(i)} {_fieldtype(f, ctx)})" for i, f in enumerate(comp.fields)
        )
        return f"(struct{fields})"
    if isinstance(comp, ArrayType):
        return f"(array {_fieldtype(comp.field, ctx)})"
    if isinstance(comp, ContType):
        return f"(cont {ctx.types.ref(comp.type_index)})"
    raise ValidationError(f"not a composite type: {comp!r}")


def _subtype(st: SubType, type_idx: int, ctx: _Ctx) -> str:
    comp = _comptype(st.comp, type_idx, ctx)
    if st.final and not st.supertypes:
        body = comp
    else:
        sups = "".join(" " + ctx.types.ref(s) for s in st.supertypes)
        body = f"(sub{' final' if st.final else ''}{sups} {comp})"
    return f"(type{ctx.types.bind(type_idx)} {body})"


def _limits(lim: Limits) -> str:
    s = "i64 " if lim.addr is AddrType.I64 else ""
    s += str(lim.min)
    if lim.max is not None:
        s += f" {lim.max}"
    return s


def _memtype(mt: MemType) -> str:
    s = _limits(mt.limits)
    if mt.limits.shared:
        s += " shared"
    if mt.page_size_log2 is not None:
        s += f" (pagesize {1 << mt.page_size_log2})"
    return s


def _tabletype(tt: TableType, ctx: _Ctx) -> str:
    return f"{_limits(tt.limits)} {_reftype(tt.elem, ctx)}"


def _globaltype(gt: GlobalType, ctx: _Ctx) -> str:
    t = _valtype(gt.val, ctx)
    return f"(mut {t})" if gt.mutable else t


# ---------------------------------------------------------------------------
# Numbers


def _hexfloat(neg: bool, exp_bits: int, frac: int, frac_bits: int, bias: int) -> str:
    sign = "-" if neg else ""
    if exp_bits == 0 and frac == 0:
        return f"{sign}0x0p+0"
    digits = (frac_bits + 3) // 4
    mant = f"{frac << (digits * 4 - frac_bits):0{digits}x}".rstrip("0")
    if exp_bits == 0:  # subnormal: 0x0.mmm p(1-bias)
        return f"{sign}0x0.{mant}p{1 - bias:+d}"
    dot = f".{mant}" if mant else ""
    return f"{sign}0x1{dot}p{exp_bits - bias:+d}"


def _format_float(bits: int, exp_width: int, frac_bits: int) -> str:
    neg = bool(bits >> (exp_width + frac_bits))
    exp_max = (1 << exp_width) - 1
    exp_bits = (bits >> frac_bits) & exp_max
    frac = bits & ((1 << frac_bits) - 1)
    if exp_bits == exp_max:
        sign = "-" if neg else ""
        if frac == 0:
            return f"{sign}inf"
        if frac == 1 << (frac_bits - 1):
            return f"{sign}nan"
        return f"{sign}nan:{frac:#x}"
    return _hexfloat(neg, exp_bits, frac, frac_bits, exp_max >> 1)


def format_f32(bits: int) -> str:
    """The exact text of an f32 given as its 32-bit pattern.

    Raises ValidationError if ``bits`` is not a 32-bit unsigned int.
    """
    if not isinstance(bits, int) or not 0 <= bits < 1 << 32:
        raise ValidationError(f"f32 constant must be a 32-bit pattern, got {bits!r}")
    return _format_float(bits, 8, 23)


def format_f64(bits: int) -> str:
    """The exact text of an f64 given as its 64-bit pattern.

    Raises ValidationError if ``bits`` is not a 64-bit unsigned int.
    """
    if not isinstance(bits, int) or not 0 <= bits < 1 << 64:
        raise ValidationError(f"f64 constant must be a 64-bit pattern, got {bits!r}")
    return _format_float(bits, 11, 52)


def format_v128(value: int) -> str:
    """``i32x4 0x... 0x... 0x... 0x...`` for a 128-bit little-endian value.

    Raises ValidationError if ``value`` is not a 128-bit unsigned int.
    """
    if not isinstance(value, int) or not 0 <= value < 1 << 128:
        raise ValidationError(f"v128 constant must be a 128-bit value, got {value!r}")
    lanes = [(value >> (32 * i)) & 0xFFFFFFFF for i in range(4)]
    return "i32x4 " + " ".join(f"0x{x:08x}" for x in lanes)


def _int(v: Any, kind: str) -> str:
    if not isinstance(v, int) or isinstance(v, bool):
        raise ValidationError(f"{kind} immediate must be an int, got {v!r}")
    return str(v)


# ---------------------------------------------------------------------------
# Instructions


def _memarg(op: Op, ma: Any, ctx: _Ctx) -> str:
    if not isinstance(ma, MemArg):
        raise ValidationError(f"{op.name}: memarg expected, got {ma!r}")
    parts = []
    if ma.mem != 0:
        parts.append(ctx.mems.ref(ma.mem))
    if ma.offset != 0:
        parts.append(f"offset={ma.offset}")
    natural = op.natural_align
    if natural is None or ma.align != natural:
        parts.append(f"align={1 << ma.align}")
    return " ".join(parts)


def _blocktype(bt: Any, ctx: _Ctx) -> str:
    if bt is None:
        return ""
    if isinstance(bt, int) and not isinstance(bt, bool):
        return f" (type {ctx.types.ref(bt)})"
    return f" (result {_valtype(bt, ctx)})"


def _ref_of(nullable: bool, h: Any, ctx: _Ctx) -> str:
    return f"(ref {'null ' if nullable else ''}{_heaptype(h, ctx)})"


def _catch(c: Any, ctx: _Ctx) -> str:
    kind, tag, label = c
    if kind in ("catch", "catch_ref"):
        return f"({kind} {ctx.tags.ref(tag)} {_int(label, 'label')})"
    if kind in ("catch_all", "catch_all_ref"):
        return f"({kind} {_int(label, 'label')})"
    raise ValidationError(f"unknown catch clause kind {kind!r}")


def _handler(h: Any, ctx: _Ctx) -> str:
    tag, label = h
    target = "switch" if label is None else _int(label, "label")
    return f"(on {ctx.tags.ref(tag)} {target})"


# Immediate kind -> the _Ctx attribute holding the names of its index space.
_IMM_SPACE = {
    "func": "funcs",
    "type": "types",
    "table": "tables",
    "mem": "mems",
    "local": "locals",
    "global": "globals",
    "tag": "tags",
    "elem": "elems",
    "data": "datas",
}


def _imm(kind: str, v: Any, op: Op, ctx: _Ctx, last_type: Any) -> str:
    space = _IMM_SPACE.get(kind)
    if space is not None:
        return getattr(ctx, space).ref(v)
    if kind in ("label", "lane", "u32"):
        return _int(v, kind)
    if kind == "labels":
        return " ".join(_int(x, "label") for x in v)
    if kind == "field":
        return ctx.fields(last_type).ref(v) if isinstance(last_type, int) else str(v)
    if kind == "memarg":
        return _memarg(op, v, ctx)
    if kind in ("i32", "i64"):
        return _int(v, kind)
    if kind == "f32":
        return format_f32(v)
    if kind == "f64":
        return format_f64(v)
    if kind == "v128":
        return format_v128(v)
    if kind == "shuffle":
        return " ".join(_int(x, "lane") for x in v)
    if kind == "heap":
        return _heaptype(v, ctx)
    if kind == "valtypes":
        return "(result" + "".join(" " + _valtype(t, ctx) for t in v) + ")"
    if kind == "bt":
        return _blocktype(v, ctx).lstrip()
    if kind == "catches":
        return " ".join(_catch(c, ctx) for c in v)
    if kind == "handlers":
        return " ".join(_handler(h, ctx) for h in v)
    raise ValidationError(f"{op.name}: unknown immediate kind {kind!r}")


def _instr_text(ins: Instr, ctx: _Ctx, label_bind: str = "") -> str:
    """One instruction in plain form (no indentation, no trailing newline)."""
    try:
        name, imm = ins
    except (TypeError, ValueError):
        raise ValidationError(f"not an instruction: {ins!r}") from None
    op = OPS.get(name)
    if op is None:
        raise ValidationError(f"unknown instruction {name!r}")
    if not isinstance(imm, tuple) or len(imm) != len(op.imms):
        raise ValidationError(f"{name}: expected {len(op.imms)} immediates, got {imm!r}")
    text = op.text
    # Rows whose text differs in shape or order from the binary.
    if name in ("block", "loop", "if", "try"):
        return f"{text}{label_bind}{_blocktype(imm[0], ctx)}"
    if name == "try_table":
        catches = "".join(" " + _catch(c, ctx) for c in imm[1])
        return f"{text}{label_bind}{_blocktype(imm[0], ctx)}{catches}"
    if name in ("ref.test", "ref.cast", "ref.test_null", "ref.cast_null"):
        return f"{text} {_ref_of(name.endswith('_null'), imm[0], ctx)}"
    if name in ("br_on_cast", "br_on_cast_fail"):
        flags, label, h1, h2 = imm
        flags = int(_int(flags, "castflags"))
        return (
            f"{text} {_int(label, 'label')} {_ref_of(bool(flags & 1), h1, ctx)} "
            f"{_ref_of(bool(flags & 2), h2, ctx)}"
        )
    if name in ("call_indirect", "return_call_indirect"):
        ty, table = imm
        tab = f" {ctx.tables.ref(table)}" if table != 0 else ""
        return f"{text}{tab} (type {ctx.types.ref(ty)})"
    if name == "memory.init":
        data, mem = imm
        mem_s = f" {ctx.mems.ref(mem)}" if mem != 0 else ""
        return f"{text}{mem_s} {ctx.datas.ref(data)}"
    if name == "table.init":
        elem, table = imm
        tab = f" {ctx.tables.ref(table)}" if table != 0 else ""
        return f"{text}{tab} {ctx.elems.ref(elem)}"
    if name in ("memory.size", "memory.grow", "memory.fill"):
        return text if imm[0] == 0 else f"{text} {ctx.mems.ref(imm[0])}"
    if name == "memory.copy":
        if imm == (0, 0):
            return text
        return f"{text} {ctx.mems.ref(imm[0])} {ctx.mems.ref(imm[1])}"
    if name == "table.copy":
        if imm == (0, 0):
            return text
        return f"{text} {ctx.tables.ref(imm[0])} {ctx.tables.ref(imm[1])}"
    if not imm:
        return text
    parts = [text]
    last_type = None
    for kind, v in zip(op.imms, imm):
        s = _imm(kind, v, op, ctx, last_type)
        if kind == "type":
            last_type = v
        if s:
            parts.append(s)
    return " ".join(parts)


@_guarded
def print_instr(ins: Instr, module: Module | None = None) -> str:
    """One instruction in plain form; indices are named from ``module``'s
    names when it is given (locals and labels stay numeric).

    Raises ValidationError for an unknown instruction or bad immediates.
    """
    return _instr_text(ins, _ctx_for(module))


def _body_lines(body: Sequence[Instr], ctx: _Ctx, depth: int) -> list[str]:
    """The lines of a function body (flat form, indented by block depth)."""
    lines: list[str] = []
    level = 0
    label_idx = 0
    for ins in body:
        name = ins[0] if isinstance(ins, tuple) and ins else None
        if name in ("end", "delegate"):
            level = max(level - 1, 0)
            lines.append(_INDENT * (depth + level) + _instr_text(ins, ctx))
        elif name in ("else", "catch", "catch_all"):
            lines.append(_INDENT * (depth + max(level - 1, 0)) + _instr_text(ins, ctx))
        elif name in BLOCK_OPENERS:
            bind = ctx.labels.bind(label_idx)
            label_idx += 1
            lines.append(_INDENT * (depth + level) + _instr_text(ins, ctx, bind))
            level += 1
        else:
            lines.append(_INDENT * (depth + level) + _instr_text(ins, ctx))
    return lines


def _const_expr(e: Expr, ctx: _Ctx) -> str:
    """A constant expression on one line: folded ``(op ...)`` items, or
    plain instructions if it contains structured control."""
    if any(isinstance(i, tuple) and i and i[0] in _STRUCTURAL for i in e):
        return " ".join(_instr_text(i, ctx) for i in e)
    return " ".join(f"({_instr_text(i, ctx)})" for i in e)


# ---------------------------------------------------------------------------
# Module fields


def _type_lines(m: Module, ctx: _Ctx) -> list[str]:
    lines: list[str] = []
    idx = 0
    for rec in m.types:
        if not isinstance(rec, RecType):
            raise ValidationError(f"not a recursion group: {rec!r}")
        subs = rec.subtypes
        if len(subs) == 1:
            lines.append(_INDENT + _subtype(subs[0], idx, ctx))
        elif not subs:
            lines.append(_INDENT + "(rec)")
        else:
            lines.append(_INDENT + "(rec")
            for k, st in enumerate(subs):
                lines.append(_INDENT * 2 + _subtype(st, idx + k, ctx))
            lines[-1] += ")"
        idx += len(subs)
    return lines


def _func_sig(type_idx: int, ctx: _Ctx, local_names: _Space | None) -> str:
    s = f" (type {ctx.types.ref(type_idx)})"
    ft = ctx.func_type(type_idx)
    if ft is not None:
        s += _params_results(ft, ctx, local_names)
    return s


def _import_line(imp: Import, counters: dict[ExternKind, int], ctx: _Ctx) -> str:
    kind = imp.kind
    idx = counters.get(kind, 0)
    counters[kind] = idx + 1
    d = imp.desc
    if kind is ExternKind.FUNC:
        locals_ = _Space(ctx.names.locals.get(idx))
        desc = f"(func{ctx.funcs.bind(idx)}{_func_sig(d, ctx, locals_)})"
    elif kind is ExternKind.TABLE:
        desc = f"(table{ctx.tables.bind(idx)} {_tabletype(d, ctx)})"
    elif kind is ExternKind.MEM:
        desc = f"(memory{ctx.mems.bind(idx)} {_memtype(d)})"
    elif kind is ExternKind.GLOBAL:
        desc = f"(global{ctx.globals.bind(idx)} {_globaltype(d, ctx)})"
    elif kind is ExternKind.TAG:
        ti = d.type_index if isinstance(d, TagType) else d
        desc = f"(tag{ctx.tags.bind(idx)} (type {ctx.types.ref(ti)}))"
    else:
        raise ValidationError(f"unknown import kind {kind!r}")
    return f"{_INDENT}(import {escape_string(imp.module)} {escape_string(imp.name)} {desc})"


def _local_decls(f: Func, nparams: int, ctx: _Ctx) -> list[str]:
    """The ``(local ...)`` declarations of ``f``, read from its runs.

    Unnamed neighbours share one ``(local t t ...)``; a named local gets its
    own. Work is linear in the printed text plus the runs and names (the
    caller has checked the total against MAX_PRINTED_LOCALS). Raises nothing.
    """
    locs = f.locals
    total = locs.total
    space = ctx.locals
    # declared locals that have a name, as offsets from the first declared one
    named = sorted({i - nparams for i in (*space.ids, *space.annots)
                    if nparams <= i < nparams + total})
    parts: list[str] = []
    pending: list[str] = []  # unnamed locals not yet written, as "t t ..." pieces
    k = 0  # the next entry of ``named``
    pos = 0
    for count, t in locs.runs:
        text = _valtype(t, ctx)
        end = pos + count
        while pos < end:
            stop = min(named[k], end) if k < len(named) else end
            if stop > pos:
                pending.append((text + " ") * (stop - pos - 1) + text)
                pos = stop
            if pos < end:  # local ``pos`` is named
                if pending:
                    parts.append(f"(local {' '.join(pending)})")
                    pending = []
                parts.append(f"(local{space.bind(nparams + pos)} {text})")
                pos += 1
                k += 1
    if pending:
        parts.append(f"(local {' '.join(pending)})")
    return parts


def _func_lines(f: Func, idx: int, ctx: _Ctx) -> list[str]:
    ft = ctx.func_type(f.type_index)
    ctx.locals = _Space(ctx.names.locals.get(idx)) if ft is not None else _EMPTY
    ctx.labels = _Space(ctx.names.labels.get(idx), unique=False)
    head = f"{_INDENT}(func{ctx.funcs.bind(idx)}{_func_sig(f.type_index, ctx, ctx.locals)}"
    lines = [head]
    nparams = len(ft.params) if ft is not None else 0
    local_parts = _local_decls(f, nparams, ctx)
    if local_parts:
        lines.append(_INDENT * 2 + " ".join(local_parts))
    lines.extend(_body_lines(f.body, ctx, 2))
    lines[-1] += ")"
    ctx.locals = _EMPTY
    ctx.labels = _EMPTY
    return lines


def _table_line(t: Table, idx: int, ctx: _Ctx) -> str:
    init = f" {_const_expr(t.init, ctx)}" if t.init else ""
    return f"{_INDENT}(table{ctx.tables.bind(idx)} {_tabletype(t.type, ctx)}{init})"


def _global_line(g: Global, idx: int, ctx: _Ctx) -> str:
    init = f" {_const_expr(g.init, ctx)}" if g.init else ""
    return f"{_INDENT}(global{ctx.globals.bind(idx)} {_globaltype(g.type, ctx)}{init})"


_FUNC_REF = RefType(False, AbsHeap.FUNC)


def _elem_line(e: Elem, idx: int, ctx: _Ctx) -> str:
    head = f"{_INDENT}(elem{ctx.elems.bind(idx)}"
    if e.mode == "active":
        table = f" (table {ctx.tables.ref(e.table)})" if e.table != 0 else ""
        head += f"{table} (offset {_const_expr(e.offset or [], ctx)})"
    elif e.mode == "declarative":
        head += " declare"
    elif e.mode != "passive":
        raise ValidationError(f"unknown element segment mode {e.mode!r}")
    if e.type == _FUNC_REF and all(
        len(x) == 1 and x[0][0] == "ref.func" and len(x[0][1]) == 1 for x in e.init
    ):
        funcs = "".join(" " + ctx.funcs.ref(x[0][1][0]) for x in e.init)
        return f"{head} func{funcs})"
    items = "".join(f" (item {_const_expr(x, ctx)})" for x in e.init)
    return f"{head} {_reftype(e.type, ctx)}{items})"


def _data_line(d: Data, idx: int, ctx: _Ctx) -> str:
    head = f"{_INDENT}(data{ctx.datas.bind(idx)}"
    if d.mode == "active":
        mem = f" (memory {ctx.mems.ref(d.mem)})" if d.mem != 0 else ""
        head += f"{mem} (offset {_const_expr(d.offset or [], ctx)})"
    elif d.mode != "passive":
        raise ValidationError(f"unknown data segment mode {d.mode!r}")
    return f"{head} {escape_bytes(bytes(d.init))})"


def _custom_line(c: Custom) -> str:
    if c.after == 0:
        place = "(before first)"
    elif c.after == 12:  # datacount: wasm-tools has no name for it; same spot
        place = "(before code)"
    elif c.after in _SECTION_NAMES:
        place = f"(after {_SECTION_NAMES[c.after]})"
    else:
        place = "(after last)"
    return f"{_INDENT}(@custom {escape_string(c.name)} {place} {escape_bytes(bytes(c.data))})"


def _export_line(e: Export, ctx: _Ctx) -> str:
    space = {
        ExternKind.FUNC: ctx.funcs,
        ExternKind.TABLE: ctx.tables,
        ExternKind.MEM: ctx.mems,
        ExternKind.GLOBAL: ctx.globals,
        ExternKind.TAG: ctx.tags,
    }.get(e.kind)
    if space is None:
        raise ValidationError(f"unknown export kind {e.kind!r}")
    return f"{_INDENT}(export {escape_string(e.name)} ({e.kind.text} {space.ref(e.index)}))"


def _check_print_budget(m: Module) -> None:
    """Refuse, before writing anything, a module whose locals are too many to print.

    Raises PrintLimitError past MAX_PRINTED_LOCALS (summed over the runs).
    """
    total = sum(f.locals.total for f in m.funcs)
    if total > MAX_PRINTED_LOCALS:
        raise PrintLimitError(
            f"cannot print the module as text: it declares {total} locals, more than "
            f"{MAX_PRINTED_LOCALS}, and the text format writes each one"
        )


@_guarded
def module_lines(m: Module) -> list[str]:
    """The lines of :func:`print_module`'s text (without newlines).

    Raises ValidationError and PrintLimitError as :func:`print_module` does.
    """
    _check_print_budget(m)
    ctx = _Ctx(m)
    head = "(module"
    if m.names.module is not None:
        ident = format_id(m.names.module)
        head += " " + (ident if ident is not None else _name_annot(m.names.module))
    lines = [head]
    lines.extend(_type_lines(m, ctx))
    counters: dict[ExternKind, int] = {}
    for imp in m.imports:
        lines.append(_import_line(imp, counters, ctx))
    nfunc = counters.get(ExternKind.FUNC, 0)
    for i, f in enumerate(m.funcs):
        lines.extend(_func_lines(f, nfunc + i, ctx))
    base = counters.get(ExternKind.TABLE, 0)
    for i, t in enumerate(m.tables):
        lines.append(_table_line(t, base + i, ctx))
    base = counters.get(ExternKind.MEM, 0)
    for i, mem in enumerate(m.mems):
        lines.append(f"{_INDENT}(memory{ctx.mems.bind(base + i)} {_memtype(mem.type)})")
    base = counters.get(ExternKind.TAG, 0)
    for i, tag in enumerate(m.tags):
        ti = tag.type.type_index
        lines.append(f"{_INDENT}(tag{ctx.tags.bind(base + i)} (type {ctx.types.ref(ti)}))")
    base = counters.get(ExternKind.GLOBAL, 0)
    for i, g in enumerate(m.globals):
        lines.append(_global_line(g, base + i, ctx))
    for e in m.exports:
        lines.append(_export_line(e, ctx))
    if m.start is not None:
        lines.append(f"{_INDENT}(start {ctx.funcs.ref(m.start)})")
    for i, e in enumerate(m.elems):
        lines.append(_elem_line(e, i, ctx))
    for i, d in enumerate(m.datas):
        lines.append(_data_line(d, i, ctx))
    for c in m.customs:
        lines.append(_custom_line(c))
    lines[-1] += ")"
    return lines


@_guarded
def print_module(m: Module) -> str:
    """The module in the WebAssembly text format (ends with a newline).

    Raises ValidationError for a structure that no decoder or parser makes
    (unknown instruction, immediates of the wrong shape, unknown kinds), and
    PrintLimitError for more than MAX_PRINTED_LOCALS declared locals in all.
    """
    return "\n".join(module_lines(m)) + "\n"


@_guarded
def print_exprs(instrs: Iterable[Instr], module: Module | None = None) -> str:
    """Instructions in plain form, one per line, indented by block depth.

    Raises ValidationError for an unknown instruction or bad immediates.
    """
    return "\n".join(_body_lines(list(instrs), _ctx_for(module), 0))


# ---------------------------------------------------------------------------
# Public helpers on types. ``module``, when given, supplies type names.


def _ctx_for(module: Module | None) -> _Ctx:
    return _NO_NAMES if module is None else _Ctx(module)


@_guarded
def print_heaptype(h: HeapType, module: Module | None = None) -> str:
    """``func``, ``any``, ... or a type index (``$name`` if ``module`` names it).

    Raises ValidationError for something that is not a heap type.
    """
    return _heaptype(h, _ctx_for(module))


@_guarded
def print_reftype(t: RefType, module: Module | None = None) -> str:
    """``funcref``/``externref`` for those two, else ``(ref null? ht)``.

    Raises ValidationError for a bad heap type.
    """
    return _reftype(t, _ctx_for(module))


@_guarded
def print_valtype(t: ValType, module: Module | None = None) -> str:
    """The text of a value type (``i32``, ``v128``, ``(ref null $t)`` ...).

    Raises ValidationError for something that is not a value type.
    """
    return _valtype(t, _ctx_for(module))


@_guarded
def print_func_type(ft: FuncType, module: Module | None = None) -> str:
    """``(func (param ...) (result ...))``.

    Raises ValidationError for something that is not a value type inside.
    """
    return _functype(ft, _ctx_for(module))


@_guarded
def print_import_desc(imp: Import, module: Module | None = None) -> str:
    """What an import brings in, as text (``(func (type 0) (param i32))``,
    ``(memory 1 2)``, ...), without a binding identifier.

    Raises ValidationError for an unknown import kind or bad types.
    """
    ctx = _ctx_for(module)
    d = imp.desc
    if imp.kind is ExternKind.FUNC:
        return f"(func{_func_sig(d, ctx, None)})"
    if imp.kind is ExternKind.TABLE:
        return f"(table {_tabletype(d, ctx)})"
    if imp.kind is ExternKind.MEM:
        return f"(memory {_memtype(d)})"
    if imp.kind is ExternKind.GLOBAL:
        return f"(global {_globaltype(d, ctx)})"
    if imp.kind is ExternKind.TAG:
        ti = d.type_index if isinstance(d, TagType) else d
        return f"(tag (type {ctx.types.ref(ti)}))"
    raise ValidationError(f"unknown import kind {imp.kind!r}")


def terminal_safe(text: str) -> str:
    """``text`` with every non-printable character (``str.isprintable``)
    replaced by the ``\\hh`` escapes the WAT printer writes for its UTF-8
    bytes, so that it prints as exactly one line and cannot drive the
    terminal. Raises nothing.
    """
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() else escape_bytes(ch.encode("utf-8", "surrogatepass"))[1:-1]
        for ch in text
    )
