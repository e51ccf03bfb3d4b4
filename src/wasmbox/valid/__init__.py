"""Validation: is a decoded or parsed module valid (Wasm 2.0 + multi-memory,
memory64/table64, custom page sizes, extended constants)?

Public API:

* :func:`validate_module` ``(m: Module) -> ModuleInfo``: raises
  :class:`~wasmbox.errors.ValidationError` whose message starts with the spec
  test suite's text, or :class:`~wasmbox.errors.UnsupportedFeature` for a
  construct of a proposal that is not implemented yet.
* :class:`ModuleInfo`: the index spaces with their types, canonical type keys,
  declared function references and per-function stack maxima.

One concern per file: ``types`` (type checks, subtyping), ``features`` (what
is supported), ``signatures`` (numeric/memory instruction types derived from
names), ``instructions`` (function bodies), ``const`` (constant expressions),
``context`` (ModuleInfo), ``module`` (the module-level rules).
"""
from .context import ModuleInfo
from .module import validate_module
from .types import TypeSpace, canonical_keys

__all__ = ["ModuleInfo", "validate_module", "TypeSpace", "canonical_keys"]
