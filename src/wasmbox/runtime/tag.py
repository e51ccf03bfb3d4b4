"""Tag instances (exception handling).

A :class:`Tag` *is* the tag instance: the identity that ``catch`` clauses
compare (by ``is``). A module's defined tags are made once per instance; an
imported tag is the exporter's object itself, so two modules that import
the same tag catch each other's exceptions, and two instances of one module
do not. Generated code reaches tag ``i`` as ``TG<i>`` in its globals.

``Tag(store, TagType(FuncType([...], [])))`` makes a host tag (as
wasmtime-py does); ``tag.type(store)`` gives its :class:`TagType` and
``tag.eq(store, other)`` says whether two tags are the same tag.

Raises :class:`TypeError` for arguments of the wrong type and
:class:`ValueError` for a function type with results.
"""
from __future__ import annotations

from typing import Any

from ..exec.env import functype_id
from ..syntax import types as st
from .store import Store, StoreState, store_state
from .types import TagType


class Tag:
    """A tag instance (see the module docstring)."""

    __slots__ = ("_ft", "tid", "_store", "__weakref__")

    def __init__(self, store: Store, ty: TagType) -> None:
        if not isinstance(store, Store):
            raise TypeError("Tag(store, ty): expected a Store")
        if not isinstance(ty, TagType):
            raise TypeError("Tag(store, ty): expected a TagType")
        self._ft = ty._ft
        self.tid = functype_id(ty._ft)
        self._store = store._state

    @classmethod
    def _create(cls, store: Store | StoreState, ft: st.FuncType, tid: int) -> "Tag":
        """A module's defined tag (``tid``: the canonical id of its type)."""
        self = cls.__new__(cls)
        self._ft = ft
        self.tid = tid
        self._store = store_state(store)
        return self

    def type(self, store: Any = None) -> TagType:
        return TagType._wrap(self._ft)

    def eq(self, store: Any, other: "Tag") -> bool:
        """Whether other is this very tag (same definition)."""
        return self is other

    def __repr__(self) -> str:
        return f"<Tag {self._ft!r}>"
