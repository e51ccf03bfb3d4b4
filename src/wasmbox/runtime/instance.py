"""Instantiation: linking checks, allocation, segment initialisation, start.

The steps follow the Wasm 2.0 spec's order:

1. every import is checked against the module's declaration with the Wasm
   3.0 matching rules (:mod:`wasmbox.runtime.matching`; "unknown import" is
   the Linker's job; a present but wrong item raises
   :class:`~wasmbox.errors.LinkError` "incompatible import type for ...");
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
globals first holds a stub that compiles the function (or takes it from
the module's cache), binds it, and calls it (:mod:`wasmbox.runtime.plan`).
Function instances (:class:`~wasmbox.runtime.func.Func`) are made only for
functions that can be seen from outside the code: exports, table
elements, ``ref.func`` operands, globals.

Raises :class:`~wasmbox.errors.LinkError`, :class:`~wasmbox.errors.Trap`,
:class:`~wasmbox.errors.Exhaustion`, :class:`~wasmbox.errors.InstantiationError`
(store limits, pool limits or exhaustion), :class:`~wasmbox.errors.WasmboxError`
(limits, a closed store), :class:`TypeError` (an import that is not a Func, Memory, Table or
Global).
"""
from __future__ import annotations

from collections.abc import Mapping
from types import FunctionType
from typing import Any, Callable, Iterator, Sequence

from ..errors import LinkError, Trap, TrapCode, UnsupportedFeature
from ..exec import numerics
from ..exec.support import BASE, new_f32_scratch
from ..syntax import module as sm
from .func import Func
from .global_ import Global
from .matching import check_import
from .memory import Memory
from .module import Module
from .plan import EVAL, FUNC, GLOBAL, TABLE, TAG, InstancePlan, const_raw, is_stub
from .store import Store, StoreState, call_wasm
from .table import Table
from .tag import Tag

Extern = Any  # Func | Memory | Table | Global | Tag


