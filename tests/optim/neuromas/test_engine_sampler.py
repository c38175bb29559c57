"""The engine sampler: every node on its own GGUF LoRA, chosen per request; `sync` serves the policy's
current adapters (never older ones); plain-temperature requests; and the same adapters through llama.cpp's
own OpenAI-compatible HTTP server on loopback (the scale path: one pool entry per node)."""
import copy

import pytest
import torch

from mastune.errors import ConfigError
from mastune.llm import FakeLM
from mastune.llm.embedded import EmbeddedLM
from mastune.llm.openai_compat import OpenAICompatLM
from mastune.optim.neuromas import AdapterPolicy, LMSampler, LoraSpec
from mastune.optim.neuromas.engine import PLAIN_SAMPLING, EngineSampler
from mastune.optim.neuromas.sampler import llama_server_lora

MSGS = [{"role": "user", "content": "What is 2+3? Answer briefly."}]
N = 16


@pytest.fixture(scope="module")
def policy(smollm_gguf_hf, smollm_path):
    tok, model = smollm_gguf_hf
    # get_peft_model wraps the model in place: a copy keeps the session's model clean for other tests
    return AdapterPolicy(smollm_path, ["h1_0", "out"], LoraSpec(rank=4), loaded=(tok, copy.deepcopy(model)),
                         device="cpu")


def set_b(policy, node, std):
    """LoRA B of `node` to N(0, std) (seeded), or to 0 (the base model) when std is 0."""
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in policy.parameters(node):
            if p.shape[-1] == policy.lora.rank and p.shape[0] != policy.lora.rank:  # B: [out, r]
                p.copy_(torch.randn(p.shape, generator=g) * std if std else torch.zeros_like(p))


async def greedy(sampler, node):
    return (await sampler.sample(node, MSGS, 0.0, N)).text


@pytest.mark.engine
async def test_sync_serves_the_current_adapters_and_nothing_stale(policy, smollm_path, tmp_path):
    # cache_prompt off, as on adapter engines: an engine reused from earlier tests would otherwise reuse the
    # chat template's KV prefix, a different evaluation order whose float noise can flip a greedy token
    # flash attention off, as the sampler's engine runs (it reuses prompts; see EngineSpec.flash_attn)
    base = (await EmbeddedLM("base", smollm_path, flash_attn=False).chat(MSGS, max_tokens=N, use_cache=False,
                                                                         cache_prompt=False)).text
    s = EngineSampler(smollm_path, tmp_path / "eng")
    with pytest.raises(ConfigError, match="sync"):
        await s.sample("out", MSGS, 0.0, N)
    set_b(policy, "out", 0.0)
    await s.sync(policy)
    assert await greedy(s, "out") == base and await greedy(s, "h1_0") == base  # B = 0: the backbone
    assert sorted(p.name for p in (tmp_path / "eng" / "gguf").iterdir()) == ["h1_0.gguf", "out.gguf"]

    set_b(policy, "out", 0.2)
    await s.sync(policy)
    moved = await greedy(s, "out")
    assert moved != base  # the new weights are served at once
    assert await greedy(s, "h1_0") == base  # per request: the other node's adapter is not applied

    set_b(policy, "out", 0.0)
    await s.sync(policy)
    assert await greedy(s, "out") == base  # back to B = 0: no reply from an older adapter, cached or in KV
    assert s.syncs == 3
    await s.aclose()


