"""WASI preview1 (``wasi_snapshot_preview1``) for wasmbox.

Modules, one concern each: :mod:`.errno` (errno values, OSError mapping),
:mod:`.guestmem` (bounds-checked guest memory access), :mod:`.fdtable`
(descriptors, rights, stdio streams), :mod:`.config` (WasiConfig and the
per-store context), :mod:`.define` (binding into a Linker), and the
functions: :mod:`.args`, :mod:`.clocks` (and random_get), :mod:`.stdio`
(fd_* on stdio), :mod:`.proc` (proc_*, sched_yield, sock_*); :mod:`.sandbox`
resolves guest paths under a preopened directory (for the path_* functions,
not defined yet).

Use: ``linker.define_wasi()``, ``store.set_wasi(WasiConfig())``.
"""
from ...errors import ExitTrap
from .config import WasiConfig, WasiCtx
from .define import FUNCS, WASI_MODULE, define_wasi

__all__ = ["ExitTrap", "WasiConfig", "WasiCtx", "define_wasi", "FUNCS", "WASI_MODULE"]
