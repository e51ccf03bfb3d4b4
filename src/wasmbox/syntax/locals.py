"""The declared locals of a function, run-length encoded.

A function may declare up to ``2**32 - 1`` locals (:data:`MAX_LOCALS`), and
the binary format writes them as ``(count, type)`` groups, so a module of a
few dozen bytes can declare billions. :class:`Locals` keeps them as those
runs and never expands them: memory and time are linear in the number of
runs, not of locals.

* ``len(locs)`` is the number of locals; ``locs[i]`` the type of local ``i``
  (counted from the first declared local, not from the parameters), found by
  bisection over the runs.
* Iterating a ``Locals`` yields its runs, :class:`Run` ``(count, type)``;
  :attr:`Locals.runs` is the same as a tuple. The runs are canonical: no
  empty run, and no two neighbours of equal type, so two ``Locals`` are
  equal exactly when they declare the same types in the same order.
* A ``Locals`` compares equal to a list or tuple holding the same types,
  one per local (convenient in tests and for hand-built modules), and
  ``Locals([I32, I64])`` builds one from such a list.
* The types are not checked here (that is the validator's job): any object
  can be the type of a run.

:func:`too_many_locals` is the one rule on the total, shared by the decoder
and the text parser (each raises its own error with :data:`TOO_MANY_LOCALS`).
:func:`referenced_locals` lists the local indices a body uses;
:func:`compact_locals` renumbers them densely (for the compiler, which keeps
sets of locals as bit masks and must not pay for an index of 4 billion).

Nothing here raises for a module's content. Building a ``Locals`` from runs
whose count is not a non-negative ``int`` is a programming error and raises
``TypeError``/``ValueError``; indexing out of range raises ``IndexError``, as
a list does.
"""
from __future__ import annotations

from bisect import bisect_right
from typing import Any, Iterable, Iterator, NamedTuple, Sequence

__all__ = [
    "Locals",
    "Run",
    "MAX_LOCALS",
    "TOO_MANY_LOCALS",
    "too_many_locals",
    "referenced_locals",
    "compact_locals",
]

#: The spec's limit on the number of declared locals of one function
#: (binary format, ``code``: the concatenated groups have fewer than 2**32).
MAX_LOCALS = 2**32 - 1

#: The spec test suite's message for a function over :data:`MAX_LOCALS`.
TOO_MANY_LOCALS = "too many locals"

_LOCAL_OPS = frozenset({"local.get", "local.set", "local.tee"})


def too_many_locals(total: int) -> bool:
    """Whether ``total`` declared locals break the spec's limit (:data:`MAX_LOCALS`)."""
    return total > MAX_LOCALS


def referenced_locals(body: Iterable[Any]) -> set[int]:
    """The local indices (parameters included) that ``local.get``/``set``/``tee`` in ``body`` use.

    ``body`` is a flat instruction list (:class:`~wasmbox.syntax.module.Instr`).
    Raises nothing; an instruction without an immediate is skipped.
    """
    used: set[int] = set()
    for ins in body:
        if ins[0] in _LOCAL_OPS and ins[1]:
            used.add(ins[1][0])
    return used


def compact_locals(body: list[Any], nparams: int) -> tuple[list[Any], tuple[int, ...]]:
    """Renumber the declared locals that ``body`` uses densely after the parameters.

    Returns ``(new_body, used)``: in ``new_body`` the ``j``-th declared local
    in ``used`` (ascending original indices) is local ``nparams + j``;
    parameters keep their indices. ``new_body`` is ``body`` itself when
    nothing moves (every declared local up to the last one used is used),
    else a new list of the same instructions. Time is linear in the body,
    whatever the indices. Raises nothing.
    """
    used = tuple(sorted(x for x in referenced_locals(body) if x >= nparams))
    if not used or used[-1] == nparams + len(used) - 1:
        return body, used
    new_index = {x: nparams + j for j, x in enumerate(used)}
    out = []
    for ins in body:
        if ins[0] in _LOCAL_OPS and ins[1] and ins[1][0] >= nparams:
            ins = ins._replace(imm=(new_index[ins[1][0]],) + tuple(ins[1][1:]))
        out.append(ins)
    return out, used


