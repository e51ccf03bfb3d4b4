"""The text-format lexer: one regular expression for the whole source.

:func:`tokenize` turns a source text into a :class:`Tokens` object: the list
of raw token strings plus their end offsets (start = end - len(token)).
Tokens are kept raw and classified by their first character:

=========== ================================================================
``(`` ``)`` parentheses
``"...``    a string (decoded lazily by :mod:`wasmbox.text.literals`)
``$...``    an identifier (``$name`` or ``$"quoted"``)
``a``-``z`` a keyword (also ``inf``, ``nan``, ``offset=...``, ``align=...``)
digit/sign  a number (checked when converted)
other       a reserved token: an error wherever the parser meets it
``""``      end of input (the list ends with a few of these sentinels)
=========== ================================================================

Whitespace, line comments ``;;`` and nested block comments ``(; ;)`` are
dropped here. Annotations ``(@id ...)`` are taken out of the token list
(the parser never meets them between tokens) and kept in ``Tokens.annots``
with their position, for the ``@custom`` and ``@name`` annotations.

Sources are ``str``. Bytes that were not valid UTF-8 are expected as lone
surrogates (decode with ``errors="surrogateescape"``); meeting one outside a
string literal is "malformed UTF-8 encoding".

Raises :class:`~wasmbox.errors.ParseError` for lexical errors ("unclosed
string", "illegal character", "malformed UTF-8 encoding", "unclosed comment",
"unclosed annotation", "empty annotation id", "illegal escape").
"""
from __future__ import annotations

import re
from itertools import accumulate
from operator import add, itemgetter

from typing import NamedTuple

from ..errors import ParseError

__all__ = ["Tokens", "Annotation", "tokenize", "IDCHARS", "STRING_PATTERN", "line_col"]

IDCHARS = "0-9A-Za-z!#$%&'*+\\-./:<=>?@\\\\^_`|~"
STRING_PATTERN = (
    r'"(?:[^"\\\x00-\x1f\x7f\ud800-\udfff]++'
    r"|\\(?:[0-9a-fA-F]{2}|[nrt\\'\"]|u\{[0-9a-fA-F](?:_?[0-9a-fA-F])*+\}))*+\""
)
_WORD = rf"(?:[{IDCHARS}]++|{STRING_PATTERN})++"
# A line comment ends at a newline or a carriage return (comments.wast).
_SPACE = r"(?:[ \t\n\r]++|;;[^\n\r\ud800-\udfff]*+)*+"
# Group 1: skipped space; group 2: a token; group 3: something that needs
# care (block comment, annotation, bad string start, illegal character, end).
_TOKEN_RE = re.compile(
    rf"({_SPACE})(?:(\((?![;@])|\)|{_WORD}|[,;\[\]{{}}])|(\(;|\(@|[\s\S]|\Z))"
)
# Block comment delimiters; scanning them left to right is the reference
# lexer's rule ("(;)" opens a comment, ";)" closes one).
_COMMENT_DELIM_RE = re.compile(r"\(;|;\)")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_ANNOT_ID_RE = re.compile(rf"[{IDCHARS}]+|{STRING_PATTERN}")
_SENTINELS = ("", "", "", "")
_first, _second, _third = itemgetter(0), itemgetter(1), itemgetter(2)


class Annotation(NamedTuple):
    """An annotation ``(@id ...)`` removed from the token stream.

    ``index`` is the index of the token that follows it (where it sat in the
    token list); ``body`` the raw tokens between the id and the closing
    parenthesis; ``offset`` its position in the text.
    """

    index: int
    id: str
    body: list[str]
    offset: int


class Tokens:
    """Raw tokens of one source, with positions for error messages.

    ``annots`` lists the (outermost) annotations in source order.
    """

    __slots__ = ("toks", "ends", "text", "file", "annots")

    def __init__(
        self,
        toks: list[str],
        ends: list[int],
        text: str,
        file: str | None,
        annots: list[Annotation] | None = None,
    ) -> None:
        self.toks = toks
        self.ends = ends
        self.text = text
        self.file = file
        self.annots = annots if annots is not None else []

    def start(self, i: int) -> int:
        """Offset of token ``i`` in the text (the end of text for sentinels)."""
        if i >= len(self.ends):
            return len(self.text)
        return self.ends[i] - len(self.toks[i])

    def line_col(self, i: int) -> tuple[int, int]:
        """1-based line and column of token ``i``."""
        return line_col(self.text, self.start(i))

    def error(self, message: str, i: int) -> ParseError:
        """A ParseError located at token ``i`` (returned, not raised)."""
        line, col = self.line_col(i)
        return ParseError(message, self.file, line, col)


def line_col(text: str, pos: int) -> tuple[int, int]:
    """1-based line and column of offset ``pos`` in ``text``."""
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col


def _err(text: str, pos: int, message: str, file: str | None) -> ParseError:
    line, col = line_col(text, pos)
    return ParseError(message, file, line, col)


