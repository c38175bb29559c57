import pytest

from mastune.errors import ConfigError
from mastune.llm.pool import Pool

OPENAI = {"name": "remote", "backend": "openai", "base_url": "http://127.0.0.1:9/v1", "model_id": "m", "api_key_env": "MASTUNE_TEST_KEY"}


def test_default_pool_lists_builtin_models_without_loading():
    pool = Pool.default()
    assert {"smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"} <= set(pool.names())
    assert pool.default_model in pool.names()
    lm = pool["qwen2.5-coder-1.5b"]
    assert lm.price.input_per_m > pool["smollm2-135m"].price.input_per_m  # cost gradient
    assert "1.5B" in lm.profile


def test_yaml_pool(tmp_path):
    p = tmp_path / "pool.yaml"
    p.write_text(
        "models:\n"
        "  - {name: tiny, model: smollm2-135m, price: {input: 1, output: 2}}\n"
        "  - {name: remote, backend: openai, base_url: 'http://127.0.0.1:9/v1', model_id: m, api_key_env: MASTUNE_TEST_KEY}\n"
        "default: tiny\n"
    )
    pool = Pool.from_yaml(p)
    assert pool.default_model == "tiny"
    assert pool["tiny"].price.output_per_m == 2
    assert pool["remote"].model_id == "m"


@pytest.mark.parametrize(
    "data, match",
    [
        ({"models": []}, "at least one model"),
        ({"models": [{"name": "a", "backend": "openai"}]}, "base_url and model_id"),
        ({"models": [{**OPENAI, "api_key": "sk-secret"}]}, "api_key_env"),
        ({"models": [{"name": "a"}, {"name": "a"}]}, "duplicate"),
        ({"models": [{"name": "a"}], "default": "b"}, "default"),
        ({"models": [{"name": "a", "bogus": 1}]}, "bogus"),
        ({"models": [{"name": "a", "backend": "nope"}]}, "backend"),
    ],
)
def test_config_errors_are_clear(data, match):
    with pytest.raises(ConfigError, match=match):
        Pool.from_dict(data)


def test_secret_never_in_error_message():
    with pytest.raises(ConfigError) as e:
        Pool.from_dict({"models": [{**OPENAI, "api_key": "sk-secret"}]})
    assert "sk-secret" not in str(e.value)


def test_bad_yaml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        Pool.from_yaml(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [\n")
    with pytest.raises(ConfigError, match="YAML"):
        Pool.from_yaml(bad)


def test_unknown_model_lists_available():
    with pytest.raises(ConfigError, match="available"):
        Pool.default()["gpt-9"]


async def test_missing_api_key_env_is_a_config_error(monkeypatch):
    monkeypatch.delenv("MASTUNE_TEST_KEY", raising=False)
    lm = Pool.from_dict({"models": [OPENAI]})["remote"]
    with pytest.raises(ConfigError, match="MASTUNE_TEST_KEY"):
        await lm.chat([{"role": "user", "content": "hi"}])
