"""Pass a string from Python to a Wasm guest and get a new string back.

    python examples/strings/run.py "hello, wasm"      # prints HELLO, WASM!

The guest (shout.wat) imports the host allocator's malloc/free. Python

1. installs the allocator into a Linker (``Linker.define_allocator``),
2. writes the argument into the guest's memory (``write_str``: a block
   from the same heap the guest allocates from),
3. calls ``shout(ptr, len)``, which mallocs the result inside the guest,
4. reads the result (``read_str``) and frees both blocks.
"""
from __future__ import annotations

import sys
from pathlib import Path

from wasmbox.host.alloc import read_str
from wasmbox.runtime import Engine, Linker, Module, Store

WAT = Path(__file__).with_name("shout.wat")


class Shouter:
    """One guest instance and the allocator it shares with the host."""

    def __init__(self) -> None:
        self.engine = Engine()
        self.store = Store(self.engine)
        linker = Linker(self.engine)
        self.allocators = linker.define_allocator()  # env.ext_allocator_{malloc,free}_version_1
        self.instance = linker.instantiate(self.store, Module.from_file(self.engine, WAT))
        exports = self.instance.exports(self.store)
        self.memory = exports["memory"]
        self._shout = exports["shout"]
        # the heap starts at the guest's exported __heap_base
        self.heap = self.allocators.for_instance(self.store, self.instance)

    def shout(self, text: str) -> str:
        store, mem, heap = self.store, self.memory, self.heap
        arg = heap.write_str(store, mem, text)
        try:
            ptr, length = self._shout(store, arg, len(text.encode("utf-8")))
        finally:
            heap.deallocate(store, mem, arg)
        try:
            return read_str(store, mem, ptr, length)
        finally:
            heap.deallocate(store, mem, ptr)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    shouter = Shouter()
    for text in args or ["hello from python, grüße 🌍"]:
        print(shouter.shout(text))
    st = shouter.heap.stats
    print(f"heap: {st.bytes_allocated} bytes live, peak {st.bytes_allocated_peak}, "
          f"address space used {st.address_space_used}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