def tokenize(text: str, file: str | None = None) -> Tokens:
    """Split ``text`` into tokens. Raises ParseError on lexical errors."""
    parts = _TOKEN_RE.findall(text)
    if any(map(_third, parts)):
        return _tokenize_slow(text, file)
    toks_l = list(map(_second, parts))
    ends = list(accumulate(map(add, map(len, map(_first, parts)), map(len, toks_l))))
    # The last match is the end of input (empty token): keep it as sentinel.
    toks_l.extend(_SENTINELS)
    ends.extend([len(text)] * len(_SENTINELS))
    return Tokens(toks_l, ends, text, file)


def _tokenize_slow(text: str, file: str | None) -> Tokens:
    """The general path: block comments, annotations and errors."""
    toks: list[str] = []
    ends: list[int] = []
    match = _TOKEN_RE.match
    pos = 0
    n = len(text)
    annots: list[Annotation] = []
    annot_depth = 0  # > 0 while inside an annotation (its tokens are set apart)
    annot_start = 0
    annot_id = ""
    body: list[str] = []
    while True:
        m = match(text, pos)
        if m is None:  # cannot happen: the pattern always matches
            raise _err(text, pos, "illegal character", file)
        tok, special = m.group(2), m.group(3)
        if tok:
            pos = m.end()
            if annot_depth:
                if tok == "(":
                    annot_depth += 1
                elif tok == ")":
                    annot_depth -= 1
                    if not annot_depth:
                        annots.append(Annotation(len(toks), annot_id, body, annot_start))
                        continue
                body.append(tok)
                continue
            toks.append(tok)
            ends.append(pos)
            continue
        start = m.start(3)
        if special == "":
            if annot_depth:
                raise _err(text, annot_start, "unclosed annotation", file)
            break
        if special == "(;":
            pos = _skip_block_comment(text, start, file)
            continue
        if special == "(@" and annot_depth:
            annot_depth += 1
            body.append("(")
            pos = start + 1
            continue
        if special == "(@":
            idm = _ANNOT_ID_RE.match(text, start + 2)
            if idm is None:
                raise _err(text, start, "empty annotation id", file)
            ident = idm.group()
            if ident[0] == '"':
                if ident == '""':
                    raise _err(text, start, "empty annotation id", file)
                from .literals import LiteralError, decode_name

                try:
                    ident = decode_name(ident)
                except LiteralError as e:
                    raise _err(text, start, e.message, file) from None
            annot_start = start
            annot_id = ident
            body = []
            annot_depth = 1
            pos = idm.end()
            continue
        if special == '"':
            if start and text[start - 1] == "$":
                # `$` then a string that does not lex: as in the reference
                # lexer, the identifier is just `$` (id.wast).
                raise _err(text, start - 1, "empty identifier", file)
            raise _err(text, start, _bad_string(text, start), file)
        ch = special
        if "\udc80" <= ch <= "\udcff" or "\ud800" <= ch <= "\udfff":
            raise _err(text, start, "malformed UTF-8 encoding", file)
        raise _err(text, start, "illegal character", file)
    toks.extend(_SENTINELS)
    ends.extend([n] * len(_SENTINELS))
    return Tokens(toks, ends, text, file, annots)


def _skip_block_comment(text: str, start: int, file: str | None) -> int:
    """Offset just after the (nested) block comment opening at ``start``.

    One left-to-right pass over the delimiters (linear in the comment's
    length, however deep the nesting). Raises ParseError ("unclosed
    comment", or "malformed UTF-8 encoding" for a lone surrogate inside).
    """
    depth = 0
    for m in _COMMENT_DELIM_RE.finditer(text, start):
        if text[m.start()] == "(":
            depth += 1
            continue
        depth -= 1
        if depth == 0:
            pos = m.end()
            if _SURROGATE_RE.search(text, start, pos) is not None:
                raise _err(text, start, "malformed UTF-8 encoding", file)
            return pos
    raise _err(text, start, "unclosed comment", file)


def _bad_string(text: str, start: int) -> str:
    """The reason a string starting at ``start`` failed to lex."""
    i = start + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            return "unexpected token"  # cannot happen for a bad string
        if ch == "\n":
            return "unclosed string literal"
        if ch == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt in ("n", "t", "r", "\\", "'", '"'):
                i += 2
                continue
            if re.match(r"[0-9a-fA-F]{2}", text[i + 1 : i + 3]):
                i += 3
                continue
            m = re.match(r"u\{[0-9a-fA-F](?:_?[0-9a-fA-F])*\}", text[i + 1 : i + 40])
            if m:
                i += 1 + m.end()
                continue
            return "illegal escape"
        if "\ud800" <= ch <= "\udfff":
            return "malformed UTF-8 encoding"
        if ch < " " or ch == "\x7f":
            return "illegal control character in string literal"
        i += 1
    return "unclosed string literal"
