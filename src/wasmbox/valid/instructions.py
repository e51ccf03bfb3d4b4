"""Validation of function bodies: the operand-stack algorithm of the spec appendix.

A body is a flat instruction list (see :mod:`wasmbox.syntax.module`) without
its final ``end``. The validator keeps the value stack (``None`` = unknown
type of unreachable code) and the control stack of frames, exactly as the
spec's validation algorithm does, in one linear pass.

Numeric instructions take their signatures from ``signatures.ALL_NUMERIC``
(derived from the names); every other supported instruction has a rule in
``_RULES`` below. An instruction with neither raises UnsupportedFeature if
``features.py`` knows its proposal, else ValidationError("unknown operator").

Raises :class:`~wasmbox.errors.ValidationError` (messages start with the
spec suite's text, followed by where it happened) and
:class:`~wasmbox.errors.UnsupportedFeature`.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..errors import ValidationError
from ..syntax.locals import Locals
from ..syntax.module import Func, Instr
from ..syntax.types import FUNCREF, I32, I64, AddrType, FuncType, NumType, RefType, ValType
from .context import ModuleInfo
from .features import feature_of_op, unsupported
from .signatures import ALL_NUMERIC, MEMOPS, SIMD_MEMOPS, MemOp
from .types import BOT_REF, check_heap, check_valtype, defaultable, types_text

_I32_1: tuple[ValType, ...] = (I32,)
_NO_TYPES: tuple[ValType, ...] = ()

Operand = ValType | None  # None: the unknown type of unreachable code


class _Frame:
    """A control frame: the construct's kind, its types, and the stack height."""

    __slots__ = ("kind", "start", "end", "label", "height", "unreachable", "inits")

    def __init__(self, kind: str, start: tuple[ValType, ...], end: tuple[ValType, ...], height: int,
                 inits: int) -> None:
        self.kind = kind
        self.start = start
        self.end = end
        self.label = start if kind == "loop" else end
        self.height = height
        self.unreachable = False
        self.inits = inits  # height of the validator's init_stack at entry


def _mismatch(what: str, expect: Sequence[Operand], actual: Sequence[Operand]) -> ValidationError:
    return ValidationError(
        f"type mismatch: {what} requires {types_text(expect)} but stack has {types_text(actual)}"
    )