class Run(NamedTuple):
    """``count`` consecutive locals of type ``type``."""

    count: int
    type: Any

    def __repr__(self) -> str:
        return f"({self.count}, {self.type!r})"


def _check_count(count: Any) -> int:
    if not isinstance(count, int) or isinstance(count, bool):
        raise TypeError(f"a run's count must be an int, got {count!r}")
    if count < 0:
        raise ValueError(f"a run's count must not be negative, got {count}")
    return count


class Locals:
    """An immutable, run-length encoded sequence of local types (see the module docstring)."""

    __slots__ = ("_runs", "_ends")

    _runs: tuple[Run, ...]
    _ends: tuple[int, ...]

    def __init__(self, types: Iterable[Any] = ()) -> None:
        """One local per item of ``types`` (a ``Locals`` is copied as it is). Raises nothing."""
        if isinstance(types, Locals):
            self._set(types._runs)
        else:
            self._set(_merge((1, t) for t in types))

    @classmethod
    def from_runs(cls, runs: Iterable[tuple[int, Any]]) -> "Locals":
        """Locals from ``(count, type)`` pairs; empty runs are dropped and equal neighbours merged.

        Raises TypeError/ValueError for a count that is not a non-negative int.
        """
        self = cls.__new__(cls)
        self._set(_merge((_check_count(c), t) for c, t in runs))
        return self

    def _set(self, runs: tuple[Run, ...]) -> None:
        ends = []
        total = 0
        for r in runs:
            total += r.count
            ends.append(total)
        object.__setattr__(self, "_runs", runs)
        object.__setattr__(self, "_ends", tuple(ends))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Locals is immutable")

    @property
    def runs(self) -> tuple[Run, ...]:
        """The canonical runs (no empty run, no equal neighbours)."""
        return self._runs

    def __iter__(self) -> Iterator[Run]:
        return iter(self._runs)

    @property
    def total(self) -> int:
        """The number of locals (``len()`` without its ``sys.maxsize`` bound)."""
        return self._ends[-1] if self._ends else 0

    def __len__(self) -> int:
        return self.total

    def __bool__(self) -> bool:
        return bool(self._runs)

    def __getitem__(self, index: int) -> Any:
        """The type of local ``index`` (negative counts from the end). Raises IndexError."""
        if not isinstance(index, int):
            raise TypeError(f"Locals indices must be ints, not {type(index).__name__}")
        n = self.total
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("local index out of range")
        return self._runs[bisect_right(self._ends, index)].type

    def types(self) -> Iterator[Any]:
        """Every local's type, one by one (time linear in ``len(self)``; memory constant)."""
        for count, t in self._runs:
            for _ in range(count):
                yield t

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Locals):
            return self._runs == other._runs
        if isinstance(other, (list, tuple)):
            return _equal_to_types(self, other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._runs)

    def __repr__(self) -> str:
        return f"Locals.from_runs([{', '.join(map(repr, self._runs))}])"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Locals.from_runs, ([tuple(r) for r in self._runs],))


def _merge(runs: Iterable[tuple[int, Any]]) -> tuple[Run, ...]:
    """Canonical runs: drop empty ones, merge neighbours of equal type."""
    out: list[Run] = []
    for count, t in runs:
        if not count:
            continue
        if out and out[-1].type == t:
            out[-1] = Run(out[-1].count + count, t)
        else:
            out.append(Run(count, t))
    return tuple(out)


def _equal_to_types(locs: Locals, types: Sequence[Any]) -> bool:
    if len(types) != locs.total:
        return False
    pos = 0
    for count, t in locs.runs:
        for k in range(pos, pos + count):
            if types[k] != t:
                return False
        pos += count
    return True
