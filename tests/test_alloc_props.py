"""Property tests of the freeing-bump allocator (Hypothesis).

* Random allocate/free sequences against a reference model written here
  from the specification (orders, LIFO free lists, bump pointer, doubling
  growth): the allocator returns exactly the model's pointers, grows the
  memory exactly as the model says, fails exactly when the model runs out,
  never hands out overlapping blocks or blocks outside the memory, never
  writes into a live block, and its stats match the model's.
* A fuzz test that overwrites random header bytes (and random heap bytes)
  between operations, as a hostile guest would: the allocator only ever
  raises allocator errors, is poisoned after the first one, and still never
  hands out a block that overlaps a live one or lies outside the memory.
"""
from __future__ import annotations

import bisect

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wasmbox.host.alloc import (
    MAX_ALLOCATION,
    AllocatorError,
    AllocatorOutOfSpace,
    AllocatorPoisoned,
    FreeingBumpAllocator,
    RequestedAllocationTooLarge,
    order_for_size,
    order_size,
)
from wasmbox.runtime import Limits, Memory, MemoryType, Store

PAGE = 65536
MAX_PAGES = 48

sizes = st.one_of(
    st.integers(0, 64),
    st.integers(65, 4096),
    st.integers(4097, 300_000),
    st.sampled_from([MAX_ALLOCATION + 1, 8, 16, 17]),
)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("alloc"), sizes),
        st.tuples(st.just("free"), st.integers(0, 10_000)),
    ),
    max_size=120,
)


