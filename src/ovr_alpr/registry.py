"""Registries map the config's `type`/`backend` word to a plugin class and, where it has one, its config.

Each plugin module registers itself (`@SINKS.register("jsonl", config=JsonlSinkConfig)`), so a new plugin is
one file: the config (see `config.plugin_slot`) validates a plugin section with the class registered under
its `type` word, and the stage builds the plugin registered under the same word.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> implementation (and its config model), filled by a decorator in each implementation's module.

    Example:
        >>> KINDS: Registry[type] = Registry("example")
        >>> @KINDS.register("jsonl")
        ... class JsonlThing: ...
        >>> KINDS.get("jsonl").__name__
        'JsonlThing'
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._configs: dict[str, type] = {}
        self._declared: set[str] = set()
        _ALL[kind] = self

    def declare(self, *names: str) -> None:
        """Names whose plugin registers itself when its (optional) module is imported on first use."""
        self._declared.update(names)

    def register(self, name: str, config: type | None = None) -> Callable[[T], T]:
        """Decorator: register the plugin under `name`, with the pydantic model of its config section."""

        def deco(obj: T) -> T:
            self._items[name] = obj
            if config is not None:
                self._configs[name] = config
            return obj

        return deco

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise ConfigError(f"unknown {self.kind} {name!r}", f"use one of: {self.allowed()}") from None

    def config_class(self, name: str) -> type:
        """The config model registered for `name`; ValueError naming the allowed words when there is none."""
        try:
            return self._configs[name]
        except KeyError:
            raise ValueError(f"unknown {self.kind} {name!r}, allowed: {self.allowed(configs=True)}") from None

    def allowed(self, configs: bool = False) -> str:
        return ", ".join(sorted(self._configs) if configs else self.names()) or "(none registered)"

    def names(self) -> list[str]:
        """Registered and declared names."""
        return sorted(self._items.keys() | self._declared)

    def loaded(self, name: str) -> bool:
        """Whether `name`'s plugin is registered now (a declared one may not be imported yet)."""
        return name in self._items

    def __contains__(self, name: str) -> bool:
        return name in self._items or name in self._declared


_ALL: dict[str, Registry[Any]] = {}


def registry(kind: str) -> Registry[Any]:
    """The registry of one plugin kind, created on first use (the config looks plugins up by kind)."""
    return _ALL.get(kind) or Registry(kind)
