"""The exception hierarchy of wasmbox.

Four families are kept apart, as in the reference interpreter:

* malformed input: :class:`DecodeError` (binary), :class:`ParseError` (text)
* invalid modules: :class:`ValidationError`
* linking/instantiation: :class:`LinkError`, :class:`InstantiationError`
* execution: :class:`Trap` (with a :class:`TrapCode`), and
  :class:`Exhaustion` for "call stack exhausted"; :class:`WasmException`
  (a Trap) for a Wasm exception that escaped to the host.

Messages use the spec test suite's strings so the ``.wast`` runner can
compare them (the expected message must be a prefix of ours).
"""
from __future__ import annotations

from enum import Enum


class WasmboxError(Exception):
    """Base class of every error wasmbox raises on purpose."""

    kind = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def one_line(self) -> str:
        """``kind: message`` on one line, as the CLI prints it."""
        return f"{self.kind}: {self}".replace("\n", " ")


class DecodeError(WasmboxError):
    """A malformed binary module. ``offset`` is the byte offset of the problem."""

    kind = "malformed"

    def __init__(self, message: str, offset: int | None = None) -> None:
        super().__init__(message)
        self.offset = offset

    def __str__(self) -> str:
        if self.offset is None:
            return self.message
        return f"{self.message} (at byte offset {self.offset:#x})"


