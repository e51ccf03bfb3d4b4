"""Text-format instructions: plain and folded forms, flattened.

A mixin of :class:`~wasmbox.text.parse.ModuleParser`. :meth:`instrs` parses
a sequence of instructions into a flat list of
:class:`~wasmbox.syntax.module.Instr` exactly as the binary format lays them
out (``block``... ``end``; folded operands first). The immediates follow the
opcode table in :mod:`wasmbox.syntax.opcodes`; mnemonics come from
``Op.text``.

Function context used here (set by the module parser per function):
``self.locals_map`` (name -> local index), ``self.labels`` (stack of label
names, innermost last), ``self.uses_data_count``.

Raises :class:`~wasmbox.errors.ParseError`.
"""
from __future__ import annotations

from typing import Any, Callable

from ..syntax.module import Catch, Handler, Instr, MemArg
from ..syntax.opcodes import OPS
from .literals import NAT_RE, LiteralError, parse_f32, parse_f64, parse_int, parse_uint
from .parse_types import TypesMixin

END = Instr("end")
ELSE = Instr("else")
CATCH_ALL = Instr("catch_all")

# Words that end an instruction sequence in plain form / start a clause in
# folded form.
_PLAIN_STOP = frozenset({"end", "else", "catch", "catch_all", "delegate", ""})
_FOLD_STOP = frozenset(
    {"then", "else", "do", "catch", "catch_ref", "catch_all", "catch_all_ref", "delegate"}
)
_STRUCTURED = frozenset({"block", "loop", "if", "try", "try_table"})
_DATA_COUNT_OPS = frozenset({"memory.init", "data.drop", "array.new_data", "array.init_data"})

# Instructions without immediates: one shared Instr each.
NOIMM: dict[str, Instr] = {
    op.text: Instr(op.name)
    for op in OPS.values()
    if not op.imms and op.text not in _PLAIN_STOP and op.name not in ("select",)
}

def _looks_numeric(t: str) -> bool:
    """True for a token that may be a lane literal: anything up to the next
    parenthesis or keyword (``inf``/``nan`` count as numbers; malformed
    numbers and reserved tokens are counted and rejected when converted)."""
    c = t[:1]
    if not c or c == "(" or c == ")":
        return False
    if "a" <= c <= "z":
        return t[:3] in ("inf", "nan")
    return True


_V128_SHAPES = {
    "i8x16": (16, 8),
    "i16x8": (8, 16),
    "i32x4": (4, 32),
    "i64x2": (2, 64),
    "f32x4": (4, 32),
    "f64x2": (2, 64),
}


