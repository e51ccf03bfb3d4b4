"""``python -m wasmbox``: the same as the ``wasmbox`` command."""
import sys

from .cli import main

sys.exit(main())
