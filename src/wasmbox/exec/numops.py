"""Emission of numeric instructions (constants, arithmetic, comparisons, conversions).

The semantics live in :mod:`wasmbox.exec.numerics`; this module only decides
*how* to spell each instruction in generated code:

1. the hottest integer operations get hand-written templates here, which
   know the value representation (unsigned ints, masks only where a result
   can leave its range) and produce Python ``bool`` comparisons that
   ``if``/``br_if``/``select`` consume directly;
   f32 arithmetic is done in double precision and rounded to single by a
   store to and a load from ``R32``, a one-element ``memoryview`` of C
   floats (the C conversion rounds to nearest-even, overflows to infinity
   and maps NaN payloads exactly as the f32 representation does); double
   rounding is harmless for +, -, *, / and sqrt of f32 values, and int32 ->
   double is exact;
2. otherwise the expression template from ``numerics.INLINE`` (operands that
   a template repeats are made simple first);
3. otherwise a call of the instruction's function from ``numerics.FUNCS``,
   bound in the generated code's globals under the instruction's name with
   ``.`` replaced by ``_``.

Raises :class:`~wasmbox.errors.UnsupportedFeature` for an instruction with
no implementation.
"""
from __future__ import annotations

import math

from ..errors import UnsupportedFeature
from . import numerics
from .stack import CONST, Entry, slot_entry

M32 = "0xFFFFFFFF"
M64 = "0xFFFFFFFFFFFFFFFF"
_MASK = {"i32": M32, "i64": M64}
_SIGN = {"i32": 0x80000000, "i64": 0x8000000000000000}
_BITS = {"i32": 32, "i64": 64}

#: instructions that can trap (integer division, float-to-int truncation)
TRAPPING = frozenset(
    [f"{t}.{op}" for t in ("i32", "i64") for op in ("div_s", "div_u", "rem_s", "rem_u")]
    + [f"{t}.trunc_{f}_{s}" for t in ("i32", "i64") for f in ("f32", "f64") for s in ("s", "u")]
)

_UNARY = frozenset(
    ["eqz", "clz", "ctz", "popcnt", "abs", "neg", "ceil", "floor", "trunc", "nearest", "sqrt",
     "extend8_s", "extend16_s", "extend32_s"]
)

#: largest magnitude (bits) of an unreduced intermediate before masking it
_RAW_LIMIT = {"i32": 64, "i64": 128}

_CMP_U = {"eq": "==", "ne": "!=", "lt_u": "<", "gt_u": ">", "le_u": "<=", "ge_u": ">="}
_CMP_S = {"lt_s": "<", "gt_s": ">", "le_s": "<=", "ge_s": ">="}
_CMP_F = {"eq": "==", "ne": "!=", "lt": "<", "gt": ">", "le": "<=", "ge": ">="}


def is_numeric(op: str) -> bool:
    """Whether op is a numeric instruction handled by :class:`NumericMixin`."""
    return op in numerics.FUNCS or op in numerics.INLINE


def arity(op: str) -> int:
    """Number of operands of a numeric instruction."""
    _, _, name = op.partition(".")
    if name in _UNARY or "_" in name and name.split("_")[0] in (
        "wrap", "extend", "trunc", "convert", "demote", "promote", "reinterpret"
    ):
        return 1
    return 2


def float_literal(x: float) -> str | None:
    """A Python literal for a finite float, or None (inf/nan go through constants)."""
    if math.isinf(x) or math.isnan(x):
        return None
    r = repr(x)
    return f"({r})" if r.startswith("-") else r


def _ring_operand(e: Entry, width: int, allow_raw: bool) -> tuple[str, int]:
    """(code, magnitude bits) of an operand of a ring operation of this width.

    A known constant counts its own bits; with allow_raw an unreduced form
    of the same width is used when there is one.
    """
    v = e.ival
    if v is not None:
        return e.code, max(1, v.bit_length())
    if allow_raw:
        r = e.raw_for(width)
        if r is not None:
            return r
    return e.code, width


