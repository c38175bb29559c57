"""GGUF LoRA adapters: peft -> GGUF conversion and per-request selection on the embedded engine."""
import asyncio
import os
import shutil
import time

import numpy as np
import pytest

pytest.importorskip("peft")
pytest.importorskip("gguf")

import torch  # noqa: E402

from mastune.errors import ConfigError  # noqa: E402
from mastune.llm.embedded import EmbeddedLM  # noqa: E402
from mastune.llm.lora import AdapterSet, peft_to_gguf, permute_rows  # noqa: E402
from mastune.llm.pool import Pool  # noqa: E402

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
ASK = [{"role": "user", "content": "Write one sentence about the sea."}]
PROMPTS = ["Write one sentence about the sea.", "What is 12 times 7?", "Name three colours.",
           "Tell me a fact about cats."]


def make_peft(hf_dir, out, seed, std=0.15):
    """A random, non-trivial LoRA (B ~ N(0, std), peft's A init) on the HF copy of the base."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(hf_dir)
    torch.manual_seed(seed)
    peft = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, target_modules=TARGETS, lora_dropout=0.0))
    with torch.no_grad():
        for n, p in peft.named_parameters():
            if "lora_B" in n:
                p.normal_(0, std)
    peft.save_pretrained(out)
    return peft.eval()


@pytest.fixture(scope="module")
def adapters(smollm_hf, smollm_path, tmp_path_factory):
    d = tmp_path_factory.mktemp("lora")
    a = make_peft(smollm_hf, d / "A", seed=1)
    make_peft(smollm_hf, d / "B", seed=2)
    return {"dir": d, "peft_a": a, "A": str(peft_to_gguf(d / "A", smollm_path, d / "A.gguf")),
            "B": str(peft_to_gguf(d / "B", smollm_path, d / "B.gguf"))}


def chat(lm, messages=ASK, **kw):
    return asyncio.run(lm.chat(messages, max_tokens=24, **kw)).text


# ---- conversion -------------------------------------------------------------------------------
def test_permutation_is_the_inverse_of_transformers_gguf_loader():
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    w = np.random.default_rng(0).normal(size=(9 * 64, 8)).astype(np.float32)
    back = LlamaTensorProcessor(config={})._reverse_permute_weights(permute_rows(w, 9), 9, 9)
    assert np.array_equal(back, w)
    assert not np.array_equal(permute_rows(w, 9), w)


def test_gguf_adapter_layout(adapters, smollm_path):
    import gguf
    from safetensors.numpy import load_file

    r = gguf.GGUFReader(adapters["A"])
    field = lambda k: r.fields[k].parts[r.fields[k].data[0]]  # noqa: E731
    assert bytes(field("general.type")).decode() == "adapter"
    assert bytes(field("adapter.type")).decode() == "lora"
    assert bytes(field("general.architecture")).decode() == "llama"
    assert float(field("adapter.lora.alpha")[0]) == 16.0
    tensors = {t.name: t for t in r.tensors}
    assert len(tensors) == 30 * 7 * 2  # 30 layers x 7 modules x (a, b)
    q_a, q_b = tensors["blk.0.attn_q.weight.lora_a"], tensors["blk.0.attn_q.weight.lora_b"]
    assert list(q_a.shape) == [576, 8] and list(q_b.shape) == [8, 576]  # ggml [n_in, r] / [r, n_out]
    peft = load_file(str(adapters["dir"] / "A" / "adapter_model.safetensors"))
    key = "base_model.model.model.layers.0.self_attn.{}.lora_{}.weight"
    assert np.array_equal(np.asarray(q_a.data), peft[key.format("q_proj", "A")])  # A: input side, unchanged
    assert np.array_equal(np.asarray(q_b.data), permute_rows(peft[key.format("q_proj", "B")], 9))
    assert np.array_equal(np.asarray(tensors["blk.0.attn_k.weight.lora_b"].data),
                          permute_rows(peft[key.format("k_proj", "B")], 3))  # k: the kv heads
    assert np.array_equal(np.asarray(tensors["blk.0.attn_v.weight.lora_b"].data), peft[key.format("v_proj", "B")])


def test_conversion_rejects_adapters_that_do_not_fit(smollm_path, tmp_path):
    bad = {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": np.zeros((8, 100), np.float32),
           "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": np.zeros((576, 8), np.float32)}
    with pytest.raises(ConfigError, match="do not fit"):
        peft_to_gguf(bad, smollm_path, tmp_path / "x.gguf", lora_alpha=16)
    with pytest.raises(ConfigError, match="lora_alpha"):
        peft_to_gguf(bad, smollm_path, tmp_path / "x.gguf")
    with pytest.raises(ConfigError, match="not a peft adapter"):
        peft_to_gguf(tmp_path, smollm_path, tmp_path / "x.gguf")
    assert not (tmp_path / "x.gguf").exists() and not list(tmp_path.glob(".x.gguf*"))  # nothing half-written


def test_every_request_lists_every_adapter_with_a_scale(tmp_path):
    for n in "ab":
        (tmp_path / f"{n}.gguf").write_bytes(b"GGUF" + bytes(8))
    s = AdapterSet.from_files({"a": tmp_path / "a.gguf", "b": tmp_path / "b.gguf"})
    assert s.request_fields("b", 0.5) == {"lora": [{"id": 0, "scale": 0.0}, {"id": 1, "scale": 0.5}],
                                          "cache_prompt": False}
    assert s.request_fields(None)["lora"] == [{"id": 0, "scale": 0.0}, {"id": 1, "scale": 0.0}]
    assert "cache_prompt" not in s.request_fields("a", prompt_cache=True)
    with pytest.raises(ConfigError, match="not loaded"):
        s.request_fields("c")


# ---- serving ----------------------------------------------------------------------------------


@pytest.mark.engine
@pytest.mark.parametrize("prompt_cache", [False, True])
def test_adapters_switch_per_request_without_contamination(adapters, smollm_path, prompt_cache):
    """A, then B, then A: A's output each time (a prompt cache reused across adapters would break this);
    no adapter = the base model exactly (adapters stuck at scale 1 would break this)."""
    plain = chat(EmbeddedLM("plain", smollm_path, n_parallel=1, ctx_per_slot=1024), use_cache=False)
    lm = EmbeddedLM("lora", smollm_path, n_parallel=1, ctx_per_slot=1024, adapter_prompt_cache=prompt_cache,
                    adapters={"A": adapters["A"], "B": adapters["B"]})
    alone_a = chat(EmbeddedLM("a", smollm_path, n_parallel=1, ctx_per_slot=1024, adapters={"A": adapters["A"]}),
                   adapter="A", use_cache=False)
    seq = [chat(lm, adapter=name, use_cache=False) for name in ["A", "B", "A", "B"]]
    base = chat(lm, use_cache=False)
    assert seq[0] == seq[2] == alone_a and seq[1] == seq[3]
    assert len({seq[0], seq[1], plain}) == 3  # both adapters really change the output
    assert base == plain


def top1_agreement(engine, model, tok, scale):
    """Along the engine's greedy output: how often torch's top-1 next token is the engine's token."""
    agree = total = 0
    for q in PROMPTS:
        ids = tok.apply_chat_template([{"role": "user", "content": q}], add_generation_prompt=True,
                                      return_dict=True)["input_ids"]
        r = engine.server.handle_completions({"prompt": ids, "n_predict": 24, "temperature": 0.0,
                                              "lora": [{"id": 0, "scale": scale}], "cache_prompt": False})
        out = tok(r["choices"][0]["text"], add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids + out])).logits[0]
        pred = logits[len(ids) - 1:len(ids) - 1 + len(out)].argmax(-1).tolist()
        agree += sum(p == t for p, t in zip(pred, out))
        total += len(out)
    return agree / total


