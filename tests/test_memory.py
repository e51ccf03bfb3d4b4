"""Linear memory: reserved and dynamic heaps, the access rules, the host API,
store limits and closing a store.

The rules are checked on every backing (reserved, dynamic/moving, a
reservation that may not move, a pool slot): they must not differ. The
access tests carry the intent of herkos' ``IsolatedMemory`` tests:
round-trips of every width, little-endian layout, every out-of-bounds edge
(offset overflow included), growing to the maximum and one past, and the
bounds of data segments.
"""
from __future__ import annotations

import gc
import struct

import pytest
import wasmtime

from wasmbox import (
    Config,
    Engine,
    Func,
    FuncType,
    Instance,
    InstantiationError,
    Limits,
    Linker,
    Memory,
    MemoryType,
    Module,
    Store,
    Table,
    TableType,
    Trap,
    ValType,
    WasmboxError,
)
from wasmbox.api import PoolingAllocationConfig, StoreLimits
from wasmbox.runtime.heap import HOST_PAGE, Heap, map_anonymous, round_up

PAGE = 65536
I32 = ValType.i32()

STRATEGIES = ["reserved", "dynamic", "fixed", "pooled"]


def config_for(kind: str) -> Config:
    """A config whose memories get the named kind of backing."""
    if kind == "reserved":
        return Config()
    if kind == "dynamic":  # nothing fits the reservation: every memory moves as it grows
        return Config(memory_reservation=0, memory_reservation_for_growth=PAGE)
    if kind == "fixed":  # a 16-page reservation that never moves
        return Config(memory_reservation=16 * PAGE, memory_may_move=False)
    if kind == "pooled":
        return Config(allocation_strategy=PoolingAllocationConfig(
            total_core_instances=8, total_memories=8, total_tables=8, max_memory_size=16 * PAGE))
    raise ValueError(kind)


ACCESS_WAT = r"""
(module
  (memory (export "mem") 1 4)
  (data (i32.const 0) "\01\02\03\04")
  (data $p "abcdefgh")
  (func (export "size") (result i32) memory.size)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "i32.load8_u") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "i32.load8_s") (param i32) (result i32) (i32.load8_s (local.get 0)))
  (func (export "i32.load16_u") (param i32) (result i32) (i32.load16_u (local.get 0)))
  (func (export "i32.load16_s") (param i32) (result i32) (i32.load16_s (local.get 0)))
  (func (export "i32.load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "i64.load8_u") (param i32) (result i64) (i64.load8_u (local.get 0)))
  (func (export "i64.load8_s") (param i32) (result i64) (i64.load8_s (local.get 0)))
  (func (export "i64.load16_u") (param i32) (result i64) (i64.load16_u (local.get 0)))
  (func (export "i64.load16_s") (param i32) (result i64) (i64.load16_s (local.get 0)))
  (func (export "i64.load32_u") (param i32) (result i64) (i64.load32_u (local.get 0)))
  (func (export "i64.load32_s") (param i32) (result i64) (i64.load32_s (local.get 0)))
  (func (export "i64.load") (param i32) (result i64) (i64.load (local.get 0)))
  (func (export "f32.load") (param i32) (result f32) (f32.load (local.get 0)))
  (func (export "f64.load") (param i32) (result f64) (f64.load (local.get 0)))
  (func (export "i32.store8") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "i32.store16") (param i32 i32) (i32.store16 (local.get 0) (local.get 1)))
  (func (export "i32.store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "i64.store8") (param i32 i64) (i64.store8 (local.get 0) (local.get 1)))
  (func (export "i64.store16") (param i32 i64) (i64.store16 (local.get 0) (local.get 1)))
  (func (export "i64.store32") (param i32 i64) (i64.store32 (local.get 0) (local.get 1)))
  (func (export "i64.store") (param i32 i64) (i64.store (local.get 0) (local.get 1)))
  (func (export "f32.store") (param i32 f32) (f32.store (local.get 0) (local.get 1)))
  (func (export "f64.store") (param i32 f64) (f64.store (local.get 0) (local.get 1)))
  (func (export "load_off_max") (param i32) (result i32)
    (i32.load offset=0xFFFFFFFF (local.get 0)))
  (func (export "store_off_max") (param i32)
    (i32.store offset=0xFFFFFFFF (local.get 0) (i32.const 0x55555555)))
  (func (export "load8_off_max") (param i32) (result i32)
    (i32.load8_u offset=0xFFFFFFFF (local.get 0)))
  (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "init") (param i32 i32 i32)
    (memory.init $p (local.get 0) (local.get 1) (local.get 2)))
)
"""