class Model:
    """The allocator's specification, as plainly as it can be written."""

    def __init__(self, heap_base: int, pages: int, max_pages: int) -> None:
        self.base = (heap_base + 7) // 8 * 8
        self.bumper = self.base
        self.free: dict[int, list[int]] = {}
        self.pages = pages
        self.max_pages = max_pages
        self.live = 0
        self.peak = 0
        self.total = 0

    def allocate(self, size: int) -> tuple[str, int]:
        if size > MAX_ALLOCATION:
            return "too-large", 0
        order = order_for_size(size)
        need = 8 + order_size(order)
        lst = self.free.get(order)
        if lst:
            hdr = lst.pop()
        else:
            end = self.bumper + need
            if end > self.pages * PAGE:
                required = -(-end // PAGE)
                if required > self.max_pages:
                    return "oom", 0
                self.pages = min(max(required, 2 * self.pages), self.max_pages)
            hdr = self.bumper
            self.bumper = end
        self.live += need
        self.peak = max(self.peak, self.live)
        self.total += need
        return "ok", hdr + 8

    def deallocate(self, ptr: int, order: int) -> None:
        self.free.setdefault(order, []).append(ptr - 8)
        self.live -= 8 + order_size(order)


class Live:
    """Live blocks as sorted, non-overlapping [header, end) intervals."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.ends: dict[int, int] = {}

    def add(self, start: int, end: int) -> None:
        i = bisect.bisect_left(self.starts, start)
        if i > 0:
            prev = self.starts[i - 1]
            assert self.ends[prev] <= start, f"block {start:#x} overlaps {prev:#x}"
        if i < len(self.starts):
            assert end <= self.starts[i], f"block {start:#x} overlaps {self.starts[i]:#x}"
        self.starts.insert(i, start)
        self.ends[start] = end

    def remove(self, start: int) -> None:
        self.starts.remove(start)
        del self.ends[start]


def fresh(pages: int = 1, max_pages: int = MAX_PAGES):
    store = Store()
    return store, Memory(store, MemoryType(Limits(pages, max_pages)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(heap_base=st.integers(0, 5000), program=ops)
def test_random_sequences_match_the_model(heap_base, program):
    store, mem = fresh()
    a = FreeingBumpAllocator(heap_base)
    model = Model(heap_base, 1, MAX_PAGES)
    live = Live()
    blocks: list[tuple[int, int, int]] = []  # (ptr, size, fill byte)
    for n, (op, arg) in enumerate(program):
        if op == "alloc":
            outcome, want = model.allocate(arg)
            if outcome == "too-large":
                try:
                    a.allocate(store, mem, arg)
                except RequestedAllocationTooLarge:
                    assert a.poisoned
                    return
                raise AssertionError("a too-large request succeeded")
            if outcome == "oom":
                pages = mem.size(store)
                try:
                    a.allocate(store, mem, arg)
                except AllocatorOutOfSpace:
                    assert a.poisoned and mem.size(store) == pages
                    return
                raise AssertionError("allocation succeeded where the model ran out")
            ptr = a.allocate(store, mem, arg)
            assert ptr == want
            assert mem.size(store) == model.pages
            order = order_for_size(arg)
            assert ptr % 8 == 0 and ptr - 8 >= model.base
            assert ptr + order_size(order) <= mem.data_len(store)
            live.add(ptr - 8, ptr + order_size(order))
            fill = n % 251 + 1
            mem.write(store, bytes([fill]) * arg, ptr)
            blocks.append((ptr, arg, fill))
        elif blocks:
            ptr, size, fill = blocks.pop(arg % len(blocks))
            assert mem.read(store, ptr, ptr + size) == bytes([fill]) * size, \
                "a live block was written by the allocator"
            a.deallocate(store, mem, ptr)
            model.deallocate(ptr, order_for_size(size))
            live.remove(ptr - 8)
        s = a.stats
        assert s.bytes_allocated == model.live
        assert s.bytes_allocated_peak == model.peak
        assert s.bytes_allocated_sum == model.total
        assert s.address_space_used == model.bumper - model.base
    assert not a.poisoned
    for ptr, size, fill in blocks:
        a.deallocate(store, mem, ptr)
    assert a.stats.bytes_allocated == 0


corrupting_ops = st.lists(
    st.one_of(
        st.tuples(st.just("alloc"), st.integers(0, 2048)),
        st.tuples(st.just("free"), st.integers(0, 10_000)),
        # overwrite byte `offset` of some block's header with `value`
        st.tuples(st.just("header"), st.tuples(st.integers(0, 10_000), st.integers(0, 7),
                                               st.integers(0, 255))),
        # overwrite a whole header with a chosen 64-bit value
        st.tuples(st.just("header64"), st.tuples(st.integers(0, 10_000),
                                                 st.one_of(st.integers(0, 2**64 - 1),
                                                           st.integers(0, 70_000)))),
        # scribble anywhere in the first pages
        st.tuples(st.just("scribble"), st.tuples(st.integers(0, 3 * PAGE), st.binary(min_size=1, max_size=16))),
        # free a pointer the guest made up
        st.tuples(st.just("badfree"), st.integers(-16, 4 * PAGE)),
    ),
    max_size=80,
)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(heap_base=st.integers(0, 300), program=corrupting_ops)
def test_corrupted_headers_only_ever_raise_allocator_errors(heap_base, program):
    store, mem = fresh(1, 8)
    a = FreeingBumpAllocator(heap_base)
    live = Live()
    blocks: list[int] = []       # live pointers
    headers: list[int] = []      # every header address ever handed out
    failed = False
    for op, arg in program:
        try:
            if op == "alloc":
                ptr = a.allocate(store, mem, arg)
                end = ptr + order_size(order_for_size(arg))
                assert ptr % 8 == 0 and end <= mem.data_len(store)
                assert ptr - 8 >= a.heap_base
                live.add(ptr - 8, end)      # never overlaps a live block
                blocks.append(ptr)
                headers.append(ptr - 8)
            elif op == "free":
                if blocks:
                    ptr = blocks.pop(arg % len(blocks))
                    a.deallocate(store, mem, ptr)
                    live.remove(ptr - 8)
            elif op == "badfree":
                if arg not in blocks:
                    a.deallocate(store, mem, arg)
                    raise AssertionError(f"freeing {arg:#x} succeeded")
            elif op in ("header", "header64") and headers:
                if op == "header":
                    idx, off, val = arg
                    mem.write(store, bytes([val]), headers[idx % len(headers)] + off)
                else:
                    idx, val = arg
                    mem.write(store, val.to_bytes(8, "little"), headers[idx % len(headers)])
            elif op == "scribble":
                addr, data = arg
                if addr + len(data) <= mem.data_len(store):
                    mem.write(store, data, addr)
        except AllocatorError as e:
            if failed:
                assert isinstance(e, AllocatorPoisoned)
            failed = True
            assert a.poisoned
    if failed:
        for call in (lambda: a.allocate(store, mem, 8), lambda: a.deallocate(store, mem, 8)):
            try:
                call()
            except AllocatorPoisoned:
                pass
            else:
                raise AssertionError("a poisoned allocator accepted a call")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 16), min_size=1, max_size=40))
def test_growth_by_doubling_never_exceeds_the_maximum(kib_list):
    max_pages = 12
    store, mem = fresh(1, max_pages)
    a = FreeingBumpAllocator(0)
    history = [mem.size(store)]
    for kib in kib_list:
        try:
            a.allocate(store, mem, kib * 1024 * 4)
        except AllocatorOutOfSpace:
            assert a.poisoned and mem.size(store) == history[-1]
            break
        if mem.size(store) != history[-1]:
            history.append(mem.size(store))
    assert history[-1] <= max_pages
    for old, new in zip(history, history[1:]):
        assert new == max_pages or new >= 2 * old