class InstrMixin(TypesMixin):
    """Instruction parsing; needs the module and function context."""

    locals_map: dict[str, int]
    labels: list[str | None]
    uses_data_count: bool
    label_count: int
    label_names: dict[int, str]

    # -- sequences ------------------------------------------------------------

    def instrs(self, out: list[Instr]) -> None:
        """Parse instructions into ``out`` until ``)``, a block keyword or a clause.

        Plain (unfolded) blocks are tracked on a local stack rather than by
        recursion, so that deeply nested ``block``...``end`` code (as compilers
        emit for ``br_table`` dispatch) parses at any depth.
        """
        toks = self.toks
        noimm = NOIMM
        simple = _SIMPLE
        labels = self.labels
        frames: list[list] = []  # open plain blocks: [keyword, label, part]
        while True:
            t = toks[self.i]
            if t == "(":
                kw = toks[self.i + 1]
                if kw in _FOLD_STOP:
                    if frames:
                        raise self.unexpected(self.i + 1)
                    return
                self.folded(out)
                continue
            ins = noimm.get(t)
            if ins is not None:
                self.i += 1
                out.append(ins)
                continue
            h = simple.get(t)
            if h is not None:
                self.i += 1
                out.append(h(self, t))
                continue
            if t in _STRUCTURED:
                self.i += 1
                label = self.opt_id()
                self._label_name(label)
                bt = self.blocktype()
                if t == "try_table":
                    out.append(Instr("try_table", (bt, self.catches())))
                else:
                    out.append(Instr(t, (bt,)))
                labels.append(label)
                frames.append([t, label, 0])
                continue
            if frames:
                frame = frames[-1]
                kw, label, part = frame
                if t == "end":
                    self.i += 1
                    self._end_label(label)
                    labels.pop()
                    frames.pop()
                    out.append(END)
                    continue
                if kw == "if" and t == "else" and part == 0:
                    self.i += 1
                    self._end_label(label)
                    out.append(ELSE)
                    frame[2] = 1
                    continue
                if kw == "try" and part < 2:
                    if t == "catch":
                        self.i += 1
                        out.append(Instr("catch", (self.index("tag"),)))
                        frame[2] = 1
                        continue
                    if t == "catch_all":
                        self.i += 1
                        out.append(CATCH_ALL)
                        frame[2] = 2
                        continue
                    if t == "delegate" and part == 0:
                        self.i += 1
                        labels.pop()
                        frames.pop()
                        out.append(Instr("delegate", (self.label_index(),)))
                        continue
                raise self.unexpected()
            if t == ")" or t in _PLAIN_STOP:
                return
            raise self.unexpected()

    def folded(self, out: list[Instr]) -> None:
        """One folded instruction ``( op imm* operand* )`` starting at ``(``."""
        toks = self.toks
        kw = toks[self.i + 1]
        self.i += 2
        ins = NOIMM.get(kw)
        if ins is None:
            h = _SIMPLE.get(kw)
            if h is None:
                if kw in _STRUCTURED:
                    self.folded_block(out, kw)
                    return
                raise self.unexpected(self.i - 1)
            ins = h(self, kw)
        while toks[self.i] == "(":
            self.folded(out)
        if toks[self.i] != ")":
            raise self.unexpected()
        self.i += 1
        out.append(ins)

    def expr(self) -> list[Instr]:
        """A constant expression / instruction sequence up to ``)``."""
        out: list[Instr] = []
        self.instrs(out)
        if self.toks[self.i] != ")":
            raise self.unexpected()
        return out

    # -- structured instructions ----------------------------------------------

    def _label_name(self, label: str | None, at: int | None = None) -> None:
        """Count a block opener; record its label name (``$id`` or ``(@name)``).

        Label names are numbered by the openers' order in the flat body, as
        in the name section. ``at`` is where an ``(@name ...)`` would sit
        (default: the current token).
        """
        n = self.label_count
        self.label_count = n + 1
        if self.name_annots:
            annot = self.name_annots.pop(self.i if at is None else at, None)
            if annot is not None:
                label = annot
        if label is not None:
            self.label_names[n] = label

    def _end_label(self, label: str | None) -> None:
        t = self.toks[self.i]
        if t[:1] == "$":
            if self.id_name() != label:
                raise self.error("mismatching label")
            self.i += 1

    def folded_block(self, out: list[Instr], kw: str) -> None:
        """``(block ...)``, ``(loop ...)``, ``(if ...)``, ``(try ...)``, ``(try_table ...)``."""
        toks = self.toks
        label = self.opt_id()
        label_at = self.i
        bt = self.blocktype()
        labels = self.labels
        if kw != "if":  # an if's label is numbered after its condition's blocks
            self._label_name(label, label_at)
        if kw == "block" or kw == "loop":
            out.append(Instr(kw, (bt,)))
            labels.append(label)
            self.instrs(out)
        elif kw == "try_table":
            catches = self.catches()
            out.append(Instr("try_table", (bt, catches)))
            labels.append(label)
            self.instrs(out)
        elif kw == "if":
            while toks[self.i] == "(" and toks[self.i + 1] != "then":
                self.folded(out)
            if not (toks[self.i] == "(" and toks[self.i + 1] == "then"):
                raise self.unexpected()
            self.i += 2
            self._label_name(label, label_at)
            out.append(Instr("if", (bt,)))
            labels.append(label)
            self.instrs(out)
            self.expect_rpar()
            if toks[self.i] == "(" and toks[self.i + 1] == "else":
                self.i += 2
                out.append(ELSE)
                self.instrs(out)
                self.expect_rpar()
        else:  # legacy try
            if not (toks[self.i] == "(" and toks[self.i + 1] == "do"):
                raise self.unexpected()
            self.i += 2
            out.append(Instr("try", (bt,)))
            labels.append(label)
            self.instrs(out)
            self.expect_rpar()
            has_catch = toks[self.i] == "(" and toks[self.i + 1] in ("catch", "catch_all")
            while toks[self.i] == "(" and toks[self.i + 1] == "catch":
                self.i += 2
                out.append(Instr("catch", (self.index("tag"),)))
                self.instrs(out)
                self.expect_rpar()
            if toks[self.i] == "(" and toks[self.i + 1] == "catch_all":
                self.i += 2
                out.append(CATCH_ALL)
                self.instrs(out)
                self.expect_rpar()
            elif toks[self.i] == "(" and toks[self.i + 1] == "delegate" and not has_catch:
                self.i += 2
                labels.pop()
                out.append(Instr("delegate", (self.label_index(),)))
                self.expect_rpar()
                self.expect_rpar()
                return
        if toks[self.i] != ")":
            raise self.unexpected()
        self.i += 1
        labels.pop()
        out.append(END)

    def catches(self) -> tuple[Catch, ...]:
        """``try_table`` clauses; their labels are outside the try_table."""
        toks = self.toks
        out = []
        while toks[self.i] == "(":
            kw = toks[self.i + 1]
            if kw == "catch" or kw == "catch_ref":
                self.i += 2
                tag = self.index("tag")
                out.append(Catch(kw, tag, self.label_index()))
            elif kw == "catch_all" or kw == "catch_all_ref":
                self.i += 2
                out.append(Catch(kw, None, self.label_index()))
            else:
                break
            self.expect_rpar()
        return tuple(out)

    # -- immediates -------------------------------------------------------------

    def label_index(self) -> int:
        t = self.toks[self.i]
        if t[:1] == "$":
            name = self.id_name()
            labels = self.labels
            k = len(labels) - 1
            while k >= 0:
                if labels[k] == name:
                    self.i += 1
                    return len(labels) - 1 - k
                k -= 1
            raise self.error(f"unknown label {t}")
        if "0" <= t[:1] <= "9":
            return self.u32()
        raise self.unexpected()

    def local_index(self) -> int:
        t = self.toks[self.i]
        if t[:1] == "$":
            v = self.locals_map.get(self.id_name())
            if v is None:
                raise self.error(f"unknown local {t}")
            self.i += 1
            return v
        if "0" <= t[:1] <= "9":
            return self.u32()
        raise self.unexpected()

    def field_index(self, type_idx: int) -> int:
        t = self.toks[self.i]
        if t[:1] == "$":
            v = self.field_names.get(type_idx, {}).get(self.id_name())
            if v is None:
                raise self.error(f"unknown field {t}")
            self.i += 1
            return v
        if "0" <= t[:1] <= "9":
            return self.u32()
        raise self.unexpected()

    def memarg(self, natural: int, mem: int | None = None) -> MemArg:
        """``memidx? offset=? align=?``; ``mem`` given: the index was already read."""
        toks = self.toks
        t = toks[self.i]
        if mem is None:
            mem = 0
            c = t[:1]
            if c == "$" or "0" <= c <= "9":
                mem = self.index("memory")
                t = toks[self.i]
        offset = 0
        if t[:7] == "offset=":
            offset = self._eq_value(t, 7)
            self.i += 1
            t = toks[self.i]
        align = natural
        if t[:6] == "align=":
            a = self._eq_value(t, 6)
            if a == 0 or a & (a - 1):
                raise self.error("alignment must be a power of two")
            align = a.bit_length() - 1
            self.i += 1
        return MemArg(align, offset, mem)

    def _eq_value(self, t: str, n: int) -> int:
        try:
            return parse_uint(t[n:], 64)
        except LiteralError as e:
            if e.message == "unknown operator":
                raise self.unexpected() from None
            raise self.error("i64 constant out of range") from None

    def lane_index(self) -> int:
        try:
            n = parse_uint(self.toks[self.i], 8)
        except LiteralError as e:
            if e.message == "unknown operator":
                raise self.error("unexpected token") from None
            raise self.error("i8 constant out of range") from None
        self.i += 1
        return n

    def handlers(self) -> tuple[Handler, ...]:
        toks = self.toks
        out = []
        while toks[self.i] == "(" and toks[self.i + 1] == "on":
            self.i += 2
            tag = self.index("tag")
            if toks[self.i] == "switch":
                self.i += 1
                out.append(Handler(tag, None))
            else:
                out.append(Handler(tag, self.label_index()))
            self.expect_rpar()
        return tuple(out)

    def v128_value(self) -> int:
        """``shape lane*`` of a v128.const: the 128-bit little-endian value."""
        toks = self.toks
        shape = _V128_SHAPES.get(toks[self.i])
        if shape is None:
            raise self.unexpected()
        kind = toks[self.i][0]
        self.i += 1
        n, width = shape
        mask = (1 << width) - 1
        value = 0
        j = self.i
        while _looks_numeric(toks[j]):
            j += 1
        if j - self.i != n:
            raise self.error("wrong number of lane literals")
        for k in range(n):
            t = toks[self.i]
            try:
                if kind == "i":
                    lane = parse_int(t, width) & mask
                elif width == 32:
                    lane = parse_f32(t)
                else:
                    lane = parse_f64(t)
            except LiteralError as e:
                raise self._lit_error(e) from None
            self.i += 1
            value |= lane << (k * width)
        return value


