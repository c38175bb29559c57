"""On the real engine with SmolLM2-135M: `mastune train rl` end to end (then evaluated as the `neuromas`
kind), and a short learnability run: the trained adapter, served by the engine, must move greedy
behaviour towards the rewarded answer (a sign error, an adapter not served or a stale weight fails)."""
import json

import pytest
from typer.testing import CliRunner

from mastune.cli.main import app

pytestmark = pytest.mark.engine
runner = CliRunner()


def test_train_rl_cli_two_steps_then_eval(smollm_path, tmp_path):
    out = tmp_path / "rl"
    args = ["train", "rl", "--task", "navigate", "--backbone", "smollm2-135m", "--out", str(out), "--steps", "2",
            "--questions-per-step", "1", "--group-size", "3", "--max-tokens", "12", "--eval-max-tokens", "12",
            "--train-size", "4", "--eval-size", "1", "--eval-every", "2", "--n-parallel", "3", "--lr", "1e-3",
            "--rank", "2", "--targets", "q_proj,v_proj", "--probes", "1", "--device", "cpu", "--truncated", "wrong",
            "--no-dynamic"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "2 steps, 6 episodes" in r.output, r.output
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in log] == [0, 1] and log[-1]["eval"]["n"] == 1
    for rec in log:
        # the engine reported every sampled token: behaviour log-probs present and close to the learner's
        assert rec["sampler_entropy"] is not None
        if rec["scored_tokens"]:
            assert rec["logprob_gap_abs"] is not None and rec["logprob_gap_abs"] < 0.5
    r = runner.invoke(app, args)  # the same command again: finished, nothing more to do
    assert r.exit_code == 0, r.output
    ev = tmp_path / "eval"
    r = runner.invoke(app, ["eval", "--system", "neuromas", "--checkpoint", str(out), "--task", "navigate",
                            "--limit", "2", "--max-tokens", "12", "--out", str(ev), "--no-cache"])
    assert r.exit_code == 0, r.output
    assert "errors 0" in r.output


@pytest.mark.slow  # ~5 min on 2 cores; `python3 benchmarks/rl_learnability.py` is the full check
async def test_learnability_short(smollm_path, tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
    import rl_learnability

    before, after, log = await rl_learnability.run(4, tmp_path, questions=8, eval_items=16)
    rewards = [r["reward"] for r in log]
    assert rewards[-1] >= rewards[0] + 0.25, rewards  # the sampled behaviour moved to the rewarded answer
    assert after > before, (before, after)  # and greedy replies through the served adapter followed
