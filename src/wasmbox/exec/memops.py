"""Emission of memory, table, global and reference instructions.

Generated code reaches a memory through two names bound in its globals:
``M<i>``, the memory's accessible bytes (``len`` = current size; the runtime
may bind a new object there when the memory grows, so generated code reads
the global at every use and never keeps it in a local), and ``m<i>``, the
memory object (for ``memory.grow``). Loads and stores are pre-bound
``struct`` methods (``U32(M0, ea)[0]``, ``P32(M0, ea, v)``) or byte
indexing; an access out of bounds raises ``struct.error``/``IndexError``,
which the call boundary turns into the trap "out of bounds memory access".
Effective addresses are ``address + offset`` in Python ints (no
wrap-around, never negative). For 64-bit memories (memory64) addresses and
offsets are up to 2^64-1; loads through ``struct`` clamp the effective
address below 2^63 (see :meth:`MemoryMixin._ea`) so that it still fails
with ``struct.error``. Page sizes (custom-page-sizes) only change the shift
of ``memory.size``; ``memory.grow`` is the memory object's business.

Tables are ``T<i>`` (the element list) and ``t<i>`` (the table object);
element segments ``E<i>`` (a list, emptied by ``elem.drop``); data segments
``D<i>`` (an object with ``.data``). Mutable globals are ``g<i>`` (an object
with ``.raw``); immutable ones are bound by value as ``G<i>``. Function
references are ``F<i>`` (the function instance).

Bulk operations call helpers from :mod:`wasmbox.exec.bulk` (with epochs
on, passing the epoch and deadline cells ``EP``/``DL``). With fuel
on, a bulk operation that succeeds is followed by ``u -= <size>`` and a
check (one unit per byte, element or page; see :mod:`wasmbox.exec.interrupt`),
so its size operand is evaluated once, into a temporary if need be.

Raises :class:`~wasmbox.errors.UnsupportedFeature` for instructions this
engine does not run.
"""
from __future__ import annotations

from ..errors import UnsupportedFeature
from ..syntax.module import MemArg
from ..syntax.types import AddrType
from .stack import EXPR, Entry, slot_entry

#: effective addresses of 64-bit memories are clamped to this for ``struct``
#: loads (see :meth:`MemoryMixin._ea`); no memory is ever this large
EA_CLAMP = (1 << 63) - 1

#: load op -> (format, how to finish the raw read)
_LOADS = {
    "i32.load": ("U32({m}, {ea})[0]"),
    "i64.load": ("U64({m}, {ea})[0]"),
    "f32.load": ("f32_load({m}, {ea})"),
    "f64.load": ("UD({m}, {ea})[0]"),
    "i32.load8_u": ("{m}[{ea}]"),
    "i32.load8_s": ("((({m}[{ea}] ^ 128) - 128) & 0xFFFFFFFF)"),
    "i32.load16_u": ("U16({m}, {ea})[0]"),
    "i32.load16_s": ("(S16({m}, {ea})[0] & 0xFFFFFFFF)"),
    "i64.load8_u": ("{m}[{ea}]"),
    "i64.load8_s": ("((({m}[{ea}] ^ 128) - 128) & 0xFFFFFFFFFFFFFFFF)"),
    "i64.load16_u": ("U16({m}, {ea})[0]"),
    "i64.load16_s": ("(S16({m}, {ea})[0] & 0xFFFFFFFFFFFFFFFF)"),
    "i64.load32_u": ("U32({m}, {ea})[0]"),
    "i64.load32_s": ("(S32({m}, {ea})[0] & 0xFFFFFFFFFFFFFFFF)"),
}

_STORES = {
    "i32.store": "P32({m}, {ea}, {v})",
    "i64.store": "P64({m}, {ea}, {v})",
    "f32.store": "f32_store({m}, {ea}, {v})",
    "f64.store": "PD({m}, {ea}, {v})",
    "i32.store16": "P16({m}, {ea}, {v} & 0xFFFF)",
    "i64.store16": "P16({m}, {ea}, {v} & 0xFFFF)",
    "i64.store32": "P32({m}, {ea}, {v} & 0xFFFFFFFF)",
}

_STORE8 = frozenset({"i32.store8", "i64.store8"})


