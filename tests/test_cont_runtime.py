"""The continuation runtime (runtime/cont.py), driven by Python stand-ins for generated code.

Generated functions take their arguments and then the stack budget ``d``
and are reached through a funcref's ``.call``; the stand-ins here do the
same. Tags are plain objects; handler tables are dicts tag -> code.
"""
from __future__ import annotations

import gc
import threading
import time
import weakref
from collections import deque

import pytest

from wasmbox import Config, Engine, Store
from wasmbox.errors import Exhaustion, Trap, TrapCode
from wasmbox.runtime import cont as C
from wasmbox.runtime.cont import (NO_HANDLERS, cont_bind, cont_new, live_stacks, resume,
                                  resume_throw, resume_throw_ref, suspend, switch)

D = 1 << 20


#: the store the stand-in funcrefs belong to (continuations count against it)
STORE = Store(Engine())


class Fn:
    """A funcref stand-in."""

    def __init__(self, fn, store=STORE):
        self.call = fn
        self._store = store._state


class Obj:
    """Something a continuation's frame holds (weakref-able)."""


class WasmExc(Exception):
    """Stands in for the Wasm exception class (helper EXN builds the real one)."""


YIELD, OTHER, SWAP, SPAWN = object(), object(), object(), object()
H_YIELD = {YIELD: 0}


def drive(k, args=(), tags=H_YIELD):
    """Resume k until it returns; the yielded payloads and the results."""
    out = []
    r = resume(k, args, tags, NO_HANDLERS, D)
    while r[0] >= 0:
        out.append(r[1])
        r = resume(r[2], (), tags, NO_HANDLERS, D)
    return out, r[1]


@pytest.fixture(autouse=True)
def no_leaks():
    before = live_stacks()
    yield
    assert live_stacks() == before


# -- generators ---------------------------------------------------------------------
def test_generator_yields_100k_values_to_python():
    n = 100_000

    def gen(n, d):
        i = 0
        while i < n:
            suspend(YIELD, (i,))
            i += 1
        return -1

    t = time.perf_counter()
    r = resume(cont_new(Fn(gen)), (n,), H_YIELD, NO_HANDLERS, D)
    total = count = 0
    while r[0] == 0:
        (v,) = r[1]
        total += v
        count += 1
        r = resume(r[2], (), H_YIELD, NO_HANDLERS, D)
    elapsed = time.perf_counter() - t
    assert r == (-1, -1)
    assert count == n and total == n * (n - 1) // 2
    assert elapsed < 60  # about 0.3 s; only a hang would fail


def test_resume_passes_values_in_and_suspend_returns_them():
    ASK = object()

    def f(x, d):
        a, b = suspend(ASK, (x, x + 1))
        (c,) = suspend(ASK, (a * b,))
        return (a, b, c)

    r = resume(cont_new(Fn(f)), (10,), {ASK: 3}, NO_HANDLERS, D)
    assert r[0] == 3 and r[1] == (10, 11)
    r = resume(r[2], (6, 7), {ASK: 3}, NO_HANDLERS, D)
    assert r[0] == 3 and r[1] == (42,)
    assert resume(r[2], (5,), {ASK: 3}, NO_HANDLERS, D) == (-1, (6, 7, 5))


def test_handler_codes_pick_the_clause():
    def f(d):
        suspend(OTHER, ())
        suspend(YIELD, ())
        return 1

    tags = {YIELD: 0, OTHER: 1}
    r = resume(cont_new(Fn(f)), (), tags, NO_HANDLERS, D)
    assert r[0] == 1
    r = resume(r[2], (), tags, NO_HANDLERS, D)
    assert r[0] == 0
    assert resume(r[2], (), tags, NO_HANDLERS, D) == (-1, 1)


# -- scheduler ------------------------------------------------------------------------
def test_scheduler_round_robin_10000_live_continuations():
    n = 10_000
    log = []

    def task(i, d):
        log.append((0, i))
        suspend(YIELD, ())
        log.append((1, i))
        suspend(YIELD, ())
        log.append((2, i))
        return i

    q = deque(cont_new(Fn(cont_bind_target(task, i))) for i in range(n))
    finished = 0
    peak = 0
    while q:
        r = resume(q.popleft(), (), H_YIELD, NO_HANDLERS, D)
        if r[0] < 0:
            finished += 1
        else:
            q.append(r[2])
        peak = max(peak, len(q))
    assert finished == n and peak == n
    assert log == [(rnd, i) for rnd in range(3) for i in range(n)]


