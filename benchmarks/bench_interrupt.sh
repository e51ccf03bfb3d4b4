#!/bin/sh
# The cost of fuel and epochs on the benchmark corpus: wasmbox with each
# option against wasmbox without, in one peers.py run (ratios > 1 = slower).
#   sh benchmarks/bench_interrupt.sh [--reps N] [--n small|default|large]
cd "$(dirname "$0")/.." || exit 1
exec python ../shared/bench/peers.py \
  --adapter wasmbox=benchmarks/wasmbox_adapter.py \
  --adapter wasmbox-fuel=benchmarks/wasmbox_fuel_adapter.py \
  --adapter wasmbox-epochs=benchmarks/wasmbox_epochs_adapter.py \
  --engine wasmbox,wasmbox-fuel,wasmbox-epochs --baseline wasmbox "$@"
