"""The ``.wast`` script grammar: commands, actions, values and result patterns.

:func:`parse_script` returns the commands of a script, each a dataclass with
the 1-based ``line`` it starts on. A script that is only module fields (no
commands) is one implicit :class:`ModuleCommand`.

Modules (:class:`ScriptModule`)
    ``kind`` is ``"text"``, ``"binary"`` or ``"quote"``.
    Text modules are parsed eagerly into ``module`` (``source`` holds their
    text too) -- except under ``assert_malformed``/``assert_malformed_custom``,
    where ``module`` is None and ``source`` holds the module's text for the
    runner to try :func:`~wasmbox.text.parse.parse_module` on (which accepts
    the ``(module definition ...)`` form as well). Binary modules keep their
    bytes in ``binary`` (decoding is :mod:`wasmbox.binary`'s job). Quote
    modules are never parsed here: ``source`` is the concatenation of the
    strings as ``str`` (bytes that are not UTF-8 appear as lone surrogates,
    which ``parse_module`` reports as "malformed UTF-8 encoding").
    ``name`` is the ``$id`` without ``$``; ``definition`` marks
    ``(module definition ...)``. With ``parse_modules=False`` no text module
    is parsed (every one is left as under ``assert_malformed``): for readers
    that want only the script's structure or its binary modules, also of
    scripts whose text modules use syntax this parser does not know.

Values (:class:`Value`) -- arguments and exact results
    ``Value(type, value)`` with ``type`` one of:

    ==================== ==================================================
    ``"i32"`` ``"i64"``  signed Python int (``i32.const 0xffffffff`` -> -1)
    ``"f32"`` ``"f64"``  IEEE bit pattern, unsigned int
    ``"v128"``           128-bit little-endian value, unsigned int
    ``"ref.null"``       heap type: an AbsHeap, a type index, or None when
                         written ``(ref.null)`` (in results: any null)
    ``"ref.extern"``     the host value N of ``(ref.extern N)``
    ``"ref.host"``       the host value N of ``(ref.host N)``
    ==================== ==================================================

Result patterns (only in ``AssertReturn.results``)
    * :class:`Value` -- the result must equal it (floats bit for bit).
    * :class:`NanPattern` -- ``(f32.const nan:canonical)`` /
      ``nan:arithmetic``: ``type`` "f32"/"f64", ``kind``
      "canonical"/"arithmetic".
    * :class:`V128Pattern` -- a ``v128.const`` result with at least one
      NaN-pattern lane: ``shape`` ("f32x4"/"f64x2"), ``lanes`` a tuple of
      ``Value("f32"|"f64", bits)`` or NanPattern. Results without NaN
      patterns are plain ``Value("v128", int)``.
    * :class:`RefPattern` -- ``(ref.func)``, ``(ref.extern)``,
      ``(ref.struct)``, ``(ref.array)``, ``(ref.i31)``, ``(ref.eq)``,
      ``(ref.any)``, ``(ref.exn)``, ``(ref)``: any non-null reference of
      that kind; ``kind`` is the word after ``ref.`` ("func", "extern", ...)
      or "any" for ``(ref)``.
    * :class:`Either` -- ``(either r1 r2 ...)``: any one of ``options``.

Commands
    ModuleCommand, ModuleInstance, Register, Invoke, Get (actions at top
    level are commands), AssertReturn, AssertTrap (on an action),
    AssertUninstantiable (``assert_trap`` on a module, as wast2json does,
    and ``assert_uninstantiable``), AssertExhaustion, AssertInvalid,
    AssertMalformed, AssertUnlinkable, AssertException, AssertSuspension,
    AssertInvalidCustom, AssertMalformedCustom, Thread, Wait.

Raises :class:`~wasmbox.errors.ParseError` for a malformed script or a
malformed text module outside ``assert_malformed``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Union

from ..syntax.module import Module
from .lexer import line_col, tokenize
from .literals import LiteralError, parse_f32, parse_f64, parse_int
from .parse import ModuleParser, nesting_error, parse_module
from .parse_base import ParserBase
from .parse_types import ABS_HEAP

__all__ = [
    "parse_script",
    "parse_module",
    "Value",
    "NanPattern",
    "V128Pattern",
    "RefPattern",
    "Either",
    "ScriptModule",
    "ModuleCommand",
    "ModuleInstance",
    "Register",
    "Invoke",
    "Get",
    "AssertReturn",
    "AssertTrap",
    "AssertUninstantiable",
    "AssertExhaustion",
    "AssertInvalid",
    "AssertMalformed",
    "AssertUnlinkable",
    "AssertException",
    "AssertSuspension",
    "AssertInvalidCustom",
    "AssertMalformedCustom",
    "Thread",
    "Wait",
    "Command",
]


# ---------------------------------------------------------------------------
# Values and patterns


@dataclass(frozen=True)
class Value:
    """A concrete value (see the module docstring for ``type``/``value``)."""

    type: str
    value: Any


@dataclass(frozen=True)
class NanPattern:
    """``nan:canonical`` or ``nan:arithmetic`` for an f32/f64 result."""

    type: str  # "f32" | "f64"
    kind: str  # "canonical" | "arithmetic"


@dataclass(frozen=True)
class V128Pattern:
    """A v128 result with per-lane float patterns."""

    shape: str  # "f32x4" | "f64x2"
    lanes: tuple[Union[Value, NanPattern], ...]


@dataclass(frozen=True)
class RefPattern:
    """Any non-null reference of ``kind`` ("func", "extern", "struct", ...)."""

    kind: str


@dataclass(frozen=True)
class Either:
    """Any one of ``options`` (each a result pattern)."""

    options: tuple[Any, ...]


Result = Union[Value, NanPattern, V128Pattern, RefPattern, Either]


# ---------------------------------------------------------------------------
# Commands


@dataclass
class ScriptModule:
    """A module in a script (see the module docstring)."""

    line: int
    kind: str  # "text" | "binary" | "quote"
    name: str | None = None
    module: Module | None = None
    binary: bytes | None = None
    source: str | None = None
    definition: bool = False


@dataclass
class ModuleCommand:
    """``(module ...)`` at top level: define (and, unless a definition, instantiate)."""

    line: int
    module: ScriptModule


@dataclass
class ModuleInstance:
    """``(module instance $inst? $def?)``: instantiate a module definition."""

    line: int
    instance: str | None
    module: str | None


@dataclass
class Register:
    line: int
    name: str
    module: str | None


@dataclass
class Invoke:
    line: int
    module: str | None
    name: str
    args: list[Value] = field(default_factory=list)


@dataclass
class Get:
    line: int
    module: str | None
    name: str


Action = Union[Invoke, Get]


@dataclass
class AssertReturn:
    line: int
    action: Action
    results: list[Result]


@dataclass
class AssertTrap:
    line: int
    action: Action
    message: str


@dataclass
class AssertUninstantiable:
    """A module whose instantiation must trap (``assert_trap (module ...)``)."""

    line: int
    module: Union[ScriptModule, ModuleInstance]
    message: str


@dataclass
class AssertExhaustion:
    line: int
    action: Action
    message: str


@dataclass
class AssertInvalid:
    line: int
    module: ScriptModule
    message: str


@dataclass
class AssertMalformed:
    line: int
    module: ScriptModule
    message: str


@dataclass
class AssertUnlinkable:
    line: int
    module: Union[ScriptModule, ModuleInstance]
    message: str


@dataclass
class AssertException:
    line: int
    action: Action


@dataclass
class AssertSuspension:
    line: int
    action: Action
    message: str


@dataclass
class AssertInvalidCustom:
    line: int
    module: ScriptModule
    message: str


@dataclass
class AssertMalformedCustom:
    line: int
    module: ScriptModule
    message: str


@dataclass
class Thread:
    """``(thread $name (shared (module $m))* cmd*)``."""

    line: int
    name: str | None
    shared: list[str]
    commands: list[Any]


@dataclass
class Wait:
    line: int
    name: str | None


Command = Union[
    ModuleCommand, ModuleInstance, Register, Invoke, Get, AssertReturn, AssertTrap,
    AssertUninstantiable, AssertExhaustion, AssertInvalid, AssertMalformed,
    AssertUnlinkable, AssertException, AssertSuspension, AssertInvalidCustom,
    AssertMalformedCustom, Thread, Wait,
]


# ---------------------------------------------------------------------------
# The script parser


def parse_script(
    text: str | bytes, filename: str | None = None, *, parse_modules: bool = True
) -> list[Command]:
    """Parse a ``.wast`` script into commands.

    ``parse_modules=False`` leaves every text module unparsed (``module``
    None, ``source`` its text). Raises ParseError.
    """
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", "surrogateescape")
    tokens = tokenize(text, filename)
    p = _ScriptParser(tokens, parse_modules)
    try:
        return p.script()
    except RecursionError:
        raise nesting_error(tokens, p.i) from None


_NAN_PATTERNS = {"nan:canonical": "canonical", "nan:arithmetic": "arithmetic"}
_LANES = {"i8x16": (16, 8), "i16x8": (8, 16), "i32x4": (4, 32), "i64x2": (2, 64),
          "f32x4": (4, 32), "f64x2": (2, 64)}


class _ScriptParser(ParserBase):
    def __init__(self, tokens: Any, parse_modules: bool = True) -> None:
        super().__init__(tokens, 0)
        self._line_pos = 0
        self._line = 1
        self.parse_modules = parse_modules

    def line(self) -> int:
        """Line of the current token (incremental: tokens are visited in order)."""
        pos = self.tokens.start(self.i)
        text = self.tokens.text
        if pos >= self._line_pos:
            self._line += text.count("\n", self._line_pos, pos)
        else:
            self._line = line_col(text, pos)[0]
        self._line_pos = pos
        return self._line

    def script(self) -> list[Command]:
        toks = self.toks
        if toks[0] == "(" and toks[1] not in _COMMANDS and toks[1] not in _ACTIONS:
            # A script made only of module fields: one implicit module.
            if not self.parse_modules:
                return [ModuleCommand(1, ScriptModule(1, "text", source=self.tokens.text))]
            mp = ModuleParser(self.tokens, 0)
            module = mp.fields()
            if toks[mp.i] != "":
                raise mp.unexpected()
            source = self.tokens.text
            return [ModuleCommand(1, ScriptModule(1, "text", None, module, source=source))]
        out: list[Command] = []
        while toks[self.i] == "(":
            out.append(self.command())
        if toks[self.i] != "":
            raise self.unexpected()
        return out

    def command(self) -> Command:
        toks = self.toks
        line = self.line()
        kw = toks[self.i + 1]
        if kw == "module":
            if toks[self.i + 2] == "instance":
                return self.instance(line)
            return ModuleCommand(line, self.script_module(line, eager=True))
        if kw == "invoke" or kw == "get":
            return self.action(line)
        h = _COMMANDS.get(kw)
        if h is None:
            raise self.unexpected(self.i + 1)
        self.i += 2
        cmd = h(self, line)
        self.expect_rpar()
        return cmd

    # -- modules ----------------------------------------------------------------

    def script_module(self, line: int, eager: bool) -> ScriptModule:
        """``(module definition? $id? (binary|quote)? ...)`` at ``(``."""
        toks = self.toks
        if not (toks[self.i] == "(" and toks[self.i + 1] == "module"):
            raise self.unexpected()
        start = self.i
        self.i += 2
        definition = toks[self.i] == "definition"
        if definition:
            self.i += 1
        name = self.opt_id()
        kw = toks[self.i]
        if kw == "binary":
            self.i += 1
            data = self.strings()
            self.expect_rpar()
            return ScriptModule(line, "binary", name, binary=data, definition=definition)
        if kw == "quote":
            self.i += 1
            data = self.strings()
            self.expect_rpar()
            src = data.decode("utf-8", "surrogateescape")
            return ScriptModule(line, "quote", name, source=src, definition=definition)
        text = self.tokens.text
        if not (eager and self.parse_modules):
            end = self.skip_group(start)
            source = text[self.tokens.start(start) : self.tokens.ends[end - 1]]
            self.i = end
            return ScriptModule(line, "text", name, source=source, definition=definition)
        mp = ModuleParser(self.tokens, start)
        _, module = mp.module_form()
        self.i = mp.i
        source = text[self.tokens.start(start) : self.tokens.ends[self.i - 1]]
        return ScriptModule(line, "text", name, module, source=source, definition=definition)

    def instance(self, line: int) -> ModuleInstance:
        self.i += 3
        a = self.opt_id()
        b = self.opt_id()
        self.expect_rpar()
        if b is None:
            return ModuleInstance(line, None, a)
        return ModuleInstance(line, a, b)

    def module_or_instance(self, line: int) -> Union[ScriptModule, ModuleInstance]:
        toks = self.toks
        if toks[self.i] == "(" and toks[self.i + 1] == "module" and toks[self.i + 2] == "instance":
            return self.instance(line)
        return self.script_module(line, eager=True)

    # -- actions and values ----------------------------------------------------------

    def action(self, line: int) -> Action:
        toks = self.toks
        if toks[self.i] != "(":
            raise self.unexpected()
        kw = toks[self.i + 1]
        if kw != "invoke" and kw != "get":
            raise self.unexpected(self.i + 1)
        self.i += 2
        mod = self.opt_id()
        name = self.name()
        if kw == "get":
            self.expect_rpar()
            return Get(line, mod, name)
        args = []
        while toks[self.i] == "(":
            args.append(self.const())
        self.expect_rpar()
        return Invoke(line, mod, name, args)

    def const(self) -> Value:
        """``(i32.const n)``, ``(v128.const shape n*)``, ``(ref.null ht?)``, ``(ref.extern n)``..."""
        toks = self.toks
        i = self.i
        kw = toks[i + 1]
        conv = _CONVERTERS.get(kw)
        if conv is not None:  # (i32.const n) ... (f64.const z)
            try:
                v = Value(conv[0], conv[1](toks[i + 2]))
            except LiteralError as e:
                self.i = i + 2
                raise self._lit_error(e) from None
            if toks[i + 3] != ")":
                raise self.unexpected(i + 3)
            self.i = i + 4
            return v
        self.i = i + 2
        if kw == "v128.const":
            v = self._v128(allow_nan=False)
        elif kw == "ref.null":
            v = Value("ref.null", self._opt_heap())
        elif kw == "ref.extern" or kw == "ref.host":
            v = Value(kw, self.u32())  # the host value: a u32
        else:
            raise self.unexpected(self.i - 1)
        self.expect_rpar()
        return v

    def _opt_heap(self) -> Any:
        t = self.toks[self.i]
        if t == ")":
            return None
        h = ABS_HEAP.get(t)
        if h is not None:
            self.i += 1
            return h
        if t[:1] in "0123456789":
            return self.u32()
        raise self.unexpected()

    def _v128(self, allow_nan: bool) -> Union[Value, V128Pattern]:
        """``shape lane*`` of a v128.const up to (not including) ``)``."""
        toks = self.toks
        shape = toks[self.i]
        lanes = _LANES.get(shape)
        if lanes is None:
            raise self.unexpected()
        i = self.i + 1
        n = lanes[0]
        words = tuple(toks[i : i + n + 1])
        if len(words) <= n or words[n] != ")" or ")" in words[:n] or "(" in words or "" in words:
            raise self.error("wrong number of lane literals")
        try:
            v = _v128_value(shape, words[:n], allow_nan)
        except LiteralError as e:
            raise self.error("constant out of range" if e.message != "unknown operator" else
                             "unexpected token") from None
        self.i = i + n
        return v

    def result(self) -> Result:
        toks = self.toks
        if toks[self.i] != "(":
            raise self.unexpected()
        kw = toks[self.i + 1]
        if kw in _NUM_CONSTS:
            nan = _NAN_PATTERNS.get(toks[self.i + 2])
            if nan is not None:
                if kw[0] != "f":
                    raise self.unexpected(self.i + 2)
                self.i += 3
                self.expect_rpar()
                return NanPattern(kw[:3], nan)
            return self.const()
        if kw == "v128.const":
            self.i += 2
            r = self._v128(allow_nan=True)
            self.expect_rpar()
            return r
        if kw == "either":
            self.i += 2
            opts = []
            while toks[self.i] == "(":
                opts.append(self.result())
            self.expect_rpar()
            return Either(tuple(opts))
        if kw == "ref.null":
            return self.const()
        if (kw == "ref.extern" or kw == "ref.host") and toks[self.i + 2] != ")":
            return self.const()
        if kw == "ref" and toks[self.i + 2] == ")":
            self.i += 3
            return RefPattern("any")
        if kw[:4] == "ref." and toks[self.i + 2] == ")":
            self.i += 3
            return RefPattern(kw[4:])
        raise self.unexpected(self.i + 1)

    # -- commands -----------------------------------------------------------------------

    def _message(self) -> str:
        return self.name()

    def c_register(self, line: int) -> Register:
        name = self.name()
        return Register(line, name, self.opt_id())

    def c_assert_return(self, line: int) -> AssertReturn:
        act = self.action(line)
        results = []
        while self.toks[self.i] == "(":
            results.append(self.result())
        return AssertReturn(line, act, results)

    def c_assert_trap(self, line: int) -> Union[AssertTrap, AssertUninstantiable]:
        if self.at_group("module"):
            m = self.module_or_instance(line)
            return AssertUninstantiable(line, m, self._message())
        act = self.action(line)
        return AssertTrap(line, act, self._message())

    def c_assert_uninstantiable(self, line: int) -> AssertUninstantiable:
        m = self.module_or_instance(line)
        return AssertUninstantiable(line, m, self._message())

    def c_assert_exhaustion(self, line: int) -> AssertExhaustion:
        act = self.action(line)
        return AssertExhaustion(line, act, self._message())

    def c_assert_invalid(self, line: int) -> AssertInvalid:
        return AssertInvalid(line, self.script_module(line, eager=True), self._message())

    def c_assert_malformed(self, line: int) -> AssertMalformed:
        return AssertMalformed(line, self.script_module(line, eager=False), self._message())

    def c_assert_unlinkable(self, line: int) -> AssertUnlinkable:
        return AssertUnlinkable(line, self.module_or_instance(line), self._message())

    def c_assert_exception(self, line: int) -> AssertException:
        return AssertException(line, self.action(line))

    def c_assert_suspension(self, line: int) -> AssertSuspension:
        act = self.action(line)
        return AssertSuspension(line, act, self._message())

    def c_assert_invalid_custom(self, line: int) -> AssertInvalidCustom:
        return AssertInvalidCustom(line, self.script_module(line, eager=True), self._message())

    def c_assert_malformed_custom(self, line: int) -> AssertMalformedCustom:
        return AssertMalformedCustom(line, self.script_module(line, eager=False), self._message())

    def c_thread(self, line: int) -> Thread:
        name = self.opt_id()
        shared = []
        toks = self.toks
        while self.at_group("shared"):
            self.i += 2
            while toks[self.i] == "(" and toks[self.i + 1] == "module":
                self.i += 2
                n = self.opt_id()
                if n is None:
                    raise self.unexpected()
                shared.append(n)
                self.expect_rpar()
            self.expect_rpar()
        cmds = []
        while toks[self.i] == "(":
            cmds.append(self.command())
        return Thread(line, name, shared, cmds)

    def c_wait(self, line: int) -> Wait:
        return Wait(line, self.opt_id())


@lru_cache(maxsize=16384)
def _v128_value(shape: str, words: tuple[str, ...], allow_nan: bool) -> Union[Value, V128Pattern]:
    """The Value (or, with NaN-pattern lanes, V128Pattern) of v128 lanes.

    Raises LiteralError.
    """
    width = _LANES[shape][1]
    kind = shape[0]
    if kind == "i":
        mask = (1 << width) - 1
        lanes = [parse_int(t, width) & mask for t in words]
    else:
        conv = parse_f32 if width == 32 else parse_f64
        if allow_nan and any(t in _NAN_PATTERNS for t in words):
            ty = shape[:3]
            return V128Pattern(shape, tuple(
                NanPattern(ty, _NAN_PATTERNS[t]) if t in _NAN_PATTERNS else Value(ty, conv(t))
                for t in words
            ))
        lanes = [conv(t) for t in words]
    v = 0
    for k, lane in enumerate(lanes):
        v |= lane << (k * width)
    return Value("v128", v)


_NUM_CONSTS = frozenset({"i32.const", "i64.const", "f32.const", "f64.const"})
_ACTIONS = frozenset({"module", "invoke", "get"})
_CONVERTERS = {
    "i32.const": ("i32", lambda t: parse_int(t, 32)),
    "i64.const": ("i64", lambda t: parse_int(t, 64)),
    "f32.const": ("f32", parse_f32),
    "f64.const": ("f64", parse_f64),
}


_COMMANDS: dict[str, Any] = {
    "register": _ScriptParser.c_register,
    "assert_return": _ScriptParser.c_assert_return,
    "assert_trap": _ScriptParser.c_assert_trap,
    "assert_uninstantiable": _ScriptParser.c_assert_uninstantiable,
    "assert_exhaustion": _ScriptParser.c_assert_exhaustion,
    "assert_invalid": _ScriptParser.c_assert_invalid,
    "assert_malformed": _ScriptParser.c_assert_malformed,
    "assert_unlinkable": _ScriptParser.c_assert_unlinkable,
    "assert_exception": _ScriptParser.c_assert_exception,
    "assert_suspension": _ScriptParser.c_assert_suspension,
    "assert_invalid_custom": _ScriptParser.c_assert_invalid_custom,
    "assert_malformed_custom": _ScriptParser.c_assert_malformed_custom,
    "thread": _ScriptParser.c_thread,
    "wait": _ScriptParser.c_wait,
}