def cont_bind_target(fn, i):
    return lambda d: fn(i, d)


def test_scheduler_with_spawn_payloads_like_the_spec_script():
    log = []

    def child(name, d):
        log.append(name + "1")
        suspend(YIELD, ())
        log.append(name + "2")

    def main(d):
        log.append("m1")
        suspend(SPAWN, (cont_bind(cont_new(Fn(child)), ("a",)),))
        log.append("m2")
        suspend(SPAWN, (cont_bind(cont_new(Fn(child)), ("b",)),))
        log.append("m3")

    tags = {YIELD: 0, SPAWN: 1}
    q = deque([cont_new(Fn(main))])
    while q:
        r = resume(q.popleft(), (), tags, NO_HANDLERS, D)
        if r[0] == 0:
            q.append(r[2])
        elif r[0] == 1:
            q.append(r[2])
            q.append(r[1][0])
    assert log == ["m1", "m2", "a1", "m3", "b1", "a2", "b2"]


# -- chains of resumers --------------------------------------------------------------------
INNER = object()


def level(n, d):
    """Resume level n-1 (handling only INNER); level 0 suspends to the outermost."""
    if n == 0:
        (v,) = suspend(YIELD, ("bottom",))
        return v + 1
    r = resume(cont_new(Fn(level)), (n - 1,), {INNER: 0}, NO_HANDLERS, d)
    assert r[0] == -1
    return r[1] + 1


def test_1000_deep_chain_suspends_to_the_outermost_handler():
    r = resume(cont_new(Fn(level)), (1000,), H_YIELD, NO_HANDLERS, D)
    assert r[0] == 0 and r[1] == ("bottom",)
    k = r[2]
    assert len(k.chain) == 1001 and k.state == "Suspended"
    assert live_stacks() >= 1001
    assert resume(k, (0,), H_YIELD, NO_HANDLERS, D) == (-1, 1001)


def test_deep_chain_resumed_from_inside_another_continuation():
    r = resume(cont_new(Fn(level)), (300,), H_YIELD, NO_HANDLERS, D)
    chain_k = r[2]

    def host(k, d):  # resumes the 301-stack continuation one level deeper than before
        r = resume(k, (10,), {OTHER: 0}, NO_HANDLERS, d)
        return r[1] * 2

    assert resume(cont_new(Fn(host)), (chain_k,), H_YIELD, NO_HANDLERS, D) == (-1, 622)


def test_nested_suspend_goes_to_the_innermost_handler_of_its_tag():
    seen = []

    def inner(d):
        suspend(YIELD, ("inner",))
        suspend(OTHER, ("other",))
        return "done"

    def middle(d):
        r = resume(cont_new(Fn(inner)), (), H_YIELD, NO_HANDLERS, d)
        seen.append(r[1])  # YIELD stops here, at the inner handler
        r = resume(r[2], (), H_YIELD, NO_HANDLERS, d)
        seen.append(r[1])
        return "middle"

    r = resume(cont_new(Fn(middle)), (), {OTHER: 5}, NO_HANDLERS, D)
    assert r[0] == 5 and r[1] == ("other",)  # OTHER went past the middle resume
    assert len(r[2].chain) == 2
    assert resume(r[2], (), {OTHER: 5}, NO_HANDLERS, D) == (-1, "middle")
    assert seen == [("inner",), "done"]


def test_trap_in_the_innermost_of_a_deep_chain_unwinds_all():
    def bottom(n, d):
        if n == 0:
            raise Trap(TrapCode.UNREACHABLE)
        return resume(cont_new(Fn(bottom)), (n - 1,), {INNER: 0}, NO_HANDLERS, d)[1]

    k = cont_new(Fn(bottom))
    with pytest.raises(Trap, match="unreachable"):
        resume(k, (1000,), H_YIELD, NO_HANDLERS, D)
    assert k.stack.state == C.RETURNED and k.stack.dead


def test_exception_in_the_innermost_caught_halfway_up():
    def bottom(n, d):
        if n == 0:
            raise WasmExc("payload")
        try:
            return resume(cont_new(Fn(bottom)), (n - 1,), {INNER: 0}, NO_HANDLERS, d)[1]
        except WasmExc:
            if n == 500:  # a try_table halfway up catches it
                return 0
            raise

    r = resume(cont_new(Fn(bottom)), (1000,), H_YIELD, NO_HANDLERS, D)
    assert r == (-1, 0)

    def always(n, d):
        if n == 0:
            raise WasmExc("up")
        return resume(cont_new(Fn(always)), (n - 1,), {}, NO_HANDLERS, d)

    with pytest.raises(WasmExc):
        resume(cont_new(Fn(always)), (100,), {}, NO_HANDLERS, D)