# ---------------------------------------------------------------------------
# Handlers: parse the immediates after the mnemonic and return the Instr.

Handler_ = Callable[[InstrMixin, str], Instr]


def _space_reader(kind: str) -> Callable[[InstrMixin], Any]:
    if kind == "label":
        return InstrMixin.label_index
    if kind == "local":
        return InstrMixin.local_index
    if kind == "u32":
        return InstrMixin.u32
    space = {"func": "func", "type": "type", "tag": "tag", "global": "global",
             "data": "data", "elem": "elem", "table": "table", "mem": "memory"}[kind]
    return lambda p: p.index(space)


def _make_indices(name: str, kinds: tuple[str, ...]) -> Handler_:
    readers = [_space_reader(k) for k in kinds]
    data_count = name in _DATA_COUNT_OPS
    if len(readers) == 1:
        r0 = readers[0]

        def h1(p: InstrMixin, kw: str) -> Instr:
            if data_count:
                p.uses_data_count = True
            return Instr(name, (r0(p),))

        return h1
    r0, r1 = readers

    def h2(p: InstrMixin, kw: str) -> Instr:
        if data_count:
            p.uses_data_count = True
        a = r0(p)
        return Instr(name, (a, r1(p)))

    return h2


def _make_opt(name: str, space: str, count: int) -> Handler_:
    def h(p: InstrMixin, kw: str) -> Instr:
        x = p.opt_index(space)
        if x is None:
            return Instr(name, (0,) * count)
        if count == 1:
            return Instr(name, (x,))
        return Instr(name, (x, p.index(space)))

    return h


