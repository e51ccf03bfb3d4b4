"""Modules: decoded (or parsed), validated, and ready to instantiate.

``Module(engine, wasm)`` accepts the binary format (bytes starting with
``\\0asm``) or the text format (a ``str``, or bytes that are not binary).
Decoding, validation and the compiled-code cache are done once per distinct
module per engine (keyed by a SHA-256 of the input); compiled functions are
shared by every instance of the module.

Raises :class:`~wasmbox.errors.DecodeError` / :class:`~wasmbox.errors.ParseError`
(malformed), :class:`~wasmbox.errors.ValidationError` (invalid, or using a
proposal the engine's config has not enabled),
:class:`~wasmbox.errors.UnsupportedFeature` (valid but not runnable here),
:class:`TypeError` for arguments of the wrong type.
"""
from __future__ import annotations

import hashlib
import os
from typing import Any

from ..binary.decode import decode_module
from ..errors import UnsupportedFeature, ValidationError
from ..exec.compile import ModuleCode
from ..syntax import module as sm
from .engine import Engine
from .types import (
    ExportType, ExternType, FuncType, GlobalType, ImportType, MemoryType, TableType, TagType,
)

try:
    from ..valid import validate_module as _validate
except ImportError:  # pragma: no cover - the validator is part of the package
    _validate = None


def _parse_text(text: str | bytes) -> sm.Module:
    from ..text.parse import parse_module

    return parse_module(text)


def _load(wasm: Any, custom_page_sizes: bool) -> tuple[sm.Module, bytes]:
    """(syntax module, cache key) for bytes or text. Raises DecodeError/ParseError."""
    if isinstance(wasm, str):
        key = hashlib.sha256(b"wat\0" + wasm.encode("utf-8", "surrogatepass")).digest()
        return _parse_text(wasm), key
    if isinstance(wasm, (bytes, bytearray, memoryview)):
        data = bytes(wasm)
        if data[:4] == b"\0asm":
            return (decode_module(data, custom_page_sizes=custom_page_sizes),
                    hashlib.sha256(b"bin\0" + data).digest())
        return _parse_text(data), hashlib.sha256(b"wat\0" + data).digest()
    raise TypeError(f"Module(engine, wasm): expected bytes or str, got {type(wasm).__name__}")


def check_features(engine: Engine, m: sm.Module) -> None:
    """Refuse what the engine's config has not enabled. Raises ValidationError."""
    if engine.config.wasm_custom_page_sizes:
        return
    types = [mdef.type for mdef in m.mems]
    types += [imp.desc for imp in m.imports if imp.kind is sm.ExternKind.MEM]
    if any(getattr(t, "page_size_log2", None) is not None for t in types):
        raise ValidationError("custom page sizes are not enabled "
                              "(Config.wasm_custom_page_sizes)")


def validate_syntax(m: sm.Module, stack_switching: bool = False) -> Any:
    """Validate a syntax module; returns the validator's info (None if unavailable)."""
    if _validate is None:
        return None
    return _validate(m, stack_switching=stack_switching)


def _module_code(engine: Engine, m: sm.Module, info: Any) -> ModuleCode:
    """The compiled-code cache of a module, instrumented as the engine's config asks."""
    cfg = engine.config
    return ModuleCode(m, info, fuel=cfg.consume_fuel, epochs=cfg.epoch_interruption)


def extern_type(env: Any, kind: sm.ExternKind, index_or_desc: Any, imported: bool) -> ExternType:
    """The API type of an import (desc) or an export (index).

    Raises UnsupportedFeature for kinds not supported.
    """
    if kind is sm.ExternKind.FUNC:
        ft = env.functype(index_or_desc) if imported else env.func_types[index_or_desc]
        return FuncType._wrap(ft)
    if kind is sm.ExternKind.GLOBAL:
        return GlobalType._wrap(index_or_desc if imported else env.globals[index_or_desc])
    if kind is sm.ExternKind.TABLE:
        return TableType._wrap(index_or_desc if imported else env.tables[index_or_desc])
    if kind is sm.ExternKind.MEM:
        return MemoryType._wrap(index_or_desc if imported else env.mems[index_or_desc])
    if kind is sm.ExternKind.TAG:
        ti = index_or_desc.type_index if imported else env.tag_type_idx[index_or_desc]
        return TagType._wrap(env.functype(ti))
    raise UnsupportedFeature(f"{kind.text} imports and exports are not supported")


class Module:
    """A compiled module (see the module docstring)."""

    def __init__(self, engine: Engine, wasm: bytes | bytearray | str) -> None:
        if not isinstance(engine, Engine):
            raise TypeError("Module(engine, wasm): expected a wasmbox Engine")
        m, key = _load(wasm, engine.config.wasm_custom_page_sizes)
        cached = engine._cached(key)
        if cached is None:
            check_features(engine, m)
            info = validate_syntax(m, engine.config.wasm_stack_switching) if engine.config.validate \
                else None
            cached = (m, _module_code(engine, m, info))
            engine._remember(key, cached)
        self.engine = engine
        self.syntax: sm.Module = cached[0]
        self._code: ModuleCode = cached[1]

    @classmethod
    def from_syntax(cls, engine: Engine, m: sm.Module, *, validate: bool = True) -> "Module":
        """A module from an already decoded/parsed :class:`wasmbox.syntax.Module`.

        Raises ValidationError/UnsupportedFeature when validate is true.
        """
        self = cls.__new__(cls)
        check_features(engine, m)
        info = validate_syntax(m, engine.config.wasm_stack_switching) if validate else None
        self.engine = engine
        self.syntax = m
        self._code = _module_code(engine, m, info)
        return self

    @classmethod
    def from_file(cls, engine: Engine, path: str | bytes | os.PathLike) -> "Module":
        """Load a .wasm or .wat file. Raises OSError, DecodeError, ParseError, ..."""
        with open(path, "rb") as f:
            data = f.read()
        return cls(engine, data)

    @staticmethod
    def validate(engine: Engine, wasm: bytes | bytearray | str) -> None:
        """Check that wasm decodes and validates; raises the error otherwise."""
        m, _ = _load(wasm, engine.config.wasm_custom_page_sizes)
        check_features(engine, m)
        validate_syntax(m, engine.config.wasm_stack_switching)

    @property
    def imports(self) -> list[ImportType]:
        env = self._code.env
        return [ImportType(i.module, i.name, extern_type(env, i.kind, i.desc, True))
                for i in self.syntax.imports]

    @property
    def exports(self) -> list[ExportType]:
        env = self._code.env
        return [ExportType(e.name, extern_type(env, e.kind, e.index, False))
                for e in self.syntax.exports]

    def __repr__(self) -> str:
        return (f"<Module {len(self.syntax.imports)} imports, {len(self.syntax.exports)} exports, "
                f"{len(self.syntax.funcs)} functions>")

