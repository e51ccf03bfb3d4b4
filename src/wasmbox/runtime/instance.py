"""Instantiation: linking checks, allocation, segment initialisation, start.

The steps follow the Wasm 2.0 spec's order:

1. every import is checked against the module's declaration ("unknown
   import" is the Linker's job; a present but wrong item raises
   :class:`~wasmbox.errors.LinkError` "incompatible import type");
2. the store's limits and the allocator are consulted for the module's
   tables and memories (a module that does not fit is refused with
   :class:`~wasmbox.errors.InstantiationError` before anything is
   allocated); then functions, globals (initialisers evaluated in order),
   tables, memories, element and data segments are allocated, and the
   exports collected;
3. active element segments are copied into their tables, in order, then
   dropped (declarative ones just dropped); an out-of-bounds segment traps
   with "out of bounds table access";
4. active data segments are copied into their memories, in order, then
   dropped; out of bounds traps with "out of bounds memory access";
5. the start function runs.

A trap in steps 3-5 leaves the effects of the segments applied before it in
place (they are visible through imported tables and memories), as Wasm 2.0
requires.

Functions are compiled lazily: the name ``f<i>`` in the instance's code
globals first holds a trampoline that compiles the function (or takes it
from the module's cache), binds it, and calls it.

Raises :class:`~wasmbox.errors.LinkError`, :class:`~wasmbox.errors.Trap`,
:class:`~wasmbox.errors.Exhaustion`, :class:`~wasmbox.errors.InstantiationError`
(store limits, pool limits or exhaustion), :class:`~wasmbox.errors.WasmboxError`
(limits, a closed store), :class:`TypeError` (an import that is not a Func, Memory, Table or
Global).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Iterator, Sequence

from ..errors import LinkError, Trap, TrapCode, UnsupportedFeature, WasmboxError
from ..exec import numerics
from ..exec.support import BASE, new_f32_scratch
from ..syntax import module as sm
from ..syntax import types as st
from .func import Func
from .global_ import Global
from .memory import Memory
from .module import Module
from .store import Store, call_wasm
from .table import Table

Extern = Any  # Func | Memory | Table | Global


class DataInstance:
    """A data segment at run time (``.data``; dropped = empty)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def drop(self) -> None:
        self.data = b""


# ---------------------------------------------------------------- trampolines
_TRAMPOLINE_MAKERS: dict[int, Callable[[Callable[[], Callable[..., Any]]], Callable[..., Any]]] = {}


def _trampoline_maker(n: int) -> Callable[[Callable[[], Callable[..., Any]]], Callable[..., Any]]:
    mk = _TRAMPOLINE_MAKERS.get(n)
    if mk is None:
        args = ", ".join(f"a{i}" for i in range(n))
        src = f"def mk(R):\n    def t({args}):\n        return R()({args})\n    return t\n"
        ns: dict[str, Any] = {}
        exec(compile(src, f"<wasmbox trampoline/{n}>", "exec"), ns)  # noqa: S102 - our own text
        mk = _TRAMPOLINE_MAKERS[n] = ns["mk"]
    return mk


# ---------------------------------------------------------------- linking
def _limits_match(actual_min: int, actual_max: int | None, want: st.Limits) -> bool:
    if actual_min < want.min:
        return False
    if want.max is not None:
        return actual_max is not None and actual_max <= want.max
    return True


def _check_import(env: Any, imp: sm.Import, item: Any, store: Store) -> None:
    kind = imp.kind
    bad = f"incompatible import type for `{imp.module}::{imp.name}`"
    if not isinstance(item, (Func, Memory, Table, Global)):
        raise TypeError(f"import `{imp.module}::{imp.name}`: expected a Func, Memory, Table or "
                        f"Global, got {type(item).__name__}")
    if getattr(item, "_store", store) is not store:
        raise WasmboxError(f"import `{imp.module}::{imp.name}` belongs to another store")
    if kind is sm.ExternKind.FUNC:
        if not isinstance(item, Func) or item.tid != env.type_ids[imp.desc]:
            raise LinkError(bad)
    elif kind is sm.ExternKind.TABLE:
        want: st.TableType = imp.desc  # type: ignore[assignment]
        if not isinstance(item, Table) or item._type.elem != want.elem or \
                item._type.limits.addr is not want.limits.addr or \
                not _limits_match(len(item.elems), item._type.limits.max, want.limits):
            raise LinkError(bad)
    elif kind is sm.ExternKind.MEM:
        wantm: st.MemType = imp.desc  # type: ignore[assignment]
        if not isinstance(item, Memory) or item._type.limits.addr is not wantm.limits.addr or \
                item.page_shift != (wantm.page_size_log2 if wantm.page_size_log2 is not None
                                    else 16) or \
                not _limits_match(item.current_pages, item._type.limits.max, wantm.limits):
            raise LinkError(bad)
    elif kind is sm.ExternKind.GLOBAL:
        wantg: st.GlobalType = imp.desc  # type: ignore[assignment]
        if not isinstance(item, Global) or item._type != wantg:
            raise LinkError(bad)
    else:
        raise UnsupportedFeature(f"imports of kind {kind.text} are not supported")


