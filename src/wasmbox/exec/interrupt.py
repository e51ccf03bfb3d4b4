"""Fuel and epoch checks in generated code (``Config.consume_fuel``,
``Config.epoch_interruption``), compiled in only when the config asks.

Both follow wasmtime, whose numbers the differential tests compare:

* **Fuel.** Every operator costs 1, except ``nop``, ``drop``, ``block``,
  ``loop``, ``end``, ``else``, ``return`` and ``unreachable`` (free); every
  function entry costs 1 more; a bulk operation (``memory.fill``/``copy``/
  ``init``, ``table.fill``/``copy``/``init``, ``memory.grow``/``table.grow``
  when they succeed) costs 1 more per byte, element or page. Fuel is checked
  at function entry (after its 1), at every loop header, and after a bulk
  operation: a store whose fuel is then at or below 0 traps with
  ``TrapCode.OUT_OF_FUEL``. A bulk operation whose size is a constant of at
  most 128 units is the exception, as in wasmtime (which inlines those):
  its size is charged like any straight-line cost, even when a grow fails,
  and no check follows. (Between checks fuel may go below
  zero by what the last straight-line code cost; ``Store.get_fuel`` shows 0
  then.) In the generated code, the store's fuel is the closure cell ``u``
  shared by every function of the store's instances. The compiler adds up
  the cost of straight-line code at compile time (``pending``) and emits one
  ``u -= n`` where control leaves it: before calls and returns (callees and
  host functions see the exact value), before conditional and unconditional
  branches, before loop headers and where paths join. The entry charge is
  carried into the first such update (the entry check is ``u <= 1``).
* **Epochs.** ``ep`` (the engine's epoch) and ``dl`` (the store's deadline)
  are cells too; function entries and loop headers test ``ep >= dl`` and
  trap with ``TrapCode.INTERRUPT``. Bulk helpers test the cells between
  chunks (:mod:`wasmbox.exec.support`).

The names ``u``, ``ep`` and ``dl`` exist only in code compiled with the
option on; without it the generated code is exactly what it was before
these options existed.

Raises nothing.
"""
from __future__ import annotations

#: operators that cost no fuel (everything else costs 1)
FREE_OPS = frozenset({"nop", "drop", "block", "loop", "end", "else", "return", "unreachable"})
#: bulk operations whose size is a constant of at most this many units are
#: not followed by a fuel check
BULK_CHECK_UNITS = 128

OUT_OF_FUEL = "raise Trap(C_OOF)"
INTERRUPTED = "raise Trap(C_INT)"


class InterruptMixin:
    """Fuel accounting and epoch checks for :class:`~wasmbox.exec.compile.FunctionCompiler`."""

    out: list

    def init_interrupt(self, fuel: bool, epochs: bool) -> None:
        self.fuel = fuel
        self.epochs = epochs
        #: fuel of straight-line code emitted since the last ``u -= n``
        #: (starts with the entry charge)
        self.pending = 1 if fuel else 0

    # -- the function's frame -------------------------------------------------
    def cell_names(self) -> list[str]:
        """The closure cells the function needs (none without the options)."""
        return (["u"] if self.fuel else []) + (["ep", "dl"] if self.epochs else [])

    def cell_declarations(self) -> list[str]:
        return ["nonlocal u"] if self.fuel else []

    def entry_checks(self) -> list[str]:
        """The prologue's checks (the entry's fuel is still pending)."""
        lines = []
        if self.fuel:  # the entry's 1 stays pending (paid with the first code)
            lines.append(f"if u <= 1: u -= 1; {OUT_OF_FUEL}")
        if self.epochs:
            lines.append(f"if ep >= dl: {INTERRUPTED}")
        return lines

    def loop_checks(self) -> list[str]:
        """The checks at a loop header (fuel already synced)."""
        lines = []
        if self.fuel:
            lines.append(f"if u <= 0: {OUT_OF_FUEL}")
        if self.epochs:
            lines.append(f"if ep >= dl: {INTERRUPTED}")
        return lines

    # -- fuel ---------------------------------------------------------------
    def charge(self, op: str) -> None:
        """Count one operator of straight-line code."""
        if self.fuel and op not in FREE_OPS:
            self.pending += 1

    def sync_lines(self) -> list[str]:
        """The update that makes ``u`` exact here (and resets pending)."""
        n = self.pending
        if not n:
            return []
        self.pending = 0
        return [f"u -= {n}"]

    def sync(self) -> None:
        """Emit :meth:`sync_lines` at the current position."""
        for line in self.sync_lines():
            self.out.append(line)

    @staticmethod
    def static_bulk(const: int | None) -> bool:
        """Whether a bulk operation of constant size ``const`` is charged statically."""
        return const is not None and const <= BULK_CHECK_UNITS

    def bulk_charge(self, units: str, const: int | None) -> list[str]:
        """The statements after a successful bulk operation of ``units`` units
        (a local, or the constant ``const``): pay what is pending and the
        units, then check -- or, for a small constant size, just add it to
        what is pending. Nothing without fuel."""
        if not self.fuel:
            return []
        if self.static_bulk(const):
            self.pending += const  # type: ignore[operator]
            return []
        lines = self.sync_lines()
        lines.append(f"u -= {units}")
        lines.append(f"if u <= 0: {OUT_OF_FUEL}")
        return lines
