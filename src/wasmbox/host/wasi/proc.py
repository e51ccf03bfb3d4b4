"""proc_exit, proc_raise, sched_yield and the sock_* functions.

proc_exit raises :class:`~wasmbox.errors.ExitTrap` for a status below 126
and, as wasmtime, a :class:`~wasmbox.errors.Trap` for any other; proc_raise answers
ENOTSUP and sock_* ENOTSOCK on an open fd / EBADF otherwise, as wasmtime
without sockets does (their out-parameters are left untouched).
"""
from __future__ import annotations

from ...errors import ExitTrap, Trap, TrapCode
from .errno import EBADF, ENOTSOCK, ENOTSUP, SUCCESS


def proc_exit(ctx, m: memoryview, code: int) -> None:
    if code >= 126:
        raise Trap(TrapCode.HOST, "exit with invalid exit status outside of [0..126)")
    raise ExitTrap(code)


def _flags(value: int, limit: int, what: str) -> None:
    """Trap for a value outside its witx enum or flags (as wasmtime)."""
    if value >= limit:
        raise Trap(TrapCode.HOST, f"invalid {what} value")


def proc_raise(ctx, m: memoryview, sig: int) -> int:
    _flags(sig, 31, "signal")
    return ENOTSUP


def sched_yield(ctx, m: memoryview) -> int:
    return SUCCESS


def _sock(ctx, fd: int) -> int:
    return ENOTSOCK if fd in ctx.fds.entries else EBADF


def sock_accept(ctx, m: memoryview, fd: int, flags: int, out: int) -> int:
    _flags(flags, 32, "fdflags")
    return _sock(ctx, fd)


def sock_recv(ctx, m: memoryview, fd: int, iovs: int, n: int, flags: int, out_n: int,
              out_flags: int) -> int:
    _flags(flags, 4, "riflags")
    return _sock(ctx, fd)


def sock_send(ctx, m: memoryview, fd: int, iovs: int, n: int, flags: int, out: int) -> int:
    return _sock(ctx, fd)


def sock_shutdown(ctx, m: memoryview, fd: int, how: int) -> int:
    _flags(how, 4, "sdflags")
    return _sock(ctx, fd)


FUNCS = {
    "proc_exit": ("i", proc_exit),
    "proc_raise": ("i", proc_raise),
    "sched_yield": ("", sched_yield),
    "sock_accept": ("iii", sock_accept),
    "sock_recv": ("iiiiii", sock_recv),
    "sock_send": ("iiiii", sock_send),
    "sock_shutdown": ("ii", sock_shutdown),
}
