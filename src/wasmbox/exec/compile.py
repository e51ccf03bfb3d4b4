"""Compile one Wasm function to Python source, then to a code object.

:class:`FunctionCompiler` walks the function's construct tree (see
:mod:`wasmbox.exec.structure`) and emits Python in which Wasm locals are
``l<i>``, operand-stack slots are ``s<h>``, and control flow follows
:mod:`wasmbox.exec.control`. The emitted text contains only identifiers
made up here and numbers formatted here: nothing from the module (names,
data, custom sections) is ever spliced in. Float constants that have no
literal (inf, NaN) and other objects are bound in the instance's globals
(``K<func>_<n>``).

The generated function ``f<i>(l0, ..., l<p-1>, d)`` returns None, one value,
or a tuple of values, in the internal representation (see
:mod:`wasmbox.exec.numerics`). ``d`` is the caller's remaining stack budget
in bytes: the prologue checks that this function's frame (reckoned by
:func:`wasmbox.runtime.depth.frame_bytes` from the Python locals the
generated code has) fits, and calls pass on what is left. With fuel or
epochs on (:mod:`wasmbox.exec.interrupt`) the function is a closure over
cells of its store and engine (``u``: fuel, ``ep``/``dl``: epoch and
deadline), defined inside a wrapper ``_mk`` that is never run: the runtime
takes the inner code object and binds the cells itself. It expects these
names in its globals:
``f<j>``/``F<j>`` (callables and function instances), ``M<i>``/``m<i>``
(memory buffers and objects), ``T<i>``/``t<i>`` (table lists and objects),
``g<i>``/``G<i>`` (mutable global objects / immutable values), ``E<i>``,
``D<i>`` (element and data segments), the helpers of
:mod:`wasmbox.exec.support` and the constants listed in
:attr:`CompiledFunction.consts`.

:class:`ModuleCode` caches compiled functions per module, so instantiating
a module again (in any store) compiles nothing.

Raises :class:`~wasmbox.errors.UnsupportedFeature` for instructions or
functions this compiler cannot run.
"""
from __future__ import annotations

import re
import struct
import threading
from types import CodeType
from typing import Any

from ..errors import UnsupportedFeature
from ..syntax.locals import compact_locals
from ..syntax.module import Func, Instr, Module
from ..syntax.types import F32, F64, I32, I64, NumType
from .calls import CallMixin
from .cont_ops import ContMixin
from .control import Body, ControlMixin, NeedFlat
from ..runtime.depth import frame_bytes
from .env import ModuleEnv
from .exceptions import ExceptionMixin
from .interrupt import InterruptMixin
from .memops import MemoryMixin, _LOADS, _STORE8, _STORES
from .numops import NumericMixin, is_numeric
from .refs import RefMixin
from .simdops import SIMD_OPS, SimdMixin
from .stack import Entry, StackMixin
from .structure import build_tree, if_nesting

#: CPython refuses more than 20 statically nested loops and 100 indentation levels
MAX_LOOP_NESTING = 18
MAX_INDENT = 90

_MEMORY_MISC = frozenset({"memory.size", "memory.grow", "memory.fill", "memory.copy",
                          "memory.init", "data.drop"})
_TABLE_OPS = frozenset({"table.get", "table.set", "table.size", "table.grow", "table.fill",
                        "table.copy", "table.init", "elem.drop"})
#: compile every function in flat mode (tests use this to exercise the fallback)
FORCE_FLAT = False

_CONT_OPS = frozenset({"cont.new", "cont.bind", "suspend", "switch"})
_TAIL_OPS = frozenset({"return_call", "return_call_indirect", "return_call_ref"})
_WIDE = frozenset({"i64.add128", "i64.sub128", "i64.mul_wide_s", "i64.mul_wide_u"})
_EXN_OPS = frozenset({"throw", "throw_ref", "rethrow"})


class CompiledFunction:
    """Source and code object of one compiled function, plus what it needs bound.

    ``code`` is the function's own code object (make the function with
    ``types.FunctionType(code, globals, name, None, closure)``; its
    ``co_freevars`` name the cells it needs, see :mod:`wasmbox.exec.interrupt`).
    ``consts``: constants to bind in the instance's globals. ``refs``: the
    function indices whose instances (``F<j>``) the code uses (``ref.func``).
    ``scratch``: the code rounds through the per-instance f32 scratch ``R32``.
    ``frame``: the stack its frame is reckoned at (bytes).
    """

    __slots__ = ("index", "name", "source", "code", "tail_code", "consts", "flat", "refs",
                 "scratch", "frame")

    def __init__(self, index: int, name: str, source: str, module_code: CodeType,
                 fc: "FunctionCompiler") -> None:
        code = function_code(module_code, name)
        self.index = index
        self.name = name
        self.source = source
        self.code = code
        #: the body B<i> of a function that makes tail calls (its tail entry), else None
        self.tail_code: CodeType | None = function_code(module_code, f"B{index}") if fc.tail else None
        self.frame: int = fc.frame
        self.consts: dict[str, Any] = fc.consts
        self.flat: bool = fc.flat
        self.refs: tuple[int, ...] = tuple(sorted(fc.func_refs))
        self.scratch: bool = "R32" in fc.helpers