@pytest.mark.engine
async def test_llama_cpp_http_server_on_loopback_serves_the_same_adapters(policy, smollm_path, tmp_path):
    s = EngineSampler(smollm_path, tmp_path / "eng")
    set_b(policy, "out", 0.2)
    await s.sync(policy)
    embedded = {n: await greedy(s, n) for n in policy.nodes}
    address = s.lm.engine().http_address  # llama.cpp's own OpenAI-compatible server, 127.0.0.1
    assert address.startswith("http://127.0.0.1:")
    nodes = list(s.lm.adapter_files)  # the server's adapter ids follow this load order
    pool = {n: OpenAICompatLM(n, base_url=f"{address}/v1", model_id=n) for n in nodes}
    http = LMSampler(pool, extra={n: llama_server_lora(i, len(nodes)) for i, n in enumerate(nodes)})
    over_http = {n: await greedy(http, n) for n in policy.nodes}
    assert over_http == embedded and over_http["out"] != over_http["h1_0"]
    for lm in pool.values():
        await lm.close()
    set_b(policy, "out", 0.0)
    await s.aclose()


async def test_requests_are_plain_temperature_and_name_the_node(tmp_path):
    fake_gguf = tmp_path / "base.gguf"
    fake_gguf.write_bytes(b"GGUF")
    s = EngineSampler(fake_gguf, tmp_path / "eng")
    s.lm = FakeLM("f", responses=["hello"])
    s.lm.adapter_files = {"out": "x"}
    got = await s.sample("out", MSGS, 0.7, 5, seed=3)
    req = s.lm.requests[0]
    assert got.text == "hello" and req["adapter"] == "out" and req["seed"] == 3 and req["temperature"] == 0.7
    assert {k: req[k] for k in PLAIN_SAMPLING} == PLAIN_SAMPLING and req["top_k"] == 0 and req["min_p"] == 0.0
    with pytest.raises(ConfigError, match="serves a .gguf backbone"):
        EngineSampler(tmp_path, tmp_path / "eng")


TASK = ("Task:\nIf you follow these instructions, do you return to the starting point?\n\nAlways face forward. "
        "Take 10 steps forward. Take 4 steps backward. Take 6 steps forward.\n\nA. True\nB. False\n\n")


def node_prompt(node, tail):
    return [{"role": "system", "content": f"You are {node}, a node of a layered network of language-model agents."},
            {"role": "user", "content": TASK + tail}]


@pytest.mark.engine
async def test_prompt_reuse_changes_no_greedy_output_across_interleaved_adapters(policy, smollm_path, tmp_path):
    """The correctness gate of prompt reuse: the same interleaved calls (two adapters, repeated prompts,
    shared task prefixes, the other adapter's prompt on the same text) give the same greedy replies with
    reuse on as with every prompt evaluated in full on the same engine settings; and reuse really happened.
    (With llama.cpp's flash attention on, replies 1, 3, 4, 6 and 7 differed here: see EngineSpec.flash_attn.)"""
    set_b(policy, "out", 0.2)
    set_b(policy, "h1_0", 0.1)
    calls = [("h1_0", "Write your message."), ("h1_0", "Write your message."), ("out", "Write your message."),
             ("h1_0", "Write your message."), ("out", "[node 1] Go back.\n\nAnswer."), ("out", "[node 1] Stay.\n\nAnswer."),
             ("h1_0", "Write your message."), ("out", "[node 1] Go back.\n\nAnswer."), ("h1_0", "[node 1] x\n\nAnswer.")]
    replies = {}
    for reuse in (False, True):
        s = EngineSampler(smollm_path, tmp_path / f"reuse-{reuse}", n_parallel=2, ctx_per_slot=1024,
                          prompt_reuse=reuse)
        s.lm.flash_attn = False  # the reuse-off reference on the reuse engine's settings (reuse turns it off)
        await s.sync(policy)
        got = [await s.sample(node, node_prompt(node, tail), 0.0, N) for node, tail in calls]
        replies[reuse] = [g.text for g in got]
        evaluated = sum(g.prompt_evaluated for g in got)
        total = sum(g.prompt_tokens for g in got)
        assert (evaluated < total / 2) if reuse else (evaluated == total)
        await s.aclose()
    assert replies[True] == replies[False]
    assert replies[False][0] != replies[False][2]  # the two adapters really differ on the same prompt
    set_b(policy, "out", 0.0)
    set_b(policy, "h1_0", 0.0)
