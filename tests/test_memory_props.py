"""Properties of linear memory (Hypothesis), in the role of herkos' Kani proofs.

For random memories (initial size, maximum, backing: reserved, dynamic,
non-moving, pool slot), random sequences of loads, stores and grows at
random addresses (biased to the edges), checked against a plain
``bytearray`` model:

* every load and store either succeeds or raises :class:`Trap` -- never
  anything else -- and it traps exactly when the access is out of bounds;
* a successful store is read back (the whole memory equals the model);
* ``memory.grow`` returns the old size or -1, never goes past the maximum,
  and the new pages read as zero;
* the size is always pages x page size.

The same through the host API (typed accessors, ``grow``), including
memory64 and 1-byte pages.
"""
from __future__ import annotations

import struct

import wasmtime
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from wasmbox import Config, Engine, Instance, Module, Store, Trap
from wasmbox.api import PoolingAllocationConfig
from wasmbox.runtime.memory import Memory
from wasmbox.syntax import types as st

PAGE = 65536
SLOT_PAGES = 16

#: op -> (width, struct format of the value as the API returns it)
LOADS = {"i32.load8_u": (1, "<B"), "i32.load8_s": (1, "<b"), "i32.load16_u": (2, "<H"),
         "i32.load16_s": (2, "<h"), "i32.load": (4, "<i"), "i64.load8_u": (1, "<B"),
         "i64.load8_s": (1, "<b"), "i64.load16_u": (2, "<H"), "i64.load16_s": (2, "<h"),
         "i64.load32_u": (4, "<I"), "i64.load32_s": (4, "<i"), "i64.load": (8, "<q"),
         "f32.load": (4, "<f"), "f64.load": (8, "<d")}
#: op -> (width, kind of value)
STORES = {"i32.store8": (1, "i32"), "i32.store16": (2, "i32"), "i32.store": (4, "i32"),
          "i64.store8": (1, "i64"), "i64.store16": (2, "i64"), "i64.store32": (4, "i64"),
          "i64.store": (8, "i64"), "f32.store": (4, "f32"), "f64.store": (8, "f64")}
PARAM = {"i32": "i32", "i64": "i64", "f32": "f32", "f64": "f64"}


def _module_wat(lo: int, hi: int | None) -> str:
    funcs = []
    for op, (_, fmt) in LOADS.items():
        rt = op.split(".")[0]
        funcs.append(f'(func (export "{op}") (param i32) (result {rt}) ({op} (local.get 0)))')
    for op, (_, vt) in STORES.items():
        funcs.append(f'(func (export "{op}") (param i32 {vt}) ({op} (local.get 0) (local.get 1)))')
    funcs.append('(func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))')
    funcs.append('(func (export "size") (result i32) memory.size)')
    lim = f"{lo}" if hi is None else f"{lo} {hi}"
    return f'(module (memory (export "mem") {lim})\n' + "\n".join(funcs) + ")"


_WASM: dict[tuple[int, int | None], bytes] = {}
_ENGINES: dict[str, Engine] = {}


def engine(kind: str) -> Engine:
    e = _ENGINES.get(kind)
    if e is None:
        if kind == "reserved":
            cfg = Config()
        elif kind == "dynamic":
            cfg = Config(memory_reservation=0, memory_reservation_for_growth=PAGE)
        elif kind == "fixed":
            cfg = Config(memory_reservation=SLOT_PAGES * PAGE, memory_may_move=False)
        else:
            cfg = Config(allocation_strategy=PoolingAllocationConfig(
                total_core_instances=4, total_memories=4, total_tables=4,
                max_memory_size=SLOT_PAGES * PAGE))
        e = _ENGINES[kind] = Engine(cfg)
    return e


def cap_pages(kind: str) -> int:
    """The most pages the backing allows (on top of the declared maximum)."""
    return SLOT_PAGES if kind in ("fixed", "pooled") else 65536


@hs.composite
def memories(draw):
    kind = draw(hs.sampled_from(["reserved", "dynamic", "fixed", "pooled"]))
    lo = draw(hs.integers(0, 3))
    hi = draw(hs.one_of(hs.none(), hs.integers(lo, lo + 4)))
    return kind, lo, hi


