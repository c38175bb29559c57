"""LoRA SFT on a tiny random-initialised local model (built offline in a temp dir)."""
import json

import pytest

pytest.importorskip("peft")
pytest.importorskip("transformers")

from mastune.optim.sft import (IGNORE, SFTConfig, encode, merge_adapter, question_batches, read_chats,  # noqa: E402
                               train_sft)


def write_data(path, questions=3, per_question=3):
    with open(path, "w") as f:
        for q in range(questions):
            for k in range(per_question):
                f.write(json.dumps({"id": f"q{q}#{k}", "question_id": f"q{q}", "agent": "solvers", "conversations": [
                    {"from": "system", "value": "You are a mathematician."},
                    {"from": "human", "value": f"Task {q}: what is 2 + 2?"},
                    {"from": "gpt", "value": "The answer is \\boxed{4}."},
                ]}) + "\n")
    return path


def test_encode_masks_the_prompt(tiny_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    msgs = [{"role": "user", "content": "Solve"}, {"role": "assistant", "content": "The answer"}]
    enc = encode(tok, msgs, 512)
    target = [t for t in enc["labels"] if t != IGNORE]
    assert tok.decode(target) == "The answer<|im_end|>"
    assert len(enc["labels"]) == len(enc["input_ids"]) and enc["labels"][0] == IGNORE
    short = encode(tok, msgs, 6)  # an over-long prompt loses its start, the target stays
    assert len(short["input_ids"]) == 6 and short["labels"][-1] == tok.eos_token_id


def test_batches_never_mix_questions():
    import random

    groups = {"a": [1, 2, 3], "b": [4], "c": [5, 6]}
    batches = question_batches(groups, 2, random.Random(0))
    assert sorted(map(tuple, batches)) == [(1, 2), (3,), (4,), (5, 6)]
    assert batches != question_batches(groups, 2, random.Random(1)) or len(groups) < 2  # order is shuffled


def test_read_chats_formats_and_errors(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text(json.dumps({"question_id": "q", "messages": [{"role": "user", "content": "x"},
                                                              {"role": "assistant", "content": "y"}]}) + "\n")
    assert read_chats(p)[0]["messages"][-1] == {"role": "assistant", "content": "y"}
    from mastune.errors import ConfigError

    p.write_text(json.dumps({"messages": [{"role": "user", "content": "x"}]}) + "\n")
    with pytest.raises(ConfigError, match="assistant"):
        read_chats(p)
    with pytest.raises(ConfigError, match="traces export"):
        read_chats(tmp_path / "missing.jsonl")


def test_two_step_lora_sft_and_merge(tiny_model, tmp_path):
    data = write_data(tmp_path / "sft.jsonl")
    out = tmp_path / "adapter"
    logs = []
    result = train_sft(SFTConfig(data=str(data), base=tiny_model, out=str(out), max_steps=2, batch_size=2, lr=1e-3,
                                 lora_r=4, lora_alpha=8, log_every=1, merge=True), log=logs.append)
    assert result.steps == 2 and len(result.losses) == 2 and all(x > 0 for x in result.losses)
    assert (result.examples, result.questions, result.device) == (9, 3, "cpu")
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    run = json.loads((out / "sft_run.json").read_text())
    assert run["result"]["steps"] == 2 and len(run["data_sha256"]) == 64
    assert any("step 2/2" in line for line in logs)
    # the merged model is a plain HF model with the same shapes as the base
    from transformers import AutoModelForCausalLM

    merged = AutoModelForCausalLM.from_pretrained(result.merged)
    assert merged.config.num_hidden_layers == 2 and not hasattr(merged, "peft_config")
    again = merge_adapter(out, tmp_path / "merged2")  # base read from the adapter config
    assert (again / "config.json").is_file()


def test_cli_train_sft(tiny_model, tmp_path):
    import typer
    from typer.testing import CliRunner

    from mastune.cli.train_sft import sft

    app = typer.Typer()
    app.command("sft")(sft)

    @app.callback()
    def _group():
        """train"""

    data = write_data(tmp_path / "sft.jsonl", questions=2, per_question=2)
    res = CliRunner().invoke(app, ["sft", "--data", str(data), "--base", tiny_model, "--out", str(tmp_path / "a"),
                                   "--max-steps", "2", "--batch-size", "2", "--lora-r", "4", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    assert "2 steps on cpu" in res.output and (tmp_path / "a" / "adapter_config.json").is_file()


async def test_sft_compiles_an_artifact_that_runs_its_student_on_the_adapter(tiny_model, tmp_path):
    from mastune.llm.pool import Pool
    from mastune.optim import get_optimiser
    from mastune.optim.sft.optimiser import SFT_MODEL, SFTArtifact
    from mastune.systems import build_system, resolve_spec

    data = write_data(tmp_path / "sft.jsonl", questions=2, per_question=2)
    cfg = SFTConfig(data="", base=tiny_model, out="", max_steps=1, batch_size=2, lora_r=4, device="cpu")
    opt = get_optimiser("sft")(cfg)
    student = resolve_spec("cot", model=SFT_MODEL, options={"max_tokens": 4})
    folder = await opt.compile(student, None, data, [], tmp_path / "a")
    assert opt.result.steps == 1 and (folder / "artifact.json").is_file()
    saved = json.loads((folder / "config.json").read_text())
    assert saved["config"]["data"] == str(data) and "git_commits" in saved  # the shared run-folder layout
    assert [json.loads(l)["step"] for l in (folder / "log.jsonl").read_text().splitlines()] == [1]
    pool = Pool.default()
    system = SFTArtifact.load(folder, pool)
    assert system.config.to_dict() == student.config and system.pool[SFT_MODEL].name == SFT_MODEL
    result = await system.run("What is 2 + 2?", "math")  # the adapter itself answers (transformers + peft)
    assert result.calls == 1 and result.trace.calls[0].model == SFT_MODEL
    spec = SFTArtifact.spec(folder, pool.config.model_dump())
    assert build_system(spec).pool.config.models[-1].adapter == str(folder)
    with pytest.raises(Exception, match="holds no SFT artifact"):
        SFTArtifact.load(tmp_path, pool)