# -- one-shot, null --------------------------------------------------------------------------
def test_one_shot_reuse_traps_for_every_consumer():
    k = cont_new(Fn(lambda d: None))
    resume(k, (), NO_HANDLERS, NO_HANDLERS, D)
    for op in (lambda: resume(k, (), {}, {}, D),
               lambda: cont_bind(k, ()),
               lambda: resume_throw(k, WasmExc(), {}, {}, D),
               lambda: resume_throw_ref(k, WasmExc(), {}, {}, D)):
        with pytest.raises(Trap, match="^continuation already consumed$"):
            op()

    def sw(other, d):
        switch(other, (), SWAP)

    with pytest.raises(Trap, match="continuation already consumed"):
        resume(cont_new(Fn(sw)), (k,), {}, {SWAP: 0}, D)


def test_bind_consumes_the_old_object():
    def f(a, b, d):
        return a * 10 + b

    k = cont_new(Fn(f))
    k2 = cont_bind(k, (4,))
    assert not k.valid and k2.valid
    with pytest.raises(Trap, match="continuation already consumed"):
        resume(k, (1, 2), {}, {}, D)
    assert resume(k2, (2,), {}, {}, D) == (-1, 42)


def test_suspended_continuation_consumed_by_resume():
    def f(d):
        suspend(YIELD, ())
        suspend(YIELD, ())

    k = cont_new(Fn(f))
    r = resume(k, (), H_YIELD, NO_HANDLERS, D)
    k1 = r[2]
    resume(k1, (), H_YIELD, NO_HANDLERS, D)
    with pytest.raises(Trap, match="continuation already consumed"):
        resume(k1, (), H_YIELD, NO_HANDLERS, D)


def test_null_references_trap():
    with pytest.raises(Trap, match="^null function reference$"):
        cont_new(None)
    for op in (lambda: resume(None, (), {}, {}, D), lambda: cont_bind(None, ()),
               lambda: resume_throw(None, WasmExc(), {}, {}, D)):
        with pytest.raises(Trap, match="^null continuation reference$"):
            op()

    def sw(d):
        switch(None, (), SWAP)

    with pytest.raises(Trap, match="null continuation reference"):
        resume(cont_new(Fn(sw)), (), {}, {SWAP: 0}, D)
    with pytest.raises(Trap, match="null exception reference"):
        resume_throw_ref(cont_new(Fn(lambda d: 0)), None, {}, {}, D)


def test_cont_bind_like_the_spec_script():
    def f(*a):
        return a[:-1]

    k6 = cont_new(Fn(f))
    k4 = cont_bind(k6, (1, 2))
    k2 = cont_bind(k4, (3, 4))
    assert resume(k2, (5, 6), {}, {}, D) == (-1, (1, 2, 3, 4, 5, 6))

    def g(d):
        return (0,) + suspend(YIELD, ())

    r = resume(cont_new(Fn(g)), (), H_YIELD, {}, D)
    k = cont_bind(cont_bind(r[2], (1, 2)), (3, 4))
    assert resume(k, (5, 6), H_YIELD, {}, D) == (-1, (0, 1, 2, 3, 4, 5, 6))


# -- unhandled tags ----------------------------------------------------------------------------
def test_unhandled_tag_traps():
    with pytest.raises(Trap, match="^unhandled tag$") as e:
        suspend(YIELD, ())  # on the root stack
    assert e.value.code is TrapCode.UNHANDLED_TAG

    def f(d):
        suspend(OTHER, ())

    with pytest.raises(Trap, match="unhandled tag"):
        resume(cont_new(Fn(f)), (), H_YIELD, NO_HANDLERS, D)
    with pytest.raises(Trap, match="unhandled tag"):
        switch(cont_new(Fn(f)), (), SWAP)


