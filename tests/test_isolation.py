"""Tenant isolation in the pooling allocator.

Tenant A fills its whole memory -- grown to the slot's limit -- with
secrets; tenant B, placed in the same slot afterwards, reads only zeros,
from the guest and from the host, over its initial pages and over every
page it grows into. Variations: A dropped without ``close`` (garbage
collection), B a different module, two memories per instance, tables, and
host views of A's memory kept past A's end.
"""
from __future__ import annotations

import gc

import pytest
import wasmtime

from wasmbox import Config, Engine, Instance, Module, Store, WasmboxError
from wasmbox.api import PoolingAllocationConfig

PAGE = 65536
SLOT_PAGES = 32
SECRET = 0xA7

TENANT_WAT = """
(module
  (memory (export "mem") {pages} {maxp})
  (table (export "tab") 2 funcref)
  (func $secret (result i32) (i32.const 0x5EC2E7))
  (elem (i32.const 0) $secret $secret)
  (func (export "size") (result i32) memory.size)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "fill") (param i32) (memory.fill (i32.const 0) (local.get 0)
                                                 (i32.shl (memory.size) (i32.const 16))))
  (func (export "store64") (param i32 i64) (i64.store (local.get 0) (local.get 1)))
  (func (export "tnull") (param i32) (result i32) (ref.is_null (table.get (local.get 0))))
  ;; OR of every 8-byte word of the memory, read by the guest
  (func (export "scan") (result i64) (local $p i32) (local $acc i64) (local $end i32)
    (local.set $end (i32.shl (memory.size) (i32.const 16)))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $acc (i64.or (local.get $acc) (i64.load (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 8)))
      (br $next)))
    (local.get $acc)))
"""


def engine_one_slot(memories: int = 1) -> Engine:
    return Engine(Config(allocation_strategy=PoolingAllocationConfig(
        total_core_instances=1, total_memories=memories, total_tables=1,
        max_memory_size=SLOT_PAGES * PAGE, max_memories_per_module=memories)))


def tenant(engine: Engine, pages: int = 1, maxp: int | str = "") -> tuple[Store, dict]:
    store = Store(engine)
    wat = TENANT_WAT.format(pages=pages, maxp=maxp)
    inst = Instance(store, Module(engine, wasmtime.wat2wasm(wat)), [])
    ex = inst.exports(store)
    return store, {k: (lambda *a, f=ex[k]: f(store, *a)) for k in ex} | {"_mem": ex["mem"],
                                                                        "_inst": inst}


def write_secrets(store: Store, t: dict) -> None:
    """Grow to the slot's limit and fill every byte, from the guest and the host."""
    assert t["grow"](SLOT_PAGES - t["size"]()) >= 0
    assert t["size"]() == SLOT_PAGES
    assert t["grow"](1) == -1
    t["fill"](SECRET)
    for page in range(SLOT_PAGES):  # and a recognisable word on every page
        t["store64"](page * PAGE + 8, 0x5EC2E75EC2E75EC2)
    mem = t["_mem"]
    mem.write(store, b"top secret", SLOT_PAGES * PAGE - 10)
    assert mem.read(store, 0, 8) == bytes([SECRET]) * 8
    assert bytes(mem.read(store)).count(0) == 0


def assert_all_zero(store: Store, t: dict) -> None:
    """Everything the tenant can reach reads zero, now and after each grow."""
    mem = t["_mem"]
    while True:
        size = mem.data_len(store)
        assert mem.read(store) == bytes(size)
        pages = t["size"]()
        if pages == SLOT_PAGES:
            break
        assert t["grow"](min(4, SLOT_PAGES - pages)) == pages
    assert t["grow"](1) == -1
    assert mem.read(store) == bytes(SLOT_PAGES * PAGE)
    assert t["scan"]() == 0  # and the guest agrees, word by word


def test_tenant_b_in_the_same_slot_reads_only_zeros():
    engine = engine_one_slot()
    store_a, a = tenant(engine)
    slot = engine._allocator._state(store_a._state).memories[0][0]
    mapping = slot.mm
    write_secrets(store_a, a)
    store_a.close()
    store_b, b = tenant(engine)
    assert engine._allocator._state(store_b._state).memories[0][0] is slot
    assert slot.mm is mapping  # the very same mapping, wiped
    m = engine.pooling_allocator_metrics()
    assert m.wipes == 1 and m.retired_memories == 0 and m.bytes_wiped == SLOT_PAGES * PAGE
    assert b["size"]() == 1
    assert_all_zero(store_b, b)
    assert b["tnull"](0) == 0  # b's own element segment, not a's table


def test_isolation_when_the_first_tenant_is_garbage_collected():
    engine = engine_one_slot()
    store_a, a = tenant(engine)
    write_secrets(store_a, a)
    del store_a, a
    gc.collect()
    store_b, b = tenant(engine)
    assert engine.pooling_allocator_metrics().wipes == 1
    assert_all_zero(store_b, b)


def test_isolation_across_different_modules_and_sizes():
    engine = engine_one_slot()
    store_a, a = tenant(engine, pages=3, maxp=SLOT_PAGES)
    write_secrets(store_a, a)
    store_a.close()
    store_b, b = tenant(engine, pages=7)
    assert b["size"]() == 7
    assert_all_zero(store_b, b)


def test_isolation_with_two_memories_per_instance():
    engine = engine_one_slot(memories=2)
    wat = """(module (memory $a (export "one") 2) (memory $b (export "other") 2)
               (func (export "fill")
                 (memory.fill $a (i32.const 0) (i32.const 0x77) (i32.const 131072))
                 (memory.fill $b (i32.const 0) (i32.const 0x66) (i32.const 131072))))"""
    module = Module(engine, wasmtime.wat2wasm(wat))
    store = Store(engine)
    ex = Instance(store, module, []).exports(store)
    ex["fill"](store)
    assert ex["one"].read(store, 0, 4) == b"\x77" * 4
    assert ex["other"].read(store, 0, 4) == b"\x66" * 4
    store.close()
    assert engine.pooling_allocator_metrics().wipes == 2
    store_b = Store(engine)
    ex_b = Instance(store_b, module, []).exports(store_b)
    assert ex_b["one"].read(store_b) == bytes(2 * PAGE)
    assert ex_b["other"].read(store_b) == bytes(2 * PAGE)


def test_host_views_of_a_finished_tenant_never_show_the_next_one():
    engine = engine_one_slot()
    store_a, a = tenant(engine)
    write_secrets(store_a, a)
    direct = a["_mem"].buffer(store_a)
    internal_globals = a["_inst"]._g
    store_a.close()
    with pytest.raises(ValueError):
        direct[0]  # released
    assert "M0" not in internal_globals  # a's code is unbound: it can reach nothing
    with pytest.raises(WasmboxError):
        a["scan"]()
    store_b, b = tenant(engine)
    assert engine.pooling_allocator_metrics().retired_memories == 0
    assert_all_zero(store_b, b)


def test_a_derived_view_keeps_the_old_bytes_and_the_slot_is_not_reused():
    engine = engine_one_slot()
    store_a, a = tenant(engine)
    write_secrets(store_a, a)
    derived = memoryview(a["_mem"].buffer(store_a))  # as numpy.frombuffer would hold it
    store_a.close()
    store_b, b = tenant(engine)
    assert engine.pooling_allocator_metrics().retired_memories == 1
    assert_all_zero(store_b, b)
    b["_mem"].write(store_b, b"b's data", 0)
    assert bytes(derived[:8]) == bytes([SECRET]) * 8  # a's bytes, not b's
    del derived
