"""RL trainer tests need peft + transformers (one torch thread: tests/optim/conftest.py)."""
import pytest

pytest.importorskip("peft")
pytest.importorskip("transformers")