#: op -> width in bytes
LOADS = {"i32.load8_u": 1, "i32.load8_s": 1, "i32.load16_u": 2, "i32.load16_s": 2, "i32.load": 4,
         "i64.load8_u": 1, "i64.load8_s": 1, "i64.load16_u": 2, "i64.load16_s": 2,
         "i64.load32_u": 4, "i64.load32_s": 4, "i64.load": 8, "f32.load": 4, "f64.load": 8}
STORES = {"i32.store8": 1, "i32.store16": 2, "i32.store": 4, "i64.store8": 1, "i64.store16": 2,
          "i64.store32": 4, "i64.store": 8, "f32.store": 4, "f64.store": 8}


def wasm(wat: str) -> bytes:
    return wasmtime.wat2wasm(wat)


class Inst:
    """An instance of ACCESS_WAT (or another module) with its store and exports."""

    def __init__(self, kind: str, wat: str = ACCESS_WAT) -> None:
        self.engine = Engine(config_for(kind))
        self.store = Store(self.engine)
        self.instance = Instance(self.store, Module(self.engine, wasm(wat)), [])
        self.ex = self.instance.exports(self.store)

    def __call__(self, name: str, *args):
        return self.ex[name](self.store, *args)

    @property
    def mem(self) -> Memory:
        return self.ex["mem"]


@pytest.fixture(params=STRATEGIES)
def inst(request):
    i = Inst(request.param)
    yield i
    i.store.close()


# ---------------------------------------------------------------- which heap a memory gets

def _mem(store: Store, lo: int, hi: int | None, is_64: bool = False) -> Memory:
    return Memory(store, MemoryType(Limits(lo, hi), is_64=is_64))


def test_a_bounded_memory_reserves_exactly_its_maximum():
    store = Store(Engine())
    mem = _mem(store, 1, 4)
    assert mem._heap.capacity == 4 * PAGE and not mem._heap.may_move
    mapping = mem._heap._mm
    for n in range(3):
        assert mem.grow(store, 1) == 1 + n
    assert mem._heap._mm is mapping and mem._heap.moves == 0


def test_a_32bit_memory_without_maximum_reserves_4gib_and_never_moves():
    store = Store(Engine())
    mem = _mem(store, 0, None)
    assert mem._heap.capacity == 1 << 32 and not mem._heap.may_move
    assert mem.grow(store, 100) == 0
    assert mem._heap.moves == 0 and mem.data_len(store) == 100 * PAGE


def test_memory64_without_maximum_gets_a_dynamic_heap():
    store = Store(Engine(Config(memory_reservation_for_growth=2 * PAGE)))
    mem = _mem(store, 1, None, is_64=True)
    heap = mem._heap
    assert heap.may_move and heap.capacity == 3 * PAGE
    mem.write(store, b"keep", 0)
    assert mem.grow(store, 2) == 1 and heap.moves == 0  # within the growth margin
    assert mem.grow(store, 1) == 3 and heap.moves == 1  # past it: moved
    assert mem.read(store, 0, 4) == b"keep"
    assert mem.read(store, PAGE, 4 * PAGE) == bytes(3 * PAGE)


def test_a_small_reservation_makes_memories_dynamic_and_they_move():
    store = Store(Engine(Config(memory_reservation=PAGE, memory_reservation_for_growth=0)))
    mem = _mem(store, 1, 8)
    assert mem._heap.may_move and mem._heap.capacity == PAGE
    mem.write(store, b"\x07" * PAGE, 0)
    for n in range(1, 8):
        assert mem.grow(store, 1) == n
        assert mem.read(store, 0, PAGE) == b"\x07" * PAGE
        assert mem.read(store, n * PAGE, (n + 1) * PAGE) == bytes(PAGE)
    assert mem._heap.moves == 7
    assert mem.grow_raw(1) == 0xFFFFFFFF  # the declared maximum still holds


def test_a_memory_that_may_not_move_stops_at_its_reservation():
    store = Store(Engine(Config(memory_reservation=2 * PAGE, memory_may_move=False)))
    mem = _mem(store, 1, None)
    assert not mem._heap.may_move
    assert mem.grow(store, 1) == 1
    assert mem.grow_raw(1) == 0xFFFFFFFF
    with pytest.raises(WasmboxError):
        mem.grow(store, 1)
    assert mem.size(store) == 2
    assert mem.type(store).limits.max is None  # the type is unchanged
    mem.write(store, b"\xff", 2 * PAGE - 1)
    assert mem.read(store, 2 * PAGE - 1) == b"\xff"


def test_an_initial_size_larger_than_a_fixed_reservation_is_still_mapped():
    store = Store(Engine(Config(memory_reservation=PAGE, memory_may_move=False)))
    mem = _mem(store, 3, None)
    assert mem.size(store) == 3 and mem.grow_raw(1) == 0xFFFFFFFF


