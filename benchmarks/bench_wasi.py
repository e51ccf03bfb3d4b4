"""WASI host calls: wasmbox next to wasmtime's Python package, in one run.

    .venv/bin/python benchmarks/bench_wasi.py [--reps 3] [--size BYTES] [--calls N]
                                              [--out PATH] [--profile]

The programs are ``benchmarks/wasi/*.c`` (built to the committed ``.wasm``
by ``benchmarks/wasi/build.sh``):

* ``printf_10mb SIZE``: SIZE bytes (``--size``, default 10 MiB) of 64-byte
  numbered lines through printf, stdout fully buffered by wasi-libc (its
  buffer is BUFSIZ = 1 KiB: one fd_write of two iovecs, the buffer and the
  line that did not fit, per 1 KiB or so); stdout goes to a file in a
  temporary directory.
* ``read_10mb FILE BUF [count]``: fread of a 10 MiB file (``--size``) in a
  preopened directory (read-only) into a BUF-byte buffer, the stream
  unbuffered (one fd_read per fread): with the FNV-1a hash of the bytes
  (``hash``), and without it (``count``: only the reading is left).
* ``fdwrite_cost N``: N raw ``__wasi_fd_write`` calls of one byte to
  stdout (``/dev/null``), and ``N loop``: the same loop without the call.
  The cost of one call is (t(N) - t(N loop)) / N; (t(2N) - t(N)) / N is
  printed beside it as a cross-check.

Every repetition makes a fresh store and instance of an already compiled
module (wasmbox's module keeps the functions it compiled lazily, and a
warm-up run before the repetitions fills it), so the ``run`` times are the
``_start`` call alone: no decoding, no compilation, no instantiation.
Those are timed on their own and shown in the second table: ``compile`` is
``Module(engine, bytes)`` for wasmtime (Cranelift compiles it all) and, for
wasmbox, ``Module`` plus an instantiation with ``lazy_compile=False`` (every
function compiled to Python); ``inst`` is store + WASI context + instantiate.

Both runtimes run the same repetitions, interleaved (wasmbox, wasmtime,
wasmbox, ...), so that load from other processes hurts both alike; each
cell is the median over ``--reps``. Every run's stdout is hashed and must
match what the program should print (printf: the lines, rebuilt here;
read: the count, and wasmtime's hash; fdwrite: a checked run to a file
first, the timed ones to /dev/null); a mismatch stops the benchmark with
exit status 1. Speed is reported, never asserted.

``--profile`` runs each wasmbox case once more under cProfile and prints
the functions with the most own time (per call in microseconds).

The results (tables, command line, date, machine) are written to
``--out`` (default ``benchmarks/results-wasi.txt``; ``--out -`` skips it).
"""
from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import io
import os
import platform
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import wasmtime

import wasmbox

HERE = Path(__file__).resolve().parent
WASI = HERE / "wasi"
MiB = 1 << 20


# -- the two runtimes ------------------------------------------------------------
class Wasmbox:
    name = "wasmbox"

    def __init__(self) -> None:
        self.engine = wasmbox.Engine()
        self.linker = wasmbox.Linker(self.engine)
        self.linker.define_wasi()

    def compile(self, data: bytes) -> tuple[float, wasmbox.Module]:
        """(seconds to a module with every function compiled, a lazy module).
        A new engine each time: an engine caches what it compiled, by bytes."""
        eager = wasmbox.Engine(wasmbox.Config(lazy_compile=False))
        linker = wasmbox.Linker(eager)
        linker.define_wasi()
        t = time.perf_counter()
        m = wasmbox.Module(eager, data)
        store = wasmbox.Store(eager)
        store.set_wasi(wasmbox.WasiConfig())
        linker.instantiate(store, m)
        el = time.perf_counter() - t
        store.close()
        return el, wasmbox.Module(self.engine, data)

    def run(self, module, argv, stdout, preopen=None) -> tuple[float, float, int]:
        """(instantiate seconds, _start seconds, exit code)."""
        return run_start(wasmbox, self, module, argv, stdout, preopen)


class Wasmtime:
    name = "wasmtime"

    def __init__(self) -> None:
        self.engine = wasmtime.Engine()
        self.linker = wasmtime.Linker(self.engine)
        self.linker.define_wasi()

    def compile(self, data: bytes) -> tuple[float, wasmtime.Module]:
        """(seconds to a compiled module, the module); wasmtime-py's engine
        caches nothing by default, so the same engine serves."""
        t = time.perf_counter()
        m = wasmtime.Module(self.engine, data)
        return time.perf_counter() - t, m

    def run(self, module, argv, stdout, preopen=None) -> tuple[float, float, int]:
        return run_start(wasmtime, self, module, argv, stdout, preopen)