class ParseError(WasmboxError):
    """Malformed text. Carries ``file``, ``line`` and ``col`` (1-based) when known."""

    kind = "malformed"

    def __init__(
        self, message: str, file: str | None = None, line: int | None = None, col: int | None = None
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.col = col

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        return f"{self.file or '<input>'}:{self.line}:{self.col}: {self.message}"


class ValidationError(WasmboxError):
    """An invalid module (well formed, but breaks a validation rule)."""

    kind = "invalid"


class UnsupportedFeature(WasmboxError):
    """The module is well formed but uses a feature this engine does not run yet.

    Never used for an invalid module: the runner reports these as skipped,
    with the message as the reason, and counts them as not passed.
    """

    kind = "unsupported"


class LinkError(WasmboxError):
    """Imports cannot be resolved ("unknown import", "incompatible import type")."""

    kind = "unlinkable"


class InstantiationError(WasmboxError):
    """Instantiation was refused (limits, pool exhausted, ...)."""

    kind = "instantiation"


class TrapCode(Enum):
    """Trap reasons; the value is the spec test suite's message."""

    UNREACHABLE = "unreachable"
    MEMORY_OUT_OF_BOUNDS = "out of bounds memory access"
    TABLE_OUT_OF_BOUNDS = "out of bounds table access"
    INDIRECT_CALL_TO_NULL = "uninitialized element"
    BAD_SIGNATURE = "indirect call type mismatch"
    INTEGER_OVERFLOW = "integer overflow"
    INTEGER_DIVISION_BY_ZERO = "integer divide by zero"
    BAD_CONVERSION_TO_INTEGER = "invalid conversion to integer"
    NULL_REFERENCE = "null reference"
    NULL_FUNCTION_REFERENCE = "null function reference"
    CAST_FAILURE = "cast failure"
    ARRAY_OUT_OF_BOUNDS = "out of bounds array access"
    DATA_SEGMENT_OUT_OF_BOUNDS = "out of bounds data segment access"
    ELEM_SEGMENT_OUT_OF_BOUNDS = "out of bounds table access"
    UNCAUGHT_EXCEPTION = "uncaught exception"
    NULL_EXCEPTION_REFERENCE = "null exception reference"
    STACK_OVERFLOW = "call stack exhausted"
    OUT_OF_FUEL = "all fuel consumed by WebAssembly"
    INTERRUPT = "interrupt"
    HOST = "host error"
    # stack switching (runtime/cont.py)
    NULL_CONTINUATION = "null continuation reference"
    CONTINUATION_CONSUMED = "continuation already consumed"
    UNHANDLED_TAG = "unhandled tag"
    CONTINUATION_THREAD = "continuation belongs to another thread"
    TOO_MANY_CONTINUATIONS = "too many live continuations"


class Trap(WasmboxError):
    """A WebAssembly trap. ``code`` is a :class:`TrapCode`; ``message`` its text."""

    kind = "trap"

    def __init__(self, code: TrapCode | str, message: str | None = None) -> None:
        if isinstance(code, str):
            code = TrapCode(code) if code in TrapCode._value2member_map_ else TrapCode.HOST
            message = message or code.value
        super().__init__(message or code.value)
        self.code = code

    @property
    def trap_code(self) -> TrapCode:
        """wasmtime-py's name for :attr:`code`."""
        return self.code


class Exhaustion(Trap):
    """A resource ran out while running: "call stack exhausted"."""

    kind = "exhaustion"

    def __init__(self, message: str = TrapCode.STACK_OVERFLOW.value) -> None:
        super().__init__(TrapCode.STACK_OVERFLOW, message)


class WasmException(Trap):
    """A WebAssembly exception (exception handling): ``.tag`` and ``.values``.

    Raised by a call from Python into Wasm when a Wasm exception escapes it
    (``throw`` that no handler caught): ``code`` is
    ``TrapCode.UNCAUGHT_EXCEPTION`` and the message "uncaught exception", as
    in wasmtime, so code that catches :class:`Trap` sees it too. ``.tag`` is
    the exception's :class:`~wasmbox.runtime.tag.Tag` (compare tags with
    ``is`` or ``Tag.eq``) and ``.values`` its payload as API values (signed
    ints, floats, references), converted like call results.

    A host function throws a Wasm exception that guest handlers
    (``try_table`` ``catch``/``catch_all``) can catch by raising
    ``WasmException(tag, [values])``: the values are checked and converted
    against the tag's parameter types (TypeError when they do not fit).
    Any other Python exception raised by a host function is never caught by
    a guest; nor is any trap.

    The exception object is also the ``exnref`` value a ``catch_ref`` gives
    the guest.
    """

    kind = "exception"
    code = TrapCode.UNCAUGHT_EXCEPTION
    message = TrapCode.UNCAUGHT_EXCEPTION.value

    def __init__(self, tag: object, values: object = ()) -> None:
        from .runtime.tag import Tag  # noqa: PLC0415 - the runtime imports this module
        from .runtime.values import to_raw  # noqa: PLC0415

        if not isinstance(tag, Tag):
            raise TypeError(f"WasmException(tag, values): expected a Tag, got {type(tag).__name__}")
        params = tag._ft.params
        vals = list(values)  # type: ignore[call-overload]
        if len(vals) != len(params):
            raise TypeError(f"the tag carries {len(params)} values, got {len(vals)}")
        BaseException.__init__(self, tag, tuple(to_raw(t, v) for t, v in zip(params, vals)))

    @property
    def tag(self) -> object:
        """The tag this exception was thrown with."""
        return self.args[0]

    @property
    def payload(self) -> tuple:
        """The payload as raw values (see :mod:`wasmbox.runtime.values`)."""
        return self.args[1]

    @property
    def values(self) -> list:
        """The payload as API values (signed ints, floats, references)."""
        from .runtime.values import from_raw  # noqa: PLC0415

        return [from_raw(t, v) for t, v in zip(self.args[0]._ft.params, self.args[1])]

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"WasmException({self.args[0]!r}, {list(self.args[1])!r})"


class Thrown(WasmException):
    """A :class:`WasmException` raised by Wasm code (``throw``): made from the
    tag and the raw payload tuple directly, with no conversion."""

    __init__ = BaseException.__init__  # type: ignore[assignment]


class ExitTrap(WasmboxError):
    """A WASI program ended with ``proc_exit(code)``; ``.code`` is the exit status.

    As wasmtime-py's ``ExitTrap``: raised out of the call into Wasm, not a
    :class:`Trap` (no guest handler can catch it).
    """

    kind = "exit"

    def __init__(self, code: int) -> None:
        super().__init__(f"Exited with i32 exit status {code}")
        self.code = code
