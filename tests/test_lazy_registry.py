"""LazyRegistry: decorator registration, lazy imports on first use, clear unknown-name errors."""
import sys
import types

import pytest

from mastune.errors import ConfigError
from mastune.lazy_registry import LazyRegistry


def test_register_sets_the_name_and_get_returns_it():
    reg = LazyRegistry("widget", "kind")

    @reg.register("a")
    class A:
        pass

    assert A.kind == "a" and reg.get("a") is A and reg.names() == ["a"]
    with pytest.raises(ConfigError, match=r"unknown widget 'b'; widgets: a"):
        reg.get("b")


def test_a_lazy_entry_imports_its_module_once_asked(monkeypatch):
    reg = LazyRegistry("widget", "kind")
    mod = types.ModuleType("fake_heavy_widgets")
    imported = []

    def loader():  # what importing the module does: register the class
        imported.append(1)

        @reg.register("heavy")
        class Heavy:
            pass

    monkeypatch.setitem(sys.modules, "fake_heavy_widgets", mod)
    reg.register_lazy("heavy", "fake_heavy_widgets")
    assert reg.names() == ["heavy"] and not imported
    monkeypatch.setattr("importlib.import_module", lambda name: loader() if name == "fake_heavy_widgets" else None)
    assert reg.get("heavy").kind == "heavy" and imported == [1]
    reg.get("heavy")
    assert imported == [1]  # registered now: no second import