class DataInstance:
    """A data segment at run time (``.data``; dropped = empty)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def drop(self) -> None:
        self.data = b""


# ---------------------------------------------------------------- linking
def _link_stub(g: dict[str, Any], name: str, f: Func) -> Callable[..., Any]:
    """What an importer binds for a Wasm function its exporter has not compiled yet.

    It calls the function's current binding, and once that is the compiled
    function it binds that in the importer's globals too, so that calls
    through the import then cost one Python frame, as any other call.
    """
    def link(*args: Any) -> Any:
        call = f.call
        if not is_stub(call):
            g[name] = call
        return call(*args)

    return link


# ---------------------------------------------------------------- const exprs
def eval_const(expr: list[sm.Instr], globals_: list[Global], func: Callable[[int], Func]) -> Any:
    """Evaluate a constant expression to a raw value (``func(i)``: function instance i).

    Raises UnsupportedFeature.
    """
    stack: list[Any] = []
    for ins in expr:
        value = const_raw(ins)
        if value is not EVAL:
            stack.append(value)
            continue
        op = ins.op
        if op == "ref.func":
            stack.append(func(ins.imm[0]))
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

    __slots__ = ("_store", "_module", "_code", "_plan", "_g", "_funcs", "_compiled",
                 "_globals", "_tables", "_mems", "_tags", "_exports", "_exports_obj",
                 "__weakref__")

    def __init__(self, store: Store, module: Module, imports: Sequence[Extern]) -> None:
        if not isinstance(store, Store):
            raise TypeError("Instance(store, module, imports): expected a Store")
        store = store._state
        if not isinstance(module, Module):
            raise TypeError("Instance(store, module, imports): expected a Module")
        self._store = store
        self._module = module
        #: export name -> object, in the module's order (names are unique)
        self._exports: dict[str, Extern] = {}
        self._exports_obj: InstanceExports | None = None
        self._instantiate(store, module, list(imports))

    def exports(self, store: Any = None) -> "InstanceExports":
        """The exports, by name (a Mapping; ``.by_index`` lists them in order)."""
        if self._exports_obj is None:
            self._exports_obj = InstanceExports(self)
        return self._exports_obj

    # -- the steps ------------------------------------------------------------
    def _instantiate(self, store: StoreState, module: Module, imports: list[Extern]) -> None:
        code = self._code = module._code
        plan = self._plan = InstancePlan.of(code)
        if len(imports) != plan.n_imports:
            raise LinkError(f"expected {plan.n_imports} imports, found {len(imports)}")
        self._g = g = {"__builtins__": BASE}
        #: function instances, made when first needed (imports: given)
        self._funcs = [None] * plan.n_funcs
        self._globals: list[Global] = []
        self._tables: list[Table] = []
        self._mems: list[Memory] = []
        self._tags: list[Tag] = []
        if imports:
            self._link(store, imports)
        store._admit(plan.mem_min_bytes, plan.table_mins)
        store._track(self)
        self._compiled: set[int] = set()
        if store.config.epoch_interruption:  # for the bulk helpers (exec.bulk)
            g["EP"] = store.engine._epoch
            g["DL"] = store._deadline
        if plan.stubs is not None:
            g["LAZY"] = self._resolve
            exec(plan.stubs, g)  # noqa: S102 - our identifiers and numbers only (runtime.plan)
        if plan.defines_state:
            self._allocate(store, module.syntax)
        if plan.tag_tids:
            self._make_tags(store)
        if plan.exports:
            self._export()
        if not store.config.lazy_compile:
            for idx in range(plan.n_imp_funcs, plan.n_funcs):
                self._resolve(idx)
        if plan.has_segments:
            self._init_segments(module.syntax)
        start = module.syntax.start
        if start is not None:
            call_wasm(store, g[plan.fnames[start]], ())

    def _link(self, store: StoreState, imports: list[Extern]) -> None:
        """Step 1: check each import and bind it. Raises LinkError, TypeError."""
        plan, g, env = self._plan, self._g, self._code.env
        nf = 0
        for (imp, kind), want, item in zip(plan.imports, plan.import_types, imports):
            check_import(env, imp, want, item, store)
            if kind == FUNC:
                self._funcs[nf] = item
                g[plan.Fnames[nf]] = item
                call = item._call_for(self)
                g[plan.fnames[nf]] = _link_stub(g, plan.fnames[nf], item) if is_stub(call) \
                    else call
                nf += 1
            elif kind == GLOBAL:
                self._globals.append(item)
            elif kind == TABLE:
                self._tables.append(item)
            elif kind == TAG:
                g[plan.tag_names[len(self._tags)]] = item
                self._tags.append(item)
            else:
                self._mems.append(item)

    def _allocate(self, store: StoreState, m: sm.Module) -> None:
        """Step 2: the module's globals, tables and memories, bound in the code's globals."""
        plan, g, func = self._plan, self._g, self._func
        globals_, tables, mems = self._globals, self._tables, self._mems
        if m.globals:
            for gdef, init, ct in zip(m.globals, plan.global_inits, plan.global_ctypes):
                if init is EVAL:
                    init = eval_const(gdef.init, globals_, func)
                globals_.append(Global._create(store, gdef.type, init, ct))
        if m.tables:
            for tdef, ct in zip(m.tables, plan.table_ctypes):
                init = eval_const(tdef.init, globals_, func) if tdef.init else None
                tables.append(Table._create(store, tdef.type, init, ct))
        if m.mems:
            for mdef, geo in zip(m.mems, plan.mem_geometry(store.config.max_memory_pages)):
                mems.append(Memory._create(store, mdef.type, geo))
        if globals_:
            for name, gl in zip(plan.global_names, globals_):
                g[name] = gl if name[0] == "g" else gl.raw
        if tables:
            for i, t in enumerate(tables):
                g[plan.Tnames[i]] = t.elems
                g[plan.tnames[i]] = t
        for i, mem in enumerate(mems):
            mem._heap.bind(self, plan.Mnames[i])  # rebound whenever the memory's bytes change
            g[plan.mnames[i]] = mem

    def _make_tags(self, store: StoreState) -> None:
        """The module's own tags: new tag instances, bound as ``TG<i>``."""
        plan, g, tags = self._plan, self._g, self._tags
        env = self._code.env
        first = len(tags)
        for j, tid in enumerate(plan.tag_tids):
            tag = Tag._create(store, env.tag_type(first + j), tid)
            g[plan.tag_names[first + j]] = tag
            tags.append(tag)

    def _export(self) -> None:
        """The exports, by name (function instances are made here for exported functions)."""
        spaces = (self._funcs, self._tables, self._mems, self._globals, self._tags)
        exports, func = self._exports, self._func
        for name, kind, index in self._plan.exports:
            if kind < 0:
                raise UnsupportedFeature("exports of this kind are not supported")
            exports[name] = func(index) if kind == FUNC else spaces[kind][index]

    def _init_segments(self, m: sm.Module) -> None:
        """Steps 3-4: element then data segments (bound as ``E<i>``/``D<i>``), then the
        active ones copied and dropped. Raises Trap (out of bounds)."""
        plan, g, func = self._plan, self._g, self._func
        globals_, tables, mems = self._globals, self._tables, self._mems
        elems: list[list[Any]] = []
        for name, seg in zip(plan.Enames, m.elems):
            refs = [eval_const(e, globals_, func) for e in seg.init]
            elems.append(refs)
            g[name] = refs
        datas: list[DataInstance] = []
        for name, dseg in zip(plan.Dnames, m.datas):
            d = DataInstance(dseg.init)
            datas.append(d)
            g[name] = d
        for i, seg in enumerate(m.elems):
            if seg.mode == "active":
                off = plan.elems_const_offset[i]
                if off is EVAL:
                    off = eval_const(seg.offset or [], globals_, func)
                tab = tables[seg.table]
                refs = elems[i]
                if off + len(refs) > len(tab.elems):
                    raise Trap(TrapCode.TABLE_OUT_OF_BOUNDS)
                tab.elems[off:off + len(refs)] = refs
                refs.clear()
            elif seg.mode == "declarative":
                elems[i].clear()
        for i, dseg in enumerate(m.datas):
            if dseg.mode == "active":
                off = plan.datas_const_offset[i]
                if off is EVAL:
                    off = eval_const(dseg.offset or [], globals_, func)
                buf = mems[dseg.mem].buf
                data = datas[i].data
                if off + len(data) > len(buf):
                    raise Trap(TrapCode.MEMORY_OUT_OF_BOUNDS)
                buf[off:off + len(data)] = data
                datas[i].drop()

    def _func(self, idx: int) -> Func:
        """Function instance idx, made on first use (its ``call`` is the current binding)."""
        f = self._funcs[idx]
        if f is None:
            env = self._code.env
            f = Func._wasm(self._store, idx, env.func_types[idx], env.func_tid(idx))
            g = self._g
            f.call = g[self._plan.fnames[idx]]
            f.tail = g.get(f"B{idx}", f.call) if idx in self._compiled else self._tail_stub(idx)
            self._funcs[idx] = f
            g[self._plan.Fnames[idx]] = f
        return f

    def _resolve(self, idx: int) -> Callable[..., Any]:
        """Compile (or fetch) defined function idx, bind it in this instance, return it.

        Called by the function's stub (``LAZY``) on its first call, and by
        whatever still holds the stub afterwards.
        """
        g = self._g
        if idx in self._compiled:
            return g[self._plan.fnames[idx]]
        cf = self._code.get(idx)
        if cf.consts:
            g.update(cf.consts)
        if cf.scratch and "R32" not in g:
            g["R32"] = new_f32_scratch()
        for j in cf.refs:
            self._func(j)
        code = cf.code
        closure = None
        if code.co_freevars:  # fuel / epoch cells (wasmbox.exec.interrupt)
            cells = self._store._cells
            closure = tuple(cells[n] for n in code.co_freevars)
        # generated from numbers and our identifiers only
        tail = fn = g[cf.name] = FunctionType(code, g, cf.name, None, closure)
        if cf.tail_code is not None:  # it makes tail calls: B<i> is its body (exec.calls)
            body = cf.tail_code
            bname = body.co_name
            cl = tuple(self._store._cells[n] for n in body.co_freevars) if body.co_freevars else None
            tail = g[bname] = FunctionType(body, g, bname, None, cl)
        f = self._funcs[idx]
        if f is not None:
            f.call = fn
            f.tail = tail
        self._compiled.add(idx)
        return fn

    def _tail_stub(self, idx: int) -> Callable[..., Any]:
        """The tail entry of defined function idx before it is compiled."""
        g = self._g  # not self: a Func must not keep its instance alive (see _teardown)
        body = f"B{idx}"

        def tail(*a: Any) -> Any:
            fn = g["LAZY"](idx)
            return g.get(body, fn)(*a)
        return tail

    def _teardown(self) -> None:
        """Unbind the code (Store.close): its functions and globals refer to each
        other, so clearing them lets the instance be freed without the cycle
        collector. Calls into a closed store never reach the code."""
        self._g.clear()

    def __repr__(self) -> str:
        return f"<Instance of {self._module!r}>"


class InstanceExports(Mapping):
    """The exports of an instance: a Mapping by name, plus ``by_index``."""

    def __init__(self, instance: Instance) -> None:
        self._map = instance._exports
        self._seq = tuple(instance._exports.values())

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
