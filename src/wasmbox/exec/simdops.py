"""Emission of the SIMD instructions (v128 values, lanes, vector memory access).

A v128 is an unsigned 128-bit Python int (see
:mod:`wasmbox.exec.numerics_simd`, where every instruction's semantics
live). Generated code spells an instruction as

* a hexadecimal literal for ``v128.const``;
* an expression template of ``numerics_simd.SIMD_INLINE`` for the plain
  bitwise instructions (``v128.and`` -> ``(a & b)``);
* otherwise a call of the instruction's function, bound in the generated
  code's globals under its name with ``.`` -> ``_``, with the operands in
  stack order and the immediates (lane index, the shuffle's lane tuple)
  as trailing literal arguments: ``i32x4_extract_lane(s0, 2)``;
* memory forms: ``v128_load(M0, ea)``, ``v128_store8_lane(M0, ea, v, 3)``
  (``struct`` underneath: out of bounds raises ``struct.error``, which
  the call boundary turns into the trap).

A relaxed SIMD instruction whose deterministic result is a Wasm 2.0
instruction's (``numerics_simd.RELAXED_SAME``) is emitted as that
instruction (``f32x4.relaxed_min`` -> ``f32x4_min(a, b)``, and
``i8x16.relaxed_laneselect`` -> ``v128_bitselect(a, b, m)``).

No SIMD instruction traps except through memory. Raises
:class:`~wasmbox.errors.UnsupportedFeature` for an instruction it does not
know (validation refuses those first).
"""
from __future__ import annotations

from ..errors import UnsupportedFeature
from ..syntax.module import MemArg
from .numerics_simd import RELAXED_SAME, SIMD_ARITY, SIMD_FUNCS, SIMD_INLINE, SIMD_MEM_FUNCS
from .stack import Entry

#: every SIMD instruction this compiler runs
SIMD_OPS = (frozenset(SIMD_FUNCS) | frozenset(SIMD_MEM_FUNCS) | frozenset(RELAXED_SAME)
            | {"v128.const"})


def v128_literal(v: int) -> str:
    """A Python literal for a v128 (hex, 32 digits, for readable lanes)."""
    return "0" if v == 0 else f"0x{v:032X}"


class SimdMixin:
    """SIMD emission for :class:`~wasmbox.exec.compile.FunctionCompiler`."""

    stack: list[Entry]

    def emit_simd(self, op: str, imm: tuple) -> None:
        if op == "v128.const":
            self.push_const(v128_literal(imm[0]))
            return
        if op in SIMD_MEM_FUNCS:
            self._emit_simd_mem(op, imm)
            return
        op = RELAXED_SAME.get(op, op)  # a relaxed instruction with a 2.0 result
        n = SIMD_ARITY.get(op)
        if n is None:  # pragma: no cover - validation refuses unknown instructions first
            raise UnsupportedFeature(f"instruction {op} is not supported")
        ops = self.popn(n)
        tpl = SIMD_INLINE.get(op)
        if tpl is not None:
            if tpl.count("{a}") > 1 or tpl.count("{b}") > 1:  # pragma: no cover - none today
                ops = self.simple_operands(ops)
            code = tpl.format(a=ops[0].code, b=ops[1].code if n > 1 else "")
            self.push_expr(code, ops)
            return
        args = [o.as_int() for o in ops]
        if imm:
            lanes = imm[0]
            args.append(f"({', '.join(map(str, lanes))})" if isinstance(lanes, tuple) else str(lanes))
        fn = self.use_helper(op.replace(".", "_"))
        self.push_expr(f"{fn}({', '.join(args)})", ops)

    def _emit_simd_mem(self, op: str, imm: tuple) -> None:
        ma: MemArg = imm[0]
        fn = self.use_helper(op.replace(".", "_"))
        m = f"M{ma.mem}"
        clamp = self._is64(ma.mem)
        lane = imm[1] if len(imm) > 1 else None
        if ".store" in op:
            v = self.pop()
            addr = self.pop()
            self.flush_effects()
            ea = self._ea(addr, ma, clamp)
            tail = "" if lane is None else f", {lane}"
            self.emit(f"{fn}({m}, {ea}, {v.code}{tail})")
            return
        if lane is None:
            addr = self.pop()
            self.push_expr(f"{fn}({m}, {self._ea(addr, ma, clamp)})", [addr], trap=True, state=True)
            return
        v = self.pop()
        addr = self.pop()
        self.push_expr(f"{fn}({m}, {self._ea(addr, ma, clamp)}, {v.code}, {lane})", [addr, v],
                       trap=True, state=True)