class FuncValidator:
    """Validates one function body against a :class:`ModuleInfo`."""

    def __init__(self, info: ModuleInfo, index: int, params: tuple[ValType, ...], locals_: Locals,
                 results: tuple[ValType, ...]) -> None:
        self.info = info
        self.space = info.space
        self.index = index
        self.params = params
        self.nparams = len(params)
        self.locals = locals_
        self.nlocals = self.nparams + locals_.total
        self.results = results
        self.vals: list[Operand] = []
        self.ctrls: list[_Frame] = []
        # Local initialisation (Wasm 3.0): a local of a non-defaultable type
        # must be set before it is read. ``inited`` holds those set so far on
        # the current path, ``init_stack`` the order they were set in; leaving
        # a block forgets what was set inside it (the spec's algorithm).
        self.has_nondef = False
        for _, t in locals_.runs:
            if t.__class__ is RefType and not t.nullable:
                self.has_nondef = True
                break
        self.inited: set[int] = set()
        self.init_stack: list[int] = []

    # -- the stack primitives of the algorithm ----------------------------

    def push_ctrl(self, kind: str, start: tuple[ValType, ...], end: tuple[ValType, ...]) -> None:
        self.ctrls.append(_Frame(kind, start, end, len(self.vals), len(self.init_stack)))
        self.vals.extend(start)

    def pop_ctrl(self) -> _Frame:
        frame = self.ctrls[-1]
        self.pop_vals(frame.end)
        if len(self.vals) != frame.height:
            raise _mismatch("block", frame.end, self.vals[frame.height :] + list(frame.end))
        self.ctrls.pop()
        stack = self.init_stack
        if len(stack) > frame.inits:
            self.inited.difference_update(stack[frame.inits :])
            del stack[frame.inits :]
        return frame

    def set_local(self, x: int, t: ValType) -> None:
        """Record that local x (of type t) is set on the current path."""
        if x >= self.nparams and x not in self.inited and not defaultable(t):
            self.inited.add(x)
            self.init_stack.append(x)

    def pop_vals(self, expect: Sequence[ValType], what: str = "instruction", pop: bool = True) -> None:
        """Check that the top of the stack matches ``expect`` and (if ``pop``) remove it."""
        n = len(expect)
        if not n:
            return
        vals = self.vals
        frame = self.ctrls[-1]
        size = len(vals)
        k = min(n, size - frame.height)
        ok = k == n or frame.unreachable
        if ok:
            match = self.space.match_valtype
            for j in range(1, k + 1):
                a = vals[-j]
                e = expect[-j]
                if a is not e and a is not None and not match(a, e):
                    ok = False
                    break
        if not ok:
            raise _mismatch(what, expect, vals[size - k :] if k > 0 else [])
        if pop and k > 0:
            del vals[size - k :]

    def pop_val(self) -> Operand:
        """Pop any operand (None if unknown)."""
        frame = self.ctrls[-1]
        if len(self.vals) == frame.height:
            if frame.unreachable:
                return None
            raise ValidationError("type mismatch: instruction requires a value but stack has []")
        return self.vals.pop()

    def pop_ref(self) -> RefType | None:
        t = self.pop_val()
        if t is not None and not isinstance(t, RefType):
            raise ValidationError(
                f"type mismatch: instruction requires a reference but stack has {types_text([t])}"
            )
        return t

    def set_unreachable(self) -> None:
        frame = self.ctrls[-1]
        del self.vals[frame.height :]
        frame.unreachable = True

    def label(self, depth: int) -> tuple[ValType, ...]:
        if not 0 <= depth < len(self.ctrls):
            raise ValidationError(f"unknown label {depth}")
        return self.ctrls[-1 - depth].label

    def local(self, x: int) -> ValType:
        """The type of local ``x`` (parameters first). Raises ValidationError("unknown local")."""
        if not 0 <= x < self.nlocals:
            raise ValidationError(f"unknown local {x}")
        if x < self.nparams:
            return self.params[x]
        return self.locals[x - self.nparams]  # bisection over the runs, never expanded

    def block_type(self, bt: Any) -> tuple[tuple[ValType, ...], tuple[ValType, ...]]:
        if bt is None:
            return _NO_TYPES, _NO_TYPES
        if isinstance(bt, int):
            ft = self.info.func_type(bt)
            return ft.params, ft.results
        check_valtype(bt, len(self.info.types))
        return _NO_TYPES, (bt,)

    # -- the pass -----------------------------------------------------------

    def run(self, body: Sequence[Instr]) -> int:
        """Validate ``body``; return the greatest operand stack height.

        Raises ValidationError / UnsupportedFeature.
        """
        vals = self.vals
        ctrls = self.ctrls
        numeric = ALL_NUMERIC
        rules = _RULES
        maxh = 0
        pc = -1
        op = "<body>"
        self.push_ctrl("func", _NO_TYPES, self.results)
        try:
            for pc, (op, imm) in enumerate(body):
                sig = numeric.get(op)
                if sig is not None:
                    n = len(sig.params)
                    if n:
                        if vals[-n:] == sig.plist and len(vals) - n >= ctrls[-1].height:
                            del vals[-n:]
                        else:
                            self.pop_vals(sig.params)
                    vals.extend(sig.results)
                else:
                    rule = rules.get(op)
                    if rule is None:
                        feature = feature_of_op(op)
                        if feature is not None:
                            pre = UNSUPPORTED_CHECKS.get(op)
                            if pre is not None:  # invalid anyway: say so, not "unsupported"
                                pre(self, imm)
                            raise unsupported(feature, op)
                        raise ValidationError(f"unknown operator {op}")
                    rule(self, imm)
                if len(vals) > maxh:
                    maxh = len(vals)
            pc, op = len(body), "end"
            if len(ctrls) != 1:
                raise ValidationError(f"unclosed {ctrls[-1].kind}: missing end")
            self.pop_ctrl()
        except ValidationError as e:
            raise ValidationError(f"{e.message} (in function {self.index}, at instruction {pc}: {op})") from None
        except (TypeError, ValueError, IndexError, AttributeError) as e:
            # immediates of the wrong shape in a hand-built module
            raise ValidationError(
                f"malformed instruction (in function {self.index}, at instruction {pc}: {op}): {e}"
            ) from None
        return maxh


# --------------------------------------------------------------------------
# Rules for the non-numeric instructions: name -> rule(validator, imm)

Rule = Callable[[FuncValidator, tuple[Any, ...]], None]
_RULES: dict[str, Rule] = {}
#: checks of instructions of unsupported proposals for what makes them invalid
#: whatever else holds (run before UnsupportedFeature is raised for them)
UNSUPPORTED_CHECKS: dict[str, Rule] = {}


