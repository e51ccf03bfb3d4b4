"""peers.py adapter: wasmbox with Config.consume_fuel (see wasmbox_adapter.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wasmbox_adapter import VERSION as _V, make_loader  # noqa: E402

VERSION = _V + ", fuel"
load = make_loader(consume_fuel=True)
