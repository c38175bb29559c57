"""HieraMAS end to end on the real embedded engine: a tiny stage 1 + stage 2 run and
an evaluation, with two pool entries backed by SmolLM2-135M at different prices
and the real MiniLM embedder (offline). Checks plumbing and accounting, not accuracy."""
import json

import pytest

from mastune.optim.hieramas import RuntimeOptions, TrainConfig, build_hieramas_system, train_stage1, train_stage2
from mastune.optim.hieramas.embed import SentenceEmbedder
from mastune.tasks import agrade, load_task

pytestmark = pytest.mark.engine


@pytest.fixture
def pool(smollm_path):
    """Two names, one engine (same GGUF and settings), two prices.

    One llama.cpp thread: on a shared 2-core machine, two threads spin-wait on
    each other whenever a neighbour holds a core, which measured 10-20x slower
    (pool configs cannot set n_threads yet, hence EmbeddedLM directly)."""
    from mastune.llm import Price
    from mastune.llm.embedded import EmbeddedLM

    common = dict(n_parallel=4, ctx_per_slot=2048, n_threads=1)
    return {"smol-cheap": EmbeddedLM("smol-cheap", smollm_path, price=Price(0.01, 0.01), **common),
            "smol-dear": EmbeddedLM("smol-dear", smollm_path, price=Price(0.5, 0.5), **common)}


async def test_tiny_train_and_eval_on_the_engine(pool, call_cache, tmp_path):
    pytest.importorskip("sentence_transformers")
    embedder = SentenceEmbedder("minilm", cache_path=tmp_path / "emb.sqlite")
    train = load_task("gsm8k", split="train", limit=2)
    val = load_task("gsm8k", split="valid", limit=1)
    test = load_task("gsm8k", split="test", limit=1)[0]
    # one proposer per supernode and short replies: ~7 calls per run, 8 runs in all
    cfg = TrainConfig(task="gsm8k", embedder="minilm", proposers=1, iterations=1, batch_size=1, val_every=1, k_dags=2,
                      n_dags=10, concurrency=2, runtime=RuntimeOptions(max_tokens=16),
                      classifier=dict(epochs=3, patience=2))
    out = tmp_path / "run"

    s1 = await train_stage1(cfg, pool, train, val, out, embedder=embedder, progress=False)
    (rec,) = s1.log
    assert rec["calls"] > 0 and rec["cost"] > 0 and rec["val"]["n"] == 1
    s2 = await train_stage2(cfg, pool, train, out, embedder=embedder, progress=False)
    assert s2.n_labelled >= 2
    labels = [json.loads(l) for l in (out / "stage2" / "labels.jsonl").read_text().splitlines()]
    assert all(g["calls"] > 0 for line in labels for g in line["graphs"])

    system = build_hieramas_system(out, pool, n_candidates=20, embedder=embedder)
    result = await system.run(test.question, test.family)
    assert result.calls == len(result.trace.calls) > 0
    assert all(c.usage.completion_tokens <= 16 for c in result.trace.calls)
    # cost attribution: the run's cost is the sum of its calls' own costs, each at its entry's price
    assert result.usage.cost == pytest.approx(sum(c.usage.cost for c in result.trace.calls))
    for c in result.trace.calls:
        rate = {"smol-cheap": 0.01, "smol-dear": 0.5}[c.model]
        assert c.usage.cost == pytest.approx(rate * c.usage.total_tokens / 1e6)
    grade = await agrade(test, result.answer_text)
    assert grade.method  # graded (right or wrong), not an error

    one_model = build_hieramas_system(out, pool, llm_selection=False, single_model="smol-dear", embedder=embedder)
    assert {c.model for c in (await one_model.run(test.question, test.family)).trace.calls} == {"smol-dear"}
