"""Shared fixtures. Engine tests use the real user model cache (models are
pulled once); call caches are always per-test temporary files."""
from __future__ import annotations

import pytest

from mastune import settings
from mastune.llm.cache import CallCache


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="also run tests marked slow")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def call_cache(tmp_path):
    cache = CallCache(tmp_path / "calls.sqlite")
    with settings.context(cache=cache):
        yield cache


@pytest.fixture(scope="session")
def smollm_path():
    from mastune.models.pull import pull

    return str(pull("smollm2-135m"))


@pytest.fixture(scope="session")
def engine_pool(smollm_path):
    """The built-in pool; only the smallest model is used in CI tests."""
    from mastune.llm.pool import Pool

    return Pool.default()
