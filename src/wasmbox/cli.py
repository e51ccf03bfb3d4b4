"""The ``wasmbox`` command line.

Subcommands::

    wasmbox wat2wasm IN.wat [-o OUT.wasm]     text -> binary
    wasmbox wasm2wat IN.wasm [-o OUT.wat]     binary -> text
    wasmbox wast [--parse-only] [--suite NAME]... [FILE...] [--json OUT] [-j N]
    wasmbox run [--dir HOST[::GUEST]]... [--env NAME[=VALUE]]... [--invoke NAME]
                [--fuel N] [--timeout S] [-W F] FILE [ARGS...]
                                               run a WASI command (or --invoke NAME)
    wasmbox inspect FILE [--python FUNC [--consume-fuel] [--epoch-interruption]]

Errors are printed as one line (``wasmbox: <kind>: <message>``) on stderr
with exit status 1 -- bad usage (argparse's complaints included), unreadable
files, I/O errors and every WasmboxError alike; a Python traceback never
reaches the user. An error that is a bug in wasmbox itself prints
``internal error`` and exits 2 (set ``WASMBOX_DEBUG=1`` to see the
traceback).

Module-controlled text never reaches the terminal raw. One rule: names the
CLI prints itself (``inspect`` listings, its own messages) are written as
WAT string literals by :func:`wasmbox.text.print.escape_string`, as
``wasm2wat`` writes them; and every message printed on stderr, whoever built
it (the linker's "unknown import `m::n`", a trap, argparse), goes through
:func:`terminal_safe`, which writes each non-printable character (control
characters, newlines, escape sequences, bidi controls) as the printer's
``\\hh`` escapes of its UTF-8 bytes.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import NoReturn, Sequence

from .errors import ParseError, WasmboxError
from .text.print import terminal_safe

PROG = "wasmbox"

#: when the process started, on the time.monotonic() clock (``run --timeout``
#: counts from here); set by main()
STARTED = 0.0


def _process_start() -> float:
    """When this process started, on the time.monotonic() clock: from
    /proc/self/stat on Linux (so that interpreter start-up counts), else now."""
    now = time.monotonic()
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - int(fields[19]) / ticks
    except (OSError, ValueError, IndexError, AttributeError):
        return now
    return now - age if 0 <= age < 60 else now


class CliError(Exception):
    """A usage or I/O problem to report on one line (exit 1)."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose complaints are one-line CliErrors (exit 1),
    not usage text and exit status 2. ``--help`` still prints and exits 0."""

    def error(self, message: str) -> NoReturn:
        """argparse's hook for a usage error. Raises CliError."""
        raise CliError(f"{message} (see '{self.prog} --help')")


def _read_bytes(path: str) -> bytes:
    try:
        if path == "-":
            if sys.stdin is None:  # started with stdin closed
                raise CliError("cannot read standard input: it is closed")
            return sys.stdin.buffer.read()
        return Path(path).read_bytes()
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror or e}") from None


def _read_text(path: str) -> str:
    data = _read_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CliError(f"{path}: not UTF-8 text (byte {e.start})") from None


def _write_bytes(path: str, data: bytes) -> None:
    try:
        if path == "-":
            if sys.stdout is None:  # started with stdout closed
                raise CliError("cannot write standard output: it is closed")
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            Path(path).write_bytes(data)
    except OSError as e:
        raise CliError(f"cannot write {path}: {e.strerror or e}") from None


def load_module_file(path: str, custom_page_sizes: bool = True):
    """Read a .wat or .wasm file into a syntax Module (by content, not by name).

    ``custom_page_sizes``: decode the custom-page-sizes proposal's limits
    (the converters accept it; ``run`` follows ``-W``). Raises CliError,
    DecodeError or ParseError.
    """
    from .binary import decode_module
    from .text.parse import parse_module

    data = _read_bytes(path)
    if data[:4] == b"\0asm":
        return decode_module(data, custom_page_sizes=custom_page_sizes)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CliError(f"{path}: neither a Wasm binary nor UTF-8 text (byte {e.start})") from None
    try:
        return parse_module(text, filename=path)
    except ParseError as e:
        if not path.endswith(".wast"):
            raise
        # Most likely a script: say which command runs it.
        raise ParseError(f"{e.message} (a .wast script? run it with '{PROG} wast')",
                         e.file, e.line, e.col) from None


