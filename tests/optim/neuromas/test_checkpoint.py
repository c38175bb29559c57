"""Versioned NeuroMAS checkpoints fail loudly, naming the difference."""
import json
import shutil

import pytest
import torch

from mastune.agents.layered import prompt_fingerprint
from mastune.optim.checkpoint import CheckpointError
from mastune.optim.neuromas import (AdapterPolicy, LoraSpec, NetworkMeta, backbone_sha256, export_peft,
                                    load_network, save_network)
from mastune.optim.neuromas.checkpoint import FORMAT_VERSION


@pytest.fixture
def saved(tiny_model, tmp_path):
    pol = AdapterPolicy(tiny_model, ["h1_0", "out"], LoraSpec(rank=4))
    with torch.no_grad():
        for p in pol.parameters("out"):
            p.add_(0.1)
    meta = NetworkMeta.of(pol, [1], prompt_fingerprint("fmt"), backbone_sha256(tiny_model), {"step": 3})
    path = tmp_path / "best.pt"
    save_network(path, pol, meta)
    return pol, meta, path


def test_round_trip(saved, tiny_model):
    pol, meta, path = saved
    adapters, got, _ = load_network(path, backbone_sha256=backbone_sha256(tiny_model), layers=[1], rank=4,
                                    alpha=8.0, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                                    prompt_fingerprint=prompt_fingerprint("fmt"))
    assert got.nodes == ["h1_0", "out"] and got.info == {"step": 3} and got.format_version == FORMAT_VERSION
    for n in pol.nodes:
        for k, v in pol.adapter_state(n).items():
            assert torch.equal(adapters[n][k], v)
    assert not list(path.parent.glob("*.tmp"))  # atomic write leaves no temp file


@pytest.mark.parametrize("key,value,words", [
    ("layers", [2, 2], "hidden layers: checkpoint has [1], you have [2, 2]"),
    ("rank", 8, "LoRA rank: checkpoint has 4, you have 8"),
    ("target_modules", ["q_proj"], "LoRA target modules"),
    ("prompt_fingerprint", "0" * 16, "prompt fingerprint"),
    ("backbone_sha256", "f" * 64, "backbone file hash"),
])
def test_each_mismatch_is_named(saved, key, value, words):
    with pytest.raises(CheckpointError) as e:
        load_network(saved[2], **{key: value})
    assert words in str(e.value)


def test_another_backbone_is_refused(saved, tiny_model, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(tiny_model, other)
    cfg = json.loads((other / "config.json").read_text())
    cfg["rms_norm_eps"] = 1e-5 if cfg.get("rms_norm_eps") != 1e-5 else 1e-6
    (other / "config.json").write_text(json.dumps(cfg))
    assert backbone_sha256(other) != backbone_sha256(tiny_model)
    with pytest.raises(CheckpointError, match="backbone file hash"):
        load_network(saved[2], backbone_sha256=backbone_sha256(other))


def test_unreadable_wrong_version_and_missing(saved, tmp_path):
    with pytest.raises(CheckpointError, match="train one first"):
        load_network(tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_network(junk)
    blob = torch.load(saved[2], weights_only=True)
    blob["meta"]["format_version"] = FORMAT_VERSION + 1
    torch.save(blob, tmp_path / "v2.pt")
    with pytest.raises(CheckpointError, match="format version"):
        load_network(tmp_path / "v2.pt")
    blob["meta"]["format_version"], blob["meta"]["kind"] = FORMAT_VERSION, "selector"
    torch.save(blob, tmp_path / "sel.pt")
    with pytest.raises(CheckpointError, match="not a NeuroMAS network"):
        load_network(tmp_path / "sel.pt")


def test_export_peft_writes_one_loadable_folder_per_node(saved, tiny_model, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    pol = saved[0]
    folders = export_peft(pol, tmp_path / "peft")
    assert set(folders) == {"h1_0", "out"}
    assert json.loads((folders["out"] / "adapter_config.json").read_text())["r"] == 4
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model), folders["out"])
    x = torch.tensor([[1, 5, 9, 12]])
    pol.model.set_adapter("out")
    with torch.no_grad():
        assert torch.allclose(model(input_ids=x).logits, pol.model(input_ids=x).logits, atol=1e-5)
