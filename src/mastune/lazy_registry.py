"""A name -> class registry whose heavy entries are imported only when first asked for.

System kinds (systems/registry.py) and optimisers (optim/base.py) both register
themselves by decorator, and name modules to import lazily (torch, transformers)
so `mastune --help` stays fast.
"""
from __future__ import annotations

import importlib
from typing import Callable, Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class LazyRegistry(Generic[T]):
    def __init__(self, what: str, name_attr: str) -> None:
        self.what = what  # "system kind", "optimiser": for error messages
        self.name_attr = name_attr  # the attribute the decorator sets to the registered name
        self._items: dict[str, T] = {}
        self._lazy: dict[str, str] = {}  # name -> module that registers it on import

    def register(self, name: str) -> Callable[[T], T]:
        def deco(cls: T) -> T:
            setattr(cls, self.name_attr, name)
            self._items[name] = cls
            return cls

        return deco

    def register_lazy(self, name: str, module: str) -> None:
        """Name an entry whose module is imported only when the entry is used."""
        if name not in self._items:
            self._lazy[name] = module

    def names(self) -> list[str]:
        return sorted({*self._items, *self._lazy})

    def get(self, name: str, provider: str | None = None) -> T:
        """The entry; `provider` names the module to import when it is not registered yet."""
        module = provider or self._lazy.get(name)
        if name not in self._items and module:
            importlib.import_module(module)
        try:
            return self._items[name]
        except KeyError:
            raise ConfigError(f"unknown {self.what} {name!r}; {self.what}s: {', '.join(self.names())}") from None