def _rule(*names: str) -> Callable[[Rule], Rule]:
    def deco(f: Rule) -> Rule:
        for n in names:
            _RULES[n] = f
        return f

    return deco


# -- control ---------------------------------------------------------------


@_rule("unreachable")
def _unreachable(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    v.set_unreachable()


@_rule("nop")
def _nop(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    pass


@_rule("block")
def _block(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    params, results = v.block_type(imm[0])
    v.pop_vals(params)
    v.push_ctrl("block", params, results)


@_rule("loop")
def _loop(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    params, results = v.block_type(imm[0])
    v.pop_vals(params)
    v.push_ctrl("loop", params, results)


@_rule("if")
def _if(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    params, results = v.block_type(imm[0])
    v.pop_vals(_I32_1)
    v.pop_vals(params)
    v.push_ctrl("if", params, results)


@_rule("else")
def _else(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    if v.ctrls[-1].kind != "if":
        raise ValidationError("else without matching if")
    frame = v.pop_ctrl()
    v.push_ctrl("else", frame.start, frame.end)


@_rule("end")
def _end(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    if len(v.ctrls) == 1:
        raise ValidationError("unexpected end: the function body is already closed")
    frame = v.pop_ctrl()
    if frame.kind == "if" and not v.space.match_types(frame.start, frame.end):
        # an if without else: the missing else branch must turn params into results
        raise _mismatch("if without else", frame.end, frame.start)
    v.vals.extend(frame.end)


@_rule("br")
def _br(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    v.pop_vals(v.label(imm[0]))
    v.set_unreachable()


@_rule("br_if")
def _br_if(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    lt = v.label(imm[0])
    v.pop_vals(_I32_1)
    v.pop_vals(lt)
    v.vals.extend(lt)


@_rule("br_table")
def _br_table(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    labels, default = imm
    v.pop_vals(_I32_1)
    dt = v.label(default)
    arity = len(dt)
    for depth in labels:
        lt = v.label(depth)
        if len(lt) != arity:
            raise ValidationError(
                f"type mismatch: br_table targets {types_text(lt)} and {types_text(dt)} differ in arity"
            )
        v.pop_vals(lt, pop=False)
    v.pop_vals(dt)
    v.set_unreachable()


@_rule("return")
def _return(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    v.pop_vals(v.results)
    v.set_unreachable()


def _apply(v: FuncValidator, ft: FuncType) -> None:
    v.pop_vals(ft.params)
    v.vals.extend(ft.results)


@_rule("call")
def _call(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    _apply(v, v.info.func(imm[0]))


def _indirect(v: FuncValidator, imm: tuple[Any, ...], what: str) -> FuncType:
    """The callee type of call_indirect / return_call_indirect, its index popped."""
    type_index, table_index = imm
    tt = v.info.table(table_index)
    if not v.space.match_valtype(tt.elem, FUNCREF):
        raise ValidationError(f"type mismatch: {what} on a table of {types_text([tt.elem])}")
    ft = v.info.func_type(type_index)
    v.pop_vals((_addr(tt.limits),))
    return ft


@_rule("call_indirect")
def _call_indirect(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    _apply(v, _indirect(v, imm, "call_indirect"))


def _tail(v: FuncValidator, ft: FuncType, what: str) -> None:
    """A tail call: the callee's results must match the caller's (with subtyping)."""
    if not v.space.match_types(ft.results, v.results):
        raise ValidationError(
            f"type mismatch: {what} returns {types_text(ft.results)} "
            f"but the function returns {types_text(v.results)}"
        )
    v.pop_vals(ft.params)
    v.set_unreachable()


@_rule("return_call")
def _return_call(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    _tail(v, v.info.func(imm[0]), "return_call")


@_rule("return_call_indirect")
def _return_call_indirect(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    _tail(v, _indirect(v, imm, "return_call_indirect"), "return_call_indirect")


@_rule("return_call_ref")
def _return_call_ref(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    ft = v.info.func_type(imm[0])
    v.pop_vals((RefType(True, imm[0]),))
    _tail(v, ft, "return_call_ref")


# -- parametric --------------------------------------------------------------


@_rule("drop")
def _drop(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    v.pop_val()


@_rule("select")
def _select(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    v.pop_vals(_I32_1)
    t1 = v.pop_val()
    t2 = v.pop_val()
    if not (t1 is None or isinstance(t1, NumType)) or not (t2 is None or isinstance(t2, NumType)):
        raise ValidationError(
            f"type mismatch: select without a type needs numeric operands, stack has {types_text([t2, t1])}"
        )
    if t1 is not None and t2 is not None and t1 is not t2:
        raise _mismatch("select", [t2, t2], [t2, t1])
    v.vals.append(t2 if t1 is None else t1)


@_rule("select_t")
def _select_t(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    ts = imm[0]
    if len(ts) != 1:
        raise ValidationError("invalid result arity")
    t = ts[0]
    check_valtype(t, len(v.info.types))
    v.pop_vals((t, t, I32))
    v.vals.append(t)


# -- variables -------------------------------------------------------------


@_rule("local.get")
def _local_get(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    x = imm[0]
    t = v.local(x)
    if v.has_nondef and x >= v.nparams and x not in v.inited and not defaultable(t):
        raise ValidationError(f"uninitialized local {x}")
    v.vals.append(t)


@_rule("local.set")
def _local_set(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    x = imm[0]
    t = v.local(x)
    v.pop_vals((t,))
    if v.has_nondef:
        v.set_local(x, t)


@_rule("local.tee")
def _local_tee(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    x = imm[0]
    t = v.local(x)
    v.pop_vals((t,))
    if v.has_nondef:
        v.set_local(x, t)
    v.vals.append(t)


@_rule("global.get")
def _global_get(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    v.vals.append(v.info.global_(imm[0]).val)


@_rule("global.set")
def _global_set(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    gt = v.info.global_(imm[0])
    if not gt.mutable:
        raise ValidationError(f"immutable global: global.set of global {imm[0]}")
    v.pop_vals((gt.val,))


# -- tables ------------------------------------------------------------------
#
# A table's (memory's) address type is i32 or i64 (table64 / memory64): every
# index, size and length operand of that table (memory) has that type. An
# operation on two of them (copy) takes each address in its own type and the
# length in the smaller of the two.


def _addr(lim: Any) -> NumType:
    return I64 if lim.addr is AddrType.I64 else I32


def _min_addr(a: NumType, b: NumType) -> NumType:
    return I64 if a is I64 and b is I64 else I32


@_rule("table.get")
def _table_get(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    tt = v.info.table(imm[0])
    v.pop_vals((_addr(tt.limits),))
    v.vals.append(tt.elem)


@_rule("table.set")
def _table_set(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    tt = v.info.table(imm[0])
    v.pop_vals((_addr(tt.limits), tt.elem))


@_rule("table.size")
def _table_size(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    tt = v.info.table(imm[0])
    v.vals.append(_addr(tt.limits))


@_rule("table.grow")
def _table_grow(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    tt = v.info.table(imm[0])
    at = _addr(tt.limits)
    v.pop_vals((tt.elem, at))
    v.vals.append(at)


@_rule("table.fill")
def _table_fill(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    tt = v.info.table(imm[0])
    at = _addr(tt.limits)
    v.pop_vals((at, tt.elem, at))


@_rule("table.copy")
def _table_copy(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    dst = v.info.table(imm[0])
    src = v.info.table(imm[1])
    if not v.space.match_valtype(src.elem, dst.elem):
        raise ValidationError(
            f"type mismatch: table.copy from {types_text([src.elem])} to {types_text([dst.elem])}"
        )
    ad, as_ = _addr(dst.limits), _addr(src.limits)
    v.pop_vals((ad, as_, _min_addr(ad, as_)))


@_rule("table.init")
def _table_init(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    elem_index, table_index = imm
    tt = v.info.table(table_index)
    et = v.info.elem(elem_index)
    if not v.space.match_valtype(et, tt.elem):
        raise ValidationError(
            f"type mismatch: table.init of {types_text([et])} into {types_text([tt.elem])}"
        )
    v.pop_vals((_addr(tt.limits), I32, I32))


@_rule("elem.drop")
def _elem_drop(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    v.info.elem(imm[0])


# -- memories ----------------------------------------------------------------

_OFFSET_LIMIT_32 = 1 << 32
_OFFSET_LIMIT_64 = 1 << 64


def _memop_rule(name: str, mo: MemOp) -> Rule:
    t: NumType = mo.type
    natural = mo.natural_align
    store = mo.store

    def rule(v: FuncValidator, imm: tuple[Any, ...]) -> None:
        ma = imm[0]
        at = _addr(v.info.mem(ma.mem).limits)
        if ma.align > natural:
            raise ValidationError(f"alignment must not be larger than natural: {name} align=2**{ma.align}")
        if not 0 <= ma.offset < (_OFFSET_LIMIT_64 if at is I64 else _OFFSET_LIMIT_32):
            raise ValidationError(f"offset out of range: {ma.offset}")
        if store:
            v.pop_vals((at, t))
        else:
            v.pop_vals((at,))
            v.vals.append(t)

    return rule


for _name, _mo in (MEMOPS | SIMD_MEMOPS).items():
    _RULES[_name] = _memop_rule(_name, _mo)


def _mem_addr(v: FuncValidator, x: int) -> NumType:
    return _addr(v.info.mem(x).limits)


@_rule("memory.size")
def _memory_size(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    v.vals.append(_mem_addr(v, imm[0]))


@_rule("memory.grow")
def _memory_grow(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    at = _mem_addr(v, imm[0])
    v.pop_vals((at,))
    v.vals.append(at)


@_rule("memory.fill")
def _memory_fill(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    at = _mem_addr(v, imm[0])
    v.pop_vals((at, I32, at))


@_rule("memory.copy")
def _memory_copy(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    ad = _mem_addr(v, imm[0])
    as_ = _mem_addr(v, imm[1])
    v.pop_vals((ad, as_, _min_addr(ad, as_)))


@_rule("memory.init")
def _memory_init(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    data_index, mem_index = imm
    at = _mem_addr(v, mem_index)
    v.info.data(data_index)
    v.pop_vals((at, I32, I32))


@_rule("data.drop")
def _data_drop(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    v.info.data(imm[0])


# -- references --------------------------------------------------------------


@_rule("ref.null")
def _ref_null(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    check_heap(imm[0], len(v.info.types))
    v.vals.append(RefType(True, imm[0]))


@_rule("ref.is_null")
def _ref_is_null(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    v.pop_ref()
    v.vals.append(I32)


def _non_null(t: RefType | None) -> RefType:
    """The non-nullable version of a popped reference type (``(ref bot)`` if unknown)."""
    return BOT_REF if t is None else RefType(False, t.heap)


@_rule("ref.as_non_null")
def _ref_as_non_null(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    v.vals.append(_non_null(v.pop_ref()))


@_rule("br_on_null")
def _br_on_null(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    lt = v.label(imm[0])
    t = v.pop_ref()
    v.pop_vals(lt)
    v.vals.extend(lt)
    v.vals.append(_non_null(t))


@_rule("br_on_non_null")
def _br_on_non_null(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    lt = v.label(imm[0])
    if not lt or not isinstance(lt[-1], RefType):
        raise ValidationError(
            f"type mismatch: br_on_non_null needs a label ending in a reference, not {types_text(lt)}"
        )
    t = _non_null(v.pop_ref())
    if not v.space.match_valtype(t, lt[-1]):
        raise _mismatch("br_on_non_null", lt[-1:], [t])
    rest = lt[:-1]
    v.pop_vals(rest)
    v.vals.extend(rest)


@_rule("call_ref")
def _call_ref(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    x = imm[0]
    ft = v.info.func_type(x)
    v.pop_vals((RefType(True, x),))
    _apply(v, ft)


@_rule("ref.func")
def _ref_func(v: FuncValidator, imm: tuple[Any, ...]) -> None:
    x = imm[0]
    v.info.func(x)
    if x not in v.info.refs:
        raise ValidationError(f"undeclared function reference {x}")
    v.vals.append(RefType(False, v.info.func_type_indices[x]))


# --------------------------------------------------------------------------


def supported_instructions() -> frozenset[str]:
    """Names of every instruction with a typing rule (numeric or special)."""
    return frozenset(ALL_NUMERIC) | frozenset(_RULES)


def validate_function(info: ModuleInfo, func_index: int, func: Func) -> int:
    """Validate a defined function; return its greatest operand stack height.

    ``func_index`` is its index in the function index space (imports first).
    Raises ValidationError / UnsupportedFeature.
    """
    ft = info.func_types[func_index]
    ntypes = len(info.types)
    for _, t in func.locals.runs:
        check_valtype(t, ntypes)
    return FuncValidator(info, func_index, tuple(ft.params), func.locals, ft.results).run(func.body)


# the exception-handling rules register into _RULES (valid/exceptions.py)
from . import exceptions as _exceptions  # noqa: E402,F401
# the stack-switching rules register into _RULES too (valid/stack_switching.py)
from . import stack_switching as _stack_switching  # noqa: E402,F401
# the SIMD lane rules register into _RULES too (valid/simd.py)
from . import simd as _simd  # noqa: E402,F401
