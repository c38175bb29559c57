"""benchmarks/prompt_check.py on a scripted pool: cot vs role proposer vs synthesiser, paired, resumable."""
import importlib.util
from pathlib import Path

from mastune.llm import FakeLM, Price
from mastune.tasks.base import Example

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "prompt_check.py"


def load_script():
    spec = importlib.util.spec_from_file_location("prompt_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def items(n):
    choices = ["red", "green", "blue", "black"]
    q = "Which colour is grass?\nA. red\nB. green\nC. blue\nD. black"
    return [Example(f"mcq/{i}", f"({i}) {q}", "B", "mcq", {"choices": choices}) for i in range(n)]


def scripted(calls):
    """cot right; a Critic proposer wrong on item 0 only, a Doctor proposer always wrong; synthesisers right."""

    def reply(messages, request):
        text = "\n".join(m["content"] for m in messages)
        calls.append(text)
        if "critically and write" in text:  # a synthesiser, of one draft or several
            return "The drafts disagree; checking. The answer is B"
        if "as the Lawyer" in text:
            return "I cannot tell."
        if "as the Doctor" in text or ("as the Critic" in text and "(0)" in text):
            return "The answer is C"
        return "Step by step: grass is green. The answer is B"

    return {"m": FakeLM("m", fn=reply, price=Price(1.0, 1.0))}


async def test_check_pairs_arms_and_resumes(tmp_path):
    pc, calls = load_script(), []
    pool, out = scripted(calls), tmp_path / "check.jsonl"
    rows = await pc.check(pool, "m", items(3), ["Critic", "Doctor"], out, max_tokens=64)
    assert len(rows) == 9 and len(calls) == 3 + 2 * 3 * 2  # cot 1 call; a role: proposer + synthesiser
    text, data = pc.table(rows)
    by = {d["slot"]: d for d in data}
    assert (by["cot"]["right"], by["Critic proposer"]["right"], by["Doctor proposer"]["right"]) == (3, 2, 0)
    assert by["Doctor synth"]["right"] == 3 and by["Doctor proposer"]["cot_only"] == 3
    assert by["Critic proposer"]["cot_only"] == 1 and by["Critic proposer"]["slot_only"] == 0
    assert by["Doctor proposer"]["p"] == 0.25  # exact McNemar, 3 discordant pairs one way
    assert "| Doctor proposer | 3 | 0 | 0.0% |" in text and by["cot"]["unparsed"] == 0
    assert rows[0]["outputs"] and all("The answer is" in t for r in rows for t in r["outputs"].values())

    more = await pc.check(pool, "m", items(4), ["Critic", "Doctor"], out, max_tokens=64)
    assert len(more) == 12 and len(calls) == 15 + 5  # only item 3 ran
    assert pc.timing(more)["calls"] == 4 * 5

    lawyer = await pc.check(pool, "m", items(2), ["Lawyer"], tmp_path / "lawyer.jsonl", max_tokens=64)
    by = {d["slot"]: d for d in pc.table(lawyer)[1]}
    assert by["Lawyer proposer"]["unparsed"] == 2 and by["Lawyer synth"]["unparsed"] == 0
