"""The documented deployment pools (examples/pools/) stay valid configs."""
from pathlib import Path

import pytest

from mastune.llm.pool import Pool
from mastune.rollout.ray_runner import share_limits

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples" / "pools").glob("*.yaml"))


def test_there_are_vllm_and_sglang_examples():
    assert {p.stem for p in EXAMPLES} >= {"vllm", "sglang"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_pool_loads_and_its_endpoint_limits_split_across_workers(path):
    pool = Pool.from_yaml(path)
    models = pool.config.models
    assert all(m.backend == "openai" and m.api_key_env and m.timeout_s and m.max_concurrency for m in models)
    lm = pool["node0"]  # builds the client: no request is made
    assert lm.max_concurrency == 16 and lm.timeout_s == 300
    per_worker = share_limits(pool.config.model_dump(), 4)
    assert [m["max_concurrency"] for m in per_worker["models"]] == [16, 4, 4]
