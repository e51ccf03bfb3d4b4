"""The freeing-bump host allocator (wasmbox.host.alloc).

The first group carries the intent of Substrate's allocator tests, in our
own words; then growth, hostile-guest cases, linking into guests and the
data helpers. Property and fuzz tests are in test_alloc_props.py.
"""
from __future__ import annotations

import pytest
import wasmtime

from wasmbox.errors import WasmboxError
from wasmbox.host.alloc import (
    HEADER_SIZE,
    MAX_ALLOCATION,
    N_ORDERS,
    NIL,
    AllocationStats,
    AllocatorError,
    AllocatorOutOfSpace,
    AllocatorPoisoned,
    AllocatorRegistry,
    FreeingBumpAllocator,
    GuestMemoryError,
    HeapCorrupted,
    InvalidPointer,
    RequestedAllocationTooLarge,
    decode_header,
    define_allocator,
    encode_header,
    order_for_size,
    order_size,
    read_bytes,
    read_str,
)
from wasmbox.runtime import Config, Engine, Limits, Linker, Memory, MemoryType, Module, Store

PAGE = 65536


def make(min_pages: int = 1, max_pages: int | None = None, config: Config | None = None):
    store = Store(Engine(config) if config is not None else Engine())
    return store, Memory(store, MemoryType(Limits(min_pages, max_pages)))


def header(store, mem, ptr: int) -> int:
    """The raw header value in front of the block at ptr."""
    return int.from_bytes(mem.read(store, ptr - 8, ptr), "little")


def set_header(store, mem, hdr_addr: int, value: int) -> None:
    mem.write(store, value.to_bytes(8, "little"), hdr_addr)


# ---------------------------------------------------------------- Substrate's intents
def test_first_pointer_is_right_after_the_header():
    store, mem = make()
    a = FreeingBumpAllocator(0)
    assert a.allocate(store, mem, 1) == HEADER_SIZE


def test_pointers_are_aligned_from_an_unaligned_base():
    store, mem = make()
    a = FreeingBumpAllocator(13)
    assert a.heap_base == 16
    ptr = a.allocate(store, mem, 1)
    assert ptr == 24
    for size in (3, 17, 100, 1000, 5):
        assert a.allocate(store, mem, size) % 8 == 0


def test_pointers_advance_by_header_plus_rounded_size():
    store, mem = make()
    a = FreeingBumpAllocator(0)
    p1 = a.allocate(store, mem, 1)     # order 0: 8 bytes
    p2 = a.allocate(store, mem, 9)     # order 1: 16 bytes
    p3 = a.allocate(store, mem, 1)
    p4 = a.allocate(store, mem, 1000)  # order 7: 1024 bytes
    p5 = a.allocate(store, mem, 0)
    assert p1 == 8
    assert p2 == p1 + 8 + 8
    assert p3 == p2 + 16 + 8
    assert p4 == p3 + 8 + 8
    assert p5 == p4 + 1024 + 8


def test_a_freed_block_heads_its_orders_list():
    store, mem = make()
    a = FreeingBumpAllocator(0)
    a.allocate(store, mem, 1)
    p2 = a.allocate(store, mem, 9)
    a.deallocate(store, mem, p2)
    assert a.free_list_head(order_for_size(9)) == p2 - HEADER_SIZE
    assert header(store, mem, p2) == NIL  # free, end of the list
    for order in range(N_ORDERS):
        if order != order_for_size(9):
            assert a.free_list_head(order) is None


def test_free_then_allocate_reuses_the_block():
    store, mem = make()
    a = FreeingBumpAllocator(13)
    a.allocate(store, mem, 1)
    p2 = a.allocate(store, mem, 9)
    a.allocate(store, mem, 1)
    a.deallocate(store, mem, p2)
    bumper = a.bumper
    assert a.allocate(store, mem, 16) == p2  # same order (16 bytes)
    assert a.bumper == bumper
    assert a.free_list_head(1) is None


