"""What instantiating a module takes, worked out once per module.

Instantiation is on the hot path of every short-lived tenant, so everything
that depends only on the module is computed here, once, and shared by all
its instances (:meth:`InstancePlan.of` caches the plan on the module's
:class:`~wasmbox.exec.compile.ModuleCode`):

* the names an instance binds in its code globals (``f<i>``, ``F<i>``,
  ``g<i>``/``G<i>``, ``T<i>``/``t<i>``, ``M<i>``/``m<i>``, ``E<i>``,
  ``D<i>``, ``TG<i>``), formatted once;
* ``stubs``: one code object that defines, for every defined function
  ``i``, a stub ``f<i>(*a)`` that compiles (or fetches) the real function
  through the instance's ``LAZY(i)`` and calls it; running it in a new
  instance's globals is the whole per-function cost of instantiation;
* the initial value of every global whose initialiser is a single
  constant, the exports as (name, kind, index) with kinds as small ints,
  and what the module's memories and tables need from the allocator.

The stub source is made of our identifiers and numbers only.

Raises nothing for a valid module.
"""
from __future__ import annotations

from typing import Any

from ..exec import numerics
from ..exec.env import canon_valtype
from ..syntax import module as sm
from .memory import geometry

#: extern kinds as small ints (cheaper to dispatch on than the Enum)
FUNC, TABLE, MEM, GLOBAL, TAG = 0, 1, 2, 3, 4
KIND_CODE = {sm.ExternKind.FUNC: FUNC, sm.ExternKind.TABLE: TABLE, sm.ExternKind.MEM: MEM,
             sm.ExternKind.GLOBAL: GLOBAL, sm.ExternKind.TAG: TAG}

#: marks an initialiser that must be evaluated at instantiation
EVAL = object()


def const_raw(ins: sm.Instr) -> Any:
    """The raw value a constant instruction pushes (``i32.const`` ... ``v128.const``, ``ref.null``),
    else :data:`EVAL` (it needs the instance: ``global.get``, ``ref.func``, arithmetic)."""
    op = ins.op
    imm = ins.imm
    if op == "i32.const":
        return imm[0] & 0xFFFFFFFF
    if op == "i64.const":
        return imm[0] & 0xFFFFFFFFFFFFFFFF
    if op == "f32.const":
        return numerics.f32_from_bits(imm[0])
    if op == "f64.const":
        return numerics.f64_from_bits(imm[0])
    if op == "ref.null":
        return None
    if op == "v128.const":
        return imm[0]
    return EVAL


def const_value(expr: list[sm.Instr]) -> Any:
    """The raw value of a one-instruction constant expression, else :data:`EVAL`."""
    return const_raw(expr[0]) if len(expr) == 1 else EVAL


def _canonical_import(imp: sm.Import, ids: list[int]) -> Any:
    d = imp.desc
    if imp.kind is sm.ExternKind.FUNC:
        return ids[d]  # type: ignore[index]
    if imp.kind is sm.ExternKind.GLOBAL:
        return canon_valtype(d.val, ids)  # type: ignore[union-attr]
    if imp.kind is sm.ExternKind.TABLE:
        return canon_valtype(d.elem, ids)  # type: ignore[union-attr]
    if imp.kind is sm.ExternKind.TAG:
        return ids[d.type_index]  # type: ignore[union-attr]
    return None


#: the file name of the stubs' code (how :func:`is_stub` recognises them)
STUB_FILE = "<wasmbox stubs>"


def is_stub(fn: Any) -> bool:
    """Whether fn is a function's stub (not yet its compiled code)."""
    code = getattr(fn, "__code__", None)
    return code is not None and code.co_filename == STUB_FILE


def _stub_source(first: int, count: int) -> str:
    return "".join(f"def f{i}(*a):\n    return LAZY({i})(*a)\n"
                   for i in range(first, first + count))


