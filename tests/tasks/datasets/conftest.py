"""Shared fixtures of the loader tests."""
import pytest

from mastune.tasks.datasets import load_task


@pytest.fixture(scope="module")
def loaded():
    cache = {}

    def get(name, **kw):
        key = (name, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = load_task(name, **kw)
        return cache[key]

    return get
