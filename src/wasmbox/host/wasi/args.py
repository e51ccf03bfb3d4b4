"""args_* and environ_*: the guest's argv and environment.

Each function takes the store's :class:`~wasmbox.host.wasi.config.WasiCtx`,
the memory bytes and the raw arguments, and returns an errno. Raises
:class:`~wasmbox.host.wasi.guestmem.Fault` (EFAULT) for a bad pointer.
"""
from __future__ import annotations

from .errno import SUCCESS
from .guestmem import check, set_bytes, set_u32


def _sizes(items: list[bytes], m: memoryview, count_ptr: int, size_ptr: int) -> int:
    check(m, count_ptr, 4)
    check(m, size_ptr, 4)
    set_u32(m, count_ptr, len(items))
    set_u32(m, size_ptr, sum(len(s) for s in items))
    return SUCCESS


def _get(items: list[bytes], m: memoryview, ptrs: int, buf: int) -> int:
    check(m, ptrs, 4 * len(items))
    check(m, buf, sum(len(s) for s in items))
    for i, s in enumerate(items):
        set_u32(m, ptrs + 4 * i, buf)
        set_bytes(m, buf, s)
        buf += len(s)
    return SUCCESS


def args_sizes_get(ctx, m: memoryview, count_ptr: int, size_ptr: int) -> int:
    return _sizes(ctx.args, m, count_ptr, size_ptr)


def args_get(ctx, m: memoryview, ptrs: int, buf: int) -> int:
    return _get(ctx.args, m, ptrs, buf)


def environ_sizes_get(ctx, m: memoryview, count_ptr: int, size_ptr: int) -> int:
    return _sizes(ctx.environ, m, count_ptr, size_ptr)


def environ_get(ctx, m: memoryview, ptrs: int, buf: int) -> int:
    return _get(ctx.environ, m, ptrs, buf)


#: name -> (params, implementation); every result is one i32 errno
FUNCS = {
    "args_sizes_get": ("ii", args_sizes_get),
    "args_get": ("ii", args_get),
    "environ_sizes_get": ("ii", environ_sizes_get),
    "environ_get": ("ii", environ_get),
}
