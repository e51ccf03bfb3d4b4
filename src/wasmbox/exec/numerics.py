"""Every Wasm 2.0 numeric instruction (i32, i64, f32, f64; no SIMD), bit-exact.

This is the one import for the compiler and the runtime. The work is split
by concern:

* :mod:`wasmbox.exec.numerics_int`: i32/i64 instructions, unsigned ints;
* :mod:`wasmbox.exec.numerics_float`: f32/f64 instructions, conversions,
  the value representation helpers (``f32_from_bits``, ``f32_to_bits``,
  ``f64_from_bits``, ``f64_to_bits``, ``f32_round``) and NaN classifiers.

Each instruction is a function named after it with ``.`` -> ``_``
(``i64.trunc_sat_f64_u`` -> ``i64_trunc_sat_f64_u``), taking and returning
values in the representation described in those modules. :data:`FUNCS` maps
every instruction name (as in :mod:`wasmbox.syntax.opcodes`) to its function.

:data:`INLINE` holds Python expression templates for the operations that are
cheap enough to inline into generated code. Rules for using a template:

* substitute with ``str.format(a=..., b=...)``; ``{a}`` is the first
  (deeper) operand, ``{b}`` the second (top of stack);
* operands must be plain local names (or fully parenthesized expressions
  without side effects): some templates use an operand more than once
  (listed in :data:`INLINE_REPEATS`);
* the result is fully parenthesized and in the same representation as the
  corresponding function's result; templates never trap, and use no names
  other than the builtins ``abs`` and ``float``.

Traps raised by the functions: :class:`wasmbox.errors.Trap` with
``INTEGER_DIVISION_BY_ZERO``, ``INTEGER_OVERFLOW`` or
``BAD_CONVERSION_TO_INTEGER`` (see the two modules). Nothing else raises.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wasmbox.exec.numerics_float import *  # noqa: F401,F403 - the public API
from wasmbox.exec.numerics_float import FLOAT_FUNCS, NATIVE_SIGN_OPS
from wasmbox.exec.numerics_int import *  # noqa: F401,F403
from wasmbox.exec.numerics_int import INT_FUNCS

#: instruction name -> implementation, for every numeric instruction.
FUNCS: dict[str, Callable[..., Any]] = {**INT_FUNCS, **FLOAT_FUNCS}


def _int_templates(w: int) -> dict[str, str]:
    t = f"i{w}"
    m = hex((1 << w) - 1).upper().replace("X", "x")
    s = hex(1 << (w - 1))
    sh = w - 1
    signed_a = f"(({{a}}) ^ {s}) - {s}"
    return {
        f"{t}.eqz": "(1 if {a} == 0 else 0)",
        f"{t}.eq": "(1 if {a} == {b} else 0)",
        f"{t}.ne": "(1 if {a} != {b} else 0)",
        f"{t}.lt_u": "(1 if {a} < {b} else 0)",
        f"{t}.gt_u": "(1 if {a} > {b} else 0)",
        f"{t}.le_u": "(1 if {a} <= {b} else 0)",
        f"{t}.ge_u": "(1 if {a} >= {b} else 0)",
        f"{t}.lt_s": f"(1 if (({{a}}) ^ {s}) < (({{b}}) ^ {s}) else 0)",
        f"{t}.gt_s": f"(1 if (({{a}}) ^ {s}) > (({{b}}) ^ {s}) else 0)",
        f"{t}.le_s": f"(1 if (({{a}}) ^ {s}) <= (({{b}}) ^ {s}) else 0)",
        f"{t}.ge_s": f"(1 if (({{a}}) ^ {s}) >= (({{b}}) ^ {s}) else 0)",
        f"{t}.clz": f"({w} - ({{a}}).bit_length())",
        f"{t}.ctz": f"({w} if {{a}} == 0 else (({{a}}) & -({{a}})).bit_length() - 1)",
        f"{t}.popcnt": "(({a}).bit_count())",
        f"{t}.add": f"((({{a}}) + ({{b}})) & {m})",
        f"{t}.sub": f"((({{a}}) - ({{b}})) & {m})",
        f"{t}.mul": f"((({{a}}) * ({{b}})) & {m})",
        f"{t}.and": "(({a}) & ({b}))",
        f"{t}.or": "(({a}) | ({b}))",
        f"{t}.xor": "(({a}) ^ ({b}))",
        f"{t}.shl": f"((({{a}}) << (({{b}}) & {sh})) & {m})",
        f"{t}.shr_u": f"(({{a}}) >> (({{b}}) & {sh}))",
        f"{t}.shr_s": f"((({signed_a}) >> (({{b}}) & {sh})) & {m})",
        f"{t}.rotl": (
            f"(((({{a}}) << (({{b}}) & {sh})) | (({{a}}) >> ({w} - (({{b}}) & {sh})))) & {m})"
        ),
        f"{t}.rotr": (
            f"(((({{a}}) >> (({{b}}) & {sh})) | (({{a}}) << ({w} - (({{b}}) & {sh})))) & {m})"
        ),
        f"{t}.extend8_s": f"((((({{a}}) & 0xFF) ^ 0x80) - 0x80) & {m})",
        f"{t}.extend16_s": f"((((({{a}}) & 0xFFFF) ^ 0x8000) - 0x8000) & {m})",
    }


_FLOAT_COMPARISONS = (("eq", "=="), ("ne", "!="), ("lt", "<"), ("gt", ">"), ("le", "<="), ("ge", ">="))


def _float_templates() -> dict[str, str]:
    out: dict[str, str] = {}
    for t in ("f32", "f64"):
        for op, py in _FLOAT_COMPARISONS:
            out[f"{t}.{op}"] = f"(1 if {{a}} {py} {{b}} else 0)"
        if NATIVE_SIGN_OPS:
            out[f"{t}.neg"] = "(-({a}))"
            out[f"{t}.abs"] = "abs({a})"
    out["f64.add"] = "(({a}) + ({b}))"
    out["f64.sub"] = "(({a}) - ({b}))"
    out["f64.mul"] = "(({a}) * ({b}))"
    out["f64.promote_f32"] = "(({a}) * 1.0)"
    out["f64.convert_i32_u"] = "float({a})"
    out["f64.convert_i64_u"] = "float({a})"
    out["f64.convert_i32_s"] = "float((({a}) ^ 0x80000000) - 0x80000000)"
    out["f64.convert_i64_s"] = "float((({a}) ^ 0x8000000000000000) - 0x8000000000000000)"
    return out


#: instruction name -> Python expression template (see the module docstring).
INLINE: dict[str, str] = {
    **_int_templates(32),
    **_int_templates(64),
    "i32.wrap_i64": "(({a}) & 0xFFFFFFFF)",
    "i64.extend_i32_u": "({a})",
    "i64.extend_i32_s": "(((({a}) ^ 0x80000000) - 0x80000000) & 0xFFFFFFFFFFFFFFFF)",
    "i64.extend32_s": (
        "((((({a}) & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000) & 0xFFFFFFFFFFFFFFFF)"
    ),
    **_float_templates(),
}

#: templates in INLINE that mention an operand more than once.
INLINE_REPEATS: frozenset[str] = frozenset(
    name for name, tpl in INLINE.items() if tpl.count("{a}") > 1 or tpl.count("{b}") > 1
)
