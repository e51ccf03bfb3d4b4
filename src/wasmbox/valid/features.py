"""Which proposal an instruction or type belongs to, for features not yet run.

The validator implements Wasm 2.0 (MVP, sign extension, non-trapping
float-to-int, multi-value, bulk memory, reference types) plus multiple
memories, memory64 (with table64), custom page sizes, extended constant
expressions, the Wasm 3.0 type system (recursion groups, subtyping, every
abstract heap type, struct/array/cont type definitions) and typed function
references (``call_ref``, ``ref.as_non_null``, ``br_on_null``,
``br_on_non_null``), tail calls, exception handling (with the legacy
instructions), SIMD (``v128``) and relaxed SIMD (Wasm 3.0; always on, like
the other Wasm 3.0 features wasmtime enables by default). GC
*instructions* are not implemented. Anything
else that is well formed gets :class:`~wasmbox.errors.UnsupportedFeature`
with a message ``"<feature>: <construct>"``, never ``ValidationError``:
the module may well be valid, we just cannot check (or run) it yet.

This module is the one place that says what is supported: when a feature
lands, remove it here (and add its typing rules in ``instructions.py``).

Nothing here raises except :func:`unsupported`'s callers raising its result.
"""
from __future__ import annotations

from ..errors import UnsupportedFeature, ValidationError
from ..syntax.opcodes import GC, OPS, SIMD
from ..syntax.types import ValType

# Instruction names (not opcodes) of proposals beyond 2.0 outside the
# prefix pages that are wholly one proposal (GC page 0xFB, SIMD page 0xFD).
_FEATURE_BY_NAME: dict[str, str] = {
    "ref.eq": "gc",
    "i64.add128": "wide-arithmetic",
    "i64.sub128": "wide-arithmetic",
    "i64.mul_wide_s": "wide-arithmetic",
    "i64.mul_wide_u": "wide-arithmetic",
}

def feature_of_op(name: str) -> str | None:
    """The proposal of an instruction this validator does not support, else None.

    Returns None for unknown names too; callers treat an instruction with no
    typing rule and no feature as an unknown operator.
    """
    f = _FEATURE_BY_NAME.get(name)
    if f is not None:
        return f
    op = OPS.get(name)
    if op is None:
        return None
    if op.prefix == SIMD:  # SIMD (Wasm 2.0) and relaxed SIMD (Wasm 3.0) are supported
        return None
    if op.prefix == GC:
        return "gc"
    return None


def feature_of_valtype(t: ValType) -> str | None:
    """The proposal a value type needs that is not implemented, or None when
    it is supported (or is not a value type at all: that is for the caller
    to reject). Every number and vector type and every reference type is
    supported (Wasm 3.0 types)."""
    return None


def stack_switching_disabled(what: str) -> ValidationError:
    """The error for a stack-switching construct in an engine that has not enabled it."""
    return ValidationError(f"{what}: stack switching is not enabled (Config.wasm_stack_switching)")


def unsupported(feature: str, what: str) -> UnsupportedFeature:
    """The exception to raise for a construct of an unsupported ``feature``."""
    return UnsupportedFeature(f"{feature}: {what}")
