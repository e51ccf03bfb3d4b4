"""Wasm 3.0 features for the binaryen fuzzer that binaryen 108 cannot write.

binaryen 108's ``-ttf`` knows tail calls (``--enable-tail-call``: a
``return_call``/``return_call_indirect`` in about 6% of its modules), but
with ``--enable-exception-handling`` it only declares tags (no ``throw``,
no ``try``: it predates try_table and exnref, and wasmtime does not run
the legacy try/catch/delegate/rethrow at all), and its typed function
references are in a pre-standard encoding with ``anyref`` merged into
``externref`` (97% of such modules are refused by both engines, the rest
hold no typed reference instruction). So the fuzzer rewrites binaryen's
modules, seeded, into valid modules that use the features
(:func:`inject`), and compares them as before (docs/fuzzing.md):

* ``tail-call`` (:data:`TAIL_CALL`): calls in tail position whose results
  are the function's become ``return_call`` / ``return_call_indirect``.
* ``typed-refs`` (:data:`TYPED_REFS`): some ``call $f`` become
  ``ref.func $f`` + ``call_ref``, through ``ref.as_non_null``, or
  ``br_on_null`` / ``br_on_non_null`` on ``ref.func`` or ``ref.null``
  (the null path calls ``$f`` directly, so the result is the same), and
  ``return_call $f`` becomes ``return_call_ref``.
* ``exceptions`` (:data:`EXCEPTIONS`): new tags (payloads of numeric
  types) beside binaryen's; throw sites (``throw`` of constant payloads
  every N-th time a counter global passes the site, and some
  ``unreachable`` made ``throw``); some function bodies wrapped in a
  ``try_table`` with one or two clauses (``catch``, ``catch_ref``,
  ``catch_all``, ``catch_all_ref``) whose handlers log the payload through
  the log imports and return constants, or rethrow with ``throw_ref``.
  Exceptions that escape an export are compared as outcomes (tag and
  payload: tests/diff_support.py).

Every rewrite keeps the module valid by construction (stack-neutral
snippets, block types from the module's types); both engines still
validate it.
"""
from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent / "tests"
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

import diff_support as D  # noqa: E402
from wasmbox.binary import encode_module  # noqa: E402
from wasmbox.binary.decode import decode_module  # noqa: E402
from wasmbox.syntax import module as sm  # noqa: E402
from wasmbox.syntax.types import (F32, F64, I32, I64, V128, AbsHeap, FuncType,  # noqa: E402
                                  GlobalType, RecType, RefType, SubType, TagType,
                                  flatten_types)

TAIL_CALL = "tail-call"
TYPED_REFS = "typed-refs"
EXCEPTIONS = "exceptions"
#: SIMD (Wasm 2.0): binaryen 108 writes it itself, so it is only a flag (no
#: rewrite); it is a feature here so that seeds get it or not alike.
SIMD = "simd"
#: Every feature the fuzzer can add, in the order they are applied (new
#: ones go last: a seed's choices of the earlier ones stay as they were).
ALL_FEATURES = (TAIL_CALL, TYPED_REFS, EXCEPTIONS, SIMD)
#: binaryen flags per feature (what -ttf gets besides the rewrite).
WASM_OPT_FLAGS = {TAIL_CALL: ["--enable-tail-call"],
                  EXCEPTIONS: ["--enable-exception-handling"], TYPED_REFS: [],
                  SIMD: ["--enable-simd"]}

#: Chances per call / function (see inject).
P_TAIL = 0.8
P_REF_CALL = 0.35
P_THROW_SITE = 0.5
P_UNREACHABLE_THROW = 0.3
P_WRAP = 0.5
#: Payload types of the tags inject adds.
TAG_PARAMS = [(), (I32,), (I64, F32), (F64, I32, I64), (F32,)]
#: A throw site throws every N-th time the counter passes it, N from these.
THROW_PERIODS = (1, 2, 3, 5, 8, 13)
#: The handler's marker: log-i32 of this plus the clause number.
MARKER = 0x5EED0
_NAMES = {I32: "i32", I64: "i64", F32: "f32", F64: "f64", V128: "v128"}


