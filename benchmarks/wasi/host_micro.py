"""Per-call cost of wasmbox's fd_write / fd_read host path, and of leaner
ways to write it (evidence for the suggestions in the bench_wasi report;
nothing here is used by wasmbox).

    .venv/bin/python benchmarks/wasi/host_micro.py [--n 200000] [--runs 5]

The callable under test is the one generated code calls for an import:
``instance._g[f<i>]`` of an instance of ``fdwrite_cost.wasm`` /
``read_10mb.wasm``, called from a Python loop with the guest's argument
list plus the stack budget, exactly as compiled code calls it. Layers of
it are then timed on their own, and alternatives (defined below, in this
file only) that keep the behaviour of every check: a bad pointer is still
EFAULT before anything is written, a missing fd EBADF, an exception from
the host still becomes a HostError.

fd_write: a 1-byte ciovec to stdout = /dev/null (as fdwrite_cost) and a
1 KiB one (about what printf's buffer flushes, though musl passes that as
two iovecs: the buffer and the line that did not fit). fd_read: from
/dev/zero (never at EOF, so every call reads the full size) with two
iovecs, the second empty, as musl's unbuffered fread passes them (readv of
{buf, n}, {stdio buffer, 0}).

Each row is the best over ``--runs`` of the mean over ``--n`` calls,
minus the same loop calling a no-op of the same arity (reported first).
Then (unless ``--no-end-to-end``) fdwrite_cost and read_10mb run as the
guest programs they are, today and with the alternatives patched into this
process (see :func:`end_to_end`).
"""
from __future__ import annotations

import argparse
import os
import struct
import time
from pathlib import Path

import wasmbox
from wasmbox.errors import Trap, TrapCode, WasmboxError
from wasmbox.host.wasi import fds as F
from wasmbox.host.wasi import guestmem as G
from wasmbox.host.wasi.errno import EBADF, EFAULT, SUCCESS, from_oserror
from wasmbox.host.wasi.fdtable import FILETYPE_CHARACTER_DEVICE, FileEntry, Perms, WasiError
from wasmbox.host.wasi.sandbox import WasiPathError
from wasmbox.host.wasi.streams import HostFdOut
from wasmbox.runtime.store import HostError

HERE = Path(__file__).resolve().parent
U32X2 = struct.Struct("<II")
U32 = struct.Struct("<I")
IOV, OUT, DATA, DATA2 = 1024, 1040, 4096, 200_000


def instance(prog: str):
    """(store, instance, the raw callable of each import by name)."""
    eng = wasmbox.Engine()
    mod = wasmbox.Module(eng, (HERE / f"{prog}.wasm").read_bytes())
    cfg = wasmbox.WasiConfig()
    cfg.stdout_file = "/dev/null"
    store = wasmbox.Store(eng)
    store.set_wasi(cfg)
    linker = wasmbox.Linker(eng)
    linker.define_wasi()
    inst = linker.instantiate(store, mod)
    calls = {imp.name: inst._g[inst._plan.fnames[i]] for i, imp in enumerate(mod.imports)}
    return store, inst, calls


def errno_of(fn, args) -> int:
    """fn(*args) as the binding answers it (Fault -> EFAULT)."""
    try:
        return fn(*args)
    except G.Fault:
        return EFAULT
    except WasiError as e:
        return e.errno


def bench(fn, args, n: int, runs: int) -> float:
    """Best over runs of the mean seconds of one fn(*args) (the machine is
    shared: the least disturbed run is the measurement)."""
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        for _ in range(n):
            fn(*args)
        out.append((time.perf_counter() - t) / n)
    return min(out)


# -- alternatives ----------------------------------------------------------------
#: streams that only pass the bytes to os.write (a memoryview of guest memory will do)
TAKES_VIEWS: set[type] = set()


def fd_write_lean(ctx, m, fd, iovs, count, out):
    """fds.fd_write with the one-iovec case inline and no intermediate copy:
    struct's own bounds check replaces the len() tests for the iovec and
    for ``out`` (both read/checked before anything is written), and a
    memoryview slice goes to a host file or descriptor (os.write takes it
    as it is; captures and callbacks still get bytes)."""
    e = ctx.fds.entries.get(fd)
    if e is None:
        return EBADF
    if count == 1:
        try:
            buf, n = U32X2.unpack_from(m, iovs)
            U32.unpack_from(m, out)  # out must be writable: checked before the write
        except struct.error:
            return EFAULT
        if buf + n > len(m):
            return EFAULT
        data = m[buf:buf + n]
        if not (type(e) is FileEntry or type(getattr(e, "stream", None)) in TAKES_VIEWS):
            data = bytes(data)  # a capture or a callback keeps what it gets: a copy
    else:
        data = G.gather(m, iovs, count)
        G.check(m, out, 4)
    U32.pack_into(m, out, e.write(data))
    return SUCCESS


