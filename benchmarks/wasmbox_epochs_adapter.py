"""peers.py adapter: wasmbox with Config.epoch_interruption (see wasmbox_adapter.py)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wasmbox_adapter import VERSION as _V, make_loader  # noqa: E402

VERSION = _V + ", epochs"
load = make_loader(epoch_interruption=True)