def test_suspend_and_switch_handlers_are_kept_apart():
    def sus(other, d):
        suspend(SWAP, ())

    # (on $t switch) does not handle suspend $t ...
    with pytest.raises(Trap, match="unhandled tag"):
        resume(cont_new(Fn(sus)), (None,), {}, {SWAP: 0}, D)

    def sw(other, d):
        switch(other, (), SWAP)

    # ... nor (on $t $l) switch $t
    with pytest.raises(Trap, match="unhandled tag"):
        resume(cont_new(Fn(sw)), (cont_new(Fn(sw)),), {SWAP: 0}, {}, D)

    # the search goes past a handler of the wrong kind to an outer one
    def mid(d):
        return resume(cont_new(Fn(sus)), (None,), {}, {SWAP: 0}, d)

    r = resume(cont_new(Fn(mid)), (), {SWAP: 7}, {}, D)
    assert r[0] == 7
    assert resume(r[2], (), {SWAP: 7}, {}, D) == (-1, (-1, None))


# -- switch ---------------------------------------------------------------------------------------
def test_switch_between_two_continuations():
    log = []

    def f(i, nextk, d):
        log.append(("f", i))
        i, nextk = switch(nextk, (i + 1,), SWAP)
        log.append(("f", i))
        switch(nextk, (i + 1,), SWAP)
        raise AssertionError("never resumed")

    def g(i, nextk, d):
        log.append(("g", i))
        i, nextk = switch(nextk, (i + 1,), SWAP)
        log.append(("g", i))
        return i

    r = resume(cont_new(Fn(f)), (1, cont_new(Fn(g))), {}, {SWAP: 0}, D)
    assert r == (-1, 4)
    assert log == [("f", 1), ("g", 2), ("f", 3), ("g", 4)]


def test_switch_ping_pong_many_times_keeps_the_budget():
    budgets = []

    def a(n, other, d):
        budgets.append(d)
        for _ in range(n):
            (other,) = switch(other, (), SWAP)
        return "a"

    def b(other, d):
        budgets.append(d)
        while True:
            (other,) = switch(other, (), SWAP)

    r = resume(cont_new(Fn(a)), (5000, cont_new(Fn(b))), {}, {SWAP: 0}, D)
    assert r == (-1, "a")
    assert budgets == [D - C.START_COST] * 2  # a switched-to fresh stack gets its head's


def test_switch_to_a_continuation_made_by_suspend():
    def f(d):
        x, gk = suspend(YIELD, ())  # resumed by a switch: its value, then the switcher
        assert isinstance(gk, C.Cont) and gk.valid
        return ("f", x)

    def g(k, d):
        switch(k, (5,), SWAP)  # f takes g's place under the switch handler
        raise AssertionError("never resumed")

    def wrap(k, d):
        return resume(cont_new(Fn(g)), (k,), {}, {SWAP: 0}, d)

    r = resume(cont_new(Fn(f)), (), H_YIELD, {}, D)
    assert resume(cont_new(Fn(wrap)), (r[2],), {}, {}, D) == (-1, (-1, ("f", 5)))


# -- resume_throw ------------------------------------------------------------------------------
def test_resume_throw_on_a_fresh_continuation_runs_nothing():
    ran = []
    k = cont_new(Fn(lambda d: ran.append(1)))
    with pytest.raises(WasmExc):
        resume_throw(k, WasmExc("x"), {}, {}, D)
    assert ran == [] and not k.valid and k.stack.state == C.RETURNED


def test_resume_throw_raises_at_the_suspension_point():
    def handled(d):
        try:
            suspend(YIELD, ())
        except WasmExc as e:
            return ("caught", e.args[0])
        return "not thrown"

    r = resume(cont_new(Fn(handled)), (), H_YIELD, {}, D)
    assert resume_throw(r[2], WasmExc(42), H_YIELD, {}, D) == (-1, ("caught", 42))

    def unhandled(d):
        suspend(YIELD, ())

    r = resume(cont_new(Fn(unhandled)), (), H_YIELD, {}, D)
    exc = WasmExc(1)
    with pytest.raises(WasmExc) as e:
        resume_throw_ref(r[2], exc, H_YIELD, {}, D)
    assert e.value is exc

    def catch_then_suspend(d):
        try:
            suspend(YIELD, ())
        except WasmExc:
            suspend(OTHER, ("after",))
        return 0

    r = resume(cont_new(Fn(catch_then_suspend)), (), H_YIELD, {}, D)
    r = resume_throw(r[2], WasmExc(), {OTHER: 3}, {}, D)  # the new handlers apply
    assert r[0] == 3 and r[1] == ("after",)
    assert resume(r[2], (), {}, {}, D) == (-1, 0)


