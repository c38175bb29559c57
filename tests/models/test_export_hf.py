"""HF weights exported from a pool GGUF: same logits as transformers' own GGUF load."""
import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("gguf")

import torch  # noqa: E402

from mastune.errors import ConfigError  # noqa: E402
from mastune.models.export_hf import export_hf, save_hf  # noqa: E402

TEXT = "The capital of France is Paris. 17 * 23 ="


def test_exported_folder_has_the_gguf_logits_and_tokenizer(smollm_hf, smollm_gguf_hf):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok_gguf, from_gguf = smollm_gguf_hf
    files = {p.name for p in Path(smollm_hf).iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "generation_config.json"} <= files
    assert "quantization_config" not in json.loads((Path(smollm_hf) / "config.json").read_text())
    tok = AutoTokenizer.from_pretrained(smollm_hf)
    exported = AutoModelForCausalLM.from_pretrained(smollm_hf).eval()
    ids = tok(TEXT, return_tensors="pt").input_ids
    assert ids.tolist() == tok_gguf(TEXT, return_tensors="pt").input_ids.tolist()
    chat = [{"role": "user", "content": "Hi"}]
    assert tok.apply_chat_template(chat, tokenize=False) == tok_gguf.apply_chat_template(chat, tokenize=False)
    with torch.no_grad():
        a, b = from_gguf(ids).logits, exported(ids).logits
    assert torch.equal(a, b), f"max |diff| = {(a - b).abs().max()}"
    assert a.abs().max() > 1  # real logits, not an all-zero model


def test_bf16_export_matches_the_gguf_model_in_bf16(smollm_gguf_hf, tmp_path):
    from transformers import AutoModelForCausalLM

    tok, from_gguf = smollm_gguf_hf
    out = save_hf(tok, from_gguf, tmp_path / "bf16", dtype="bf16")
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.dtype == torch.bfloat16
    # Every weight is the dequantised GGUF weight rounded to bf16 (logits differ by buffers' dtypes, not weights).
    ref = from_gguf.state_dict()
    got = model.state_dict()
    assert set(got) == set(ref)
    assert all(torch.equal(got[k], ref[k].to(torch.bfloat16)) for k in ref)
    with pytest.raises(ConfigError, match="not empty"):  # never clobbers without overwrite
        save_hf(tok, from_gguf, out, dtype="bf16")


def test_cli_errors_are_clear(smollm_path, tmp_path):
    from typer.testing import CliRunner

    from mastune.cli.main import app

    res = CliRunner().invoke(app, ["models", "export-hf", smollm_path, "--out", str(tmp_path / "x"), "--dtype", "int3"])
    assert res.exit_code == 1 and "unknown dtype" in res.output
    res = CliRunner().invoke(app, ["models", "export-hf", str(tmp_path / "nope.gguf"), "--out", str(tmp_path / "y")])
    assert res.exit_code == 1 and "not found" in res.output


@pytest.mark.slow
def test_cli_export_bf16(smollm_path, tmp_path):
    from typer.testing import CliRunner
    from transformers import AutoModelForCausalLM

    from mastune.cli.main import app

    res = CliRunner().invoke(app, ["models", "export-hf", "smollm2-135m", "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "m").dtype == torch.bfloat16


def test_export_rejects_bad_dtype_before_loading(tmp_path):
    with pytest.raises(ConfigError, match="unknown dtype"):
        export_hf("smollm2-135m", tmp_path / "x", dtype="int3")