def _min_bytes(mt: st.MemType) -> int:
    return mt.limits.min << (mt.page_size_log2 if mt.page_size_log2 is not None else 16)


# ---------------------------------------------------------------- const exprs
def eval_const(expr: list[sm.Instr], globals_: list[Global], funcs: list[Func]) -> Any:
    """Evaluate a constant expression to a raw value. Raises UnsupportedFeature."""
    stack: list[Any] = []
    for ins in expr:
        op = ins.op
        if op == "i32.const":
            stack.append(ins.imm[0] & 0xFFFFFFFF)
        elif op == "i64.const":
            stack.append(ins.imm[0] & 0xFFFFFFFFFFFFFFFF)
        elif op == "f32.const":
            stack.append(numerics.f32_from_bits(ins.imm[0]))
        elif op == "f64.const":
            stack.append(numerics.f64_from_bits(ins.imm[0]))
        elif op == "ref.null":
            stack.append(None)
        elif op == "ref.func":
            stack.append(funcs[ins.imm[0]])
        elif op == "global.get":
            stack.append(globals_[ins.imm[0]].raw)
        elif op in ("i32.add", "i32.sub", "i32.mul", "i64.add", "i64.sub", "i64.mul"):
            b = stack.pop()
            a = stack.pop()
            stack.append(numerics.FUNCS[op](a, b))
        else:
            raise UnsupportedFeature(f"constant instruction {op} is not supported")
    return stack[-1] if stack else None


