"""Chunked bulk operations (exec/bulk.py) against a one-shot reference.

The chunk sizes are made tiny so that every operation spans many chunks,
overlapping copies go both ways, and an epoch deadline stops an operation
between two chunks.
"""
from __future__ import annotations

import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wasmbox import Trap, TrapCode
from wasmbox.exec import bulk

SIZE = 97


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(bulk, "MEM_CHUNK", 7)
    monkeypatch.setattr(bulk, "TABLE_CHUNK", 5)


def _mem() -> bytearray:
    return bytearray(range(SIZE))


@settings(max_examples=300, deadline=None)
@given(d=st.integers(0, SIZE + 3), s=st.integers(0, SIZE + 3), n=st.integers(0, SIZE + 3))
def test_copy_is_memmove(d: int, s: int, n: int):
    buf = _mem()
    ref = _mem()
    if s + n > SIZE or d + n > SIZE:
        with pytest.raises(Trap):
            bulk.mem_copy(memoryview(buf), memoryview(buf), d, s, n)
        assert buf == ref  # no partial effect
        return
    ref[d:d + n] = bytes(ref[s:s + n])
    bulk.mem_copy(memoryview(buf), memoryview(buf), d, s, n)
    assert buf == ref


@settings(max_examples=200, deadline=None)
@given(d=st.integers(0, SIZE + 3), n=st.integers(0, SIZE + 3), v=st.integers(0, 1000))
def test_fill(d: int, n: int, v: int):
    buf = _mem()
    ref = _mem()
    if d + n > SIZE:
        with pytest.raises(Trap):
            bulk.mem_fill(memoryview(buf), d, v, n)
        assert buf == ref
        return
    ref[d:d + n] = bytes([v & 0xFF]) * n
    bulk.mem_fill(memoryview(buf), d, v, n)
    assert buf == ref


@settings(max_examples=200, deadline=None)
@given(d=st.integers(0, SIZE), s=st.integers(0, 40), n=st.integers(0, 40))
def test_init(d: int, s: int, n: int):
    seg = types.SimpleNamespace(data=bytes(range(100, 140)))
    buf = _mem()
    ref = _mem()
    if s + n > 40 or d + n > SIZE:
        with pytest.raises(Trap):
            bulk.mem_init(memoryview(buf), seg, d, s, n)
        assert buf == ref
        return
    ref[d:d + n] = seg.data[s:s + n]
    bulk.mem_init(memoryview(buf), seg, d, s, n)
    assert buf == ref


@settings(max_examples=200, deadline=None)
@given(d=st.integers(0, 40), s=st.integers(0, 40), n=st.integers(0, 40))
def test_table_copy_fill_init_grow(d: int, s: int, n: int):
    tab = list(range(30))
    ref = list(tab)
    if s + n > 30 or d + n > 30:
        with pytest.raises(Trap):
            bulk.tcopy(tab, tab, d, s, n)
        assert tab == ref
    else:
        ref[d:d + n] = ref[s:s + n]
        bulk.tcopy(tab, tab, d, s, n)
        assert tab == ref
    tab = list(range(30))
    if d + n <= 30:
        bulk.tfill(tab, d, "x", n)
        assert tab == list(range(d)) + ["x"] * n + list(range(d + n, 30))
    bulk.tgrow(tab, None, n)
    assert len(tab) == 30 + n and tab[30:] == [None] * n


def test_a_deadline_stops_an_operation_between_chunks():
    ep, dl = types.CellType(5), types.CellType(5)
    buf = bytearray(50)
    with pytest.raises(Trap) as e:
        bulk.mem_fill(memoryview(buf), 0, 1, 50, ep, dl)
    assert e.value.code is TrapCode.INTERRUPT
    assert buf == bytes([1]) * 7 + bytes(43)  # the first chunk, no more
    tab: list = []
    with pytest.raises(Trap):
        bulk.tgrow(tab, None, 50, ep, dl)
    assert tab == []  # a grow happens whole or not at all
    dl.cell_contents = 6
    bulk.mem_fill(memoryview(buf), 0, 2, 50, ep, dl)
    assert buf == bytes([2]) * 50
