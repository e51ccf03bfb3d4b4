"""``python -m wasmbox`` runs the command line (see :mod:`wasmbox.cli`)."""
import sys

from .cli import main

sys.exit(main())
