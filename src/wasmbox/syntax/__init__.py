"""Abstract syntax: types, the module structure and the opcode table."""
from .types import *  # noqa: F401,F403
from .module import *  # noqa: F401,F403
from .opcodes import OPS, OPS_BY_CODE, Op  # noqa: F401
