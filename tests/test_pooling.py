"""The pooling instance allocator.

The first group carries the intent of Lucet's ``MmapRegion`` tests, in our
own words: sizes and writability at both ends of a new instance's heap and
table, growing once and twice, growing past the module's maximum and past
the slot's limit, refusing an oversized initial heap and inconsistent
limits, reusing a slot (zeroed, back to the initial size), empty initial
heaps, dropping the pool first, slot counts. The rest covers what the pool
adds: refusals that name the limit, exhaustion, release on close and on
garbage collection, warm and cold slots, wipes that follow the pages used,
host views that outlive a tenant, threads.
"""
from __future__ import annotations

import gc
import sys
import threading
import weakref

import pytest
import wasmtime

from wasmbox import (
    Config,
    Engine,
    Instance,
    InstantiationError,
    Limits,
    Memory,
    MemoryType,
    Module,
    Store,
    Table,
    TableType,
    ValType,
    WasmboxError,
)
from wasmbox.api import PoolingAllocationConfig, PoolingAllocatorMetrics
from wasmbox.runtime.heap import round_up

PAGE = 65536
SLOT = 16 * PAGE  # the slot limit of the pools below


def pool_engine(**kw) -> Engine:
    opts = dict(total_core_instances=10, total_memories=10, total_tables=10,
                max_memory_size=SLOT, table_elements=100)
    opts.update(kw)
    return Engine(Config(allocation_strategy=PoolingAllocationConfig(**opts)))


def wasm(wat: str) -> bytes:
    return wasmtime.wat2wasm(wat)


def module_wat(mem: str = "1 3", table: str = "4 8") -> str:
    return f"""
(module
  (memory (export "mem") {mem})
  (table (export "tab") {table} funcref)
  (func (export "size") (result i32) memory.size)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "store8") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "tsize") (result i32) table.size)
  (func (export "tgrow") (param i32) (result i32) (table.grow (ref.null func) (local.get 0)))
  (func (export "tset") (param i32) (table.set (local.get 0) (ref.func 0)))
  (func (export "tnull") (param i32) (result i32) (ref.is_null (table.get (local.get 0)))))
"""


class Tenant:
    """One store with one instance of a module, in a given engine."""

    def __init__(self, engine: Engine, wat: str | None = None) -> None:
        self.engine = engine
        self.store = Store(engine)
        self.instance = Instance(self.store, Module(engine, wasm(wat or module_wat())), [])
        self.ex = self.instance.exports(self.store)

    def __call__(self, name: str, *args):
        return self.ex[name](self.store, *args)

    @property
    def mem(self) -> Memory:
        return self.ex["mem"]

    def mem_len(self) -> int:
        return self.mem.data_len(self.store)

    def close(self) -> None:
        self.store.close()


def metrics(engine: Engine) -> PoolingAllocatorMetrics:
    m = engine.pooling_allocator_metrics()
    assert isinstance(m, PoolingAllocatorMetrics)
    return m


def poke_both_ends(t: Tenant) -> None:
    """The first and the last byte of the heap read zero and are writable."""
    last = t.mem_len() - 1
    for addr in (0, last):
        assert t("load8", addr) == 0
        t("store8", addr, 0xFF)
        assert t("load8", addr) == 0xFF


# ---------------------------------------------------------------- Lucet's region tests

def test_new_instance_heap_and_table_sizes_and_writable_ends():
    engine = pool_engine(total_core_instances=1, total_memories=1, total_tables=1)
    t = Tenant(engine)
    assert t("size") == 1 and t.mem_len() == PAGE
    poke_both_ends(t)
    assert t("tsize") == 4
    for i in (0, 3):
        assert t("tnull", i) == 1
        t("tset", i)
        assert t("tnull", i) == 0


def test_grow_once():
    t = Tenant(pool_engine())
    assert t("grow", 1) == 1
    assert t.mem_len() == 2 * PAGE
    poke_both_ends(t)


def test_grow_twice_to_the_modules_maximum():
    t = Tenant(pool_engine())
    assert t("grow", 1) == 1
    assert t("grow", 1) == 2
    assert t.mem_len() == 3 * PAGE
    poke_both_ends(t)


