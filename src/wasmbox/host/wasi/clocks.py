"""clock_res_get, clock_time_get and random_get.

Clocks: 0 realtime, 1 monotonic, 2 process CPU time, 3 thread CPU time, in
nanoseconds (wasmtime answers EBADF for the two CPU clocks; we give the
host's). Another id traps, as in wasmtime. Raises Fault (EFAULT) for a bad pointer.
"""
from __future__ import annotations

import os
import time

from ...errors import Trap, TrapCode
from .errno import SUCCESS
from .guestmem import check, set_bytes, set_u64

_NOW = (time.time_ns, time.monotonic_ns, time.process_time_ns, time.thread_time_ns)
_IDS = (time.CLOCK_REALTIME, time.CLOCK_MONOTONIC, time.CLOCK_PROCESS_CPUTIME_ID,
        time.CLOCK_THREAD_CPUTIME_ID)


def _clock(clock: int) -> None:
    if clock >= 4:
        raise Trap(TrapCode.HOST, "invalid clockid value")


def clock_res_get(ctx, m: memoryview, clock: int, out: int) -> int:
    _clock(clock)
    check(m, out, 8)
    set_u64(m, out, max(1, round(time.clock_getres(_IDS[clock]) * 1e9)))
    return SUCCESS


def clock_time_get(ctx, m: memoryview, clock: int, precision: int, out: int) -> int:
    _clock(clock)
    check(m, out, 8)
    set_u64(m, out, _NOW[clock]() & 0xFFFFFFFFFFFFFFFF)
    return SUCCESS


def random_get(ctx, m: memoryview, buf: int, n: int) -> int:
    check(m, buf, n)
    set_bytes(m, buf, os.urandom(n))
    return SUCCESS


FUNCS = {
    "clock_res_get": ("ii", clock_res_get),
    "clock_time_get": ("iIi", clock_time_get),
    "random_get": ("ii", random_get),
}