def _make_memarg(name: str) -> Handler_:
    natural = OPS[name].natural_align or 0

    def h(p: InstrMixin, kw: str) -> Instr:
        return Instr(name, (p.memarg(natural),))

    return h


def _make_lane_memarg(name: str) -> Handler_:
    natural = OPS[name].natural_align or 0

    def h(p: InstrMixin, kw: str) -> Instr:
        toks = p.toks
        t = toks[p.i]
        c = t[:1]
        mem = 0
        if c == "$":
            mem = p.index("memory")
        elif "0" <= c <= "9":
            n = toks[p.i + 1]
            if n[:7] == "offset=" or n[:6] == "align=" or "0" <= n[:1] <= "9":
                mem = p.index("memory")
        return Instr(name, (p.memarg(natural, mem), p.lane_index()))

    return h


def _h_i32(p: InstrMixin, kw: str) -> Instr:
    return Instr("i32.const", (p.int_lit(32),))


def _h_i64(p: InstrMixin, kw: str) -> Instr:
    return Instr("i64.const", (p.int_lit(64),))


def _h_f32(p: InstrMixin, kw: str) -> Instr:
    return Instr("f32.const", (p.float_lit(32),))


def _h_f64(p: InstrMixin, kw: str) -> Instr:
    return Instr("f64.const", (p.float_lit(64),))


def _h_v128(p: InstrMixin, kw: str) -> Instr:
    return Instr("v128.const", (p.v128_value(),))


def _h_shuffle(p: InstrMixin, kw: str) -> Instr:
    toks = p.toks
    start = j = p.i
    while _looks_numeric(toks[j]):
        j += 1
    if j - start != 16:
        raise p.error("invalid lane length")
    lanes = []
    for _ in range(16):
        if NAT_RE.match(toks[p.i]) is None:
            raise p.error("i8 constant out of range")
        lanes.append(p.lane_index())
    return Instr("i8x16.shuffle", (tuple(lanes),))


def _make_lane(name: str) -> Handler_:
    def h(p: InstrMixin, kw: str) -> Instr:
        return Instr(name, (p.lane_index(),))

    return h


def _h_ref_null(p: InstrMixin, kw: str) -> Instr:
    return Instr("ref.null", (p.heaptype(),))


def _make_ref_test(base: str) -> Handler_:
    def h(p: InstrMixin, kw: str) -> Instr:
        rt = p.reftype()
        return Instr(base + "_null" if rt.nullable else base, (rt.heap,))

    return h


def _make_br_on_cast(name: str) -> Handler_:
    def h(p: InstrMixin, kw: str) -> Instr:
        label = p.label_index()
        rt1 = p.reftype()
        rt2 = p.reftype()
        flags = (1 if rt1.nullable else 0) | (2 if rt2.nullable else 0)
        return Instr(name, (flags, label, rt1.heap, rt2.heap))

    return h