def addresses():
    near_end = hs.tuples(hs.integers(1, 6), hs.integers(-9, 9))  # pages, bytes around a page end
    return hs.one_of(
        hs.integers(0, 64),
        near_end.map(lambda t: max(0, t[0] * PAGE + t[1])),
        hs.integers(0, 0xFFFFFFFF),
        hs.integers(0xFFFFFFF0, 0xFFFFFFFF),
    )


def values(kind: str):
    if kind == "i32":
        return hs.integers(-(1 << 31), (1 << 31) - 1)
    if kind == "i64":
        return hs.integers(-(1 << 63), (1 << 63) - 1)
    if kind == "f32":
        return hs.floats(width=32, allow_nan=False)
    return hs.floats(allow_nan=False)


@hs.composite
def operations(draw):
    n = draw(hs.integers(1, 25))
    ops = []
    for _ in range(n):
        what = draw(hs.sampled_from(["load", "store", "store", "grow"]))
        if what == "load":
            ops.append(("load", draw(hs.sampled_from(sorted(LOADS))), draw(addresses())))
        elif what == "store":
            op = draw(hs.sampled_from(sorted(STORES)))
            ops.append(("store", op, draw(addresses()), draw(values(STORES[op][1]))))
        else:
            # small deltas, or ones past every maximum (never gigabytes of model)
            ops.append(("grow", draw(hs.one_of(hs.integers(0, 3),
                                               hs.integers(65537, 0xFFFFFFFF)))))
    return ops