class _Rewriter:
    """One module being rewritten (see inject)."""

    def __init__(self, m: sm.Module, rng: random.Random) -> None:
        self.m = m
        self.rng = rng
        self.counts: Counter = Counter()
        self.n_imp = len(m.imports_of(sm.ExternKind.FUNC))
        self.declared: set[int] = set()
        self.log: dict[str, int] = {}
        k = 0
        for imp in m.imports:
            if imp.kind is sm.ExternKind.FUNC:
                if imp.module == "fuzzing-support" and imp.name.startswith("log-"):
                    self.log[imp.name[4:]] = k
                k += 1
        hang = next((e.index for e in m.exports if e.name == "hangLimitInitializer"
                     and e.kind is sm.ExternKind.FUNC), None)
        self.skip = {hang} if hang is not None else set()

    # -- types ----------------------------------------------------------------
    def types(self) -> list[SubType]:
        return flatten_types(self.m.types)

    def functype(self, type_index: int) -> FuncType:
        return self.types()[type_index].comp

    def type_index(self, ft: FuncType) -> int:
        """The index of a plain final function type ft (added when missing)."""
        for k, rec in enumerate(self.m.types):
            if len(rec.subtypes) == 1 and rec.subtypes[0] == SubType(ft):
                return sum(len(r.subtypes) for r in self.m.types[:k])
        self.m.types.append(RecType((SubType(ft),)))
        return len(self.types()) - 1

    def blocktype(self, params: tuple, results: tuple) -> Any:
        if not params and not results:
            return None
        if not params and len(results) == 1:
            return results[0]
        return self.type_index(FuncType(tuple(params), tuple(results)))

    def func_type_index(self, f: int) -> int:
        if f < self.n_imp:
            return self.m.imports_of(sm.ExternKind.FUNC)[f].desc
        return self.m.funcs[f - self.n_imp].type_index

    def const(self, t: Any) -> sm.Instr:
        """A constant of value type t (a reference: its null)."""
        if t not in _NAMES:
            return sm.Instr("ref.null", (_heap(t),))
        name = _NAMES[t]
        bits = D.draw_bits(self.rng, name)
        if name == "v128":
            return sm.Instr("v128.const", (bits,))
        if name in ("i32", "i64"):
            w = 32 if name == "i32" else 64
            bits = bits - (1 << w) if bits >> (w - 1) else bits
        return sm.Instr(f"{name}.const", (bits,))

    def defined(self) -> list[tuple[int, sm.Func]]:
        return [(self.n_imp + j, f) for j, f in enumerate(self.m.funcs)
                if self.n_imp + j not in self.skip]

    # -- tail calls -------------------------------------------------------------
    def tail_calls(self) -> None:
        for _, f in self.defined():
            results = self.functype(f.type_index).results
            body = f.body
            # the tail positions of the body: its last instruction, and the
            # last of every block/if/loop arm that is itself in tail position
            spans = [(0, len(body))]
            while spans:
                lo, hi = spans.pop()
                if hi <= lo:
                    continue
                last = hi - 1
                ins = body[last]
                if ins.op == "end":
                    opener = _opener(body, last)
                    if opener is None or opener < lo:
                        continue
                    bt = body[opener].imm[0] if body[opener].imm else None
                    if self._bt_results(bt) != results:
                        continue
                    spans += _arms(body, opener, last)
                    continue
                if self.rng.random() >= P_TAIL:
                    continue
                if ins.op == "call" and self.functype(
                        self.func_type_index(ins.imm[0])).results == results:
                    body[last] = sm.Instr("return_call", ins.imm)
                    self.counts["return_call"] += 1
                elif ins.op == "call_indirect" and \
                        self.functype(ins.imm[0]).results == results:
                    body[last] = sm.Instr("return_call_indirect", ins.imm)
                    self.counts["return_call_indirect"] += 1

    def _bt_results(self, bt: Any) -> tuple:
        if bt is None:
            return ()
        if isinstance(bt, int):
            return self.functype(bt).results
        return (bt,)

    # -- typed function references -------------------------------------------------
    def typed_refs(self) -> None:
        for _, f in self.defined():
            out: list[sm.Instr] = []
            for ins in f.body:
                if ins.op in ("call", "return_call") and self.rng.random() < P_REF_CALL:
                    out += self._ref_call(ins)
                else:
                    out.append(ins)
            f.body = out
        if self.declared:
            self.m.elems.append(sm.Elem(RefType(False, AbsHeap.FUNC),
                                        [[sm.Instr("ref.func", (g,))]
                                         for g in sorted(self.declared)], "declarative"))

    def _ref_call(self, ins: sm.Instr) -> list[sm.Instr]:
        g = ins.imm[0]
        tf = self.func_type_index(g)
        self.declared.add(g)
        ref = sm.Instr("ref.func", (g,))
        if ins.op == "return_call":
            self.counts["return_call_ref"] += 1
            return [ref, sm.Instr("return_call_ref", (tf,))]
        ft = self.functype(tf)
        p, r = ft.params, ft.results
        variant = self.rng.randrange(4)
        call_ref = sm.Instr("call_ref", (tf,))
        self.counts["call_ref"] += 1
        if variant == 0:
            return [ref, call_ref]
        if variant == 1:
            self.counts["ref.as_non_null"] += 1
            return [ref, sm.Instr("ref.as_non_null"), call_ref]
        null = self.rng.random() < 0.3
        src = sm.Instr("ref.null", (tf,)) if null else ref
        if null:
            self.counts["ref.null"] += 1
        outer = sm.Instr("block", (self.blocktype(p, r),))
        if variant == 2:
            self.counts["br_on_null"] += 1
            inner = sm.Instr("block", (self.blocktype(p, p),))
            return [outer, inner, src, sm.Instr("br_on_null", (0,)), call_ref,
                    sm.Instr("br", (1,)), sm.Instr("end"), ins, sm.Instr("end")]
        self.counts["br_on_non_null"] += 1
        inner = sm.Instr("block", (self.blocktype(p, (*p, RefType(False, tf))),))
        return [outer, inner, src, sm.Instr("br_on_non_null", (0,)), ins,
                sm.Instr("br", (1,)), sm.Instr("end"), call_ref, sm.Instr("end")]

    # -- exceptions ---------------------------------------------------------------
    def exceptions(self) -> None:
        m = self.m
        for ps in self.rng.sample(TAG_PARAMS, 3):
            m.tags.append(sm.Tag(TagType(self.type_index(FuncType(ps, ())))))
        self.tag_params = [self.functype(i.desc.type_index).params
                           for i in m.imports_of(sm.ExternKind.TAG)]
        self.tag_params += [self.functype(t.type.type_index).params for t in m.tags]
        self.n_tags = len(self.tag_params)
        m.globals.append(sm.Global(GlobalType(I32, True), [sm.Instr("i32.const", (0,))]))
        self.counter = len(m.imports_of(sm.ExternKind.GLOBAL)) + len(m.globals) - 1
        for _, f in self.defined():
            self._throw_sites(f)
        for _, f in self.defined():
            if self.rng.random() < P_WRAP:
                self._wrap(f)

    def _payload_throw(self) -> list[sm.Instr]:
        tag = self.rng.randrange(self.n_tags)
        self.counts["throw"] += 1
        return [self.const(t) for t in self.tag_params[tag]] + [sm.Instr("throw", (tag,))]

    def _throw_sites(self, f: sm.Func) -> None:
        out: list[sm.Instr] = []
        for ins in f.body:
            if ins.op == "unreachable" and self.rng.random() < P_UNREACHABLE_THROW:
                out += self._payload_throw()
            else:
                out.append(ins)
        if self.rng.random() < P_THROW_SITE:
            for _ in range(self.rng.randint(1, 2)):
                at = self.rng.randint(0, len(out))
                c = self.counter
                snippet = [sm.Instr("global.get", (c,)), sm.Instr("i32.const", (1,)),
                           sm.Instr("i32.add"), sm.Instr("global.set", (c,)),
                           sm.Instr("global.get", (c,)),
                           sm.Instr("i32.const", (self.rng.choice(THROW_PERIODS),)),
                           sm.Instr("i32.rem_u"), sm.Instr("i32.eqz"), sm.Instr("if", (None,)),
                           *self._payload_throw(), sm.Instr("end")]
                out[at:at] = snippet
        f.body = out

    def _wrap(self, f: sm.Func) -> None:
        """f's body B as ``block* (try_table (result R) clauses B) return end*
        handlers``: see the module docstring."""
        results = self.functype(f.type_index).results
        n_clauses = self.rng.randint(1, 2)
        clauses: list[tuple[str, int | None]] = []
        for k in range(n_clauses):
            last = k == n_clauses - 1
            kinds = ["catch", "catch_ref"] + (["catch_all", "catch_all_ref"] if last else [])
            kind = self.rng.choice(kinds)
            tag = None if kind.startswith("catch_all") else self.rng.randrange(self.n_tags)
            clauses.append((kind, tag))
        # innermost block first: clause k branches to label k (outside the try_table)
        opens: list[sm.Instr] = []
        handlers: list[list[sm.Instr]] = []
        for k, (kind, tag) in enumerate(clauses):
            vals = self.tag_params[tag] if tag is not None else ()
            with_ref = kind.endswith("_ref")
            label_results = (*vals, RefType(True, AbsHeap.EXN)) if with_ref else vals
            opens.append(sm.Instr("block", (self.blocktype((), label_results),)))
            handlers.append(self._handler(k, vals, with_ref, results,
                                          last=k == len(clauses) - 1))
            self.counts[kind] += 1
        catches = tuple(sm.Catch(kind, tag, k) for k, (kind, tag) in enumerate(clauses))
        self.counts["try_table"] += 1
        body = [*reversed(opens), sm.Instr("try_table", (self.blocktype((), results), catches)),
                *f.body, sm.Instr("end"), sm.Instr("return")]
        for h in handlers:
            body += [sm.Instr("end"), *h]
        f.body = body

    def _handler(self, k: int, vals: tuple, with_ref: bool, results: tuple,
                 last: bool) -> list[sm.Instr]:
        out: list[sm.Instr] = []
        if with_ref:
            if self.rng.random() < 0.5:
                self.counts["throw_ref"] += 1
                if "i32" in self.log:
                    out += [sm.Instr("i32.const", (MARKER + 16 + k,)),
                            sm.Instr("call", (self.log["i32"],))]
                return out + [sm.Instr("throw_ref")]
            out.append(sm.Instr("drop"))
        for t in reversed(vals):
            name = _NAMES.get(t)
            out.append(sm.Instr("call", (self.log[name],)) if name in self.log
                       else sm.Instr("drop"))
        if "i32" in self.log:
            out += [sm.Instr("i32.const", (MARKER + k,)), sm.Instr("call", (self.log["i32"],))]
        out += [self.const(t) for t in results]
        if not last:
            out.append(sm.Instr("return"))
        return out