def _zero(t: Any) -> str:
    if t is I32 or t is I64:
        return "0"
    if t is F32 or t is F64:
        return "0.0"
    if isinstance(t, NumType):  # v128
        return "0"
    return "None"


#: names of the Python locals generated code can have besides the parameters
_LOCAL_NAME = re.compile(r"\b(?:[lsvx][0-9]+|k|fx|d|hx)\b")


class FunctionCompiler(StackMixin, ControlMixin, NumericMixin, MemoryMixin, CallMixin,
                       InterruptMixin, ExceptionMixin, RefMixin, ContMixin, SimdMixin):
    """Compiles one defined function (see the module docstring)."""

    def __init__(self, env: ModuleEnv, func_index: int, flat: bool = False) -> None:
        self.env = env
        self.index = func_index
        self.flat = flat
        fn = env.module.funcs[func_index - env.n_imported_funcs]
        self.fn = fn
        ft = env.func_types[func_index]
        self.nparams = len(ft.params)
        self.nresults = len(ft.results)
        # Only the declared locals the body references become Python variables,
        # renumbered densely after the parameters: a function may declare
        # 2**32 - 1 locals and use local 4_000_000_000, and neither may cost
        # anything (the operand stack keeps sets of locals as bit masks).
        # Declared local used_locals[j] is the variable l<nparams + j>.
        body, self.used_locals = compact_locals(fn.body, self.nparams)
        if body is not fn.body:
            self.fn = Func(fn.type_index, fn.locals, body)
        self.consts: dict[str, Any] = {}
        #: const_name's key of each constant -> its name
        self.const_keys: dict[tuple[Any, ...], str] = {}
        self.helpers: set[str] = set()
        self.func_refs: set[int] = set()
        self.stack: list[Entry] = []
        self.ntemps = 0
        self.out: Body = []
        self.frames: list = []
        self.rstack: list = []
        self.base: dict[int, int] = {}
        self.hits: set[int] = set()
        self.live = True
        self.uses_k = False
        #: the function calls something (so it passes on a reduced budget)
        self.calls = False
        #: the stack its frame is reckoned at (set by compile())
        self.frame = 0
        self.init_interrupt(env.fuel, env.epochs)
        self.init_exn()
        #: the function makes tail calls: compiled as a body B<i> and a driver f<i>
        self.tail = any(ins.op in _TAIL_OPS for ins in self.fn.body)

    # -- hooks used by the mixins -------------------------------------------
    def emit(self, line: str) -> None:
        self.out.append(line)

    def const_name(self, value: object, wasm_type: str = "") -> str:
        """The global name bound to a constant; one name per distinct constant.

        Constants are told apart by what they are, not by ``==``: a float by
        its exact bit pattern (NaNs never compare equal, ``hex()`` and
        ``str()`` print every NaN alike, ``-0.0 == 0.0``), an int or bool by
        type and value (``1``, ``1.0`` and ``True`` differ), anything else
        by identity; and by ``wasm_type`` (``"f32"``, ``"f64"``, ...), so
        that constants of different types never share a name. Raises nothing.
        """
        key: tuple[Any, ...]
        if type(value) is float:
            key = (wasm_type, float, struct.pack("<d", value))
        elif type(value) is int or type(value) is bool:
            key = (wasm_type, type(value), value)
        else:  # the object stays alive in self.consts, so its id is not reused
            key = (wasm_type, type(value), id(value))
        names = self.const_keys
        name = names.get(key)
        if name is None:
            name = f"K{self.index}_{len(self.consts)}"
            self.consts[name] = value
            names[key] = name
        return name

    def use_helper(self, name: str) -> str:
        self.helpers.add(name)
        return name

    # -- instructions ----------------------------------------------------------
    def emit_instr(self, ins: Instr) -> None:
        op = ins.op
        imm = ins.imm
        if op == "local.get":
            self.push_local(imm[0])
        elif op == "local.set" or op == "local.tee":
            x = imm[0]
            v = self.pop()
            if v.effectful:
                self.flush_effects()
            self.flush_local(x)
            if v.code != f"l{x}":
                self.emit(f"l{x} = {v.as_int()}")
            if op == "local.tee":
                self.push_local(x)
        elif op in ("i32.const", "i64.const", "f32.const", "f64.const"):
            self.emit_const(op, imm[0])
        elif op in _LOADS:
            self.emit_load(op, imm[0])
        elif op in _STORES or op in _STORE8:
            self.emit_store(op, imm[0])
        elif op in ("global.get", "global.set"):
            self.emit_global(op, imm[0])
        elif op == "call":
            self.emit_call(imm[0])
        elif op == "call_indirect":
            self.emit_call_indirect(imm[0], imm[1])
        elif op == "call_ref":
            self.emit_call_ref(imm[0])
        elif op == "ref.as_non_null":
            self.emit_ref_as_non_null()
        elif op == "return_call":
            self.emit_call(imm[0], tail=True)
        elif op == "return_call_indirect":
            self.emit_call_indirect(imm[0], imm[1], tail=True)
        elif op == "return_call_ref":
            self.emit_call_ref(imm[0], tail=True)
        elif op == "drop":
            e = self.pop()
            if e.trap:
                self.flush_effects()
                self.emit(e.code)
        elif op == "select" or op == "select_t":
            self.emit_select()
        elif op == "nop":
            pass
        elif op == "return":
            self.emit_return()
        elif op == "unreachable":
            self.flush_effects()
            self.emit("raise Trap(C_UNREACHABLE)")
            self.live = False
        elif op in _MEMORY_MISC:
            self.emit_memory_misc(op, imm)
        elif op in _TABLE_OPS:
            self.emit_table(op, imm)
        elif op in ("ref.null", "ref.is_null", "ref.func"):
            self.emit_ref(op, imm)
        elif op in _EXN_OPS:
            self.emit_exn(op, imm)
        elif op in _CONT_OPS:
            self.emit_cont_instr(op, imm)
        elif op in _WIDE:
            raise UnsupportedFeature(f"instruction {op} is not supported")
        elif is_numeric(op):
            self.emit_numeric(op)
        elif op in SIMD_OPS:
            self.emit_simd(op, imm)
        else:
            raise UnsupportedFeature(f"instruction {op} is not supported")

    def emit_select(self) -> None:
        c = self.pop()
        b = self.pop()
        a = self.pop()
        if a.trap or b.trap or c.trap:
            self.flush_effects()
            a = self.materialize(a)
            b = self.materialize(b)
        both = a.isbool and b.isbool  # else a bool operand must become an int
        ac, bc = (a.code, b.code) if both else (a.as_int(), b.as_int())
        self.push_expr(f"({ac} if {c.as_cond()} else {bc})", [a, b, c], isbool=both)

    # -- the whole function ----------------------------------------------------
    def compile(self) -> str:
        """The Python source of the function. Raises NeedFlat or UnsupportedFeature."""
        tree = build_tree(self.fn.body, self.env, self.nresults)
        root = self.plan(tree)
        body = self.emit_region(root)
        if self.flat:
            body = [("while True:", self.flat_handler(body))]
        else:
            body = self.wrap_delegates(body)
        uses_k = self.flat or self.uses_k
        inner: Body = []
        by_zero: dict[str, list[str]] = {}
        decls = self.fn.locals
        for j, x in enumerate(self.used_locals):
            by_zero.setdefault(_zero(decls[x - self.nparams]), []).append(f"l{self.nparams + j}")
        for z, names in by_zero.items():
            for j in range(0, len(names), 200):
                inner.append(" = ".join(names[j:j + 200]) + f" = {z}")
        if uses_k:
            inner.append("k = 0")
        if self.hx_on:
            inner.append("hx = 0")
        inner.extend(body)
        if not body:
            inner.append("pass")
        cells = self.cell_names()
        indent = 2 if cells else 1
        text: list[str] = []
        _render(inner, indent, 0, text)
        params = [f"l{i}" for i in range(self.nparams)]
        names = set(params)
        names.add("d")
        for line in text:
            names.update(_LOCAL_NAME.findall(line))
        fs = frame_bytes(len(names))
        if self.tail:  # the driver's frame too
            fs += frame_bytes(len(params) + 2)
        self.frame = fs
        if self.calls:  # pass the rest on
            prologue = [f"d -= {fs}", "if d < 0: raise Exhaustion()"]
        else:
            prologue = [f"if d < {fs}: raise Exhaustion()"]
        prologue.extend(self.entry_checks())
        i = self.index
        sig = ", ".join(params + ["d"])
        head = f"def {'B' if self.tail else 'f'}{i}({sig}):"
        pad = "    " * indent
        if cells:
            lines = ["def _mk():", f"    global {'B%d, ' % i if self.tail else ''}f{i}",
                     "    " + " = ".join(cells) + " = 0", "    " + head]
            lines.extend(pad + ln for ln in self.cell_declarations())
        else:
            lines = [head]
        lines.extend(pad + ln for ln in prologue)
        lines.extend(text)
        if self.tail:
            lines.extend(pad[4:] + ln for ln in _driver(i, sig))
        return "\n".join(lines) + "\n"