class HostFdOutLean(HostFdOut):
    """HostFdOut with the common case (everything written at once) first."""

    def write(self, data) -> int:
        n = os.write(self.fd, data)
        if n == len(data):
            return n
        view = memoryview(data)[n:]
        while view:
            view = view[os.write(self.fd, view):]
        return len(data)


TAKES_VIEWS.update((HostFdOut, HostFdOutLean))


def fd_read_lean(ctx, m, fd, iovs, count, out):
    """fds.fd_read reading straight into guest memory (os.readv into the
    iovecs' slices: no bytes object, no scatter copy), empty iovecs dropped."""
    e = ctx.fds.entries.get(fd)
    if e is None:
        return EBADF
    vecs = G.iovecs(m, iovs, count)
    G.check(m, out, 4)
    if not isinstance(e, FileEntry) or not e.readable:
        data = e.read(sum(n for _, n in vecs))  # streams: as today
        G.scatter(m, vecs, data)
        n = len(data)
    else:
        n = os.readv(e.fd, [m[b:b + k] for b, k in vecs if k])
    U32.pack_into(m, out, n)
    return SUCCESS


def fd_read_inline(ctx, m, fd, iovs, count, out):
    """fd_read_lean with the iovec array decoded inline (struct's bounds
    check for the array and ``out``, one comparison per buffer)."""
    e = ctx.fds.entries.get(fd)
    if e is None:
        return EBADF
    size = len(m)
    try:
        U32.unpack_from(m, out)
        if count == 1:
            vecs = (U32X2.unpack_from(m, iovs),)
        elif iovs + 8 * count > size:
            return EFAULT
        else:
            vecs = U32X2.iter_unpack(m[iovs:iovs + 8 * count])
    except struct.error:
        return EFAULT
    views = []
    for b, k in vecs:
        if b + k > size:
            return EFAULT
        if k:
            views.append(m[b:b + k])
    if type(e) is FileEntry and e.readable:
        n = os.readv(e.fd, views)
    else:
        return fd_read_lean(ctx, m, fd, iovs, count, out)
    U32.pack_into(m, out, n)
    return SUCCESS


def lean_binding(state, fn, instance):
    """_raw_wrapper + define._bind fused into one closure of fixed arity
    (four i32 parameters + the budget), the memory resolved at the first
    call and kept (an instance's exports never change; its memory's view
    may, so ``heap.view`` is read per call). WASI functions never call back
    into Wasm, so the budget is not saved. Errors as today."""
    heap = None

    def call(a, b, c, d_, budget):
        nonlocal heap
        try:
            ctx = state._wasi
            if ctx is None:
                raise WasmboxError("WASI is not configured for this store (Store.set_wasi)")
            if heap is None:
                mem = instance._exports.get("memory")
                if mem is None or not hasattr(mem, "buf"):
                    raise Trap(TrapCode.HOST, "missing required memory export")
                heap = mem._heap
            return fn(ctx, heap.view, a, b, c, d_)
        except G.Fault:
            return EFAULT
        except (WasiError, WasiPathError) as e:
            return int(e.errno)
        except OSError as e:
            return from_oserror(e)
        except (WasmboxError, RecursionError, HostError):
            raise
        except Exception as e:  # noqa: BLE001
            raise HostError(e) from None

    return call


