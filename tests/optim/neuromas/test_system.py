"""The `neuromas` system kind: spec round trip (pickle, fresh process), per-node routing, greedy calls
recorded in the trace, the transformers fallback, and the checks that refuse a wrong use."""
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from mastune.agents.layered import prompt_fingerprint
from mastune.agents.prompts import family
from mastune.errors import ConfigError
from mastune.llm import FakeLM
from mastune.optim.neuromas import AdapterPolicy, LoraSpec, NetworkMeta, backbone_sha256, save_network
from mastune.optim.neuromas.optimiser import NeuroMASArtifact
from mastune.systems import SystemSpec, build_system, resolve_spec

ROOT = Path(__file__).resolve().parents[3]
Q = "Take 2 steps. Turn around. Take 2 steps. Do you return to the start?\n\nA. True\nB. False"


@pytest.fixture
def ckpt(tiny_model, tmp_path):
    """A NeuroMAS-3 checkpoint ([1,1] hidden) on the tiny model, for the mcq answer format."""
    layers = [1, 1]
    pol = AdapterPolicy(tiny_model, ["h1_0", "h2_0", "out"], LoraSpec(rank=2))
    meta = NetworkMeta.of(pol, layers, prompt_fingerprint(family("mcq").format), backbone_sha256(tiny_model))
    save_network(tmp_path / "run" / "best.pt", pol, meta)
    return tmp_path / "run"


def node_pool():
    """One pool entry per node (as a vLLM --lora-modules server would be), each scripted."""
    def reply(node):
        return lambda messages, request: f"{node} says: the answer is (A)" if node == "out" else f"note from {node}"
    return {n: FakeLM(n, fn=reply(n)) for n in ("h1_0", "h2_0", "out")}


def test_spec_pickles_and_builds_the_same_system_in_a_fresh_process(ckpt, tmp_path):
    spec = resolve_spec("neuromas", options={"checkpoint": str(ckpt), "serve": "transformers", "max_tokens": 8})
    assert spec.kind == "neuromas" and spec.checkpoint == str(ckpt)
    assert spec.provider == "mastune.optim.neuromas.system"
    back = pickle.loads(pickle.dumps(spec))
    assert back == spec and back.key() == spec.key()
    here = build_system(back, {})
    (tmp_path / "spec.pkl").write_bytes(pickle.dumps(spec))
    child = ("import json, pickle, sys\nfrom mastune.systems import build_system\n"
             "s = build_system(pickle.loads(open(sys.argv[1], 'rb').read()), {})\n"
             "print(json.dumps({'kind': s.kind, 'nodes': s.network.ids, 'fp': s.fingerprint(), 'serve': s.serve}))")
    out = subprocess.run([sys.executable, "-c", child, str(tmp_path / "spec.pkl")], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert out.returncode == 0, out.stderr[-3000:]
    there = json.loads(out.stdout.strip().splitlines()[-1])
    assert there == {"kind": "neuromas", "nodes": ["h1_0", "h2_0", "out"], "fp": here.fingerprint(),
                     "serve": "transformers"}
    assert here.fingerprint()["layers"] == [1, 1] and len(here.fingerprint()["checkpoint"]) == 16


async def test_pool_with_one_entry_per_node_serves_each_node_greedy_and_traced(ckpt):
    pool = node_pool()
    system = NeuroMASArtifact.load(ckpt, pool)
    assert system.serve == "pool"  # auto: the pool names every node
    res = await system.run(Q, "mcq")
    assert [c.node for c in res.trace.calls] == ["h1_0", "h2_0", "out"]
    assert [c.model for c in res.trace.calls] == ["h1_0", "h2_0", "out"]
    assert all(c.temperature == 0.0 and c.max_tokens == 200 for c in res.trace.calls)
    assert res.calls == 3 and res.extracted_answer == "A"
    # role-free prompts: layer and index only; layer 2 reads layer 1, the output node reads layer 2
    h2_prompt = pool["h2_0"].requests[0]["messages"]
    assert "node 1 of layer 2" in h2_prompt[0]["content"] and "note from h1_0" in h2_prompt[1]["content"]
    out_prompt = pool["out"].requests[0]["messages"][1]["content"]
    assert "note from h2_0" in out_prompt and "note from h1_0" not in out_prompt
    assert res.trace.nodes["h1_0"].output == "note from h1_0" and res.trace.nodes["out"].usage.calls == 1


async def test_transformers_fallback_answers_with_the_checkpoint_adapters(ckpt):
    system = build_system(SystemSpec("neuromas", {"serve": "transformers", "max_tokens": 4}, checkpoint=str(ckpt),
                                     provider="mastune.optim.neuromas.system"), {})
    res = await system.run(Q, "mcq")
    assert [c.node for c in res.trace.calls] == ["h1_0", "h2_0", "out"] and res.calls == 3
    assert all(c.temperature == 0.0 and c.max_tokens == 4 for c in res.trace.calls)


async def test_wrong_family_and_bad_options_fail_clearly(ckpt):
    system = NeuroMASArtifact.load(ckpt, node_pool())
    with pytest.raises(ConfigError, match="another answer format"):
        await system.run("What is 2 + 2?", "math")
    with pytest.raises(ConfigError, match="needs --checkpoint"):
        resolve_spec("neuromas", options={})
    with pytest.raises(ConfigError, match="unknown neuromas option"):
        resolve_spec("neuromas", options={"checkpoint": str(ckpt), "ceo": True})
    with pytest.raises(ConfigError, match="serve must be one of"):
        resolve_spec("neuromas", options={"checkpoint": str(ckpt), "serve": "gpu"})
    with pytest.raises(ConfigError, match="needs a .gguf backbone"):
        NeuroMASArtifact.load(ckpt, {}, serve="engine")