def run_start(W, rt, module, argv, stdout, preopen) -> tuple[float, float, int]:
    """Instantiate module in a new store of rt (W: the wasmbox or wasmtime
    package) and run _start: (instantiate seconds, _start seconds, exit code).
    The store is released before returning (wasmtime closes stdout then)."""
    t0 = time.perf_counter()
    cfg = W.WasiConfig()
    cfg.argv = argv
    cfg.stdout_file = stdout
    if preopen:
        cfg.preopen_dir(preopen[0], preopen[1], False)
    store = W.Store(rt.engine)
    store.set_wasi(cfg)
    start = rt.linker.instantiate(store, module).exports(store)["_start"]
    t1 = time.perf_counter()
    code = 0
    try:
        start(store)
    except W.ExitTrap as e:
        code = e.code
    t2 = time.perf_counter()
    if hasattr(store, "close"):
        store.close()
    del start, store
    return t1 - t0, t2 - t1, code


# -- expected outputs ------------------------------------------------------------
def printf_expected(size: int) -> bytes:
    tail = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
    lines = size // 64
    out = b"".join(b"line %010d %s\n" % (i, tail) for i in range(lines))
    return out + b"." * (size - lines * 64)


def fdwrite_expected(n: int) -> bytes:
    return bytes(range(256)) * (n // 256) + bytes(range(n % 256))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


# -- the cases -------------------------------------------------------------------
class Case:
    """One program run: argv, where stdout goes, what it must print."""

    def __init__(self, key: str, label: str, prog: str, args: list[str], *,
                 expect: bytes | None = None, preopen: bool = False,
                 devnull: bool = False) -> None:
        self.key, self.label, self.prog, self.args = key, label, prog, args
        self.expect = expect  # None: the first runtime's output is the reference
        self.preopen = preopen
        self.devnull = devnull


def cases(size: int, calls: int) -> list[Case]:
    out = [Case("printf", f"printf {size / MiB:g} MiB (64-byte lines)", "printf_10mb",
                [str(size)], expect=printf_expected(size))]
    for buf in (4096, 65536):
        out.append(Case(f"read{buf}", f"read {size / MiB:g} MiB, {buf // 1024} KiB fread + FNV-1a",
                        "read_10mb", ["/data/data.bin", str(buf)], preopen=True))
    for buf in (256, 4096, 65536):
        label = f"{buf} B" if buf < 1024 else f"{buf // 1024} KiB"
        out.append(Case(f"count{buf}", f"read {size / MiB:g} MiB, {label} fread, no hash",
                        "read_10mb", ["/data/data.bin", str(buf), "count"], preopen=True,
                        expect=b"%d bytes\n" % size))
    out.append(Case("fdw_loop", f"fdwrite_cost {calls} loop (no call)", "fdwrite_cost",
                    [str(calls), "loop"], devnull=True, expect=b""))
    out.append(Case("fdw_n", f"fdwrite_cost {calls} (1-byte fd_write)", "fdwrite_cost",
                    [str(calls)], devnull=True))
    out.append(Case("fdw_2n", f"fdwrite_cost {2 * calls}", "fdwrite_cost",
                    [str(2 * calls)], devnull=True))
    return out


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-wasi-"))
        self.data_dir = self.tmp / "data"
        self.data_dir.mkdir()
        # deterministic content; 10 MiB of random bytes in a few ms
        (self.data_dir / "data.bin").write_bytes(random.Random(11).randbytes(args.size))
        self.runtimes = [Wasmbox(), Wasmtime()]
        self.modules: dict[tuple[str, str], object] = {}
        self.load: dict[tuple[str, str], list[float]] = {}
        self.inst: dict[tuple[str, str], list[float]] = {}

    def close(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)

    def compile_all(self, progs: list[str]) -> None:
        for prog in progs:
            data = (WASI / f"{prog}.wasm").read_bytes()
            for rt in self.runtimes:
                times = []
                for _ in range(self.args.reps):
                    gc.collect()
                    el, m = rt.compile(data)
                    times.append(el)
                self.load[rt.name, prog] = times
                self.modules[rt.name, prog] = m

    def run_once(self, rt, case: Case, to_file: bool = False) -> tuple[float, bytes]:
        out = self.tmp / f"stdout-{rt.name}"
        target = "/dev/null" if case.devnull and not to_file else str(out)
        argv = [case.prog] + case.args
        preopen = (str(self.data_dir), "/data") if case.preopen else None
        gc.collect()
        inst_s, run_s, code = rt.run(self.modules[rt.name, case.prog], argv, target, preopen)
        self.inst.setdefault((rt.name, case.prog), []).append(inst_s)
        if code != 0:
            raise SystemExit(f"{rt.name}: {' '.join(argv)} exited with {code}")
        got = b"" if target == "/dev/null" else out.read_bytes()
        return run_s, got

    def check(self, rt, case: Case, got: bytes, reference: dict[str, bytes]) -> None:
        want = case.expect if case.expect is not None else reference.get(case.key)
        if want is None:
            reference[case.key] = got
            return
        if got != want:
            raise SystemExit(f"{rt.name}: {case.label}: stdout {sha(got)} ({len(got)} bytes), "
                             f"expected {sha(want)} ({len(want)} bytes)")

    def measure(self, todo: list[Case]) -> dict[tuple[str, str], list[float]]:
        reference: dict[str, bytes] = {}
        # checked runs (fdwrite: to a file), reference outputs; wasmtime first
        # so that it is the reference where the output is not rebuilt here;
        # for wasmbox this is also the warm-up that compiles what runs
        for case in todo:
            for rt in reversed(self.runtimes):
                if case.devnull and case.expect is None:
                    n = int(case.args[0])
                    _, got = self.run_once(rt, case, to_file=True)
                    if got != fdwrite_expected(n):
                        raise SystemExit(f"{rt.name}: {case.label}: wrong bytes on stdout")
                else:
                    _, got = self.run_once(rt, case)
                    self.check(rt, case, got, reference)
        times: dict[tuple[str, str], list[float]] = {}
        for rep in range(self.args.reps):
            for case in todo:
                for rt in self.runtimes:
                    el, got = self.run_once(rt, case)
                    if not case.devnull:
                        self.check(rt, case, got, reference)
                    times.setdefault((rt.name, case.key), []).append(el)
            print(f"  rep {rep + 1}/{self.args.reps} done", file=sys.stderr)
        self.reference = reference
        return times

    def profile(self, todo: list[Case], lines: int = 14) -> str:
        rt = self.runtimes[0]
        buf = io.StringIO()
        for case in todo:
            if case.key in ("fdw_2n",):
                continue
            prof = cProfile.Profile()
            out = self.tmp / "stdout-profile"
            target = "/dev/null" if case.devnull else str(out)
            argv = [case.prog] + case.args
            preopen = (str(self.data_dir), "/data") if case.preopen else None
            module = self.modules[rt.name, case.prog]
            prof.enable()
            rt.run(module, argv, target, preopen)
            prof.disable()
            st = pstats.Stats(prof)
            total = st.total_tt
            rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:lines]
            buf.write(f"\n## {case.label}: wasmbox under cProfile, {total:.2f} s in all\n")
            buf.write(f"{'calls':>10} {'own s':>8} {'own us/call':>11} {'cum s':>8}  function\n")
            names = module.syntax.names.funcs
            for (file, line, fn), (cc, nc, tt, ct, _) in rows:
                where = f"{Path(file).name}:{line}" if line else file
                if file.startswith("<wasm function "):
                    where = f"wasm: {names.get(int(file[15:-1]), '?')}"
                buf.write(f"{nc:>10} {tt:8.3f} {tt / nc * 1e6:11.3f} {ct:8.3f}  {fn} ({where})\n")
        return buf.getvalue()


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def machine_note() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    return (f"{os.cpu_count()} cores ({cpu}), Linux {platform.release()}, "
            f"Python {platform.python_version()}, wasmtime-py {wasmtime_version()}, "
            f"wasmbox at {commit or '?'}")