def end_to_end(runs: int) -> None:
    """The guest programs with the alternatives patched into this process:
    fdwrite_cost's per-call cost and read_10mb's no-hash runs, before and
    after. The patch replaces the raw wrapper that the binding's closures
    get for fd_write/fd_read (every other WASI function is bound as today)
    and HostFdOut.write; wasmbox's files are not changed."""
    import random
    import shutil
    import tempfile

    from wasmbox.host.wasi import define as D
    from wasmbox.runtime import func as RF

    tmp = tempfile.mkdtemp(prefix="host-micro-")
    (Path(tmp) / "data.bin").write_bytes(random.Random(11).randbytes(10 << 20))

    def run(prog, argv, preopen=False):
        eng = wasmbox.Engine()
        mod = wasmbox.Module(eng, (HERE / f"{prog}.wasm").read_bytes())
        linker = wasmbox.Linker(eng)
        linker.define_wasi()
        ts = []
        for _ in range(runs + 1):  # the first compiles what runs
            cfg = wasmbox.WasiConfig()
            cfg.argv = [prog] + argv
            if preopen:
                cfg.preopen_dir(tmp, "/data", False)
                cfg.capture_stdout()  # checked: the count is right
            else:
                cfg.stdout_file = "/dev/null"  # fdwrite_cost exits 1 if a write failed
            store = wasmbox.Store(eng)
            store.set_wasi(cfg)
            start = linker.instantiate(store, mod).exports(store)["_start"]
            t = time.perf_counter()
            start(store)
            ts.append(time.perf_counter() - t)
            store.close()
            if preopen and cfg.stdout_bytes() != b"%d bytes\n" % (10 << 20):
                raise SystemExit(f"{prog}: wrong output {cfg.stdout_bytes()!r}")
        return min(ts[1:])

    def suite(tag):
        n = 200_000
        per = (run("fdwrite_cost", [str(n)]) - run("fdwrite_cost", [str(n), "loop"])) / n
        r256 = run("read_10mb", ["/data/data.bin", "256", "count"], True)
        r64k = run("read_10mb", ["/data/data.bin", "65536", "count"], True)
        print(f"{tag:<13} fdwrite_cost {per * 1e6:.3f} us per fd_write; read_10mb no hash: "
              f"256 B fread {r256:.3f} s, 64 KiB {r64k * 1e3:.2f} ms")

    print("\nend to end (the guest programs, best of", runs, "runs)")
    suite("today")
    orig_bind, orig_wrap, orig_write = D._bind, RF._raw_wrapper, HostFdOut.write
    lean = {F.fd_write: fd_write_lean, F.fd_read: fd_read_inline}

    def bind(state, fn):
        return ("wasi", state, fn, orig_bind(state, fn))

    def wrap(store, fn, caller=None):
        if isinstance(fn, tuple) and fn[0] == "wasi":
            if fn[2] in lean and caller is not None and caller._instance is not None:
                return lean_binding(fn[1], lean[fn[2]], caller._instance)
            fn = fn[3]
        return orig_wrap(store, fn, caller)

    D._bind, RF._raw_wrapper, HostFdOut.write = bind, wrap, HostFdOutLean.write
    try:
        suite("alternatives")
    finally:
        D._bind, RF._raw_wrapper, HostFdOut.write = orig_bind, orig_wrap, orig_write
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-end-to-end", action="store_true",
                    help="leave out the guest programs with the alternatives patched in")
    a = ap.parse_args()
    n, runs = a.n, a.runs
    rows: list[tuple[str, float]] = []

    def row(label, fn, args, floor=0.0):
        t = bench(fn, args, n, runs)
        rows.append((label, (t - floor) * 1e6))
        print(f"{label:<66} {(t - floor) * 1e6:7.3f} us", flush=True)
        return t

    def noop4(a, b, c, d, e):
        return 0

    floor = row("loop + call of a 5-argument no-op (subtracted below)", noop4, (1, 2, 3, 4, 5))

    # ---- fd_write --------------------------------------------------------------
    store, inst, calls = instance("fdwrite_cost")
    st = store._state
    ctx = st._wasi
    mem = inst._exports["memory"]
    m = mem.buf
    budget = st._budget
    for size, label in ((1, "1 B"), (1024, "1 KiB")):
        U32X2.pack_into(m, IOV, DATA, size)
        args = (1, IOV, 1, OUT, budget)
        print(f"\nfd_write, {label} to /dev/null")
        row(f"  today: the import as compiled code calls it", calls["fd_write"], args, floor)
        raw = (ctx, m, 1, IOV, 1, OUT)
        row(f"    of which fds.fd_write(ctx, m, ...) alone", F.fd_write, raw, floor)
        row(f"    of which guestmem.gather", G.gather, (m, IOV, 1))
        row(f"    of which StreamEntry.write -> HostFdOut.write -> os.write",
            ctx.fds.entries[1].write, (bytes(size),))
        dn = ctx.fds.entries[1].stream.fd
        row(f"    of which HostFdOut.write -> os.write", ctx.fds.entries[1].stream.write,
            (bytes(size),))
        row(f"    of which os.write(fd, bytes) (the floor)", os.write, (dn, bytes(size)))
        # alternatives, one at a time, then together
        lean_out = HostFdOutLean(dn)
        row(f"  alt HostFdOut.write: os.write first, loop only if short",
            lean_out.write, (bytes(size),))
        row(f"  alt fd_write: 1-iovec path inline, no copy (in fd_write's place)",
            fd_write_lean, raw, floor)
        row(f"  alt binding: fused wrapper, fixed arity, memory cached",
            lean_binding(st, F.fd_write, inst), args, floor)
        # the alternative answers as fd_write does: the count, EFAULT for a
        # bad out pointer or iovec, EBADF for a closed fd
        U32.pack_into(m, OUT, 0)
        assert fd_write_lean(*raw) == SUCCESS and U32.unpack_from(m, OUT)[0] == size
        for bad in ((ctx, m, 1, IOV, 1, len(m) - 2), (ctx, m, 1, len(m) - 4, 1, OUT),
                    (ctx, m, 9, IOV, 1, OUT)):
            assert errno_of(F.fd_write, bad) == errno_of(fd_write_lean, bad) != SUCCESS
        saved = ctx.fds.entries[1].stream
        ctx.fds.entries[1].stream = lean_out
        row(f"  all three together (end to end, as compiled code calls it)",
            lean_binding(st, fd_write_lean, inst), args, floor)
        ctx.fds.entries[1].stream = saved
    store.close()

    # ---- fd_read ---------------------------------------------------------------
    store, inst, calls = instance("read_10mb")
    st = store._state
    ctx = st._wasi
    mem = inst._exports["memory"]
    zero = os.open("/dev/zero", os.O_RDONLY)
    fd = ctx.fds.add(FileEntry(zero, Perms(), True, False, FILETYPE_CHARACTER_DEVICE, 0))
    budget = st._budget
    for size, label in ((256, "256 B"), (4096, "4 KiB"), (65536, "64 KiB")):
        m = mem.buf
        if len(m) < DATA2 + 2 * 65536:
            mem.grow(store, 8)
            m = mem.buf
        # musl's unbuffered fread: readv({buf, n}, {stdio buf, 0})
        struct.pack_into("<IIII", m, IOV, DATA2, size, DATA, 0)
        args = (fd, IOV, 2, OUT, budget)
        print(f"\nfd_read, {label} from /dev/zero, two iovecs (the second empty)")
        row(f"  today: the import as compiled code calls it", calls["fd_read"], args, floor)
        raw = (ctx, m, fd, IOV, 2, OUT)
        row(f"    of which fds.fd_read(ctx, m, ...) alone", F.fd_read, raw, floor)
        row(f"    of which os.read(fd, n) (today's floor)", os.read, (zero, size))
        vecs = [(DATA2, size), (DATA, 0)]
        row(f"    of which guestmem.iovecs", G.iovecs, (m, IOV, 2))
        row(f"    of which guestmem.scatter", G.scatter, (m, vecs, bytes(size)))
        row(f"  alt fd_read: os.readv into guest memory (in fd_read's place)",
            fd_read_lean, raw, floor)
        row(f"  alt fd_read, iovecs decoded inline too", fd_read_inline, raw, floor)
        row(f"  alt fd_read (inline) + fused binding (end to end)",
            lean_binding(st, fd_read_inline, inst), args, floor)
        # the alternatives do what fd_read does: same count, same bytes
        for alt in (fd_read_lean, fd_read_inline):
            m[DATA2:DATA2 + size] = b"\xff" * size
            U32.pack_into(m, OUT, 0)
            assert alt(ctx, m, fd, IOV, 2, OUT) == SUCCESS
            assert U32.unpack_from(m, OUT)[0] == size and m[DATA2:DATA2 + size] == bytes(size)
        bad = (ctx, m, fd, IOV, 2, len(m) - 2)  # out past the end: EFAULT, nothing read
        assert errno_of(F.fd_read, bad) == errno_of(fd_read_lean, bad) == \
            errno_of(fd_read_inline, bad) == EFAULT
    store.close()
    if not a.no_end_to_end:
        end_to_end(runs)


if __name__ == "__main__":
    main()