# -- dropping -------------------------------------------------------------------------------------
def test_dropping_suspended_continuations_frees_them_without_running_guest_code():
    ran_after = []
    held = []

    def f(d):
        o = Obj()
        held.append(weakref.ref(o))
        try:
            suspend(YIELD, ())
        except Exception:  # a guest handler: must not see the unwinding
            ran_after.append("caught")
        ran_after.append("after")

    base = live_stacks()
    ks = [resume(cont_new(Fn(f)), (), H_YIELD, {}, D)[2] for _ in range(1000)]
    assert live_stacks() == base + 1000
    stacks = [weakref.ref(k.stack) for k in ks]
    del ks
    assert live_stacks() == base  # at once, not at the next gc
    assert ran_after == []
    assert all(w() is None for w in held)
    gc.collect()
    assert sum(w() is not None for w in stacks) <= 1  # the launcher may hold the last started


def test_dropping_fresh_continuations_never_runs_them():
    ran = []
    ks = [cont_new(Fn(lambda d: ran.append(1))) for _ in range(100)]
    ws = [weakref.ref(k.stack) for k in ks]
    del ks
    assert ran == [] and all(w() is None for w in ws)


def test_dropping_a_deep_suspended_chain_frees_every_stack():
    base = live_stacks()
    r = resume(cont_new(Fn(level)), (500,), H_YIELD, NO_HANDLERS, D)
    assert live_stacks() == base + 501
    del r
    assert live_stacks() == base


def test_dropping_frees_continuations_that_hold_each_other():
    """A task holds its suspended generator in its frame; the generator's frame
    refers to the task it switched to: dropping the task frees both."""
    held = []

    def gen(d):
        o = Obj()
        held.append(weakref.ref(o))
        while True:
            suspend(YIELD, (1,))

    def task(d):
        r = resume(cont_new(Fn(gen)), (), H_YIELD, {}, d)
        k = r[2]  # kept in this frame while the task is suspended
        suspend(OTHER, ())
        return resume(k, (), H_YIELD, {}, d)

    base = live_stacks()
    r = resume(cont_new(Fn(task)), (), {OTHER: 0}, {}, D)
    assert live_stacks() == base + 2
    del r
    assert live_stacks() == base
    assert held[0]() is None


# -- host frames --------------------------------------------------------------------------------
def test_host_frame_is_a_barrier_for_suspend():
    from wasmbox import Engine, Store
    from wasmbox.runtime.store import call_wasm

    store = Store(Engine())
    state = store._state
    assert C._tls.depth == 0
    events = []

    def guest_inner(d):  # Wasm called back by the host function
        suspend(YIELD, ())

    def guest_ok(d):  # Wasm called back by the host: its own resume handles it
        r = resume(cont_new(Fn(lambda d: suspend(YIELD, (9,)))), (), H_YIELD, {}, d)
        return r[1][0]

    def host_function():  # host code, called from Wasm inside a continuation
        events.append(call_wasm(state, guest_ok, []))
        call_wasm(state, guest_inner, [])

    def in_cont(d):
        host_function()

    def outer(d):
        return resume(cont_new(Fn(in_cont)), (), H_YIELD, {}, d)

    with pytest.raises(Trap, match="unhandled tag") as e:
        call_wasm(state, outer, [])
    assert "host function frame" in str(e.value)
    assert events == [9]
    assert C._tls.depth == 0

    # the same with the handler one continuation further out
    def in_cont2(d):
        call_wasm(state, lambda d: resume(cont_new(Fn(guest_inner)), (), {OTHER: 0}, {}, d), [])

    with pytest.raises(Trap, match="unhandled tag"):
        call_wasm(state, lambda d: resume(cont_new(Fn(in_cont2)), (), H_YIELD, {}, d), [])


def test_host_function_called_inside_a_continuation_works():
    from wasmbox import Engine, Store
    from wasmbox.runtime.store import call_wasm

    store = Store(Engine())
    state = store._state

    def host(x):
        return call_wasm(state, lambda v, d: v * 2, [x]) + 1

    def f(d):
        a = host(3)
        (b,) = suspend(YIELD, (a,))
        return host(b)

    def outer(d):
        r = resume(cont_new(Fn(f)), (), H_YIELD, {}, d)
        return resume(r[2], (r[1][0] + 1,), H_YIELD, {}, d)

    assert call_wasm(state, outer, []) == (-1, 17)