def test_free_lists_are_lifo_chains():
    store, mem = make()
    a = FreeingBumpAllocator(0)
    ptrs = [a.allocate(store, mem, 8) for _ in range(3)]
    for p in ptrs:
        a.deallocate(store, mem, p)
    p1, p2, p3 = ptrs
    assert a.free_list_head(0) == p3 - 8
    assert header(store, mem, p3) == p2 - 8
    assert header(store, mem, p2) == p1 - 8
    assert header(store, mem, p1) == NIL
    # allocation pops the chain in reverse order of freeing
    assert [a.allocate(store, mem, 8) for _ in range(3)] == [p3, p2, p1]
    assert a.free_list_head(0) is None


def test_repeated_free_and_allocate_keeps_the_chain_intact():
    store, mem = make()
    a = FreeingBumpAllocator(0)
    for _ in range(50):
        p = a.allocate(store, mem, 24)
        a.deallocate(store, mem, p)
        assert a.allocate(store, mem, 24) == p
        a.deallocate(store, mem, p)
    assert a.stats.address_space_used == 8 + 32


def test_too_large_requests_fail_and_poison():
    store, mem = make(1, None)
    a = FreeingBumpAllocator(13)
    with pytest.raises(RequestedAllocationTooLarge):
        a.allocate(store, mem, MAX_ALLOCATION + 1)
    assert a.poisoned
    with pytest.raises(AllocatorPoisoned):
        a.allocate(store, mem, 1)
    assert mem.size(store) == 1  # nothing grew


def test_negative_size_is_refused():
    store, mem = make()
    a = FreeingBumpAllocator(0)
    with pytest.raises(RequestedAllocationTooLarge):
        a.allocate(store, mem, -1)


