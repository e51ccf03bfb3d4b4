"""poll_oneoff: wait for clocks and descriptor readiness.

A clock subscription (realtime or monotonic, relative or absolute) really
waits; a descriptor subscription is ready at once for a regular file or a
stream the host gave as bytes or a callback, and otherwise when the host
descriptor is (``select``); a ready descriptor reports one byte, and a file
read at its end HANGUP, as wasmtime. The call returns every subscription that is
ready when it wakes: descriptors first found ready, and every clock whose
time has come. Errnos as wasmtime: no subscription, an unknown clock or
event type is EINVAL for the whole call, a closed fd EBADF.

While waiting, the store's epoch deadline (``Config.epoch_interruption``)
is checked every :data:`SLICE` seconds, so a sleeping guest is interrupted
like a running one (Trap INTERRUPT). Raises Fault (EFAULT), WasiError,
OSError, Trap.
"""
from __future__ import annotations

import os
import select
import struct
import time

from ...errors import Trap, TrapCode
from .errno import EINVAL, SUCCESS
from .fdtable import FileEntry
from .guestmem import check, set_u32

_SUB = struct.Struct("<QB7xIxxxxQQH6x")  # userdata, tag, clock id, timeout, precision, flags
_SUB_FD = struct.Struct("<Q8xI")  # userdata, (tag), fd
_EVENT = struct.Struct("<QHB5xQH6x")  # userdata, error, type, nbytes, flags
EVENT_CLOCK, EVENT_FD_READ, EVENT_FD_WRITE = 0, 1, 2
ABSTIME = 1
#: longest uninterrupted sleep, so an epoch deadline is noticed
SLICE = 0.05


def _interrupted(ctx) -> None:
    cells = getattr(ctx, "epoch", None)
    if cells is not None and cells[0].cell_contents >= cells[1].cell_contents:
        raise Trap(TrapCode.INTERRUPT)


def _deadline(clock: int, timeout: int, flags: int) -> float:
    """The time.monotonic() value at which a clock subscription fires."""
    now = time.monotonic()
    if not flags & ABSTIME:
        return now + timeout / 1e9
    if clock == 0:
        return now + (timeout - time.time_ns()) / 1e9
    return timeout / 1e9


#: eventrwflags: the peer hung up (wasmtime: a file read at its end)
HANGUP = 1


def _readiness(entry, kind: int) -> tuple[int, int]:
    """(nbytes, flags) of a ready descriptor, as wasmtime reports them: one
    byte, and for a read of a regular file at or past its end, HANGUP."""
    if kind == EVENT_FD_READ and isinstance(entry, FileEntry):
        try:
            if os.lseek(entry.fd, 0, os.SEEK_CUR) >= os.fstat(entry.fd).st_size:
                return 1, HANGUP
        except OSError:
            pass
    return 1, 0


def poll_oneoff(ctx, m: memoryview, subs: int, events: int, n: int, out: int) -> int:
    if n == 0:
        return EINVAL
    check(m, subs, 48 * n)
    check(m, events, 32 * n)
    check(m, out, 4)
    clocks: list[tuple[int, int, float]] = []  # (index, userdata, deadline)
    fds: list[tuple[int, int, int, object, int | None]] = []  # (index, userdata, type, entry, host fd)
    for i in range(n):
        base = subs + 48 * i
        userdata, tag, clock, timeout, _precision, flags = _SUB.unpack_from(m, base)
        if tag == EVENT_CLOCK:
            if clock > 1:
                return EINVAL
            clocks.append((i, userdata, _deadline(clock, timeout, flags)))
        elif tag in (EVENT_FD_READ, EVENT_FD_WRITE):
            fd = _SUB_FD.unpack_from(m, base)[1]
            entry = ctx.fds.get(fd)  # EBADF for the whole call
            fds.append((i, userdata, tag, entry, entry.host_fd()))
        else:
            return EINVAL
    ready = [(i, u, t, *_readiness(e, t)) for i, u, t, e, h in fds if h is None]
    waiting = [f for f in fds if f[4] is not None]
    first = min((d for _, _, d in clocks), default=None)
    while not ready:
        _interrupted(ctx)
        wait = SLICE if first is None else max(0.0, min(SLICE, first - time.monotonic()))
        if waiting:
            rl = [h for _, _, t, _, h in waiting if t == EVENT_FD_READ]
            wl = [h for _, _, t, _, h in waiting if t == EVENT_FD_WRITE]
            r, w, _ = select.select(rl, wl, [], wait)
            ready = [(i, u, t, *_readiness(e, t)) for i, u, t, e, h in waiting
                     if h in (r if t == EVENT_FD_READ else w)]
        elif wait:
            time.sleep(wait)
        if first is not None and time.monotonic() >= first:
            break
    now = time.monotonic()
    fired = [(i, u, EVENT_CLOCK, 0, 0) for i, u, d in clocks if d <= now]
    results = sorted(ready + fired)  # in subscription order
    for i, (_, userdata, kind, nbytes, flags) in enumerate(results):
        _EVENT.pack_into(m, events + 32 * i, userdata, 0, kind, nbytes, flags)
    set_u32(m, out, len(results))
    return SUCCESS


FUNCS = {"poll_oneoff": ("iiii", poll_oneoff)}