# -- budget, states, threads -------------------------------------------------------------------
def test_budget_of_a_fresh_continuation():
    seen = []
    resume(cont_new(Fn(lambda d: seen.append(d))), (), {}, {}, 10_000)
    assert seen == [10_000 - C.START_COST]
    with pytest.raises(Exhaustion, match="call stack exhausted"):
        resume(cont_new(Fn(lambda d: 0)), (), {}, {}, C.START_COST - 1)


def test_nesting_is_bounded_by_the_budget():
    def nest(d):
        if d < 0:
            raise Exhaustion()
        return resume(cont_new(Fn(nest)), (), {}, {}, d - 200)

    with pytest.raises(Exhaustion):
        resume(cont_new(Fn(nest)), (), {}, {}, 200_000)


def test_states_follow_the_transitions():
    seen = {}
    outer_k = []

    def child(d):
        seen["child"] = C.current_stack().state
        seen["parent"] = outer_k[0].stack.state
        suspend(YIELD, ())

    def parent(d):
        r = resume(cont_new(Fn(child)), (), {OTHER: 0}, {}, d)
        return r

    k = cont_new(Fn(parent))
    outer_k.append(k)
    assert k.state == "Fresh"
    r = resume(k, (), H_YIELD, {}, D)
    assert seen == {"child": C.RUNNING, "parent": C.PARENT}
    assert r[2].state == "Suspended" and r[2].stack.state == C.PARENT
    assert C.current_stack() is None
    resume(r[2], (), H_YIELD, {}, D)
    assert k.stack.state == C.RETURNED


def test_resuming_from_another_thread_traps():
    def f(d):
        suspend(YIELD, ())

    fresh = cont_new(Fn(lambda d: 0))
    suspended = resume(cont_new(Fn(f)), (), H_YIELD, {}, D)[2]
    errors = []

    def other():
        for k in (fresh, suspended):
            try:
                resume(k, (), H_YIELD, {}, D)
            except Trap as e:
                errors.append(str(e))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert errors == ["continuation belongs to another thread"] * 2
    assert fresh.valid and suspended.valid  # nothing was consumed
    assert resume(fresh, (), {}, {}, D) == (-1, 0)
    assert resume(suspended, (), H_YIELD, {}, D) == (-1, None)


def test_threads_run_their_own_continuations():
    results = {}

    def work(name):
        def gen(d):
            for i in range(1000):
                suspend(YIELD, (i,))
            return name

        out, res = drive(cont_new(Fn(gen)))
        results[name] = (len(out), res)

    ts = [threading.Thread(target=work, args=(n,)) for n in "abc"]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert results == {n: (1000, n) for n in "abc"}


def test_dropping_in_another_thread_is_safe():
    box = []
    ready, go = threading.Event(), threading.Event()
    ran_after = []

    def f(d):
        suspend(YIELD, ())
        ran_after.append(1)

    def owner():
        box.append(resume(cont_new(Fn(f)), (), H_YIELD, {}, D)[2])
        ready.set()
        go.wait()
        drive(cont_new(Fn(lambda d: 0)))  # more greenlet work in the owning thread

    base = live_stacks()
    t = threading.Thread(target=owner)
    t.start()
    ready.wait()
    box.clear()  # the last object dies here, in the wrong thread: no unwinding from here
    go.set()
    t.join()
    gc.collect()
    assert ran_after == []
    assert live_stacks() == base


def test_a_store_bounds_its_live_continuations():
    store = Store(Engine(Config(max_store_continuations=3)))
    live = store._state
    gen = Fn(lambda d: suspend(YIELD, ()), store)
    a, b, c = cont_new(gen), cont_new(gen), cont_new(gen)
    with pytest.raises(Trap) as e:
        cont_new(gen)
    assert e.value.code is TrapCode.TOO_MANY_CONTINUATIONS
    assert "Config.max_store_continuations" in e.value.message
    r = resume(a, (), H_YIELD, NO_HANDLERS, D)  # suspended: still counts
    assert r[0] == 0 and live._continuations == 3
    del r  # dropping the suspended one gives its slot back
    assert live._continuations == 2
    d = cont_new(gen)
    del b  # so does dropping a fresh one
    assert live._continuations == 2
    del d
    done = Fn(lambda d: 7, store)
    assert resume(cont_new(done), (), NO_HANDLERS, NO_HANDLERS, D) == (-1, 7)  # and finishing
    assert live._continuations == 1  # c, still fresh
    del c
    assert live._continuations == 0