def test_out_of_space_on_a_memory_that_cannot_grow():
    store, mem = make(1, 1)
    a = FreeingBumpAllocator(0)
    a.allocate(store, mem, PAGE // 2 - 8)  # 32 KiB block + header
    with pytest.raises(AllocatorOutOfSpace):
        a.allocate(store, mem, PAGE // 2)  # would need 32 KiB + 8 more
    assert mem.size(store) == 1
    assert a.poisoned


def test_exact_fit_uses_the_last_byte():
    store, mem = make(1, 1)
    a = FreeingBumpAllocator(PAGE - 8 - 1024)
    p = a.allocate(store, mem, 1024)
    assert p + 1024 == PAGE
    assert a.bumper == PAGE


def test_the_maximum_allocation_succeeds_on_a_big_enough_memory():
    store, mem = make(1, 1024)
    a = FreeingBumpAllocator(0)
    p = a.allocate(store, mem, MAX_ALLOCATION)
    assert p == HEADER_SIZE
    assert mem.data_len(store) >= p + MAX_ALLOCATION
    assert decode_header(mem.read(store, 0, 8)) == (True, N_ORDERS - 1)


def test_orders_and_sizes():
    assert N_ORDERS == 23
    assert MAX_ALLOCATION == 32 * 1024 * 1024
    assert order_size(0) == 8 and order_size(N_ORDERS - 1) == MAX_ALLOCATION
    assert [order_for_size(s) for s in (0, 1, 8, 9, 16, 17, 1024, 1025)] == [0, 0, 0, 1, 1, 2, 7, 8]
    assert order_for_size(MAX_ALLOCATION) == N_ORDERS - 1
    for order in range(N_ORDERS):
        assert order_for_size(order_size(order)) == order


def test_header_round_trip():
    for order in range(N_ORDERS):
        raw = encode_header(True, order)
        assert int.from_bytes(raw, "little") == (1 << 32) | order
        assert decode_header(raw) == (True, order)
    for link in (0, 8, 0x1234_5678, NIL):
        raw = encode_header(False, link)
        assert int.from_bytes(raw, "little") == link
        assert decode_header(raw) == (False, link)
    for bad in ((1 << 32) | N_ORDERS, (2 << 32), (3 << 32) | 1, 1 << 63):
        with pytest.raises(HeapCorrupted):
            decode_header(bad.to_bytes(8, "little"))
    with pytest.raises(HeapCorrupted):
        decode_header(b"\0" * 7)


def test_headers_in_memory_match_the_format():
    store, mem = make()
    a = FreeingBumpAllocator(0)
    p = a.allocate(store, mem, 100)
    assert decode_header(mem.read(store, p - 8, p)) == (True, order_for_size(100))
    a.deallocate(store, mem, p)
    assert decode_header(mem.read(store, p - 8, p)) == (False, NIL)


def test_stats_include_headers_and_return_to_zero():
    store, mem = make()
    a = FreeingBumpAllocator(0)
    p = a.allocate(store, mem, 9)
    assert a.stats == AllocationStats(bytes_allocated=8 + 16, bytes_allocated_peak=24,
                                      bytes_allocated_sum=24, address_space_used=24)
    a.deallocate(store, mem, p)
    assert a.stats.bytes_allocated == 0
    ptrs = [a.allocate(store, mem, 42) for _ in range(10)]  # order 3: 64 bytes
    assert a.stats.bytes_allocated == 10 * 72
    for q in ptrs:
        a.deallocate(store, mem, q)
    st = a.stats
    assert st.bytes_allocated == 0
    assert st.bytes_allocated_peak == 10 * 72
    assert st.bytes_allocated_sum == 24 + 10 * 72
    assert st.address_space_used == 24 + 10 * 72


def test_stats_are_a_snapshot():
    store, mem = make()
    a = FreeingBumpAllocator(0)
    snap = a.stats
    a.allocate(store, mem, 1)
    assert snap.bytes_allocated == 0
    snap.bytes_allocated = 999
    assert a.stats.bytes_allocated == 16


def test_out_of_memory_poisons_every_later_call():
    store, mem = make(1, 1)
    a = FreeingBumpAllocator(0)
    p = a.allocate(store, mem, 16)
    with pytest.raises(AllocatorOutOfSpace):
        a.allocate(store, mem, PAGE)
    assert a.poisoned
    with pytest.raises(AllocatorPoisoned):
        a.allocate(store, mem, 8)
    with pytest.raises(AllocatorPoisoned):
        a.deallocate(store, mem, p)
    assert issubclass(AllocatorPoisoned, AllocatorError)
    assert issubclass(AllocatorError, WasmboxError)


def test_type_errors_do_not_poison():
    store, mem = make()
    a = FreeingBumpAllocator(0)
    with pytest.raises(TypeError):
        a.allocate(store, mem, 1.5)
    with pytest.raises(TypeError):
        a.deallocate(store, mem, "8")
    assert not a.poisoned
    with pytest.raises(TypeError):
        FreeingBumpAllocator(None)
    with pytest.raises(AllocatorError):
        FreeingBumpAllocator(-8)
    with pytest.raises(AllocatorError):
        FreeingBumpAllocator(1 << 32)


# ---------------------------------------------------------------- growth
def test_growth_doubles_until_the_maximum_then_fails_cleanly():
    store, mem = make(1, 16)
    a = FreeingBumpAllocator(0)
    sizes = []
    ptrs = []
    while True:
        try:
            ptrs.append(a.allocate(store, mem, 16 * 1024))  # 16 KiB + 8 per block
        except AllocatorOutOfSpace:
            break
        if not sizes or sizes[-1] != mem.size(store):
            sizes.append(mem.size(store))
    assert sizes == [1, 2, 4, 8, 16]
    assert mem.size(store) == 16
    assert len(ptrs) == (16 * PAGE) // (16 * 1024 + 8)
    assert all(p + 16 * 1024 <= 16 * PAGE for p in ptrs)
    assert a.poisoned
    with pytest.raises(AllocatorPoisoned):
        a.allocate(store, mem, 8)
    assert mem.size(store) == 16


def test_growth_takes_what_is_needed_when_that_is_more_than_double():
    store, mem = make(1, 100)
    a = FreeingBumpAllocator(0)
    a.allocate(store, mem, 4 * PAGE)  # needs 5 pages: more than double of 1
    assert mem.size(store) == 5
    a.allocate(store, mem, 8)  # still fits
    assert mem.size(store) == 5
    a.allocate(store, mem, PAGE)  # 6 pages needed: doubles to 10
    assert mem.size(store) == 10


def test_growth_is_capped_at_the_maximum_not_refused():
    store, mem = make(3, 5)
    a = FreeingBumpAllocator(0)
    a.allocate(store, mem, 3 * PAGE)  # needs 4 pages; double would be 6 > max 5
    assert mem.size(store) == 5


def test_growth_respects_the_stores_limit():
    cfg = Config()
    cfg.max_memory_pages = 8
    store, mem = make(1, None, cfg)
    a = FreeingBumpAllocator(0)
    for _ in range(7):
        a.allocate(store, mem, PAGE - 8)
    assert mem.size(store) == 8
    with pytest.raises(AllocatorOutOfSpace):
        a.allocate(store, mem, PAGE - 8)
    assert mem.size(store) == 8


def test_a_heap_base_past_the_end_of_memory_grows_the_memory():
    store, mem = make(1, 10)
    a = FreeingBumpAllocator(3 * PAGE + 4)
    p = a.allocate(store, mem, 8)
    assert p == 3 * PAGE + 16
    assert mem.size(store) == 4


def test_memory_grown_by_someone_else_is_fine():
    store, mem = make(1, 10)
    a = FreeingBumpAllocator(0)
    p = a.allocate(store, mem, 8)
    mem.grow(store, 3)
    q = a.allocate(store, mem, 8)
    a.deallocate(store, mem, p)
    a.deallocate(store, mem, q)
    assert a.stats.bytes_allocated == 0


class ShrinkingMemory:
    """A stand-in memory whose size can go down (real Wasm memories cannot)."""

    def __init__(self, size: int) -> None:
        self.buf = bytearray(size)

    def size(self, store=None):
        return len(self.buf) // PAGE

    def data_len(self, store=None):
        return len(self.buf)

    def read(self, store, start, stop):
        return bytearray(self.buf[start:stop])

    def write(self, store, data, start):
        if start + len(data) > len(self.buf):
            raise IndexError("index out of range")
        self.buf[start:start + len(data)] = data
        return len(data)


def test_a_memory_that_shrinks_is_refused():
    mem = ShrinkingMemory(2 * PAGE)
    a = FreeingBumpAllocator(0)
    a.allocate(None, mem, 8)
    del mem.buf[PAGE:]
    with pytest.raises(HeapCorrupted):
        a.allocate(None, mem, 8)
    assert a.poisoned


def test_the_allocator_is_bound_to_one_memory():
    store, mem = make()
    other = Memory(store, MemoryType(Limits(1, None)))
    a = FreeingBumpAllocator(0)
    a.allocate(store, mem, 8)
    with pytest.raises(HeapCorrupted):
        a.allocate(store, other, 8)
    assert a.poisoned


# ---------------------------------------------------------------- bad pointers
@pytest.mark.parametrize("make_ptr", [
    lambda ps: 0,                    # before the heap
    lambda ps: ps[0] + 4,            # unaligned
    lambda ps: ps[1] + 8,            # inside a block
    lambda ps: ps[-1] + 4096,        # past the bump pointer
    lambda ps: (1 << 40),            # nowhere near
    lambda ps: -8,
])
def test_freeing_something_that_is_not_a_block_is_an_invalid_pointer(make_ptr):
    store, mem = make()
    a = FreeingBumpAllocator(64)
    ps = [a.allocate(store, mem, 100) for _ in range(3)]
    with pytest.raises(InvalidPointer):
        a.deallocate(store, mem, make_ptr(ps))
    assert a.poisoned


def test_double_free_is_an_invalid_pointer():
    store, mem = make()
    a = FreeingBumpAllocator(0)
    p = a.allocate(store, mem, 10)
    a.deallocate(store, mem, p)
    with pytest.raises(InvalidPointer):
        a.deallocate(store, mem, p)
    assert a.poisoned


# ---------------------------------------------------------------- hostile guests
def test_an_overwritten_occupied_header_is_caught_on_free():
    store, mem = make()
    a = FreeingBumpAllocator(0)
    p = a.allocate(store, mem, 10)
    set_header(store, mem, p - 8, (1 << 32) | 5)  # claims a bigger order
    with pytest.raises(HeapCorrupted):
        a.deallocate(store, mem, p)
    assert a.poisoned


def test_an_occupied_header_turned_free_is_caught_on_free():
    store, mem = make()
    a = FreeingBumpAllocator(0)
    p = a.allocate(store, mem, 10)
    set_header(store, mem, p - 8, NIL)
    with pytest.raises(HeapCorrupted):
        a.deallocate(store, mem, p)


def _two_free_blocks(order_bytes: int = 16):
    """A heap whose 16-byte free list is p2 -> p1 -> nil, with a live 16-byte
    block ``live`` and a free 64-byte block ``other`` (another order)."""
    store, mem = make()
    a = FreeingBumpAllocator(0)
    p1 = a.allocate(store, mem, order_bytes)
    p2 = a.allocate(store, mem, order_bytes)
    live = a.allocate(store, mem, order_bytes)
    other = a.allocate(store, mem, 4 * order_bytes)
    a.deallocate(store, mem, other)
    a.deallocate(store, mem, p1)
    a.deallocate(store, mem, p2)
    return store, mem, a, p1, p2, live, other


@pytest.mark.parametrize("link", [
    "outside-heap", "below-heap", "past-bumper", "misaligned", "inside-block", "self",
    "other-order", "occupied", "high-bits",
])
def test_a_bad_free_list_link_is_caught_when_followed(link):
    store, mem, a, p1, p2, live, other = _two_free_blocks()
    value = {
        "outside-heap": 0xFFFF_FFF0,
        "below-heap": 0,
        "past-bumper": a.bumper,
        "misaligned": p1 - 8 + 4,
        "inside-block": p1,
        "self": p2 - 8,
        "other-order": other - 8,   # a free block, but of the 64-byte order
        "occupied": live - 8,       # a block of the right order, but in use
        "high-bits": (5 << 32) | (p1 - 8),
    }[link]
    if link == "below-heap":  # needs a heap that does not start at 0
        store, mem = make()
        a = FreeingBumpAllocator(64)
        q1, p2 = a.allocate(store, mem, 16), a.allocate(store, mem, 16)
        a.deallocate(store, mem, q1)
        a.deallocate(store, mem, p2)
    set_header(store, mem, p2 - 8, value)
    with pytest.raises(HeapCorrupted):
        a.allocate(store, mem, 16)  # pops p2 and checks its link
    assert a.poisoned
    with pytest.raises(AllocatorPoisoned):
        a.allocate(store, mem, 16)


def test_a_two_block_cycle_is_caught_without_looping():
    store, mem, a, p1, p2, live, other = _two_free_blocks()
    set_header(store, mem, p1 - 8, p2 - 8)  # p2 -> p1 -> p2 -> ...
    got = [a.allocate(store, mem, 16)]      # p2; link to p1 is fine
    with pytest.raises(HeapCorrupted):
        got.append(a.allocate(store, mem, 16))  # p1's link leads back to p2 (occupied)
    assert got == [p2]


def test_a_list_cut_short_is_reported():
    store, mem, a, p1, p2, live, other = _two_free_blocks()
    set_header(store, mem, p2 - 8, NIL)  # p1 is lost
    with pytest.raises(HeapCorrupted):
        a.allocate(store, mem, 16)


def test_a_forged_free_block_cannot_be_handed_out():
    """The guest builds a fake free header inside a live block and links to it."""
    store, mem = make()
    a = FreeingBumpAllocator(0)
    live = a.allocate(store, mem, 256)
    p = a.allocate(store, mem, 16)
    a.deallocate(store, mem, p)
    set_header(store, mem, live + 64, NIL)         # fake free header in the live block
    set_header(store, mem, p - 8, live + 64)       # list: p -> fake
    with pytest.raises(HeapCorrupted):
        a.allocate(store, mem, 16)


def test_swapping_a_free_link_to_another_free_block_of_the_order_is_accepted():
    """Reordering genuine free blocks is harmless: no block is handed out twice."""
    store, mem = make()
    a = FreeingBumpAllocator(0)
    ps = [a.allocate(store, mem, 16) for _ in range(3)]
    for p in ps:
        a.deallocate(store, mem, p)      # list: p3 -> p2 -> p1
    set_header(store, mem, ps[2] - 8, ps[0] - 8)   # p3 -> p1
    set_header(store, mem, ps[0] - 8, ps[1] - 8)   # p1 -> p2
    set_header(store, mem, ps[1] - 8, NIL)         # p2 -> nil
    got = [a.allocate(store, mem, 16) for _ in range(3)]
    assert got == [ps[2], ps[0], ps[1]]
    assert not a.poisoned


# ---------------------------------------------------------------- data helpers
def test_write_and_read_bytes_and_strings():
    store, mem = make()
    a = FreeingBumpAllocator(0)
    p = a.write_bytes(store, mem, b"hello\x00world")
    assert read_bytes(store, mem, p, 11) == b"hello\x00world"
    text = "grüße, 世界 🌍"
    q = a.write_str(store, mem, text)
    n = len(text.encode())
    assert read_str(store, mem, q, n) == text
    assert a.stats.bytes_allocated == (8 + 16) + (8 + 32)
    empty = a.write_bytes(store, mem, b"")
    assert read_bytes(store, mem, empty, 0) == b""
    with pytest.raises(TypeError):
        a.write_str(store, mem, b"bytes")


def test_read_helpers_refuse_ranges_outside_memory():
    store, mem = make()
    with pytest.raises(GuestMemoryError):
        read_bytes(store, mem, PAGE - 4, 8)
    with pytest.raises(GuestMemoryError):
        read_bytes(store, mem, -1, 1)  # 0xFFFFFFFF as unsigned
    with pytest.raises(GuestMemoryError):
        read_bytes(store, mem, 0, -1)
    assert read_bytes(store, mem, PAGE - 4, 4) == b"\0" * 4
    mem.write(store, b"\xff\xfe", 0)
    with pytest.raises(GuestMemoryError):
        read_str(store, mem, 0, 2)


# ---------------------------------------------------------------- linking into guests
GUEST = """
(module
  (import "env" "ext_allocator_malloc_version_1" (func $malloc (param i32) (result i32)))
  (import "env" "ext_allocator_free_version_1" (func $free (param i32)))
  (memory (export "memory") 1 8)
  (global (export "__heap_base") i32 (i32.const 1000))
  (func (export "alloc") (param i32) (result i32) (call $malloc (local.get 0)))
  (func (export "free") (param i32) (call $free (local.get 0)))
  ;; allocate n blocks of size s, fill each with its index, free every other one
  (func (export "churn") (param $n i32) (param $s i32) (result i32)
    (local $i i32) (local $p i32) (local $last i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $p (call $malloc (local.get $s)))
        (i32.store8 (local.get $p) (local.get $i))
        (if (i32.and (local.get $i) (i32.const 1))
          (then (call $free (local.get $p))))
        (local.set $last (local.get $p))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $last))
)
"""


def _guest(linker: Linker, store: Store, wat: str = GUEST):
    module = Module(store.engine, wasmtime.wat2wasm(wat))
    return linker.instantiate(store, module)


def test_define_allocator_serves_a_guest():
    store = Store()
    linker = Linker(store.engine)
    reg = linker.define_allocator(module="env", malloc="ext_allocator_malloc_version_1",
                                  free="ext_allocator_free_version_1")
    inst = _guest(linker, store)
    ex = inst.exports(store)
    p = ex["alloc"](store, 20)
    assert p == 1000 + 8  # __heap_base is 8-aligned already
    a = reg.for_instance(store, inst)
    assert a.heap_base == 1000
    assert a.stats.bytes_allocated == 8 + 32
    ex["free"](store, p)
    assert a.stats.bytes_allocated == 0
    ex["free"](store, 0)  # free(NULL) does nothing
    assert not a.poisoned
    ex["churn"](store, 100, 24)
    assert a.stats.bytes_allocated == 50 * (8 + 32)
    # the host shares the guest's heap
    mem = reg.memory_for_instance(store, inst)
    q = a.write_str(store, mem, "shared")
    assert q % 8 == 0 and read_str(store, mem, q, 6) == "shared"


def test_each_instance_gets_its_own_heap():
    store = Store()
    linker = Linker(store.engine)
    reg = define_allocator(linker)
    i1, i2 = _guest(linker, store), _guest(linker, store)
    assert i1.exports(store)["alloc"](store, 8) == 1008
    assert i2.exports(store)["alloc"](store, 8) == 1008
    assert reg.for_instance(store, i1) is not reg.for_instance(store, i2)


def test_an_explicit_heap_base_wins_over_the_export():
    store = Store()
    linker = Linker(store.engine)
    define_allocator(linker, heap_base=4099)
    inst = _guest(linker, store)
    assert inst.exports(store)["alloc"](store, 8) == 4104 + 8


def test_custom_names_and_a_missing_heap_base():
    wat = """
    (module
      (import "host" "my_malloc" (func $m (param i32) (result i32)))
      (memory (export "mem") 1)
      (func (export "alloc") (param i32) (result i32) (call $m (local.get 0))))
    """
    store = Store()
    linker = Linker(store.engine)
    define_allocator(linker, "host", "my_malloc", "my_free", memory="mem")
    inst = _guest(linker, store, wat)
    with pytest.raises(AllocatorError, match="heap"):
        inst.exports(store)["alloc"](store, 8)

    store2 = Store()
    linker2 = Linker(store2.engine)
    reg2 = define_allocator(linker2, "host", "my_malloc", "my_free", memory="mem", heap_base=256)
    inst2 = _guest(linker2, store2, wat)
    assert inst2.exports(store2)["alloc"](store2, 8) == 264
    assert reg2.for_instance(store2, inst2).heap_base == 256


def test_a_guest_without_the_memory_gets_an_allocator_error():
    wat = """
    (module
      (import "env" "ext_allocator_malloc_version_1" (func $m (param i32) (result i32)))
      (func (export "alloc") (param i32) (result i32) (call $m (local.get 0))))
    """
    store = Store()
    linker = Linker(store.engine)
    define_allocator(linker, heap_base=0)
    inst = _guest(linker, store, wat)
    with pytest.raises(AllocatorError, match="memory"):
        inst.exports(store)["alloc"](store, 8)


def test_a_guest_that_corrupts_the_heap_gets_an_error_not_a_crash():
    wat = """
    (module
      (import "env" "ext_allocator_malloc_version_1" (func $malloc (param i32) (result i32)))
      (import "env" "ext_allocator_free_version_1" (func $free (param i32)))
      (memory (export "memory") 1)
      (global (export "__heap_base") i32 (i32.const 64))
      (func (export "evil") (result i32) (local $p i32)
        (local.set $p (call $malloc (i32.const 16)))
        (call $free (local.get $p))
        ;; make the free block link to itself
        (i64.store (i32.sub (local.get $p) (i32.const 8))
                   (i64.extend_i32_u (i32.sub (local.get $p) (i32.const 8))))
        (drop (call $malloc (i32.const 16)))
        (call $malloc (i32.const 16))))
    """
    store = Store()
    linker = Linker(store.engine)
    reg = define_allocator(linker)
    inst = _guest(linker, store, wat)
    with pytest.raises(HeapCorrupted):
        inst.exports(store)["evil"](store)
    assert reg.for_instance(store, inst).poisoned


def test_guest_requests_are_unsigned_and_too_large_ones_fail():
    store = Store()
    linker = Linker(store.engine)
    reg = define_allocator(linker)
    inst = _guest(linker, store)
    with pytest.raises(RequestedAllocationTooLarge):
        inst.exports(store)["alloc"](store, -1)  # 0xFFFFFFFF bytes
    assert reg.for_instance(store, inst).poisoned


def test_growth_from_a_guest():
    store = Store()
    linker = Linker(store.engine)
    define_allocator(linker)
    inst = _guest(linker, store)
    mem = inst.exports(store)["memory"]
    inst.exports(store)["churn"](store, 4, 60000)
    # blocks 0 and 2 stay, 1 is freed and reused by 2, 3 is new: three 64 KiB
    # blocks + headers after heap base 1000 need 3 pages: 1 -> 2 -> 4
    assert mem.size(store) == 4
    with pytest.raises(AllocatorOutOfSpace):
        inst.exports(store)["churn"](store, 200, 60000)


def test_registry_with_a_given_memory_and_a_callable():
    store = Store()
    shared = Memory(store, MemoryType(Limits(1, 4)))
    reg = AllocatorRegistry(heap_base=16, memory=shared)
    a = reg.for_memory(store, shared)
    assert reg.get(shared) is a
    assert reg.for_memory(store, shared, heap_base=999) is a  # already made
    other = Memory(store, MemoryType(Limits(1, 4)))
    assert reg.for_memory(store, other, heap_base=800).heap_base == 800
    with pytest.raises(TypeError):
        AllocatorRegistry(memory=42)
    with pytest.raises(AllocatorError):
        AllocatorRegistry().for_memory(store, Memory(store, MemoryType(Limits(1, 1))))


# ---------------------------------------------------------------- the example
def _load_example():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "strings" / "run.py"
    spec = importlib.util.spec_from_file_location("strings_example", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_strings_example(capsys):
    ex = _load_example()
    s = ex.Shouter()
    assert s.shout("hello, wasm") == "HELLO, WASM!"
    assert s.shout("") == "!"
    assert s.shout("grüße 🌍 xyz") == "GRüßE 🌍 XYZ!"
    long = "ab" * 5000
    assert s.shout(long) == "AB" * 5000 + "!"
    assert s.heap.stats.bytes_allocated == 0  # everything was freed
    assert not s.heap.poisoned
    assert ex.main(["one", "two"]) == 0
    assert capsys.readouterr().out == "ONE!\nTWO!\n"


def test_registry_entries_go_away_with_their_memory():
    import gc

    store = Store()
    reg = AllocatorRegistry(heap_base=0)
    mem = Memory(store, MemoryType(Limits(1, 2)))
    a = reg.for_memory(store, mem)
    a.allocate(store, mem, 8)
    assert len(reg._by_memory) == 1
    del mem
    gc.collect()
    assert len(reg._by_memory) == 0


# ---------------------------------------------------------------- the benchmark runs
def test_the_benchmark_runs_and_its_workloads_agree(capsys):
    """Smoke test only (numbers are not asserted): every row runs and the
    guest's checksums match the Python mirror of the workload."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_alloc.py"
    spec = importlib.util.spec_from_file_location("bench_alloc", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--pairs", "300", "--runs", "1", "--no-wasmtime"]) == 0
    out = capsys.readouterr().out
    assert "FAILED" not in out
    assert out.count("pairs/s") >= 1 and "host allocator, loop in guest" in out


def test_growth_from_a_guest_respects_the_stores_limit_it_cannot_see():
    cfg = Config()
    cfg.max_memory_pages = 6  # the guest's memory declares max 8; the store says 6
    store = Store(Engine(cfg))
    linker = Linker(store.engine)
    reg = define_allocator(linker)
    inst = _guest(linker, store)
    mem = inst.exports(store)["memory"]
    alloc = inst.exports(store)["alloc"]
    sizes = []
    for _ in range(5):  # 64 KiB blocks after heap base 1000
        alloc(store, 60000)
        sizes.append(mem.size(store))
    # 1 -> 2 -> 4; the 4th block needs 5 pages: doubling to 8 is refused, 6 is had
    assert sizes == [2, 4, 4, 6, 6]
    with pytest.raises(AllocatorOutOfSpace):
        alloc(store, 60000)
    assert mem.size(store) == 6
    assert reg.for_instance(store, inst).poisoned


def test_a_memory_that_fails_underneath_gives_an_allocator_error():
    class Broken(ShrinkingMemory):
        def write(self, store, data, start):
            raise IndexError("index out of range")

    a = FreeingBumpAllocator(0)
    with pytest.raises(HeapCorrupted):
        a.allocate(None, Broken(PAGE), 8)
    assert a.poisoned