@pytest.mark.engine
def test_engine_agrees_with_transformers_peft(adapters, smollm_hf, smollm_path):
    """Q4_1 engine + GGUF adapter vs fp32 torch + peft on the same weights: top-1 agreement."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm_hf)
    engine = EmbeddedLM("lora", smollm_path, n_parallel=1, ctx_per_slot=1024,
                        adapters={"A": adapters["A"]}).engine()
    peft = adapters["peft_a"]
    with peft.disable_adapter():
        floor = top1_agreement(engine, peft, tok, 0.0)  # quantisation alone
        base_on_adapter = top1_agreement(engine, peft, tok, 1.0)  # how far the adapter moves the engine
    with_adapter = top1_agreement(engine, peft, tok, 1.0)
    print(f"top-1 agreement: base {floor:.3f}, adapter {with_adapter:.3f}, "
          f"adapter engine vs torch without it {base_on_adapter:.3f}")
    assert floor >= 0.9 and with_adapter >= 0.9
    assert base_on_adapter < with_adapter - 0.1  # the adapter matters, so agreeing on it means something


@pytest.mark.engine
def test_rewritten_adapter_is_served_at_once_and_never_from_stale_cache(adapters, smollm_path, tmp_path,
                                                                        call_cache):
    live = tmp_path / "node.gguf"
    shutil.copy(adapters["A"], live)
    lm = EmbeddedLM("node", smollm_path, n_parallel=1, ctx_per_slot=1024, adapters={"node": str(live)},
                    adapter="node")
    first = chat(lm)
    assert chat(lm) == first and len(call_cache) == 1  # cached while the weights stay
    old_engine = lm.engine()
    tmp = tmp_path / ".node.tmp"
    shutil.copy(adapters["B"], tmp)
    os.replace(tmp, live)  # a training step writes new weights atomically
    t0 = time.perf_counter()
    second = chat(lm)
    reload_s = time.perf_counter() - t0
    b_ref = chat(EmbeddedLM("b", smollm_path, n_parallel=1, ctx_per_slot=1024, adapters={"B": adapters["B"]}),
                 adapter="B", use_cache=False)
    assert second == b_ref != first
    assert lm.engine() is not old_engine and len(call_cache) == 2
    print(f"adapter reload + first call: {reload_s:.2f}s")


@pytest.mark.engine
def test_pool_entries_on_one_base_share_one_engine(adapters, smollm_path):
    pool = Pool.from_dict({"models": [
        {"name": "base", "model": smollm_path, "n_parallel": 1, "ctx_per_slot": 1024},
        {"name": "node-a", "model": smollm_path, "adapter": adapters["A"], "n_parallel": 1, "ctx_per_slot": 1024},
        {"name": "node-b", "model": smollm_path, "adapter": adapters["B"], "n_parallel": 1, "ctx_per_slot": 1024},
    ]})
    engines = {id(pool[n].engine()) for n in ("base", "node-a", "node-b")}
    assert len(engines) == 1
    a, b, base = (chat(pool[n], use_cache=False) for n in ("node-a", "node-b", "base"))
    assert chat(pool["base"], adapter="node-a", use_cache=False) == a  # per-call choice on any entry
    assert len({a, b, base}) == 3
    with pytest.raises(ConfigError, match="GGUF LoRA file"):
        Pool.from_dict({"models": [{"name": "x", "model": smollm_path, "adapter": "some/peft-folder"}]})


def test_pool_rejects_adapters_where_they_cannot_be_served():
    with pytest.raises(ConfigError, match="backend 'embedded'"):
        Pool.from_dict({"models": [{"name": "x", "backend": "hf", "model": "m", "adapters": {"a": "a.gguf"}}]})
    with pytest.raises(ConfigError, match="served by backends"):
        Pool.from_dict({"models": [{"name": "x", "backend": "openai", "base_url": "http://h", "model_id": "m",
                                    "adapter": "a.gguf"}]})
    with pytest.raises(ConfigError, match="default adapter"):
        EmbeddedLM("x", "smollm2-135m", adapters={"a": "a.gguf"}, adapter="b")