def wasmtime_version() -> str:
    from importlib.metadata import version
    return version("wasmtime")


def report(b: Bench, todo: list[Case], times, calls: int) -> str:
    reps = b.args.reps
    w = max(len(c.label) for c in todo)
    lines = [f"{'program':<{w}}  {'wasmbox s':>10}  {'wasmtime s':>10}  {'ratio':>7}"]
    med = {k: median(v) for k, v in times.items()}
    for c in todo:
        wb, wt = med["wasmbox", c.key], med["wasmtime", c.key]
        lines.append(f"{c.label:<{w}}  {wb:10.4f}  {wt:10.4f}  {wb / wt:6.1f}x")
    lines.append("")
    lines.append(f"run = the _start call alone, median of {reps}; ratio = wasmbox / wasmtime")
    lines.append("")
    lines.append("per host call (microseconds)")
    rows = []
    for name in ("wasmbox", "wasmtime"):
        n, loop, two = med[name, "fdw_n"], med[name, "fdw_loop"], med[name, "fdw_2n"]
        per = (n - loop) / calls * 1e6
        cross = (two - n) / calls * 1e6
        rows.append((name, per, cross, loop / calls * 1e6))
    lines.append(f"{'':<10} {'fd_write 1 B':>13} {'(2N-N)/N':>9} {'loop iter':>10}")
    for name, per, cross, it in rows:
        lines.append(f"{name:<10} {per:13.3f} {cross:9.3f} {it:10.3f}")
    lines.append(f"ratio      {rows[0][1] / rows[1][1]:12.1f}x")
    lines.append("(fd_write 1 B = (t(N) - t(N loop)) / N: the call of wasi-libc's __wasi_fd_write,"
                 " a wasm function that calls")
    lines.append(" the import, and the result check included; loop iter = t(N loop) / N)")
    size = b.args.size
    n256, n64k = size // 256 + 1, size // 65536 + 1  # the last fread reads 0 (EOF)
    for name in ("wasmbox", "wasmtime"):
        d = med[name, "count256"] - med[name, "count65536"]
        lines.append(f"{name:<10} fread+fd_read, 256 B vs 64 KiB, no hash: "
                     f"{d / (n256 - n64k) * 1e6:.3f} us per call beyond the copy "
                     f"({n256} vs {n64k} calls)")
    lines.append("(the guest's fread -> __stdio_read -> readv -> fd_read path included)")
    lines.append("")
    lines.append("load (seconds, median): compile = bytes to compiled code "
                 "(wasmbox: Module + eager instantiate); inst = store + WASI + instantiate")
    progs = sorted({c.prog for c in todo})
    pw = max(len(p) for p in progs)
    lines.append(f"{'module':<{pw}}  {'size':>7}  {'wasmbox compile':>15}  {'wasmtime compile':>16}"
                 f"  {'wasmbox inst':>12}  {'wasmtime inst':>13}")
    for p in progs:
        sz = (WASI / f"{p}.wasm").stat().st_size
        lines.append(f"{p:<{pw}}  {sz:7d}  {median(b.load['wasmbox', p]):15.4f}  "
                     f"{median(b.load['wasmtime', p]):16.4f}  {median(b.inst['wasmbox', p]):12.5f}  "
                     f"{median(b.inst['wasmtime', p]):13.5f}")
    lines.append("")
    lines.append("every repetition (run seconds, in order)")
    for c in todo:
        cells = "   ".join(f"{name} " + " ".join(f"{x:.4f}" for x in times[name, c.key])
                           for name in ("wasmbox", "wasmtime"))
        lines.append(f"  {c.key:<10} {cells}")
    lines.append("")
    lines.append("stdout sha256 (first 16 hex), identical in both runtimes:")
    for c in todo:
        got = c.expect if c.expect is not None else b.reference.get(c.key)
        if got is None:
            got = fdwrite_expected(int(c.args[0]))
            where = "checked run to a file; timed runs to /dev/null"
        else:
            where = got.decode()[:40].strip() if len(got) < 60 else f"{len(got)} bytes"
        lines.append(f"  {c.key:<10} {sha(got)}  {where}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3, help="repetitions per cell (median)")
    ap.add_argument("--size", type=int, default=10 * MiB,
                    help="bytes printed / read (default 10 MiB)")
    ap.add_argument("--calls", type=int, default=200_000, help="N of fdwrite_cost")
    ap.add_argument("--only", default="", help="comma-separated case keys (default all)")
    ap.add_argument("--out", default=str(HERE / "results-wasi.txt"),
                    help="results file ('-': do not write one)")
    ap.add_argument("--profile", action="store_true",
                    help="also profile each wasmbox case once (printed, not written)")
    args = ap.parse_args()
    if args.size < 65536 or args.size % 256:
        ap.error("--size: at least 65536, a multiple of 256")
    todo = cases(args.size, args.calls)
    if args.only:
        keep = set(args.only.split(","))
        todo = [c for c in todo if c.key in keep]
    b = Bench(args)
    try:
        t = time.perf_counter()
        b.compile_all(sorted({c.prog for c in todo}))
        times = b.measure(todo)
        full = len(todo) == len(cases(args.size, args.calls))
        text = report(b, todo, times, args.calls) if full else "\n".join(
            f"{c.label}: wasmbox {median(times['wasmbox', c.key]):.4f} s, "
            f"wasmtime {median(times['wasmtime', c.key]):.4f} s" for c in todo)
        header = (f"# {' '.join([Path(sys.executable).name, 'benchmarks/bench_wasi.py'] + sys.argv[1:])}"
                  f"  ({date.today().isoformat()}, {time.perf_counter() - t:.0f} s)\n"
                  f"# {machine_note()}\n")
        print(header + text)
        if args.out != "-" and full:
            Path(args.out).write_text(header + text + "\n")
            print(f"\n(written to {args.out})", file=sys.stderr)
        if args.profile:
            print(b.profile(todo))
    finally:
        b.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