def _encode(op: str, value) -> bytes:
    width, kind = STORES[op]
    if kind in ("i32", "i64"):
        return (value & ((1 << (8 * width)) - 1)).to_bytes(width, "little")
    return struct.pack("<f" if kind == "f32" else "<d", value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(memories(), operations())
def test_guest_accesses_trap_exactly_out_of_bounds_and_never_fail_otherwise(mem_spec, ops):
    kind, lo, hi = mem_spec
    key = (lo, hi)
    if key not in _WASM:
        _WASM[key] = wasmtime.wat2wasm(_module_wat(lo, hi))
    eng = engine(kind)
    store = Store(eng)
    try:
        inst = Instance(store, Module(eng, _WASM[key]), [])
        ex = inst.exports(store)
        mem = ex["mem"]
        model = bytearray(lo * PAGE)
        max_pages = min(cap_pages(kind), 65536 if hi is None else hi)
        for step in ops:
            if step[0] == "grow":
                delta = step[1]
                old = len(model) // PAGE
                got = ex["grow"](store, delta)
                if old + delta <= max_pages:
                    assert got == old
                    model.extend(bytes(delta * PAGE))
                else:
                    assert got == -1
            elif step[0] == "load":
                _, op, addr = step
                width, fmt = LOADS[op]
                try:
                    got = ex[op](store, addr)
                except Trap as e:
                    assert str(e) == "out of bounds memory access"
                    assert addr + width > len(model)
                else:
                    assert addr + width <= len(model)
                    assert same(got, struct.unpack_from(fmt, model, addr)[0])
            else:
                _, op, addr, value = step
                width = STORES[op][0]
                try:
                    ex[op](store, addr, value)
                except Trap as e:
                    assert str(e) == "out of bounds memory access"
                    assert addr + width > len(model)
                else:
                    assert addr + width <= len(model)
                    model[addr:addr + width] = _encode(op, value)
            size = ex["size"](store)
            assert size * PAGE == len(model) == mem.data_len(store)
            assert size <= max_pages
        assert mem.read(store) == model
    finally:
        store.close()


# ---------------------------------------------------------------- through the host API

def same(a, b) -> bool:
    """Equal values; two NaNs count as the same (bits are compared through the model)."""
    return a == b or (a != a and b != b)


ACCESSORS = {"u8": "<B", "i8": "<b", "u16": "<H", "i16": "<h", "u32": "<I", "i32": "<i",
             "u64": "<Q", "i64": "<q", "f32": "<f", "f64": "<d"}


@hs.composite
def host_memories(draw):
    kind = draw(hs.sampled_from(["reserved", "dynamic", "fixed", "pooled"]))
    is64 = draw(hs.booleans())
    log2 = draw(hs.sampled_from([None, 0]))  # 64 KiB pages or 1-byte pages
    page = 1 if log2 == 0 else PAGE
    lo = draw(hs.integers(0, 3)) * (1 if page == PAGE else draw(hs.sampled_from([1, 100, 5000])))
    hi = draw(hs.one_of(hs.none(), hs.integers(lo, lo + 4 * (1 if page == PAGE else 3000))))
    return kind, is64, log2, lo, hi


@hs.composite
def host_ops(draw, page: int):
    ops = []
    for _ in range(draw(hs.integers(1, 30))):
        what = draw(hs.sampled_from(["read", "write", "write", "grow"]))
        if what == "grow":
            small = hs.integers(0, 3) if page == PAGE else hs.integers(0, 5000)
            ops.append(("grow", draw(hs.one_of(small, hs.integers(1 << 40, 1 << 41)))))
            continue
        acc = draw(hs.sampled_from(sorted(ACCESSORS)))
        addr = draw(hs.one_of(hs.integers(0, 300), hs.integers(0, 4 * PAGE),
                              hs.integers(0, 1 << 64)))
        if what == "read":
            ops.append(("read", acc, addr))
        else:
            size = struct.calcsize(ACCESSORS[acc])
            if acc[0] == "f":
                value = draw(hs.floats(width=32 if acc == "f32" else 64, allow_nan=False))
            else:
                bits = size * 8
                value = draw(hs.integers(-(1 << (bits - 1)), (1 << bits) - 1))
            ops.append(("write", acc, addr, value))
    return ops


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(host_memories().flatmap(
    lambda m: hs.tuples(hs.just(m), host_ops(1 if m[2] == 0 else PAGE))))
def test_host_accessors_and_grow(case):
    mem_spec, ops = case
    kind, is64, log2, lo, hi = mem_spec
    page = 1 if log2 == 0 else PAGE
    store = Store(engine(kind))
    try:
        addr_type = st.AddrType.I64 if is64 else st.AddrType.I32
        mem = Memory._create(store, st.MemType(st.Limits(lo, hi, addr_type), log2))
        model = bytearray(lo * page)
        cap_bytes = cap_pages(kind) * PAGE
        spec_max = (1 << 64) // page if is64 else (1 << 32) // page
        max_pages = min(spec_max, cap_bytes // page, 65536 * PAGE // page)
        if hi is not None:
            max_pages = min(max_pages, hi)
        fail = (1 << 64) - 1 if is64 else (1 << 32) - 1
        for step in ops:
            if step[0] == "grow":
                delta = step[1]
                old = len(model) // page
                got = mem.grow_raw(delta)
                if old + delta <= max_pages:
                    assert got == old
                    assert mem.read(store, len(model)) == bytes(delta * page)  # new bytes: zero
                    model.extend(bytes(delta * page))
                else:
                    assert got == fail
            elif step[0] == "read":
                _, acc, addr = step
                fmt = ACCESSORS[acc]
                try:
                    got = getattr(mem, f"read_{acc}")(store, addr)
                except Trap as e:
                    assert str(e).startswith("out of bounds memory access")
                    assert addr + struct.calcsize(fmt) > len(model)
                else:
                    assert same(got, struct.unpack_from(fmt, model, addr)[0])
            else:
                _, acc, addr, value = step
                fmt = ACCESSORS[acc]
                size = struct.calcsize(fmt)
                try:
                    getattr(mem, f"write_{acc}")(store, addr, value)
                except Trap as e:
                    assert str(e).startswith("out of bounds memory access")
                    assert addr + size > len(model)
                else:
                    if acc[0] == "f":
                        raw = struct.pack(fmt, value)
                    else:
                        raw = (value % (1 << (8 * size))).to_bytes(size, "little")
                    model[addr:addr + size] = raw
                    assert same(getattr(mem, f"read_{acc}")(store, addr),
                                struct.unpack_from(fmt, model, addr)[0])
            assert mem.data_len(store) == mem.size(store) * page == len(model)
            assert mem.size(store) <= max_pages
        assert mem.read(store) == model
    finally:
        store.close()
