"""End to end on SmolLM2-135M through the CLI: `mastune train neuromas` (2 steps, rollouts on the embedded
engine with per-node GGUF adapters), then `mastune eval` and `mastune run` with `--system neuromas`.

Kept small for CI (~1-2 min on 2 cores, most of it transformers dequantising the GGUF once):
one hidden node + the output node, 1 question x 2 samples per step, 12 tokens per call."""
import json

import pytest
from typer.testing import CliRunner

from mastune.cli.main import app
from mastune.models.registry import resolve

pytestmark = pytest.mark.engine
runner = CliRunner()


def test_train_two_steps_then_eval_and_run(smollm_path, tmp_path):
    out = tmp_path / "n2"
    r = runner.invoke(app, ["train", "neuromas", "--task", "navigate", "--backbone", "smollm2-135m", "--layers", "1",
                            "--out", str(out), "--steps", "2", "--questions-per-step", "1", "--group-size", "2",
                            "--max-tokens", "12", "--eval-max-tokens", "12", "--train-size", "4", "--val-size", "1",
                            "--val-every", "2", "--concurrency", "2", "--lr", "1e-3", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "2 steps, 4 episodes" in r.output and "(engine sampler)" in r.output
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in log] == [0, 1] and log[-1]["val"]["n"] == 1
    for rec in log:
        for node in ("h1_0", "out"):
            st = rec["nodes"][node]
            # the engine's chat template gave the prompt the scorer's tokenizer gives (on-policy context)
            assert st["skipped"] or st["prompt_mismatch"] == 0
    assert sorted(p.name for p in (out / "engine" / "gguf").iterdir()) == ["h1_0.gguf", "out.gguf"]
    assert (out / "engine" / "peft" / "out" / "adapter_config.json").is_file()  # vLLM-ready folders too

    ev = tmp_path / "eval"
    r = runner.invoke(app, ["eval", "--system", "neuromas", "--checkpoint", str(out), "--task", "navigate",
                            "--limit", "2", "--max-tokens", "12", "--out", str(ev), "--save-traces", "--no-cache"])
    assert r.exit_code == 0, r.output
    assert "neuromas on navigate/test:" in r.output and "errors 0" in r.output
    traces = sorted((ev / "traces").glob("*.json"))
    assert len(traces) == 2
    t = json.loads(traces[0].read_text())
    assert [c["node"] for c in t["calls"]] == ["h1_0", "out"]
    assert all(c["temperature"] == 0.0 and c["max_tokens"] == 12 for c in t["calls"])
    hidden = t["calls"][0]["output"].strip()
    assert hidden[:20] in t["calls"][1]["messages"][1]["content"]  # out read h1_0's message
    assert t["answer_text"] == t["calls"][1]["output"]
    rate = resolve("smollm2-135m").price_per_m / 1e6
    for row in map(json.loads, (ev / "results.jsonl").read_text().splitlines()):
        u = row["usage"]  # priced as the backbone is in the pool, so $/item compares with Direct
        assert u["cost"] == pytest.approx(rate * (u["prompt_tokens"] + u["completion_tokens"]), rel=1e-3)
        assert u["cost"] > 0
    served = list((out / "serve").glob("*/*.gguf"))
    assert sorted(p.name for p in served) == ["h1_0.gguf", "out.gguf"]

    r = runner.invoke(app, ["run", "Take 1 step. Turn around. Take 1 step. Do you return to the start?",
                            "--system", "neuromas", "--checkpoint", str(out), "--task-type", "mcq",
                            "--max-tokens", "12", "--json", "--no-cache"])
    assert r.exit_code == 0, r.output
    rec = json.loads(r.output.strip().splitlines()[-1])
    assert rec["calls"] == 2 and rec["what"] == "system neuromas"


def train(out, *extra):
    r = runner.invoke(app, ["train", "neuromas", "--task", "navigate", "--backbone", "smollm2-135m", "--out", str(out),
                            "--steps", "1", "--questions-per-step", "1", "--group-size", "2", "--max-tokens", "8",
                            "--eval-max-tokens", "8", "--train-size", "4", "--val-size", "1", "--val-every", "1",
                            "--concurrency", "2", "--device", "cpu", *extra])
    assert r.exit_code == 0, r.output
    assert "(engine sampler)" in r.output
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_growth_on_the_engine_serves_the_trained_adapters_and_keeps_them(smollm_path, tmp_path):
    """Width growth 1 -> 2 with rollouts on the engine: the grown run's engine serves all three
    adapters (the kept ones and the new one), and at lr 0 its checkpoint still holds the small
    network's adapters bit for bit and the new node at B = 0."""
    import torch

    from mastune.optim.checkpoint import atomic_save
    from mastune.optim.neuromas import load_network
    from mastune.optim.neuromas.checkpoint import read_network

    train(tmp_path / "small", "--layers", "1", "--lr", "1e-2")
    # One tiny step often has equal rewards (zero advantage: nothing moves), and fresh adapters share
    # their seeded A with the grown run's: give every B distinct non-zero values, as training would.
    blob, g = read_network(tmp_path / "small" / "best.pt"), torch.Generator().manual_seed(3)
    for state in blob["adapters"].values():
        for k, v in state.items():
            if "lora_B" in k:
                v.copy_(0.01 * torch.randn(v.shape, generator=g))
    atomic_save(blob, tmp_path / "small" / "best.pt")
    log = train(tmp_path / "grown", "--layers", "2", "--grow-from", str(tmp_path / "small"), "--lr", "0")
    growth = json.loads((tmp_path / "grown" / "config.json").read_text())["growth"]
    assert growth["mapping"] == {"h1_0": "h1_0", "out": "out"}
    for node in ("h1_0", "h1_1", "out"):  # every node's call went through the engine under its adapter
        st = log[0]["nodes"][node]
        assert st["skipped"] or st["prompt_mismatch"] == 0
    assert sorted(p.name for p in (tmp_path / "grown" / "engine" / "gguf").iterdir()) == \
        ["h1_0.gguf", "h1_1.gguf", "out.gguf"]
    small, _, _ = load_network(tmp_path / "small" / "best.pt")
    grown, _, _ = load_network(tmp_path / "grown" / "best.pt")
    assert all(torch.count_nonzero(v) > 0 for k, v in small["out"].items() if "lora_B" in k)
    for node in ("h1_0", "out"):
        for k, v in small[node].items():
            assert torch.equal(grown[node][k], v), (node, k)
    assert all(torch.count_nonzero(v) == 0 for k, v in grown["h1_1"].items() if "lora_B" in k)