def _h_br_table(p: InstrMixin, kw: str) -> Instr:
    labels = [p.label_index()]
    toks = p.toks
    while True:
        c = toks[p.i][:1]
        if c == "$" or "0" <= c <= "9":
            labels.append(p.label_index())
        else:
            break
    return Instr("br_table", (tuple(labels[:-1]), labels[-1]))


def _h_select(p: InstrMixin, kw: str) -> Instr:
    toks = p.toks
    if not (toks[p.i] == "(" and toks[p.i + 1] == "result"):
        return Instr("select")
    ts: list[Any] = []
    while toks[p.i] == "(" and toks[p.i + 1] == "result":
        p.i += 2
        ts.extend(p.valtypes())
        p.i += 1
    return Instr("select_t", (tuple(ts),))


def _make_call_indirect(name: str) -> Handler_:
    def h(p: InstrMixin, kw: str) -> Instr:
        table = p.opt_index("table")
        x, _, _ = p.typeuse(allow_names=False)
        return Instr(name, (x, table or 0))

    return h


def _make_struct_field(name: str) -> Handler_:
    def h(p: InstrMixin, kw: str) -> Instr:
        x = p.index("type")
        return Instr(name, (x, p.field_index(x)))

    return h


def _make_init(name: str, space: str, segments: str) -> Handler_:
    """``memory.init mem? data`` / ``table.init table? elem``: two indices
    when a second one follows, else the segment alone (memory/table 0)."""

    def h(p: InstrMixin, kw: str) -> Instr:
        if segments == "data":
            p.uses_data_count = True
        c1 = p.toks[p.i + 1][:1]
        if c1 == "$" or "0" <= c1 <= "9":
            x = p.index(space)
            return Instr(name, (p.index(segments), x))
        return Instr(name, (p.index(segments), 0))

    return h


def _make_resume(name: str, with_tag: bool) -> Handler_:
    def h(p: InstrMixin, kw: str) -> Instr:
        x = p.index("type")
        if with_tag:
            tag = p.index("tag")
            return Instr(name, (x, tag, p.handlers()))
        return Instr(name, (x, p.handlers()))

    return h


def _build() -> dict[str, Handler_]:
    table: dict[str, Handler_] = {}
    for op in OPS.values():
        name, imms = op.name, op.imms
        if not imms or op.text in _STRUCTURED or op.text in _PLAIN_STOP:
            continue
        if op.text != name:  # select_t, ref.test_null, ref.cast_null
            continue
        if imms == ("memarg",):
            table[name] = _make_memarg(name)
        elif imms == ("memarg", "lane"):
            table[name] = _make_lane_memarg(name)
        elif imms == ("lane",):
            table[name] = _make_lane(name)
        elif imms in (("table",), ("mem",)):
            table[name] = _make_opt(name, "table" if imms[0] == "table" else "memory", 1)
        elif imms in (("table", "table"), ("mem", "mem")):
            table[name] = _make_opt(name, "table" if imms[0] == "table" else "memory", 2)
        elif imms == ("type", "field"):
            table[name] = _make_struct_field(name)
        elif imms == ("type", "table"):
            table[name] = _make_call_indirect(name)
        elif imms == ("type", "handlers"):
            table[name] = _make_resume(name, False)
        elif imms == ("type", "tag", "handlers"):
            table[name] = _make_resume(name, True)
        elif imms[0] == "castflags":
            table[name] = _make_br_on_cast(name)
        elif all(k in ("label", "local", "u32", "func", "type", "tag", "global", "data", "elem") for k in imms):
            table[name] = _make_indices(name, imms)
    table.update(
        {
            "i32.const": _h_i32,
            "i64.const": _h_i64,
            "f32.const": _h_f32,
            "f64.const": _h_f64,
            "v128.const": _h_v128,
            "i8x16.shuffle": _h_shuffle,
            "ref.null": _h_ref_null,
            "ref.test": _make_ref_test("ref.test"),
            "ref.cast": _make_ref_test("ref.cast"),
            "br_table": _h_br_table,
            "select": _h_select,
            "memory.init": _make_init("memory.init", "memory", "data"),
            "table.init": _make_init("table.init", "table", "elem"),
        }
    )
    missing = [
        op.text for op in OPS.values()
        if op.text not in table and op.text not in NOIMM
        and op.text not in _STRUCTURED and op.text not in _PLAIN_STOP
    ]
    if missing:  # pragma: no cover - a new table row needs a handler here
        raise RuntimeError(f"text parser has no handler for {missing}")
    return table


_SIMPLE = _build()