def _heap(t: Any) -> Any:
    return t.heap if isinstance(t, RefType) else AbsHeap.FUNC


def _opener(body: list[sm.Instr], end: int) -> int | None:
    """The index of the block/loop/if/try_table that body[end] (an ``end``) closes."""
    depth = 0
    for i in range(end - 1, -1, -1):
        op = body[i].op
        if op == "end":
            depth += 1
        elif op in ("block", "loop", "if", "try", "try_table"):
            if depth == 0:
                return i if op in ("block", "loop", "if") else None
            depth -= 1
    return None


def _arms(body: list[sm.Instr], opener: int, end: int) -> list[tuple[int, int]]:
    """The arms (index spans) of the construct body[opener:end+1]."""
    arms = []
    start = opener + 1
    depth = 0
    for i in range(opener + 1, end):
        op = body[i].op
        if op in ("block", "loop", "if", "try", "try_table"):
            depth += 1
        elif op == "end":
            depth -= 1
        elif op == "else" and depth == 0:
            arms.append((start, i))
            start = i + 1
    arms.append((start, end))
    return arms


def inject(data: bytes, features: frozenset[str] | set[str],
           rng: random.Random) -> tuple[bytes, Counter]:
    """data rewritten to use features (see the module docstring), with the
    number of each instruction added. Raises what decoding and encoding
    raise (WasmboxError)."""
    m = decode_module(data)
    r = _Rewriter(m, rng)
    if TAIL_CALL in features:
        r.tail_calls()
    if TYPED_REFS in features:
        r.typed_refs()
    if EXCEPTIONS in features:
        r.exceptions()
    if not r.counts and EXCEPTIONS not in features:
        return data, r.counts
    m.names = sm.Names()
    return encode_module(m), r.counts