def test_inconsistent_heap_sizes_are_refused():
    with pytest.raises(ValueError):
        Heap(PAGE, PAGE, 2 * PAGE)  # initial larger than the reservation
    with pytest.raises(ValueError):
        Heap(2 * PAGE, PAGE, 0)  # reservation larger than the limit
    with pytest.raises(ValueError):
        Heap(PAGE, 2 * PAGE, 0)  # a heap that cannot move must reserve its limit
    slot = map_anonymous(PAGE)
    with pytest.raises(ValueError):
        Heap.borrow(slot, 2 * PAGE, 0)  # a borrowed heap larger than its mapping
    with pytest.raises(ValueError):
        Heap.borrow(slot, PAGE, 2 * PAGE)  # initial larger than the heap
    heap = Heap.borrow(slot, PAGE, PAGE)
    assert heap.size == heap.limit == PAGE and heap.detach()
    assert not slot.closed  # a borrowed mapping stays its owner's


def test_round_up_is_whole_host_pages():
    assert round_up(0) == HOST_PAGE
    assert round_up(1) == HOST_PAGE
    assert round_up(HOST_PAGE + 1) == 2 * HOST_PAGE


# ---------------------------------------------------------------- access rules (herkos)

def test_new_memory_reads_zero_and_data_is_placed(inst):
    assert inst("size") == 1
    assert [inst("i32.load8_u", a) for a in range(4)] == [1, 2, 3, 4]
    assert inst.mem.read(inst.store, 4, PAGE) == bytes(PAGE - 4)


@pytest.mark.parametrize("addr", [0, 5, PAGE - 8])
def test_roundtrip_of_every_width(inst, addr):
    cases = [
        ("i32.store8", 0x1FF, "i32.load8_u", 0xFF), ("i32.store8", 0x80, "i32.load8_s", -128),
        ("i32.store16", 0x18001, "i32.load16_u", 0x8001),
        ("i32.store16", 0x8001, "i32.load16_s", -32767),
        ("i32.store", -559038737, "i32.load", -559038737),
        ("i64.store8", 0xAB, "i64.load8_u", 0xAB), ("i64.store8", 0xAB, "i64.load8_s", -85),
        ("i64.store16", 0xBEEF, "i64.load16_u", 0xBEEF),
        ("i64.store16", 0xBEEF, "i64.load16_s", 0xBEEF - 0x10000),
        ("i64.store32", 0xDEADBEEF, "i64.load32_u", 0xDEADBEEF),
        ("i64.store32", 0xDEADBEEF, "i64.load32_s", 0xDEADBEEF - (1 << 32)),
        ("i64.store", -0x123456789ABCDEF, "i64.load", -0x123456789ABCDEF),
        ("f32.store", 1.5, "f32.load", 1.5), ("f32.store", -0.0, "f32.load", -0.0),
        ("f64.store", 3.141592653589793, "f64.load", 3.141592653589793),
    ]
    for store_op, value, load_op, expect in cases:
        inst(store_op, addr, value)
        got = inst(load_op, addr)
        assert got == expect and type(got) is type(expect), (store_op, load_op)
        inst("i64.store", addr, 0)


def test_little_endian_layout(inst):
    inst("i32.store", 100, 0x01020304)
    assert [inst("i32.load8_u", 100 + k) for k in range(4)] == [4, 3, 2, 1]
    assert inst.mem.read(inst.store, 100, 104) == b"\x04\x03\x02\x01"
    inst("i64.store", 200, 0x0102030405060708)
    assert inst.mem.read(inst.store, 200, 208) == bytes(range(8, 0, -1))
    assert inst("i32.load16_u", 201) == 0x0607
    inst("f64.store", 300, 1.0)
    assert inst.mem.read(inst.store, 300, 308) == struct.pack("<d", 1.0)


@pytest.mark.parametrize("op", sorted(LOADS))
def test_every_load_edge(inst, op):
    w = LOADS[op]
    inst(op, PAGE - w)  # the last in-bounds address
    for addr in (PAGE - w + 1, PAGE, PAGE + w, -1, -w):  # -1 is 0xFFFFFFFF
        with pytest.raises(Trap) as ei:
            inst(op, addr)
        assert str(ei.value).startswith("out of bounds memory access")