def test_growing_past_the_modules_maximum_fails_and_the_heap_stays_usable():
    engine = pool_engine()
    others = [Tenant(engine) for _ in range(3)]  # neighbours in the pool
    t = Tenant(engine)
    assert t("grow", 3) == -1
    assert t.mem_len() == PAGE
    poke_both_ends(t)
    for o in others:
        assert o("load8", PAGE - 1) == 0


def test_growing_past_the_slot_limit_fails_and_the_heap_stays_usable():
    engine = pool_engine()
    t = Tenant(engine, module_wat(mem="14 100"))  # the module allows more than a slot holds
    assert t.mem.type(t.store).limits.max == 100
    assert t("grow", 2) == 14
    assert t("grow", 1) == -1
    assert t.mem_len() == SLOT
    poke_both_ends(t)


def test_a_store_limit_below_the_slot_limit_also_stops_growth():
    engine = pool_engine()
    t = Tenant(engine, module_wat(mem="1"))
    t.store.set_limits(memory_size=2 * PAGE)
    assert t("grow", 1) == 1
    assert t("grow", 1) == -1
    poke_both_ends(t)


def test_an_initial_heap_over_the_slot_limit_is_refused_before_allocating():
    engine = pool_engine()
    store = Store(engine)
    with pytest.raises(InstantiationError, match="max_memory_size"):
        Instance(store, Module(engine, wasm(module_wat(mem="17"))), [])
    m = metrics(engine)
    assert (m.core_instances, m.memories, m.tables) == (0, 0, 0)
    assert m.cold_memories == 10 and m.unused_warm_memories == 0


def test_inconsistent_limits_are_refused():
    # a pool whose slots could never all be reserved in the address space
    huge = PoolingAllocationConfig(total_memories=1 << 20, max_memory_size=1 << 32)
    with pytest.raises(ValueError, match="inconsistent pool limits"):
        Engine(Config(allocation_strategy=huge))
    # a slot larger than the host can address
    with pytest.raises(ValueError):
        PoolingAllocationConfig(max_memory_size=sys.maxsize + 1)


def test_a_reused_slot_reads_as_zero_everywhere_including_grown_pages():
    engine = pool_engine(total_core_instances=1, total_memories=1, total_tables=1)
    a = Tenant(engine)
    assert a("grow", 2) == 1
    a.mem.write(a.store, b"\xa5" * (3 * PAGE), 0)
    a.close()
    b = Tenant(engine)
    assert metrics(engine).wipes == 1
    assert b.mem.read(b.store) == bytes(PAGE)
    assert b("grow", 2) == 1  # the pages tenant a grew and filled
    assert b.mem.read(b.store) == bytes(3 * PAGE)
    poke_both_ends(b)


def test_reset_after_growth_returns_to_the_initial_size():
    engine = pool_engine(total_core_instances=1, total_memories=1, total_tables=1)
    a = Tenant(engine)
    a("grow", 2)
    a("tgrow", 4)
    a.close()
    b = Tenant(engine)
    assert b("size") == 1 and b.mem_len() == PAGE
    assert b("tsize") == 4
    assert all(b("tnull", i) == 1 for i in range(4))
    poke_both_ends(b)


def test_empty_initial_heaps_grow():
    engine = pool_engine()
    t = Tenant(engine, module_wat(mem="0"))
    assert t.mem_len() == 0
    assert t("grow", 1) == 0
    assert t.mem_len() == PAGE
    poke_both_ends(t)


def test_dropping_the_pool_first_is_safe():
    engine = pool_engine(total_core_instances=1, total_memories=1, total_tables=1)
    pool = weakref.ref(engine._allocator)
    t = Tenant(engine)
    del engine
    t.engine = None
    gc.collect()
    assert pool() is not None  # the store keeps its pool alive
    t("store8", 5, 1)
    assert t("load8", 5) == 1
    store = t.store
    del t
    gc.collect()
    store.close()
    del store
    gc.collect()
    assert pool() is None


