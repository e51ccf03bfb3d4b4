"""Shared machinery of the text parsers: token access, errors, literals, names.

:class:`ParserBase` walks a :class:`~wasmbox.text.lexer.Tokens` list with an
index ``self.i``. The module parser (:mod:`.parse`) and the script parser
(:mod:`.wast`) build on it.

Every error is raised as :class:`~wasmbox.errors.ParseError` located at the
offending token. Messages follow the reference interpreter: "unexpected
token" for a grammar error, "unknown operator" for a word that is not a
keyword at all (or a reserved token), "constant out of range", "unknown
<space> $name", "duplicate <space> $name", ...
"""
from __future__ import annotations

import re
from typing import Any, Callable, NoReturn

from ..errors import ParseError
from ..syntax.opcodes import OPS
from .lexer import STRING_PATTERN, Tokens
from .literals import (
    FLOAT_RE,
    NAT_RE,
    LiteralError,
    decode_name,
    decode_string,
    parse_f32,
    parse_f64,
    parse_int,
    parse_uint,
)

# Keywords of the grammar other than instruction mnemonics. A keyword in the
# wrong place is an "unexpected token"; any other word is an "unknown operator".
GRAMMAR_KEYWORDS = frozenset(
    """
    module type func param result local global table memory elem data start
    import export mut ref null field struct array sub final rec cont tag
    offset item declare then else end do catch catch_ref catch_all
    catch_all_ref delegate on switch shared pagesize quote binary definition
    instance register invoke get assert_return assert_trap assert_exhaustion
    assert_invalid assert_malformed assert_unlinkable assert_uninstantiable
    assert_exception assert_suspension assert_invalid_custom
    assert_malformed_custom either thread wait script input output
    i32 i64 f32 f64 v128 i8 i16 funcref externref anyref eqref i31ref
    structref arrayref nullref nullfuncref nullexternref exnref nullexnref
    contref nullcontref any eq i31 none nofunc noextern exn noexn nocont
    extern i8x16 i16x8 i32x4 i64x2 f32x4 f64x2 inf nan
    """.split()
) | frozenset(op.text for op in OPS.values())

_STRING_FULL = re.compile(STRING_PATTERN + r"\Z")
_DIGITS = frozenset("0123456789")
_NUM_START = frozenset("0123456789+-")