@pytest.mark.parametrize("op", sorted(STORES))
def test_every_store_edge_writes_nothing_when_it_traps(inst, op):
    w = STORES[op]
    value = 1.0 if op.startswith("f") else 0x7F
    inst(op, PAGE - w, value)
    before = inst.mem.read(inst.store, PAGE - 16, PAGE)
    for addr in (PAGE - w + 1, PAGE, -1):
        with pytest.raises(Trap):
            inst(op, addr, value)
    assert inst.mem.read(inst.store, PAGE - 16, PAGE) == before


def test_offset_overflow_never_wraps(inst):
    inst("i32.store", 0, 0x11223344)
    for addr in (1, 0, PAGE - 4, -1):
        with pytest.raises(Trap):  # address + offset >= 2**32: never wrapped back to 0
            inst("load_off_max", addr)
        with pytest.raises(Trap):
            inst("load8_off_max", addr)
        with pytest.raises(Trap):
            inst("store_off_max", addr)
    assert inst("i32.load", 0) == 0x11223344


def test_grow_to_the_maximum_and_one_past(inst):
    assert inst("grow", 0) == 1
    assert inst("grow", 3) == 1
    assert inst("size") == 4
    assert inst("grow", 1) == -1
    assert inst("grow", -1) == -1  # 0xFFFFFFFF pages
    assert inst("size") == 4
    last = 4 * PAGE - 1
    assert inst("i32.load8_u", last) == 0
    inst("i32.store8", last, 0xEE)
    assert inst("i32.load8_u", last) == 0xEE
    with pytest.raises(Trap):
        inst("i32.load8_u", last + 1)
    assert [inst("i32.load8_u", a) for a in range(4)] == [1, 2, 3, 4]


def test_new_pages_read_as_zero_after_each_grow(inst):
    for n in range(1, 4):
        inst("i32.store", n * PAGE - 4, -1)  # the last word before the new page
        assert inst("grow", 1) == n
        assert inst.mem.read(inst.store, n * PAGE, (n + 1) * PAGE) == bytes(PAGE)
        assert inst("i32.load", n * PAGE - 4) == -1


def test_memory_copy_is_memmove(inst):
    inst.mem.write(inst.store, bytes(range(16)), 1000)
    inst("copy", 1002, 1000, 8)  # forwards over itself
    assert inst.mem.read(inst.store, 1000, 1012) == bytes([0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 10, 11])
    inst.mem.write(inst.store, bytes(range(16)), 2000)
    inst("copy", 2000, 2002, 8)  # backwards over itself
    assert inst.mem.read(inst.store, 2000, 2010) == bytes([2, 3, 4, 5, 6, 7, 8, 9, 8, 9])
    inst("copy", PAGE, 0, 0)  # empty copy at the end: fine
    with pytest.raises(Trap):
        inst("copy", PAGE - 2, 0, 4)
    with pytest.raises(Trap):
        inst("copy", 0, PAGE - 2, 4)


def test_memory_fill_traps_without_partial_write(inst):
    inst("fill", 10, 0x1AB, 5)
    assert inst.mem.read(inst.store, 10, 15) == b"\xab" * 5
    with pytest.raises(Trap):
        inst("fill", PAGE - 3, 7, 10)
    assert inst.mem.read(inst.store, PAGE - 3, PAGE) == bytes(3)
    inst("fill", PAGE, 7, 0)


def test_memory_init_bounds(inst):
    inst("init", 500, 2, 4)
    assert inst.mem.read(inst.store, 500, 504) == b"cdef"
    inst("init", PAGE - 8, 0, 8)
    assert inst.mem.read(inst.store, PAGE - 8, PAGE) == b"abcdefgh"
    with pytest.raises(Trap):
        inst("init", PAGE - 7, 0, 8)  # destination past the end
    with pytest.raises(Trap):
        inst("init", 0, 4, 5)  # source past the segment
    assert inst.mem.read(inst.store, 0, 4) == b"\x01\x02\x03\x04"


@pytest.mark.parametrize("kind", STRATEGIES)
def test_data_segments_must_fit_at_instantiation(kind):
    engine = Engine(config_for(kind))
    fits = '(module (memory 1) (data (i32.const 65532) "abcd") (data (i32.const 65536) ""))'
    store = Store(engine)
    Instance(store, Module(engine, wasm(fits)), [])
    for wat in ('(module (memory 1) (data (i32.const 65533) "abcd"))',
                '(module (memory 1) (data (i32.const 65537) ""))',
                '(module (memory 0) (data (i32.const 0) "a"))',
                '(module (memory 1) (data (i32.const -1) "a"))'):
        with pytest.raises(Trap) as ei:
            Instance(store, Module(engine, wasm(wat)), [])
        assert str(ei.value) == "out of bounds memory access"
    store.close()


# ---------------------------------------------------------------- growth is seen everywhere

