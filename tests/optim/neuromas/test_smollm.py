"""The real backbone: SmolLM2-135M's GGUF loaded into transformers (as training uses it). Slow on CPU
(~1 min to dequantise, ~4 tokens/s to sample), so it runs with --runslow only."""
import pytest

from mastune.optim.neuromas import NeuroMASConfig, load_trained, train_network
from mastune.tasks import load_task


@pytest.mark.slow
async def test_two_steps_on_smollm2_navigate(smollm_path, tmp_path):
    cfg = NeuroMASConfig(backbone=smollm_path, task="navigate", layers=(1,), steps=2, questions_per_step=1,
                         group_size=2, max_tokens=12, eval_max_tokens=12, val_every=2)
    train, valid = load_task("navigate", split="train")[:4], load_task("navigate", split="valid")[:2]
    res = await train_network(cfg, train, valid, tmp_path / "run", progress=False)
    assert len(res.log) == 2 and res.log[-1]["val"]["n"] == 2
    assert res.policy.trainable_count("out") == 921_600  # rank 8 on q/k/v/o of 30 layers (576 wide, 192 kv)
    policy, network, meta = load_trained(tmp_path / "run")
    assert meta.layers == [1] and network.ids == ["h1_0", "out"]