class NumericMixin:
    """Numeric-instruction emission for :class:`~wasmbox.exec.compile.FunctionCompiler`."""

    stack: list[Entry]

    def const_name(self, value: object, wasm_type: str = "") -> str:  # pragma: no cover
        raise NotImplementedError

    def use_helper(self, name: str) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    # -- constants --------------------------------------------------------
    def emit_const(self, op: str, imm: int) -> None:
        if op == "i32.const":
            v = imm & 0xFFFFFFFF
            self.push_const(str(v), v)
        elif op == "i64.const":
            v = imm & 0xFFFFFFFFFFFFFFFF
            self.push_const(str(v), v)
        else:
            t = op[:3]
            x = numerics.f64_from_bits(imm) if t == "f64" else numerics.f32_from_bits(imm)
            lit = float_literal(x)
            self.push_const(lit if lit is not None else self.const_name(x, t), x)

    # -- everything else ----------------------------------------------------
    def emit_numeric(self, op: str) -> None:
        if arity(op) == 1:
            a = self.pop()
            if self._fast_unary(op, a):
                return
            self._generic(op, [a])
        else:
            b = self.pop()
            a = self.pop()
            if self._fast_binary(op, a, b):
                return
            self._generic(op, [a, b])

    def _generic(self, op: str, ops: list[Entry]) -> None:
        trap = op in TRAPPING
        tpl = numerics.INLINE.get(op)
        if tpl is not None:
            if op in numerics.INLINE_REPEATS:
                ops = self.simple_operands(ops)
            code = tpl.format(a=ops[0].code, b=ops[1].code if len(ops) > 1 else "")
            self.push_expr(code, ops, trap=trap)
            return
        if op not in numerics.FUNCS:
            raise UnsupportedFeature(f"instruction {op} is not supported")
        fn = self.use_helper(op.replace(".", "_"))
        self.push_expr(f"{fn}({', '.join(o.code for o in ops)})", ops, trap=trap)

    def _round32(self, code: str, ops: list[Entry]) -> None:
        """Push code (a double) rounded to f32, through the R32 scratch."""
        if any(o.effectful for o in ops):
            self.flush_effects()
        h = len(self.stack)
        self.protect(h)
        self.use_helper("R32")
        self.emit(f"R32[0] = {code}")
        self.emit(f"s{h} = R32[0]")
        self.stack.append(slot_entry(h))

    def _sqrt_code(self, a: Entry) -> tuple[str, list[Entry]]:
        [a] = self.simple_operands([a])
        return (f"({self.use_helper('SQRT')}({a.code}) if {a.code} >= 0.0 "
                f"else {self.use_helper('f64_sqrt')}({a.code}))"), [a]

    def _div_code(self, t: str, a: Entry, b: Entry) -> tuple[str, list[Entry]]:
        if b.kind == CONST and type(b.value) is float and b.value != 0.0:
            return f"({a.code} / {b.code})", [a, b]
        a, b = self.simple_operands([a, b]) if not b.simple else (a, b)
        fn = self.use_helper(f"{t}_div")
        return f"({a.code} / {b.code} if {b.code} else {fn}({a.code}, {b.code}))", [a, b]

    def _ring(self, t: str, py: str, a: Entry, b: Entry) -> None:
        """a py b for + - * << (by a known constant) & | ^, reduced once at the end.

        Operands may be unreduced (``raw``, of this width); the result is
        too, as long as its magnitude stays under the limit. Past it, the
        operands' reduced forms are used instead.
        """
        width = _BITS[t]
        limit = _RAW_LIMIT[t]
        if py == "<<":
            sh = b.ival & (width - 1)  # type: ignore[operator]
            ra, ba = _ring_operand(a, width, True)
            if ba + sh > limit:
                ra, ba = _ring_operand(a, width, False)
            raw, bits = f"({ra} << {sh})", ba + sh
        else:
            bv = b.ival
            if bv is not None and py in ("+", "-") and bv >= 1 << (width - 1):
                # x + c == x - (2**w - c) (mod 2**w): keep the constant small
                py = "-" if py == "+" else "+"
                bv = (1 << width) - bv
            rb, bb = (str(bv), max(1, bv.bit_length())) if bv is not None else \
                _ring_operand(b, width, True)
            ra, ba = _ring_operand(a, width, True)
            bits = ba + bb if py == "*" else max(ba, bb) + 1
            if bits > limit:
                ra, ba = _ring_operand(a, width, False)
                if bv is None:
                    rb, bb = _ring_operand(b, width, False)
                bits = ba + bb if py == "*" else max(ba, bb) + 1
            raw = f"({ra} {py} {rb})"
        self.push_expr(f"({raw} & {_MASK[t]})", [a, b], raw=raw, rbits=bits, rwidth=width)

    def _fast_unary(self, op: str, a: Entry) -> bool:
        t, _, name = op.partition(".")
        if op == "f64.sqrt":
            code, ops = self._sqrt_code(a)
            self.push_expr(code, ops)
            return True
        if op == "f32.sqrt":
            code, ops = self._sqrt_code(a)
            self._round32(code, ops)
            return True
        if op == "f32.demote_f64":
            self._round32(a.code, [a])
            return True
        if op == "f32.convert_i32_u":
            self._round32(f"float({a.code})", [a])
            return True
        if op == "f32.convert_i32_s":
            self._round32(f"float(({a.code} ^ 2147483648) - 2147483648)", [a])
            return True
        if name == "eqz":
            if a.isbool:
                self.push_expr(f"(not {a.code})", [a], isbool=True)
            else:
                self.push_expr(f"({a.code} == 0)", [a], isbool=True)
            return True
        if op == "i32.wrap_i64":
            r = a.raw_for(64)
            if r is not None:  # congruent modulo 2**64, so modulo 2**32 as well
                self.push_expr(f"({r[0]} & {M32})", [a], raw=r[0], rbits=r[1], rwidth=32)
            else:
                self.push_expr(f"({a.code} & {M32})", [a])
            return True
        if op == "i64.extend_i32_u":
            # the same int; a raw i32 form stays out of i64 arithmetic (Entry.raw_for)
            if a.isbool:
                self.push_expr(a.as_int(), [a])
            else:
                self.push(a)
            return True
        return False

    def _fast_binary(self, op: str, a: Entry, b: Entry) -> bool:
        t, _, name = op.partition(".")
        if t in ("i32", "i64"):
            m = _MASK[t]
            if name in ("add", "sub", "mul"):
                py = {"add": "+", "sub": "-", "mul": "*"}[name]
                av, bv = a.ival, b.ival
                if av is not None and bv is not None:
                    v = {"add": av + bv, "sub": av - bv, "mul": av * bv}[name] & int(m, 16)
                    self.push_const(str(v), v)
                    return True
                if name == "add" and bv == 0:
                    self.push(a)
                    return True
                self._ring(t, py, a, b)
                return True
            if name in ("and", "or", "xor"):
                py = {"and": "&", "or": "|", "xor": "^"}[name]
                w = _BITS[t]
                ra, rb = a.raw_for(w), b.raw_for(w)
                if a.isbool and b.isbool:
                    self.push_expr(f"({a.code} {py} {b.code})", [a, b], isbool=True)
                elif ra is None and rb is None:
                    self.push_expr(f"({a.code} {py} {b.code})", [a, b])
                elif name == "and" and (ra is None or rb is None):
                    # x & y is exact when either side is exact (in [0, 2**w))
                    ac = a.code if ra is None else ra[0]
                    bc = b.code if rb is None else rb[0]
                    self.push_expr(f"({ac} & {bc})", [a, b])
                else:
                    self._ring(t, py, a, b)
                return True
            if name in ("shl", "shr_u", "shr_s"):
                bits = _BITS[t]
                if b.ival is not None:
                    sh = str(b.ival & (bits - 1))
                else:
                    sh = f"({b.code} & {bits - 1})"
                if name == "shl":
                    if b.ival is not None:
                        self._ring(t, "<<", a, b)
                    else:
                        self.push_expr(f"(({a.code} << {sh}) & {m})", [a, b])
                elif name == "shr_u":
                    self.push_expr(f"({a.code} >> {sh})", [a, b])
                else:
                    s = _SIGN[t]
                    self.push_expr(f"(((({a.code} ^ {s}) - {s}) >> {sh}) & {m})", [a, b])
                return True
            if name in _CMP_U:
                self.push_expr(f"({a.code} {_CMP_U[name]} {b.code})", [a, b], isbool=True)
                return True
            if name in _CMP_S:
                s = _SIGN[t]
                ac = f"({a.code} ^ {s})"
                bc = str(b.ival ^ s) if b.ival is not None else f"({b.code} ^ {s})"
                self.push_expr(f"({ac} {_CMP_S[name]} {bc})", [a, b], isbool=True)
                return True
            if name in ("div_u", "rem_u") and b.ival:
                py = "//" if name == "div_u" else "%"
                self.push_expr(f"({a.code} {py} {b.code})", [a, b])
                return True
            return False
        # floats
        if name in _CMP_F:
            self.push_expr(f"({a.code} {_CMP_F[name]} {b.code})", [a, b], isbool=True)
            return True
        if name in ("add", "sub", "mul"):
            py = {"add": "+", "sub": "-", "mul": "*"}[name]
            if t == "f64":
                self.push_expr(f"({a.code} {py} {b.code})", [a, b])
            else:
                self._round32(f"{a.code} {py} {b.code}", [a, b])
            return True
        if name == "div":
            code, ops = self._div_code(t, a, b)
            if t == "f64":
                self.push_expr(code, ops)
            else:
                self._round32(code, ops)
            return True
        return False
