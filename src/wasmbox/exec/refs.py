"""Emission of the typed function reference instructions other than calls.

* ``ref.as_non_null``: the operand, checked: ``if X is None: raise
  Trap(C_NULL_REF)`` ("null reference"); the value stays on the stack.
* ``br_on_null l``: the reference is made simple (a name or a constant),
  then the branch is ``br_if``'s with the condition ``X is None``; on the
  fall-through the reference is back on the stack.
* ``br_on_non_null l``: the same with ``X is not None``, the reference
  travelling with the branch and dropped on the fall-through.

``call_ref`` is in :mod:`wasmbox.exec.calls`. Raises nothing on a valid module.
"""
from __future__ import annotations

from .stack import EXPR, Entry
from .structure import Br


class RefMixin:
    """Reference emission for :class:`~wasmbox.exec.compile.FunctionCompiler`."""

    stack: list[Entry]

    def _simple_ref(self) -> Entry:
        """Pop the reference operand and make it simple, effects in Wasm order."""
        ref = self.pop()  # type: ignore[attr-defined]
        self.flush_effects()  # type: ignore[attr-defined]
        return self.materialize(ref)  # type: ignore[attr-defined]

    def emit_ref_as_non_null(self) -> None:
        ref = self._simple_ref()
        self.emit(f"if {ref.code} is None: raise Trap(C_NULL_REF)")  # type: ignore[attr-defined]
        self.push(ref)  # type: ignore[attr-defined]

    @staticmethod
    def _ref_test(ref: Entry, test: str) -> Entry:
        return Entry(f"({ref.code} {test} None)", EXPR, locs=ref.locs, isbool=True, depth=1,
                     slots=ref.slots)

    def emit_br_on_null(self, br: Br, last: bool) -> None:
        ref = self._simple_ref()
        self.stack.append(self._ref_test(ref, "is"))
        self.emit_br_if(br, last)  # type: ignore[attr-defined]
        self.push(ref)  # type: ignore[attr-defined]

    def emit_br_on_non_null(self, br: Br, last: bool) -> None:
        ref = self._simple_ref()
        self.push(ref)  # type: ignore[attr-defined]
        self.stack.append(self._ref_test(ref, "is not"))
        self.emit_br_if(br, last)  # type: ignore[attr-defined]
        self.pop()  # type: ignore[attr-defined]