def cmd_wat2wasm(args: argparse.Namespace) -> int:
    from .binary import encode_module
    from .text.parse import parse_module

    module = parse_module(_read_text(args.input), filename=args.input)
    out = args.output
    if out is None:
        out = "-" if args.input == "-" else str(Path(args.input).with_suffix(".wasm"))
    _write_bytes(out, encode_module(module))
    return 0


def cmd_wasm2wat(args: argparse.Namespace) -> int:
    from .binary import decode_module
    from .text.print import print_module

    text = print_module(decode_module(_read_bytes(args.input)))
    _write_bytes(args.output or "-", text.encode("utf-8"))
    return 0


def cmd_wast(args: argparse.Namespace) -> int:
    from .paths import suite_files

    files: list[Path] = []
    for name in args.suite or []:
        try:
            files.extend(suite_files(name))
        except (KeyError, FileNotFoundError) as e:
            raise CliError(str(e).strip("'\"")) from None
    files.extend(Path(f) for f in args.files)
    if not files:
        raise CliError("wast: give --suite NAME or at least one FILE")
    if args.parse_only:
        from .script.parse_check import run_files

        return run_files(files, jobs=args.jobs, json_out=args.json)
    from .script.runner import run_files as run_exec  # the executing runner

    return run_exec(files, jobs=args.jobs, json_out=args.json, features=frozenset(args.wasm))


def cmd_run(args: argparse.Namespace) -> int:
    from .script.run_cli import run_command

    return run_command(args)


def cmd_inspect(args: argparse.Namespace) -> int:
    from .script.run_cli import inspect_command

    return inspect_command(args)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="A WebAssembly runtime written in Python.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("wat2wasm", help="convert WebAssembly text to binary")
    s.add_argument("input", help="input .wat file ('-' for stdin)")
    s.add_argument("-o", "--output", help="output file (default: input with .wasm suffix; '-' for stdout)")
    s.set_defaults(func=cmd_wat2wasm)

    s = sub.add_parser("wasm2wat", help="convert a WebAssembly binary to text")
    s.add_argument("input", help="input .wasm file ('-' for stdin)")
    s.add_argument("-o", "--output", help="output file (default: stdout)")
    s.set_defaults(func=cmd_wasm2wat)

    s = sub.add_parser("wast", help="run .wast spec test scripts")
    s.add_argument("files", nargs="*", help=".wast files")
    s.add_argument("--suite", action="append", help="a suite from the testsuite manifest (repeatable)")
    s.add_argument("--parse-only", action="store_true", help="only parse, encode and decode every module")
    s.add_argument("--json", metavar="OUT", help="write per-file counts as JSON")
    s.add_argument("-j", "--jobs", type=int, default=1, help="parallel worker processes (default 1)")
    _add_wasm_features(s)
    s.set_defaults(func=cmd_wast)

    s = sub.add_parser("run", help="run a WASI program, or an exported function (--invoke)")
    s.add_argument("file", help=".wasm or .wat file")
    s.add_argument("--invoke", metavar="NAME",
                   help="exported function to call (default: the WASI command's _start)")
    s.add_argument("--dir", action="append", default=[], metavar="HOST[::GUEST]",
                   help="let the program reach host directory HOST, read-write, as GUEST "
                        "(default: HOST as written); repeatable")
    s.add_argument("--env", action="append", default=[], metavar="NAME[=VALUE]",
                   help="give the program this environment variable (NAME alone: the host's value)")
    s.add_argument("args", nargs="*",
                   help="the program's arguments (everything after FILE), or --invoke's")
    s.add_argument("--fuel", type=int, metavar="N",
                   help="run with N units of fuel (as wasmtime counts them); running out is an error")
    s.add_argument("--timeout", type=float, metavar="SECONDS",
                   help="interrupt the guest after SECONDS (epoch interruption)")
    _add_wasm_features(s)
    s.set_defaults(func=cmd_run)

    s = sub.add_parser("inspect", help="show a module's imports/exports, or generated Python")
    s.add_argument("file", help=".wasm or .wat file")
    _add_wasm_features(s)
    s.add_argument("--python", metavar="FUNC", help="print the Python generated for a function (index or export name)")
    s.add_argument("--consume-fuel", action="store_true",
                   help="with --python: the code as compiled with fuel on")
    s.add_argument("--epoch-interruption", action="store_true",
                   help="with --python: the code as compiled with epoch interruption on")
    s.set_defaults(func=cmd_inspect)
    return p