def _driver(index: int, sig: str) -> list[str]:
    """The ordinary entry ``f<i>`` of a function that makes tail calls: it runs
    the body ``B<i>`` and then every tail call request, in this one frame."""
    return [
        f"def f{index}({sig}):",
        f"    r = B{index}({sig})",
        "    while r.__class__ is TC:",
        "        r = r.f(*r.a, d)",
        "    return r",
    ]


def _render(body: Body, indent: int, loops: int, out: list[str]) -> None:
    if indent > MAX_INDENT:
        raise NeedFlat("too deeply indented")
    pad = "    " * indent
    for item in body:
        if isinstance(item, str):
            out.append(pad + item)
        else:
            head, sub = item
            # CPython counts try statements like loops, an except clause twice
            nl = loops + 1 if head.startswith(("while", "try")) else \
                loops + 2 if head.startswith("except") else loops
            if nl > MAX_LOOP_NESTING:
                raise NeedFlat("too many nested loops")
            out.append(pad + head)
            if sub:
                _render(sub, indent + 1, nl, out)
            else:
                out.append(pad + "    pass")


def generate_source(env: ModuleEnv, func_index: int) -> tuple[str, FunctionCompiler]:
    """(source, compiler) of a defined function; structured if possible.

    The compiler holds what the source needs (``consts``, ``helpers``,
    ``func_refs``) and whether it is ``flat``. Raises UnsupportedFeature.
    """
    body = env.module.funcs[func_index - env.n_imported_funcs].body
    # ifs nested deeper than Python can indent cannot be structured: skip the attempt
    if not FORCE_FLAT and if_nesting(body) <= MAX_INDENT:
        try:
            fc = FunctionCompiler(env, func_index, flat=False)
            return fc.compile(), fc
        except (NeedFlat, RecursionError):  # nesting too deep for the structured form
            pass
    fc = FunctionCompiler(env, func_index, flat=True)
    try:
        return fc.compile(), fc
    except (NeedFlat, RecursionError) as e:  # pragma: no cover - flat mode always succeeds
        raise UnsupportedFeature(f"function {func_index} cannot be compiled: {e!r}") from None