GROW_IN_HOST_WAT = """
(module
  (import "env" "grow" (func $grow (param i32) (result i32)))
  (memory (export "mem") 1)
  (func (export "grow_then_store") (param i32) (result i32)
    (drop (call $grow (i32.const 2)))
    ;; the store goes to a page that did not exist when the function began
    (i32.store (i32.add (i32.const 131072) (local.get 0)) (i32.const 0x5A5A5A5A))
    (i32.load (i32.add (i32.const 131072) (local.get 0))))
)
"""


@pytest.mark.parametrize("kind", STRATEGIES)
def test_a_grow_inside_a_host_call_is_seen_by_the_caller(kind):
    engine = Engine(config_for(kind))
    store = Store(engine)
    linker = Linker(engine)

    def grow(caller, n):
        return caller["mem"].grow(caller, n)

    linker.define_func("env", "grow", FuncType([I32], [I32]), grow, access_caller=True)
    inst = linker.instantiate(store, Module(engine, wasm(GROW_IN_HOST_WAT)))
    assert inst.exports(store)["grow_then_store"](store, 8) == 0x5A5A5A5A
    assert inst.exports(store)["mem"].size(store) == 3
    store.close()


GROW_IN_GUEST_WAT = """
(module
  (memory (export "mem") 1)
  (func (export "grow_and_touch") (param $n i32) (result i32) (local $i i32) (local $sum i32)
    ;; grow one page at a time; after each grow, write and read the new page's last word
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (drop (memory.grow (i32.const 1)))
      (i32.store (i32.sub (i32.shl (memory.size) (i32.const 16)) (i32.const 4)) (local.get $i))
      (local.set $sum (i32.add (local.get $sum)
        (i32.load (i32.sub (i32.shl (memory.size) (i32.const 16)) (i32.const 4)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $sum)))
"""


@pytest.mark.parametrize("kind", STRATEGIES)
def test_a_grow_inside_a_function_is_seen_by_the_rest_of_it(kind):
    t = Inst(kind, GROW_IN_GUEST_WAT)
    assert t("grow_and_touch", 10) == sum(range(10))
    assert t.mem.size(t.store) == 11
    assert t.mem.read_u32(t.store, 11 * PAGE - 4) == 9
    t.store.close()


SHARED_WAT_A = """
(module
  (memory (export "mem") 1 8)
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "size") (result i32) memory.size))
"""
SHARED_WAT_B = """
(module
  (import "a" "mem" (memory 1 8))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store8 (local.get 0) (local.get 1))))
"""


@pytest.mark.parametrize("kind", STRATEGIES)
def test_instances_sharing_a_memory_see_each_others_growth(kind):
    engine = Engine(config_for(kind))
    store = Store(engine)
    a = Instance(store, Module(engine, wasm(SHARED_WAT_A)), [])
    mem = a.exports(store)["mem"]
    b = Instance(store, Module(engine, wasm(SHARED_WAT_B)), [mem])
    for n in range(1, 6):
        assert b.exports(store)["grow"](store, 1) == n
        b.exports(store)["store"](store, (n + 1) * PAGE - 1, n)
        assert a.exports(store)["size"](store) == n + 1
        assert a.exports(store)["load"](store, (n + 1) * PAGE - 1) == n
    store.close()


def test_generated_code_reads_memory_names_from_globals_only():
    """No compiled function keeps ``M<i>`` in a local: the name is only read
    from the instance's globals (so rebinding it after a grow is seen)."""
    import dis

    engine = Engine()
    store = Store(engine)
    inst = Instance(store, Module(engine, wasm(ACCESS_WAT)), [])
    ex = inst.exports(store)
    names = ("i32.load", "i64.store", "fill", "copy", "init", "grow", "size")
    for name in names:
        ex[name](store, *([0] * len(ex[name].type(store).params)))
    compiled = [ex[name].call for name in names]  # compiled and bound by the first call
    assert all(fn.__code__.co_filename.startswith("<wasm function") for fn in compiled)
    uses = 0
    for fn in compiled:
        for ins in dis.get_instructions(fn):
            if ins.argval == "M0":
                assert ins.opname == "LOAD_GLOBAL", (fn, ins)
                uses += 1
        assert "M0" not in fn.__code__.co_varnames
    assert uses >= 6  # every function but grow reads the memory
    store.close()


# ---------------------------------------------------------------- the host API