class MemoryMixin:
    """Memory/table/global emission for :class:`~wasmbox.exec.compile.FunctionCompiler`."""

    stack: list[Entry]
    func_refs: set[int]

    def use_helper(self, name: str) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def _is64(self, mem: int) -> bool:
        return self.env.mems[mem].limits.addr is AddrType.I64

    def _ea(self, addr: Entry, ma: MemArg, clamp: bool = False) -> str:
        """The effective address ``addr + offset`` as code.

        With ``clamp`` (loads of a 64-bit memory through ``struct``), an
        address of 2^63 or more is replaced by :data:`EA_CLAMP`: past the end
        of every memory all the same, but ``unpack_from`` raises
        ``struct.error`` for it rather than ``OverflowError``.
        """
        if addr.ival is not None:
            ea = addr.ival + ma.offset
            return str(min(ea, EA_CLAMP) if clamp else ea)
        code = addr.code if ma.offset == 0 else f"({addr.code} + {ma.offset})"
        if clamp:
            return f"min({code}, {EA_CLAMP})"
        return code

    def emit_load(self, op: str, ma: MemArg) -> None:
        addr = self.pop()
        tpl = _LOADS[op]
        helpers = [h for h in ("U32", "U64", "UD", "U16", "S16", "S32", "f32_load") if h in tpl]
        for h in helpers:
            self.use_helper(h)
        clamp = bool(helpers) and self._is64(ma.mem)
        code = tpl.format(m=f"M{ma.mem}", ea=self._ea(addr, ma, clamp))
        self.push_expr(code, [addr], trap=True, state=True)

    def emit_store(self, op: str, ma: MemArg) -> None:
        v = self.pop()
        addr = self.pop()
        self.flush_effects()
        m = f"M{ma.mem}"
        if op in _STORE8:
            if addr.kind == EXPR and v.kind == EXPR and addr.effectful and v.effectful:
                addr = self.materialize(addr)
            if v.ival is not None:
                vc = str(v.ival & 0xFF)
            else:
                vc = f"{v.code} & 255"
            self.emit(f"{m}[{self._ea(addr, ma)}] = {vc}")
            return
        tpl = _STORES[op]
        for h in ("P32", "P64", "PD", "P16", "f32_store"):
            if h in tpl:
                self.use_helper(h)
        vcode = v.as_int() if op.startswith("i") else v.code
        if v.ival is not None and op in ("i32.store16", "i64.store16", "i64.store32"):
            mask = 0xFFFF if "16" in op else 0xFFFFFFFF
            tpl = tpl.split(",")[0] + ", {ea}, " + str(v.ival & mask) + ")"
        self.emit(tpl.format(m=m, ea=self._ea(addr, ma), v=vcode))

    def _page_shift(self, mem: int) -> int:
        return self.env.mems[mem].page_shift

    def emit_memory_misc(self, op: str, imm: tuple) -> None:
        if op == "memory.size":
            mem = imm[0]
            self.push_expr(f"(len(M{mem}) >> {self._page_shift(mem)})", [], state=True)
        elif op == "memory.grow":
            mem = imm[0]
            d = self.pop()
            self.flush_effects()
            h = len(self.stack)
            if self.fuel:
                d = self._kept(d, h)
            self.protect(h)
            self.emit(f"s{h} = m{mem}.grow_raw({d.as_int()})")
            self._grow_fuel(d, h, self._is64(mem))
            self.stack.append(slot_entry(h))
        elif op == "memory.fill":
            d, v, n = self._bulk_operands()
            self.emit(f"{self.use_helper('mem_fill')}(M{imm[0]}, {d.as_int()}, {v.as_int()}, "
                      f"{n.as_int()}{self._poll_args()})")
            self._bulk_fuel(n)
        elif op == "memory.copy":
            d, s, n = self._bulk_operands()
            self.emit(f"{self.use_helper('mem_copy')}(M{imm[0]}, M{imm[1]}, {d.as_int()}, "
                      f"{s.as_int()}, {n.as_int()}{self._poll_args()})")
            self._bulk_fuel(n)
        elif op == "memory.init":
            d, s, n = self._bulk_operands()
            self.emit(f"{self.use_helper('mem_init')}(M{imm[1]}, D{imm[0]}, {d.as_int()}, "
                      f"{s.as_int()}, {n.as_int()}{self._poll_args()})")
            self._bulk_fuel(n)
        elif op == "data.drop":
            self.flush_effects()
            self.emit(f"D{imm[0]}.drop()")
        else:  # pragma: no cover - dispatch guarantees
            raise UnsupportedFeature(f"instruction {op} is not supported")

    def _bulk_operands(self) -> list[Entry]:
        """The three operands of a bulk operation, in stack order, effects flushed
        (evaluated once each, in order, when fuel needs the size twice)."""
        ops = self.popn(3)
        self.flush_effects()
        return self.simple_operands(ops) if self.fuel else ops

    def _kept(self, e: Entry, h: int) -> Entry:
        """A grow's delta, evaluated once and read again after the grow's
        result is written to ``s<h>``: in a temporary if it reads that slot."""
        e = self.simple_operands([e])[0]
        return self.materialize(e, always=True) if e.slots >> h & 1 else e

    def _poll_args(self) -> str:
        """With epochs: the cells a bulk helper tests between chunks (``EP``,
        ``DL`` in the instance's globals), as trailing arguments."""
        return ", EP, DL" if self.epochs else ""

    def _bulk_fuel(self, n: Entry) -> None:
        """With fuel: pay for a bulk operation of n units that succeeded."""
        for line in self.bulk_charge(n.as_int(), n.ival):
            self.emit(line)

    def _grow_fuel(self, delta: Entry, h: int, is64: bool) -> None:
        """With fuel: pay for a grow (result in s<h>) by delta units if it succeeded."""
        if not self.fuel:
            return
        const = delta.ival
        if self.static_bulk(const):  # charged even when the grow fails
            self.bulk_charge(delta.as_int(), const)
            return
        self.sync()
        fail = 0xFFFFFFFFFFFFFFFF if is64 else 0xFFFFFFFF
        self.out.append((f"if s{h} != {fail}:", self.bulk_charge(delta.as_int(), const)))

    # -- globals ------------------------------------------------------------
    def emit_global(self, op: str, x: int) -> None:
        gt = self.env.globals[x]
        if op == "global.get":
            if gt.mutable:
                self.push_expr(f"g{x}.raw", [], state=True)
            else:
                self.push_const(f"G{x}")
        else:
            v = self.pop()
            self.flush_effects()
            self.emit(f"g{x}.raw = {v.as_int()}")

    # -- tables and references ---------------------------------------------
    def emit_table(self, op: str, imm: tuple) -> None:
        if op == "table.get":
            i = self.pop()
            self.push_expr(f"{self.use_helper('tget')}(T{imm[0]}, {i.as_int()})", [i], trap=True,
                           state=True)
            return
        if op == "table.size":
            self.push_expr(f"len(T{imm[0]})", [], state=True)
            return
        if op == "table.set":
            v, i = self.pop(), self.pop()
            self.flush_effects()
            self.emit(f"{self.use_helper('tset')}(T{imm[0]}, {i.as_int()}, {v.code})")
        elif op == "table.grow":
            v, n = self.popn(2)
            self.flush_effects()
            h = len(self.stack)
            if self.fuel:
                v, n = self.simple_operands([v, n])
                n = self._kept(n, h)
            self.protect(h)
            self.emit(f"s{h} = t{imm[0]}.grow_raw({v.code}, {n.as_int()})")
            self._grow_fuel(n, h, self.env.tables[imm[0]].limits.addr is AddrType.I64)
            self.stack.append(slot_entry(h))
        elif op == "table.fill":
            i, v, n = self._bulk_operands()
            self.emit(f"{self.use_helper('tfill')}(T{imm[0]}, {i.as_int()}, {v.code}, "
                      f"{n.as_int()}{self._poll_args()})")
            self._bulk_fuel(n)
        elif op == "table.copy":
            d, s, n = self._bulk_operands()
            self.emit(f"{self.use_helper('tcopy')}(T{imm[0]}, T{imm[1]}, {d.as_int()}, "
                      f"{s.as_int()}, {n.as_int()}{self._poll_args()})")
            self._bulk_fuel(n)
        elif op == "table.init":
            d, s, n = self._bulk_operands()
            self.emit(f"{self.use_helper('tinit')}(T{imm[1]}, E{imm[0]}, {d.as_int()}, "
                      f"{s.as_int()}, {n.as_int()}{self._poll_args()})")
            self._bulk_fuel(n)
        elif op == "elem.drop":
            self.flush_effects()
            self.emit(f"E{imm[0]}.clear()")
        else:  # pragma: no cover
            raise UnsupportedFeature(f"instruction {op} is not supported")

    def emit_ref(self, op: str, imm: tuple) -> None:
        if op == "ref.null":
            self.push_const("None")
        elif op == "ref.is_null":
            a = self.pop()
            self.push_expr(f"({a.code} is None)", [a], isbool=True)
        elif op == "ref.func":
            self.func_refs.add(imm[0])
            self.push_const(f"F{imm[0]}")
        else:
            raise UnsupportedFeature(f"instruction {op} is not supported")