def test_slot_counts():
    engine = pool_engine(total_core_instances=2, total_memories=2, total_tables=2)
    m = metrics(engine)
    assert (m.core_instances, m.memories, m.tables, m.cold_memories) == (0, 0, 0, 2)
    a = Tenant(engine)
    m = metrics(engine)
    assert (m.core_instances, m.memories, m.tables, m.cold_memories) == (1, 1, 1, 1)
    b = Tenant(engine)
    m = metrics(engine)
    assert (m.core_instances, m.memories, m.tables, m.cold_memories) == (2, 2, 2, 0)
    a.close()
    m = metrics(engine)
    assert (m.core_instances, m.memories, m.tables, m.unused_warm_memories) == (1, 1, 1, 1)
    b.close()
    m = metrics(engine)
    assert (m.core_instances, m.memories, m.tables, m.unused_warm_memories) == (0, 0, 0, 2)


# ---------------------------------------------------------------- refusals name the limit

@pytest.mark.parametrize("wat,limit", [
    ("(module (memory 1) (memory 1))", "max_memories_per_module"),
    ("(module (table 1 funcref) (table 1 funcref))", "max_tables_per_module"),
    ("(module (table 101 funcref))", "table_elements"),
    ("(module (memory 17))", "max_memory_size"),
])
def test_a_module_that_does_not_fit_is_refused_naming_the_limit(wat, limit):
    engine = pool_engine()
    store = Store(engine)
    with pytest.raises(InstantiationError, match=limit):
        Instance(store, Module(engine, wasm(wat)), [])
    m = metrics(engine)
    assert (m.core_instances, m.memories, m.tables) == (0, 0, 0)


def test_table_growth_stops_at_the_pools_table_elements():
    engine = pool_engine()
    t = Tenant(engine, module_wat(table="90"))
    assert t("tgrow", 10) == 90
    assert t("tgrow", 1) == -1
    assert t("tsize") == 100


@pytest.mark.parametrize("kind", ["total_core_instances", "total_memories", "total_tables"])
def test_exhaustion_is_an_error_not_a_wait(kind):
    engine = pool_engine(**{kind: 2})
    tenants = [Tenant(engine), Tenant(engine)]
    with pytest.raises(InstantiationError, match=kind):
        Tenant(engine)
    m = metrics(engine)
    assert (m.core_instances, m.memories, m.tables) == (2, 2, 2)
    tenants[0].close()
    Tenant(engine)  # a slot came back


def test_memories_and_tables_made_by_the_host_take_slots():
    engine = pool_engine(total_memories=1, total_tables=1)
    store = Store(engine)
    mem = Memory(store, MemoryType(Limits(1, 2)))
    table = Table(store, TableType(ValType.funcref(), Limits(2, None)), None)
    assert mem.size(store) == 1 and table.size(store) == 2
    m = metrics(engine)
    assert (m.core_instances, m.memories, m.tables) == (0, 1, 1)
    with pytest.raises(InstantiationError, match="total_memories"):
        Memory(Store(engine), MemoryType(Limits(1, 2)))
    with pytest.raises(InstantiationError, match="max_memory_size"):
        Memory(Store(engine), MemoryType(Limits(17, None)))
    store.close()
    m = metrics(engine)
    assert (m.memories, m.tables) == (0, 0)
    assert table.size(store) == 0  # emptied with its store


# ---------------------------------------------------------------- release

def test_a_garbage_collected_store_gives_its_slots_back():
    engine = pool_engine(total_core_instances=1, total_memories=1, total_tables=1)
    t = Tenant(engine)
    t("grow", 1)
    t("store8", 2 * PAGE - 1, 7)
    del t
    gc.collect()
    m = metrics(engine)
    assert (m.core_instances, m.memories, m.tables, m.wipes) == (0, 0, 0, 1)
    b = Tenant(engine)
    assert b.mem.read(b.store) == bytes(PAGE)
    assert b("grow", 1) == 1 and b("load8", 2 * PAGE - 1) == 0


def test_a_failed_instantiation_gives_its_slots_back_with_the_store():
    engine = pool_engine(total_core_instances=1, total_memories=1, total_tables=1)
    store = Store(engine)
    bad = '(module (memory 1) (data (i32.const 65535) "ab"))'
    with pytest.raises(Exception) as ei:
        Instance(store, Module(engine, wasm(bad)), [])
    assert "out of bounds memory access" in str(ei.value)
    assert metrics(engine).memories == 1  # held by the store, as wasmtime does
    store.close()
    assert metrics(engine).memories == 0
    Tenant(engine)