def function_code(code: CodeType, name: str) -> CodeType:
    """The code object of the function ``name`` defined in a compiled source
    (at its top level or inside its ``_mk`` wrapper)."""
    for c in code.co_consts:
        if isinstance(c, CodeType):
            if c.co_name == name:
                return c
            if c.co_name == "_mk":
                return function_code(c, name)
    raise LookupError(f"no function {name} in compiled code")  # pragma: no cover - ours


def compile_function(env: ModuleEnv, func_index: int) -> CompiledFunction:
    """Generate and compile a defined function. Raises UnsupportedFeature."""
    src, fc = generate_source(env, func_index)
    name = f"<wasm function {func_index}>"
    try:
        code = compile(src, name, "exec")
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        if fc.flat:
            raise UnsupportedFeature(f"function {func_index} is too large to compile") from None
        fc = FunctionCompiler(env, func_index, flat=True)
        try:
            src = fc.compile()
            code = compile(src, name, "exec")
        except (SyntaxError, RecursionError, MemoryError, ValueError, NeedFlat):
            raise UnsupportedFeature(f"function {func_index} is too large to compile") from None
    fname = f"f{func_index}"
    return CompiledFunction(func_index, fname, src, code, fc)


class ModuleCode:
    """Per-module cache of compiled functions (shared by all its instances)."""

    def __init__(self, module: Module, info: object | None = None, *, fuel: bool = False,
                 epochs: bool = False) -> None:
        self.env = ModuleEnv(module, info, fuel=fuel, epochs=epochs)
        #: the runtime's per-module instantiation plan (runtime.plan), made on first use
        self.plan: Any = None
        self._funcs: dict[int, CompiledFunction] = {}
        self._lock = threading.Lock()

    def get(self, func_index: int) -> CompiledFunction:
        """The compiled function (compiling it on first use). Raises UnsupportedFeature."""
        cf = self._funcs.get(func_index)
        if cf is None:
            with self._lock:
                cf = self._funcs.get(func_index)
                if cf is None:
                    cf = compile_function(self.env, func_index)
                    self._funcs[func_index] = cf
        return cf


def function_source(module: Module, func_index: int, *, fuel: bool = False,
                    epochs: bool = False) -> str:
    """The Python source wasmbox generates for a defined function (for ``inspect``),
    with fuel and epoch checks if asked.

    Raises UnsupportedFeature, or IndexError for an index that is not a
    defined function.
    """
    env = ModuleEnv(module, fuel=fuel, epochs=epochs)
    if not env.n_imported_funcs <= func_index < len(env.func_types):
        raise IndexError(f"function {func_index} is not a defined function")
    return generate_source(env, func_index)[0]