def test_read_write_size_type(inst):
    mem, store = inst.mem, inst.store
    assert mem.size(store) == 1 and mem.data_len(store) == PAGE and mem.page_size(store) == PAGE
    assert mem.type(store).limits == Limits(1, 4)
    assert mem.write(store, b"xyz", 10) == 3
    assert mem.read(store, 10, 13) == bytearray(b"xyz")
    assert mem.read(store, -3) == bytearray(3)
    with pytest.raises(IndexError):
        mem.write(store, b"ab", PAGE - 1)
    assert mem.grow(store, 1) == 1
    assert mem.type(store).limits == Limits(2, 4)
    with pytest.raises(WasmboxError):
        mem.grow(store, 3)
    with pytest.raises(TypeError):
        mem.grow(store, -1)


@pytest.mark.parametrize("kind,fmt", [("u8", "<B"), ("i8", "<b"), ("u16", "<H"), ("i16", "<h"),
                                      ("u32", "<I"), ("i32", "<i"), ("u64", "<Q"),
                                      ("i64", "<q"), ("f32", "<f"), ("f64", "<d")])
def test_typed_accessors(kind, fmt):
    store = Store(Engine())
    mem = _mem(store, 1, 2)
    size = struct.calcsize(fmt)
    read = getattr(mem, f"read_{kind}")
    write = getattr(mem, f"write_{kind}")
    bits = size * 8
    values = [0.5, -2.25, float("inf")] if kind[0] == "f" else \
        [0, 1, (1 << (bits - 1)) - 1, -(1 << (bits - 1)), (1 << bits) - 1]
    for addr in (0, 3, PAGE - size):
        for v in values:
            write(store, addr, v)
            raw = mem.read(store, addr, addr + size)
            expect = v if kind[0] == "f" else \
                (v % (1 << bits) if kind[0] == "u" else struct.unpack(fmt, raw)[0])
            assert raw == struct.pack(fmt, expect if kind[0] != "i" else expect)
            assert read(store, addr) == expect
    for addr in (PAGE - size + 1, PAGE, -1, 1 << 40):
        with pytest.raises(Trap) as ei:
            read(store, addr)
        assert str(ei.value).startswith("out of bounds memory access")
        with pytest.raises(Trap):
            write(store, addr, 0)
    with pytest.raises(TypeError):
        read(store, 1.0)
    if kind[0] != "f":
        with pytest.raises(ValueError):
            write(store, 0, 1 << bits)
        with pytest.raises(ValueError):
            write(store, 0, -(1 << (bits - 1)) - 1)
        with pytest.raises(TypeError):
            write(store, 0, 1.0)


def test_f32_writes_round_to_single_precision():
    store = Store(Engine())
    mem = _mem(store, 1, 1)
    mem.write_f32(store, 0, 0.1)
    assert mem.read_f32(store, 0) == struct.unpack("<f", struct.pack("<f", 0.1))[0]
    mem.write_f32(store, 0, 1e300)  # rounds to infinity, as f32.demote would
    assert mem.read_f32(store, 0) == float("inf")
    mem.write_f32(store, 0, -1e300)
    assert mem.read_f32(store, 0) == float("-inf")


def test_a_host_trap_from_an_accessor_is_a_guest_trap():
    """A host function reading guest memory at a bad pointer traps the guest."""
    engine = Engine()
    store = Store(engine)
    linker = Linker(engine)
    linker.define_func("env", "peek", FuncType([I32], [I32]),
                       lambda caller, p: caller["mem"].read_u32(caller, p), access_caller=True)
    wat = """(module (import "env" "peek" (func $p (param i32) (result i32)))
               (memory (export "mem") 1)
               (func (export "run") (param i32) (result i32) (call $p (local.get 0))))"""
    run = linker.instantiate(store, Module(engine, wasm(wat))).exports(store)["run"]
    assert run(store, 0) == 0
    with pytest.raises(Trap) as ei:
        run(store, PAGE - 2)
    assert str(ei.value).startswith("out of bounds memory access")


def test_buffer_is_zero_copy_both_ways(inst):
    buf = inst.mem.buffer(inst.store)
    assert isinstance(buf, memoryview) and buf.format == "B" and not buf.readonly
    assert len(buf) == PAGE and bytes(buf[:4]) == b"\x01\x02\x03\x04"
    buf[100:104] = b"\x78\x56\x34\x12"
    assert inst("i32.load", 100) == 0x12345678
    inst("i32.store", 200, -1)
    assert bytes(buf[200:204]) == b"\xff\xff\xff\xff"
    assert struct.unpack_from("<I", buf, 100)[0] == 0x12345678


def test_buffer_works_with_numpy_frombuffer_or_any_buffer_consumer(inst):
    buf = inst.mem.buffer(inst.store)
    try:
        import numpy
    except ImportError:  # numpy is not a test dependency: the same protocol, by hand
        words = memoryview(buf).cast("I")
        words[10] = 0xCAFEBABE
        assert inst("i32.load", 40) == -889275714
        assert words[0] == 0x04030201
    else:
        arr = numpy.frombuffer(buf, dtype=numpy.uint32)
        arr[10] = 0xCAFEBABE
        assert inst("i32.load", 40) == -889275714
        assert int(arr[0]) == 0x04030201
        del arr