# ---------------------------------------------------------------- instances
class Instance:
    """An instance of a module: ``Instance(store, module, imports)``."""

    def __init__(self, store: Store, module: Module, imports: Sequence[Extern]) -> None:
        if not isinstance(store, Store):
            raise TypeError("Instance(store, module, imports): expected a Store")
        if not isinstance(module, Module):
            raise TypeError("Instance(store, module, imports): expected a Module")
        self._store = store
        self._module = module
        self._exports: dict[str, Extern] = {}
        self._export_list: list[Extern] = []
        self._instantiate(store, module, list(imports))
        self._exports_obj: InstanceExports | None = None

    def exports(self, store: Any = None) -> "InstanceExports":
        """The exports, by name (a Mapping; ``.by_index`` lists them in order)."""
        if self._exports_obj is None:
            self._exports_obj = InstanceExports(self)
        return self._exports_obj

    # -- the steps ------------------------------------------------------------
    def _instantiate(self, store: Store, module: Module, imports: list[Extern]) -> None:
        m = module.syntax
        code = module._code
        env = code.env
        if len(imports) != len(m.imports):
            raise LinkError(f"expected {len(m.imports)} imports, found {len(imports)}")
        funcs: list[Func] = []
        globals_: list[Global] = []
        tables: list[Table] = []
        mems: list[Memory] = []
        for imp, item in zip(m.imports, imports):
            _check_import(env, imp, item, store)
            if imp.kind is sm.ExternKind.FUNC:
                funcs.append(item)
            elif imp.kind is sm.ExternKind.GLOBAL:
                globals_.append(item)
            elif imp.kind is sm.ExternKind.TABLE:
                tables.append(item)
            else:
                mems.append(item)
        plan = getattr(module, "_alloc_plan", None)
        if plan is None:  # what the module's own memories and tables need, once per module
            plan = ([_min_bytes(mdef.type) for mdef in m.mems],
                    [tdef.type.limits.min for tdef in m.tables])
            module._alloc_plan = plan  # type: ignore[attr-defined]
        store._admit(*plan)
        g: dict[str, Any] = dict(BASE)
        g["R32"] = new_f32_scratch()
        self._g = g
        self._compiled: set[int] = set()
        self._code = code
        n_imp = len(funcs)
        for i, fn in enumerate(funcs):
            g[f"F{i}"] = fn
            g[f"f{i}"] = fn._call_for(self)
        for j in range(len(m.funcs)):
            idx = n_imp + j
            f = Func._wasm(store, self, idx, env.func_types[idx], env.func_tid(idx))
            f.call = self._trampoline(f, idx)
            funcs.append(f)
            g[f"F{idx}"] = f
            g[f"f{idx}"] = f.call
        self._funcs = funcs
        for gdef in m.globals:
            globals_.append(Global._create(store, gdef.type, eval_const(gdef.init, globals_, funcs)))
        for tdef in m.tables:
            init = eval_const(tdef.init, globals_, funcs) if tdef.init else None
            tables.append(Table._create(store, tdef.type, init))
        for mdef in m.mems:
            mems.append(Memory._create(store, mdef.type))
        self._globals, self._tables, self._mems = globals_, tables, mems
        for i, gl in enumerate(globals_):
            if gl._type.mutable:
                g[f"g{i}"] = gl
            else:
                g[f"G{i}"] = gl.raw
        for i, t in enumerate(tables):
            g[f"T{i}"] = t.elems
            g[f"t{i}"] = t
        for i, mem in enumerate(mems):
            mem._bind(self, f"M{i}")  # rebound whenever the memory's bytes change
            g[f"m{i}"] = mem
        elems: list[list[Any]] = []
        for i, seg in enumerate(m.elems):
            refs = [eval_const(e, globals_, funcs) for e in seg.init]
            elems.append(refs)
            g[f"E{i}"] = refs
        datas: list[DataInstance] = []
        for i, dseg in enumerate(m.datas):
            d = DataInstance(dseg.init)
            datas.append(d)
            g[f"D{i}"] = d
        spaces = {sm.ExternKind.FUNC: funcs, sm.ExternKind.GLOBAL: globals_,
                  sm.ExternKind.TABLE: tables, sm.ExternKind.MEM: mems}
        for ex in m.exports:
            space = spaces.get(ex.kind)
            if space is None:
                raise UnsupportedFeature(f"exports of kind {ex.kind.text} are not supported")
            obj = space[ex.index]
            self._exports[ex.name] = obj
            self._export_list.append(obj)
        if not store.config.lazy_compile:
            for j in range(len(m.funcs)):
                self._resolve(funcs[n_imp + j], n_imp + j)
        # element segments
        for i, seg in enumerate(m.elems):
            if seg.mode == "active":
                off = eval_const(seg.offset or [], globals_, funcs)
                tab = tables[seg.table]
                refs = elems[i]
                if off + len(refs) > len(tab.elems):
                    raise Trap(TrapCode.TABLE_OUT_OF_BOUNDS)
                tab.elems[off:off + len(refs)] = refs
                refs.clear()
            elif seg.mode == "declarative":
                elems[i].clear()
        # data segments
        for i, dseg in enumerate(m.datas):
            if dseg.mode == "active":
                off = eval_const(dseg.offset or [], globals_, funcs)
                buf = mems[dseg.mem].buf
                data = datas[i].data
                if off + len(data) > len(buf):
                    raise Trap(TrapCode.MEMORY_OUT_OF_BOUNDS)
                buf[off:off + len(data)] = data
                datas[i].drop()
        if m.start is not None:
            call_wasm(store, funcs[m.start].call, ())

    def _trampoline(self, f: Func, idx: int) -> Callable[..., Any]:
        return _trampoline_maker(len(f._ft.params))(lambda: self._resolve(f, idx))

    def _resolve(self, f: Func, idx: int) -> Callable[..., Any]:
        """Compile (or fetch) function idx, bind it in this instance, return it."""
        if idx in self._compiled:
            return f.call
        g = self._g
        cf = self._code.get(idx)
        g.update(cf.consts)
        exec(cf.code, g)  # noqa: S102 - generated from numbers and our identifiers only
        fn = g[cf.name]
        f.call = fn
        self._compiled.add(idx)
        return fn

    def __repr__(self) -> str:
        return f"<Instance of {self._module!r}>"


class InstanceExports(Mapping):
    """The exports of an instance: a Mapping by name, plus ``by_index``."""

    def __init__(self, instance: Instance) -> None:
        self._map = instance._exports
        self._seq = tuple(instance._export_list)

    @property
    def by_index(self) -> Sequence[Extern]:
        return self._seq

    def __getitem__(self, name: str) -> Extern:
        return self._map[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._seq)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return self._map.get(name, default)
