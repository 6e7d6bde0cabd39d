"""A registry maps the config's `type`/`backend` word to the class that implements it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> implementation, filled by a decorator in each implementation's module.

    Example:
        >>> SINKS: Registry[type] = Registry("sink")
        >>> @SINKS.register("jsonl")
        ... class JsonlSink: ...
        >>> SINKS.get("jsonl").__name__
        'JsonlSink'
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def deco(obj: T) -> T:
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            allowed = ", ".join(sorted(self._items))
            raise ConfigError(f"unknown {self.kind} {name!r}", f"use one of: {allowed}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items
