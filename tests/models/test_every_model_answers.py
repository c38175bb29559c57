"""Every built-in model present in the local cache answers a simple question (issue 40: the base
model gemma3-270m echoed ChatML tags for 512 tokens). Models not pulled are skipped."""
import json

import pytest
from typer.testing import CliRunner

from mastune.cli.main import app
from mastune.models.pull import is_present
from mastune.models.registry import MODELS

pytestmark = pytest.mark.engine
TAGS = ("<|im_start|>", "<|im_end|>", "<start_of_turn>", "<end_of_turn>", "<|endoftext|>")


@pytest.mark.parametrize("name", list(MODELS))
def test_model_answers_a_simple_question(name):
    if not is_present(MODELS[name]):
        pytest.skip(f"{name} is not in the local cache (mastune models pull {name})")
    r = CliRunner().invoke(app, ["run", "What is 2+3?", "--model", name, "--max-tokens", "64", "--json",
                                 "--no-cache"])
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout.strip().splitlines()[-1])
    answer = rec["answer"]
    assert answer.strip() and "5" in answer, answer
    assert not any(t in answer for t in TAGS), answer
    # a short reply that ended by itself, not one that ran to the token cap
    assert rec["usage"]["completion_tokens"] < 64, answer