def test_buffer_covers_the_size_when_taken_and_stays_valid_across_a_reserved_grow():
    store = Store(Engine())
    mem = _mem(store, 1, 4)
    old = mem.buffer(store)
    assert mem.grow(store, 2) == 1
    assert len(old) == PAGE  # still valid: the reserved heap did not move
    old[0] = 9
    assert mem.read_u8(store, 0) == 9
    assert len(mem.buffer(store)) == 3 * PAGE


def test_buffer_is_released_when_the_memory_moves():
    store = Store(Engine(Config(memory_reservation=0, memory_reservation_for_growth=0)))
    mem = _mem(store, 1, 4)
    buf = mem.buffer(store)
    internal = mem.buf
    buf[0] = 42
    assert mem.grow(store, 1) == 1 and mem._heap.moves == 1
    for view in (buf, internal):
        with pytest.raises(ValueError):
            view[0]
    assert mem.read_u8(store, 0) == 42
    assert mem.buffer(store)[0] == 42


def test_closing_a_store_releases_buffers_and_empties_memories(inst):
    buf = inst.mem.buffer(inst.store)
    func = inst.ex["i32.load"]
    g = inst.instance._g
    inst.store.close()
    with pytest.raises(ValueError):
        buf[0]
    assert inst.mem.size(inst.store) == 0 and inst.mem.data_len(inst.store) == 0
    assert "M0" not in g  # the instance's code is unbound: it reaches no bytes
    assert inst.mem.grow_raw(1) == 0xFFFFFFFF
    with pytest.raises(WasmboxError, match="closed"):
        func(inst.store, 0)
    with pytest.raises(WasmboxError, match="closed"):
        Instance(inst.store, inst.instance._module, [])
    with pytest.raises(WasmboxError, match="closed"):
        _mem(inst.store, 1, 1)
    inst.store.close()  # again: nothing happens
    assert inst.store.closed


CLOSE_MID_CALL_WAT = r"""
(module
  (import "env" "close" (func $close))
  (memory 1)
  (func (export "run") (result i32)
    (i32.store (i32.const 0) (i32.const 7))
    (call $close)
    (i32.load (i32.const 0))))
"""


@pytest.mark.parametrize("kind", STRATEGIES)
def test_a_host_function_closing_the_store_ends_the_call_clearly(kind):
    """The code is unbound under a running call: it ends with WasmboxError, no crash."""
    store = Store(Engine(config_for(kind)))
    close = Func(store, FuncType([], []), store.close)
    inst = Instance(store, Module(store.engine, CLOSE_MID_CALL_WAT), [close])
    run = inst.exports(store)["run"]
    with pytest.raises(WasmboxError, match="closed during the call"):
        run(store)
    with pytest.raises(WasmboxError, match="closed"):
        run(store)


def test_a_store_is_a_context_manager():
    engine = Engine()
    with Store(engine) as store:
        mem = _mem(store, 1, 1)
        assert mem.size(store) == 1
    assert store.closed and mem.size(store) == 0


def test_memories_of_a_dropped_store_are_freed():
    import weakref

    engine = Engine()
    store = Store(engine)
    inst = Instance(store, Module(engine, wasm(ACCESS_WAT)), [])
    heap = weakref.ref(inst.exports(store)["mem"]._heap)
    del inst, store
    gc.collect()
    assert heap() is None


# ---------------------------------------------------------------- store limits

def test_set_limits_defaults_and_replacement():
    store = Store(Engine())
    assert isinstance(store.limits, StoreLimits) and store.limits.memory_size is None
    store.set_limits(memory_size=PAGE, instances=3)
    assert store.limits.memory_size == PAGE and store.limits.instances == 3
    store.set_limits(tables=1)  # each call replaces all five
    assert store.limits.memory_size is None and store.limits.tables == 1
    store.set_limits(memory_size=-1)  # negative: no limit, as in wasmtime-py
    assert store.limits.memory_size is None
    with pytest.raises(TypeError):
        store.set_limits(memory_size="big")


