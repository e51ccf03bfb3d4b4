"""peers.py adapter for wasmbox: ``load(wasm_bytes) -> callable(n) -> int``.

    python ../shared/bench/peers.py --adapter wasmbox=benchmarks/wasmbox_adapter.py \
        --engine pywasm,wasmbox --n default
"""
import wasmbox
from wasmbox.runtime import Engine, Instance, Module, Store

VERSION = f"wasmbox {wasmbox.__version__} (compile-to-Python)"


def load(wasm_bytes):
    """Decode, validate and instantiate; return the instance's run(n)."""
    engine = Engine()
    store = Store(engine)
    instance = Instance(store, Module(engine, wasm_bytes), [])
    run = instance.exports(store)["run"]
    return lambda n: run(store, n)