class ParserBase:
    """Token cursor plus error and literal helpers."""

    def __init__(self, tokens: Tokens, i: int = 0) -> None:
        self.tokens = tokens
        self.toks = tokens.toks
        self.i = i

    # -- errors -----------------------------------------------------------

    def error(self, message: str, i: int | None = None) -> ParseError:
        """A ParseError at token ``i`` (default: the current token)."""
        return self.tokens.error(message, self.i if i is None else i)

    def unexpected(self, i: int | None = None) -> ParseError:
        """The right error for a token that does not fit the grammar here."""
        if i is None:
            i = self.i
        t = self.toks[i]
        if t == "":
            return self.error("unexpected end of input", i)
        c = t[0]
        if "a" <= c <= "z":
            if t in GRAMMAR_KEYWORDS or t in ("nan:canonical", "nan:arithmetic"):
                return self.error("unexpected token", i)
            if t[:7] == "offset=" and NAT_RE.match(t[7:]) is not None:
                return self.error("unexpected token", i)
            if t[:6] == "align=" and NAT_RE.match(t[6:]) is not None:
                return self.error("unexpected token", i)
            if FLOAT_RE.match(t) is not None:
                return self.error("unexpected token", i)
            return self.error(f"unknown operator {t}", i)
        if c in "()":
            return self.error("unexpected token", i)
        if c == "$":
            if '"' in t and not (t[1:2] == '"' and _single_string(t[1:])):
                return self.error(f"unknown operator {t}", i)
            return self.error("unexpected token", i)
        if c == '"':
            if not _single_string(t):
                return self.error(f"unknown operator {t}", i)
            return self.error("unexpected token", i)
        if c in _NUM_START:
            if FLOAT_RE.match(t) is None:
                return self.error(f"unknown operator {t}", i)
            return self.error("unexpected token", i)
        return self.error(f"unknown operator {t}", i)

    def fail(self, i: int | None = None) -> NoReturn:
        raise self.unexpected(i)

    # -- token helpers ----------------------------------------------------

    def expect(self, tok: str) -> None:
        """Consume ``tok`` or raise."""
        if self.toks[self.i] != tok:
            raise self.unexpected()
        self.i += 1

    def expect_rpar(self) -> None:
        if self.toks[self.i] != ")":
            raise self.unexpected()
        self.i += 1

    def at_group(self, kw: str) -> bool:
        """True if the next tokens are ``( kw``."""
        return self.toks[self.i] == "(" and self.toks[self.i + 1] == kw

    def skip_group(self, i: int) -> int:
        """Index just after the parenthesised group opening at ``i``."""
        toks = self.toks
        depth = 0
        while True:
            t = toks[i]
            if t == "(":
                depth += 1
            elif t == ")":
                depth -= 1
                if depth == 0:
                    return i + 1
            elif t == "":
                raise self.unexpected(i)
            i += 1

    # -- literals ----------------------------------------------------------

    def _lit_error(self, e: LiteralError) -> ParseError:
        if e.message == "unknown operator":
            return self.unexpected()
        return self.error(e.message)

    def _string_token(self, decode: Callable[[str], Any]) -> Any:
        """Consume a string token; ``decode`` of it."""
        t = self.toks[self.i]
        if t[:1] != '"' or not _single_string(t):
            raise self.unexpected()
        try:
            v = decode(t)
        except LiteralError as e:
            raise self.error(e.message) from None
        self.i += 1
        return v

    def string(self) -> bytes:
        """Consume a string token; its bytes."""
        return self._string_token(decode_string)

    def strings(self) -> bytes:
        """Consume zero or more string tokens; their concatenated bytes."""
        out = []
        while self.toks[self.i][:1] == '"':
            out.append(self.string())
        return b"".join(out)

    def name(self) -> str:
        """Consume a string token that must be valid UTF-8 (an import/export name)."""
        return self._string_token(decode_name)

    def uint(self, bits: int = 32) -> int:
        """Consume an unsigned literal of at most ``bits`` bits."""
        t = self.toks[self.i]
        if t[:1] not in _DIGITS:
            raise self.unexpected()
        try:
            v = parse_uint(t, bits)
        except LiteralError as e:
            raise self._lit_error(e) from None
        self.i += 1
        return v

    u32 = uint  # (called without ``bits``: the common case costs no extra call)

    def u64(self) -> int:
        return self.uint(64)

    def int_lit(self, bits: int) -> int:
        t = self.toks[self.i]
        try:
            v = parse_int(t, bits)
        except LiteralError as e:
            raise self._lit_error(e) from None
        self.i += 1
        return v

    def float_lit(self, bits: int) -> int:
        t = self.toks[self.i]
        try:
            v = parse_f32(t) if bits == 32 else parse_f64(t)
        except LiteralError as e:
            raise self._lit_error(e) from None
        self.i += 1
        return v

    def is_nat(self, i: int | None = None) -> bool:
        """True if token ``i`` starts like an unsigned number."""
        t = self.toks[self.i if i is None else i]
        return t[:1] in _DIGITS

    # -- identifiers -------------------------------------------------------

    def id_name(self, i: int | None = None) -> str:
        """The name of identifier token ``i`` (without ``$``). Raises ParseError."""
        if i is None:
            i = self.i
        t = self.toks[i]
        if t[1:2] == '"':
            if not _single_string(t[1:]):
                raise self.unexpected(i)
            try:
                s = decode_name(t[1:])
            except LiteralError as e:
                raise self.error(e.message, i) from None
            if not s:
                raise self.error("empty identifier", i)
            return s
        if len(t) == 1:
            raise self.error("empty identifier", i)
        if '"' in t:
            raise self.unexpected(i)
        return t[1:]

    def opt_id(self) -> str | None:
        """Consume an identifier if one comes next; its name."""
        t = self.toks[self.i]
        if t[:1] == "$":
            name = self.id_name()
            self.i += 1
            return name
        return None


def _single_string(t: str) -> bool:
    """True if ``t`` (starting with a quote) is exactly one string literal."""
    return _STRING_FULL.match(t) is not None
