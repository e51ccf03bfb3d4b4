"""The binary format: LEB128, the decoder and the encoder.

* :func:`decode_module` -- bytes to :class:`wasmbox.syntax.Module`; raises
  :class:`~wasmbox.errors.DecodeError` with the spec test suite's messages.
* :func:`encode_module` -- the inverse, canonical; raises :class:`EncodeError`
  for a module that breaks the representation conventions.
* :mod:`wasmbox.binary.leb128` -- LEB128 readers and writers.
"""
from . import leb128  # noqa: F401
from .decode import MAX_FUNCTION_LOCALS, SECTION_ORDER, decode_module, decode_names  # noqa: F401
from .encode import EncodeError, encode_expr, encode_module, encode_names  # noqa: F401

__all__ = [
    "decode_module",
    "decode_names",
    "encode_module",
    "encode_expr",
    "encode_names",
    "EncodeError",
    "leb128",
    "MAX_FUNCTION_LOCALS",
    "SECTION_ORDER",
]