#: proposals that ``-W NAME`` enables (each off by default, as in wasmtime)
WASM_FEATURES = ("custom-page-sizes", "stack-switching")


def _add_wasm_features(s: argparse.ArgumentParser) -> None:
    s.add_argument("-W", "--wasm", action="append", default=[], metavar="FEATURE",
                   choices=WASM_FEATURES,
                   help="enable a proposal that is off by default (repeatable): "
                        + ", ".join(WASM_FEATURES))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wasmbox`` command. Returns the exit status.

    Raises nothing but SystemExit (from ``--help``); every error becomes one
    line on stderr (see the module docstring).
    """
    global STARTED
    STARTED = _process_start()
    try:
        return _main(argv)
    except (WasmboxError,) as e:
        # Not e.one_line(), which turns a newline into a space: here a
        # newline in a name is escaped like every other control character.
        _error(f"{e.kind}: {e}")
        return 1
    except CliError as e:
        _error(f"error: {e}")
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except BrokenPipeError:
        return 1
    except OSError as e:  # I/O the commands do not wrap (e.g. writing --json)
        where = f"{e.filename}: " if e.filename is not None else ""
        _error(f"error: {where}{e.strerror or e}")
        return 1
    except Exception as e:  # a bug in wasmbox: one line, never a traceback
        if os.environ.get("WASMBOX_DEBUG"):
            raise
        _error(f"internal error: {type(e).__name__}: {e} (set WASMBOX_DEBUG=1 for details)")
        return 2


#: ``run``'s options that take a value (the rest take none)
_RUN_VALUED = ("--invoke", "--dir", "--env", "--fuel", "--timeout", "-W", "--wasm")


def _leading_options(tokens: list[str]) -> int:
    """How many of tokens are ``run`` options (with their values) before the
    first operand."""
    i = 0
    while i < len(tokens):
        t = tokens[i]
        if t in _RUN_VALUED:
            i += 2
        elif t.startswith("--") and t.split("=", 1)[0] in _RUN_VALUED and "=" in t:
            i += 1
        elif t in ("-h", "--help"):
            i += 1
        else:
            break
    return min(i, len(tokens))


def split_run(tokens: list[str]) -> tuple[list[str], list[str]]:
    """``run``'s tokens -> (options and FILE, the program's arguments).

    Options come before FILE; everything after FILE is the program's
    argv[1:] untouched (a ``--`` right after FILE is only a separator). The
    older form ``run FILE [options] --invoke NAME ARGS...`` is still read as
    before: when options that include ``--invoke`` follow FILE directly and
    none came before it.
    """
    n = _leading_options(tokens)
    if n >= len(tokens):
        return tokens, []
    head, file, rest = tokens[:n], tokens[n], tokens[n + 1:]
    if rest[:1] == ["--"]:
        return head + [file], rest[1:]
    if _legacy_invoke(head, rest):
        m = _leading_options(rest)
        return head + [file] + rest[:m], rest[m:]
    return head + [file], rest


def _legacy_invoke(head: list[str], rest: list[str]) -> bool:
    """Whether ``run HEAD FILE REST`` is the older ``run FILE ... --invoke NAME``
    form: no --invoke before FILE, and one among the options right after it."""
    if any(t == "--invoke" or t.startswith("--invoke=") for t in head) or rest[:1] == ["--"]:
        return False
    m = _leading_options(rest)
    return any(t == "--invoke" or t.startswith("--invoke=") for t in rest[:m])


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    n = _leading_options(argv[1:]) + 1
    if argv[:1] == ["run"] and n < len(argv) and not _legacy_invoke(argv[1:n], argv[n + 1:]):
        opts, program_args = split_run(argv[1:])
        args = parser.parse_args(["run", *opts])
        if args.invoke is not None and any(a.startswith("--") for a in program_args):
            # --invoke's arguments are numbers: an option there is a mistake (as before)
            parser.error(f"unrecognized arguments: {' '.join(program_args)}")
        args.args = program_args
        return int(args.func(args) or 0)
    args, extra = parser.parse_known_args(argv)
    if extra:
        # `run FILE --invoke NAME ARGS...`: arguments after --invoke's value
        # arrive here; any other command has no use for extras.
        if args.command != "run" or any(e.startswith("--") for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.args = list(args.args) + extra
    return int(args.func(args) or 0)


def _error(message: str) -> None:
    """Print ``wasmbox: message`` as one terminal-safe line on stderr."""
    print(f"{PROG}: {terminal_safe(message)}", file=sys.stderr)