@pytest.mark.parametrize("kind", STRATEGIES)
def test_memory_size_limit(kind):
    engine = Engine(config_for(kind))
    store = Store(engine)
    store.set_limits(memory_size=2 * PAGE)
    with pytest.raises(InstantiationError, match="memory_size"):
        Instance(store, Module(engine, wasm("(module (memory 3))")), [])
    inst = Instance(store, Module(engine, wasm(ACCESS_WAT)), [])
    ex = inst.exports(store)
    assert ex["grow"](store, 1) == 1
    assert ex["grow"](store, 1) == -1  # past the limit, under the maximum
    assert ex["size"](store) == 2
    with pytest.raises(WasmboxError):
        ex["mem"].grow(store, 1)
    with pytest.raises(InstantiationError, match="memory_size"):
        _mem(store, 3, None)
    store.close()


def test_table_elements_limit():
    engine = Engine()
    store = Store(engine)
    store.set_limits(table_elements=10)
    with pytest.raises(InstantiationError, match="table_elements"):
        Instance(store, Module(engine, wasm("(module (table 11 funcref))")), [])
    wat = """(module (table (export "t") 8 funcref)
               (func (export "grow") (param i32) (result i32)
                 (table.grow (ref.null func) (local.get 0))))"""
    inst = Instance(store, Module(engine, wasm(wat)), [])
    grow = inst.exports(store)["grow"]
    assert grow(store, 2) == 8
    assert grow(store, 1) == -1
    with pytest.raises(WasmboxError):
        inst.exports(store)["t"].grow(store, 1, None)
    with pytest.raises(InstantiationError, match="table_elements"):
        Table(store, TableType(ValType.funcref(), Limits(11, None)), None)


def test_instance_memory_and_table_count_limits():
    engine = Engine()
    store = Store(engine)
    store.set_limits(instances=2, memories=1, tables=1)
    Instance(store, Module(engine, wasm("(module)")), [])
    Instance(store, Module(engine, wasm("(module (memory 1) (table 1 funcref))")), [])
    with pytest.raises(InstantiationError, match="instances"):
        Instance(store, Module(engine, wasm("(module)")), [])
    store2 = Store(engine)
    store2.set_limits(memories=1, tables=1)
    _mem(store2, 1, 1)
    with pytest.raises(InstantiationError, match="memories"):
        Instance(store2, Module(engine, wasm("(module (memory 1))")), [])
    with pytest.raises(InstantiationError, match="memories"):
        _mem(store2, 1, 1)
    Table(store2, TableType(ValType.funcref(), Limits(1, None)), None)
    with pytest.raises(InstantiationError, match="tables"):
        Instance(store2, Module(engine, wasm("(module (table 1 funcref))")), [])


def test_a_refused_instantiation_allocates_nothing():
    engine = Engine(config_for("pooled"))
    store = Store(engine)
    store.set_limits(memory_size=PAGE)
    with pytest.raises(InstantiationError):
        Instance(store, Module(engine, wasm("(module (memory 1) (memory 2))")), [])
    m = engine.pooling_allocator_metrics()
    assert (m.core_instances, m.memories, m.tables) == (0, 0, 0)
    assert store._state._n_instances == store._state._n_memories == 0


# ---------------------------------------------------------------- config

def test_config_memory_options():
    c = Config()
    assert c.allocation_strategy == "on-demand"
    assert c.memory_reservation == 1 << 32
    assert c.memory_reservation_for_growth == 2 << 30
    assert c.memory_may_move is True
    c = Config(memory_reservation=PAGE, memory_may_move=False, allocation_strategy="pooling")
    assert isinstance(c.allocation_strategy, PoolingAllocationConfig)
    with pytest.raises(ValueError):
        Config(allocation_strategy="lazy")
    with pytest.raises(TypeError):
        Config(memory_may_move=1)
    with pytest.raises(ValueError):
        Config(memory_reservation=-1)
    with pytest.raises(AttributeError):
        Config(memory_guard=1)
    assert Engine(Config()).pooling_allocator_metrics() is None
    assert Engine(Config()).allocation_strategy == "on-demand"


def test_pooling_config_defaults_and_checks():
    p = PoolingAllocationConfig()
    assert (p.total_core_instances, p.total_memories, p.total_tables) == (1000, 1000, 1000)
    assert p.max_memory_size == 1 << 32
    assert (p.max_memories_per_module, p.max_tables_per_module) == (1, 1)
    assert p.table_elements == 20_000 and p.max_unused_warm_slots == 100
    p = PoolingAllocationConfig(total_memories=3, max_memory_size=PAGE)
    assert p.total_memories == 3 and p.max_memory_size == PAGE
    with pytest.raises(TypeError):
        PoolingAllocationConfig(total_memories="3")
    with pytest.raises(ValueError):
        PoolingAllocationConfig(table_elements=-1)
    with pytest.raises(AttributeError):
        PoolingAllocationConfig(slots=3)
    assert Engine(Config(allocation_strategy=p)).allocation_strategy == "pooling"
