"""peers.py adapter for wasmbox: ``load(wasm_bytes) -> callable(n) -> int``.

    python ../shared/bench/peers.py --adapter wasmbox=benchmarks/wasmbox_adapter.py \
        --engine pywasm,wasmbox --n default

``benchmarks/wasmbox_fuel_adapter.py`` and ``benchmarks/wasmbox_epochs_adapter.py``
are the same engine with ``Config.consume_fuel`` / ``Config.epoch_interruption``
on (see ``benchmarks/bench_interrupt.sh`` for the overhead measurement).
"""
import wasmbox
from wasmbox.runtime import Engine, Instance, Module, Store

VERSION = f"wasmbox {wasmbox.__version__} (compile-to-Python)"

#: a lot more fuel than any benchmark uses (2**63)
FUEL = 1 << 63


def make_loader(**options):
    """A ``load`` for an engine made with these Config options."""
    def load(wasm_bytes):
        """Decode, validate and instantiate; return the instance's run(n)."""
        engine = Engine(wasmbox.Config(**options))
        store = Store(engine)
        if options.get("consume_fuel"):
            store.set_fuel(FUEL)
        if options.get("epoch_interruption"):
            store.set_epoch_deadline(1 << 62)
        instance = Instance(store, Module(engine, wasm_bytes), [])
        run = instance.exports(store)["run"]
        if options.get("consume_fuel"):
            def run_fuel(n):
                store.set_fuel(FUEL)
                return run(store, n)
            return run_fuel
        return lambda n: run(store, n)
    return load


load = make_loader()
