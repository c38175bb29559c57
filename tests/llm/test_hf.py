"""The transformers backend: serves HF models and `mastune train sft` adapters as trained."""
import asyncio
import json

import pytest

pytest.importorskip("peft")

from mastune.errors import ConfigError  # noqa: E402
from mastune.llm.hf import HFLM, adapter_base  # noqa: E402
from mastune.llm.pool import Pool  # noqa: E402
from mastune.llm.usage import track_usage  # noqa: E402
from mastune.optim.sft import SFTConfig, train_sft  # noqa: E402

TARGET = "The answer is \\boxed{4}."
ASK = [{"role": "user", "content": "Task: what is 2 + 2?"}]


@pytest.fixture(scope="module")
def adapter(tiny_model, tmp_path_factory):
    """A LoRA adapter that taught the random tiny model to say TARGET."""
    d = tmp_path_factory.mktemp("sft")
    data = d / "sft.jsonl"
    with open(data, "w") as f:
        for q in range(4):
            f.write(json.dumps({"question_id": f"q{q}", "messages": [*ASK, {"role": "assistant", "content": TARGET}]})
                    + "\n")
    train_sft(SFTConfig(data=str(data), base=tiny_model, out=str(d / "adapter"), epochs=100, max_steps=60, batch_size=4, lr=1e-2,
                        lora_r=8, lora_alpha=16, lora_dropout=0.0, warmup_ratio=0.0, device="cpu"))
    return str(d / "adapter")


def chat(lm, messages=ASK, **kw):
    return asyncio.run(lm.chat(messages, use_cache=False, **kw))


def test_base_model_generates_with_real_token_counts(tiny_model):
    from transformers import AutoTokenizer

    lm = HFLM("tiny", tiny_model, device="cpu")
    with track_usage() as usage:
        out = chat(lm, max_tokens=6)
    n_prompt = len(AutoTokenizer.from_pretrained(tiny_model).apply_chat_template(
        ASK, add_generation_prompt=True, return_dict=True)["input_ids"])
    assert out.usage.prompt_tokens == n_prompt
    assert 0 < out.usage.completion_tokens <= 6
    assert usage.total.calls == 1 and usage.by_model()["tiny"].prompt_tokens == n_prompt
    assert TARGET not in out.text  # a random model does not know the answer


def test_adapter_is_served_as_trained(adapter, tiny_model):
    assert adapter_base(adapter) == tiny_model  # the pool entry needs no `model:`
    pool = Pool.from_dict({"models": [{"name": "m1", "backend": "hf", "adapter": adapter, "device": "cpu"},
                                      {"name": "base", "backend": "hf", "model": tiny_model, "device": "cpu"}]})
    tuned, base = chat(pool["m1"], max_tokens=24), chat(pool["base"], max_tokens=24)
    assert tuned.text.strip() == TARGET and tuned.finish_reason == "stop"
    assert base.text.strip() != TARGET
    cut = chat(pool["m1"], max_tokens=24, stop=["boxed"])  # stop strings are honoured
    assert cut.text.strip() == "The answer is \\"


def test_identity_tracks_adapter_contents(adapter, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(adapter, copy)
    first = HFLM("m1", adapter=str(copy)).identity()
    assert first == HFLM("m1", adapter=str(copy)).identity()
    weights = copy / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")  # retrained in place
    assert HFLM("m1", adapter=str(copy)).identity()["adapter"] != first["adapter"]


def test_pool_rejects_bad_hf_entries(tmp_path):
    with pytest.raises(ConfigError, match="needs model"):
        Pool.from_dict({"models": [{"name": "x", "backend": "hf"}]})
    with pytest.raises(ConfigError, match="embedded adapter is a GGUF LoRA file"):
        Pool.from_dict({"models": [{"name": "x", "model": "smollm2-135m", "adapter": str(tmp_path)}]})
    with pytest.raises(ConfigError, match="not a LoRA adapter"):
        Pool.from_dict({"models": [{"name": "x", "backend": "hf", "adapter": str(tmp_path)}]})["x"]


def test_cli_run_serves_the_adapter(adapter, tmp_path):
    from typer.testing import CliRunner

    from mastune.cli.main import app

    pool = tmp_path / "pool.yaml"
    pool.write_text(f"models:\n  - {{name: m1, backend: hf, adapter: {adapter}, device: cpu}}\n")
    res = CliRunner().invoke(app, ["run", "Task: what is 2 + 2?", "--pool", str(pool), "--model", "m1", "--json",
                                   "--max-tokens", "24", "--no-cache"])
    assert res.exit_code == 0, res.output
    rec = json.loads(res.output[res.output.index("{"):])
    assert rec["answer"].strip() == TARGET and rec["usage"]["calls"] == 1


def test_run_metadata_names_the_adapter(adapter):
    from mastune.eval.meta import model_files

    pool = Pool.from_dict({"models": [{"name": "m1", "backend": "hf", "adapter": adapter}]})
    assert model_files(pool) == {"m1": {"backend": "hf", "model": None, "adapter": adapter}}