def test_wipes_follow_the_high_water_mark():
    engine = pool_engine()
    t = Tenant(engine, module_wat(mem="1 16"))
    t("grow", 5)
    t.close()
    m = metrics(engine)
    assert m.wipes == 1 and m.bytes_wiped == round_up(6 * PAGE)
    t = Tenant(engine, module_wat(mem="0 16"))
    t.close()
    assert metrics(engine).bytes_wiped == round_up(6 * PAGE)  # nothing to wipe: size 0


def test_warm_slots_are_bounded_and_the_rest_go_cold():
    engine = pool_engine(max_unused_warm_slots=1)
    tenants = [Tenant(engine) for _ in range(3)]
    for t in tenants:
        t.close()
    m = metrics(engine)
    assert m.unused_warm_memories == 1 and m.decommits == 2
    assert m.cold_memories == 9
    again = [Tenant(engine) for _ in range(3)]  # cold slots are mapped again
    for t in again:
        assert t.mem.read(t.store) == bytes(PAGE)
        poke_both_ends(t)


def test_the_most_recently_freed_warm_slot_is_reused():
    engine = pool_engine()
    pool = engine._allocator
    a, b = Tenant(engine), Tenant(engine)
    slot_a = pool._state(a.store._state).memories[0][0]
    slot_b = pool._state(b.store._state).memories[0][0]
    assert slot_a is not slot_b
    a.close()
    b.close()
    c = Tenant(engine)
    assert pool._state(c.store._state).memories[0][0] is slot_b
    assert list(pool._warm) == [slot_a]
    assert metrics(engine).unused_warm_memories == 1


def test_a_host_view_that_outlives_its_tenant_retires_the_slot():
    engine = pool_engine(total_core_instances=1, total_memories=1, total_tables=1)
    a = Tenant(engine)
    a.mem.write(a.store, b"secret", 0)
    derived = memoryview(a.mem.buffer(a.store))  # what numpy.frombuffer makes
    direct = a.mem.buffer(a.store)
    a.close()
    with pytest.raises(ValueError):
        direct[0]
    assert bytes(derived[:6]) == b"secret"  # still the old bytes, never another tenant's
    m = metrics(engine)
    assert m.retired_memories == 1 and m.wipes == 0
    b = Tenant(engine)
    assert b.mem.read(b.store) == bytes(PAGE)
    b.mem.write(b.store, b"tenant-b", 0)
    assert bytes(derived[:6]) == b"secret"
    b.close()
    assert metrics(engine).wipes == 1
    del derived


def test_a_release_during_a_busy_pool_is_finished_later():
    """A store collected while the pool's lock is held (another thread, or a
    collection inside a pool operation) is queued, not waited for."""
    engine = pool_engine()
    pool = engine._allocator
    t = Tenant(engine)
    pool._lock.acquire()
    try:
        del t
        gc.collect()
        assert len(pool._pending) == 1
    finally:
        pool._lock.release()
    m = metrics(engine)  # any pool operation finishes the queued release
    assert (m.core_instances, m.memories, m.wipes) == (0, 0, 1) and not pool._pending


def test_concurrent_tenants_from_threads():
    engine = pool_engine(total_core_instances=4, total_memories=4, total_tables=4)
    module = Module(engine, wasm(module_wat()))
    errors: list[BaseException] = []
    refused = [0]

    def work(seed: int) -> None:
        try:
            for k in range(40):
                store = Store(engine)
                try:
                    inst = Instance(store, module, [])
                except InstantiationError:
                    refused[0] += 1
                    continue
                ex = inst.exports(store)
                if ex["load8"](store, 100) != 0:
                    raise AssertionError("a tenant saw another tenant's byte")
                ex["store8"](store, 100, seed + k)
                store.close()
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert refused[0] == 0  # four threads, four slots: never exhausted
    m = metrics(engine)
    assert (m.core_instances, m.memories, m.tables) == (0, 0, 0)
    assert m.wipes == 4 * 40


def test_calls_into_a_closed_pooled_store_fail_clearly():
    engine = pool_engine()
    t = Tenant(engine)
    load = t.ex["load8"]
    t.close()
    with pytest.raises(WasmboxError, match="closed"):
        load(t.store, 0)
