"""The Engine: a Config plus the cache of compiled modules.

Modules loaded from the same bytes through one engine share their decoded
form and their compiled code (keyed by the SHA-256 of the bytes), so loading
a module a second time costs a hash, not a decode, validation and compile.

Raises :class:`TypeError` for a config that is not a :class:`Config`.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from .config import Config

#: number of distinct modules an engine keeps compiled
CACHE_SIZE = 64


class Engine:
    """A compilation environment shared by stores and modules."""

    def __init__(self, config: Config | None = None) -> None:
        if config is None:
            config = Config()
        if not isinstance(config, Config):
            raise TypeError("Engine(config): expected a wasmbox Config")
        self.config = config
        self._cache: OrderedDict[bytes, Any] = OrderedDict()
        self._lock = threading.Lock()

    def _cached(self, key: bytes) -> Any:
        with self._lock:
            v = self._cache.get(key)
            if v is not None:
                self._cache.move_to_end(key)
            return v

    def _remember(self, key: bytes, value: Any) -> None:
        with self._lock:
            self._cache[key] = value
            self._cache.move_to_end(key)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
