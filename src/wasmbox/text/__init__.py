"""The text format: lexer, module and script parser, printer.

* :func:`parse_module` -- WAT text (``(module ...)`` or bare fields) to a
  :class:`wasmbox.syntax.Module`.
* :func:`parse_script` -- a ``.wast`` script to a list of commands (see
  :mod:`wasmbox.text.wast` for the command, value and pattern classes).
* :func:`tokenize` -- the lexer, for tools.

All raise :class:`wasmbox.errors.ParseError` for malformed text.
"""
from .lexer import Tokens, tokenize
from .parse import parse_module
from .wast import parse_script

__all__ = ["parse_module", "parse_script", "tokenize", "Tokens"]
