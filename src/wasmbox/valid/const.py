"""Validation of constant expressions (global initialisers, segment offsets, elements).

Wasm 3.0 rules without GC: ``t.const`` (``v128.const`` too), ``ref.null``, ``ref.func``,
``global.get`` of an immutable global, and the extended-const arithmetic
``i32/i64.add/sub/mul``. ``global.get`` may name any global that is visible:
for a global's initialiser that is the imports and the globals defined
before it; elsewhere every global.

Raises :class:`~wasmbox.errors.ValidationError` ("constant expression
required", "unknown global N", "unknown function N", "type mismatch") and
:class:`~wasmbox.errors.UnsupportedFeature` (GC allocation instructions).
"""
from __future__ import annotations

from typing import Sequence

from ..errors import ValidationError
from ..syntax.module import Instr
from ..syntax.types import RefType, ValType
from .context import ModuleInfo
from .features import feature_of_op, unsupported
from .signatures import ALL_NUMERIC
from .types import check_heap, types_text

# The numeric instructions allowed in constant expressions (extended-const).
CONST_NUMERIC = frozenset(
    {f"{t}.const" for t in ("i32", "i64", "f32", "f64", "v128")}
    | {f"{t}.{op}" for t in ("i32", "i64") for op in ("add", "sub", "mul")}
)

# Instructions that are constant in a proposal we do not support yet: these
# raise UnsupportedFeature; any other instruction is "constant expression required".
CONST_ELSEWHERE = frozenset(
    "struct.new struct.new_default array.new array.new_default "
    "array.new_fixed ref.i31 any.convert_extern extern.convert_any".split()
)


def validate_const(
    info: ModuleInfo, expr: Sequence[Instr], expected: ValType, visible_globals: int | None = None
) -> None:
    """Check that ``expr`` is a constant expression of type ``expected``.

    ``visible_globals`` limits which globals ``global.get`` may read (None:
    all). Raises ValidationError / UnsupportedFeature.
    """
    stack: list[ValType] = []
    match = info.space.match_valtype
    for op, imm in expr:
        if op in CONST_NUMERIC:
            params, results, _ = ALL_NUMERIC[op]
            n = len(params)
            if n:
                if len(stack) < n or any(not match(a, e) for a, e in zip(stack[-n:], params)):
                    raise ValidationError(
                        f"type mismatch: {op} requires {types_text(params)} "
                        f"but stack has {types_text(stack[-n:])}"
                    )
                del stack[-n:]
            stack.extend(results)
        elif op == "global.get":
            gt = info.global_(imm[0], visible_globals)
            if gt.mutable:
                raise ValidationError(f"constant expression required: global {imm[0]} is mutable")
            stack.append(gt.val)
        elif op == "ref.null":
            check_heap(imm[0], len(info.types))
            stack.append(RefType(True, imm[0]))
        elif op == "ref.func":
            info.func(imm[0])
            stack.append(RefType(False, info.func_type_indices[imm[0]]))
        else:
            feature = feature_of_op(op) if op in CONST_ELSEWHERE else None
            if feature is not None:
                raise unsupported(feature, f"{op} in a constant expression")
            raise ValidationError(f"constant expression required: {op}")
    if len(stack) != 1 or not match(stack[0], expected):
        raise ValidationError(
            f"type mismatch: constant expression requires {types_text([expected])} "
            f"but stack has {types_text(stack)}"
        )