class InstancePlan:
    """The per-module part of instantiation (see the module docstring)."""

    __slots__ = ("n_imports", "imports", "n_imp_funcs", "n_funcs", "fnames", "Fnames",
                 "global_names", "global_inits", "Tnames", "tnames", "Mnames", "mnames",
                 "Enames", "Dnames", "stubs", "exports", "mem_min_bytes", "table_mins",
                 "elems_const_offset", "datas_const_offset", "module_mems", "_geometry",
                 "defines_state", "has_segments", "import_types", "global_ctypes",
                 "table_ctypes", "tag_names", "tag_tids")

    def __init__(self, code: Any) -> None:
        env = code.env
        m: sm.Module = env.module
        self.n_imports = len(m.imports)
        self.imports = [(imp, KIND_CODE.get(imp.kind, -1)) for imp in m.imports]
        ids = env.type_ids
        #: per import, its type in canonical form (runtime.matching.check_import's ``want``)
        self.import_types = [_canonical_import(imp, ids) for imp in m.imports]
        #: per defined global / table, its (value / element) type in canonical form
        self.global_ctypes = [canon_valtype(gdef.type.val, ids) for gdef in m.globals]
        self.table_ctypes = [canon_valtype(tdef.type.elem, ids) for tdef in m.tables]
        self.n_imp_funcs = n_imp = env.n_imported_funcs
        self.n_funcs = n = len(env.func_types)
        self.fnames = [f"f{i}" for i in range(n)]
        self.Fnames = [f"F{i}" for i in range(n)]
        # mutable globals are bound as objects (g<i>), immutable ones by value (G<i>)
        self.global_names = [f"g{i}" if gt.mutable else f"G{i}" for i, gt in enumerate(env.globals)]
        self.global_inits = [const_value(gdef.init) for gdef in m.globals]
        nt, nm = len(env.tables), len(env.mems)
        self.Tnames = [f"T{i}" for i in range(nt)]
        self.tnames = [f"t{i}" for i in range(nt)]
        self.Mnames = [f"M{i}" for i in range(nm)]
        self.mnames = [f"m{i}" for i in range(nm)]
        self.Enames = [f"E{i}" for i in range(len(m.elems))]
        self.Dnames = [f"D{i}" for i in range(len(m.datas))]
        self.stubs = compile(_stub_source(n_imp, n - n_imp), STUB_FILE, "exec") \
            if n > n_imp else None
        self.exports = [(ex.name, KIND_CODE.get(ex.kind, -1), ex.index) for ex in m.exports]
        self.module_mems = [mdef.type for mdef in m.mems]
        self.mem_min_bytes = tuple(mt.limits.min << mt.page_shift for mt in self.module_mems)
        self.table_mins = tuple(tdef.type.limits.min for tdef in m.tables)
        self.elems_const_offset = [const_value(seg.offset) if seg.offset else EVAL
                                   for seg in m.elems]
        self.datas_const_offset = [const_value(seg.offset) if seg.offset else EVAL
                                   for seg in m.datas]
        self._geometry: dict[int, list[tuple]] = {}
        #: what an instance must do beyond the always-needed steps
        self.defines_state = bool(m.globals or m.tables or m.mems or env.globals or env.tables
                                  or env.mems)
        self.has_segments = bool(m.elems or m.datas)
        #: tags: the names generated code reaches them by, and (defined ones)
        #: the canonical id of each one's type
        self.tag_names = [f"TG{i}" for i in range(len(env.tag_type_idx))]
        self.tag_tids = [env.type_ids[t.type.type_index] for t in m.tags]

    def mem_geometry(self, max_memory_pages: int) -> list[tuple]:
        """:func:`~wasmbox.runtime.memory.geometry` of each defined memory, for a page cap.

        Raises WasmboxError when a minimum is past the cap.
        """
        geo = self._geometry.get(max_memory_pages)
        if geo is None:
            geo = self._geometry[max_memory_pages] = [geometry(mt, max_memory_pages)
                                                      for mt in self.module_mems]
        return geo

    @staticmethod
    def of(code: Any) -> "InstancePlan":
        """The plan of a module's code (made on first use, then cached on it)."""
        plan = code.plan
        if plan is None:
            plan = code.plan = InstancePlan(code)
        return plan
