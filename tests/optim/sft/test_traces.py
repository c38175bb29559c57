"""Trace generation, the three filters, and the SFT / M500 export layout."""
import json
import re

from mastune.systems.collab import build_collab_system
from mastune.optim.sft.traces import export, format_ok, generate_traces, kept_records
from mastune.errors import LLMError
from mastune.tasks import Example


def ex(i, answer="4", question=None):
    return Example(f"q{i}", question or f"Question {i}: what is 2 + 2?", answer, "math", {"task": "gsm8k"})


def make_team(team, *, solver="So \\boxed{4}", critic="[Agree]"):
    return team(solver=solver, critic=critic,
                evaluator="Correctness: 1\nAdvice: none\nRecruiting suggestion: none")


def system(t, **kw):
    return build_collab_system(t.pool, ceo=False, model="m", max_turn=1, max_inner_turns=1, **kw)


def test_format_filter():
    assert format_ok("x \\boxed{4}", "math") and not format_ok("the answer is 4", "math")
    assert format_ok("```python\ndef f(): pass\n```", "code") and not format_ok("def f(): pass", "code")
    assert format_ok("The answer is B", "mcq") and not format_ok("no idea", "mcq")


async def test_filters_keep_only_consensus_format_and_correct(team, tmp_path):
    cases = {
        "kept": make_team(team),
        "no_consensus": make_team(team, critic="[Disagree]"),
        "no_box": make_team(team, solver="It is 4."),
        "wrong": make_team(team, solver="So \\boxed{5}"),
    }
    records = {}
    for name, t in cases.items():
        out = tmp_path / name
        counts = await generate_traces(system(t), [ex(0)], out)
        records[name] = json.loads((out / "traces.jsonl").read_text())
        assert counts["total"] == 1
    f = {k: v["filters"] for k, v in records.items()}
    assert f["kept"] == {"consensus": True, "format": True, "correct": True, "kept": True}
    assert f["no_consensus"]["consensus"] is False and not f["no_consensus"]["kept"]
    assert f["no_box"]["format"] is False and not f["no_box"]["kept"]
    assert f["wrong"] == {"consensus": True, "format": True, "correct": False, "kept": False}
    assert json.loads((tmp_path / "kept" / "summary.json").read_text())["kept"] == 1


async def test_generation_counts_resumes_and_records_errors(team, tmp_path):
    t = make_team(team)
    fail = {"on": True}
    good_solver = t.replies["solver"]

    def solver(messages, n):
        if "Question 2" in messages[-1]["content"] and fail["on"]:
            raise LLMError("engine died")
        return good_solver

    t.replies["solver"] = solver
    examples = [ex(0), ex(1, answer="5"), ex(2)]
    seen = []
    counts = await generate_traces(system(t), examples, tmp_path, progress=lambda c, n: seen.append(c["total"]))
    assert counts == {"total": 3, "errors": 1, "consensus": 2, "format": 2, "correct": 1, "kept": 1}
    assert seen[-1] == 3
    fail["on"] = False
    calls_before = len(t.lm.requests)
    counts = await generate_traces(system(t), examples, tmp_path)
    assert counts == {"total": 3, "errors": 0, "consensus": 3, "format": 3, "correct": 2, "kept": 2}
    # only the errored question was run again
    rerun = {m for q in t.lm.requests[calls_before:] for m in re.findall(r"Question (\d)", q["messages"][-1]["content"])}
    assert rerun == {"2"}
    assert [r["id"] for r in kept_records(tmp_path)] == ["q0", "q2"]


async def test_export_layout_grouped_by_question(team, tmp_path):
    def solver(messages, n):
        return "Revised: so \\boxed{4}" if "The solution above is your current one" in messages[-1]["content"] else "So \\boxed{4}"

    def critic(messages, n):  # disagrees with every draft, agrees with every revision
        return "[Agree]" if "Revised" in messages[-1]["content"] else "[Disagree]"

    t = make_team(team, solver=solver, critic=critic)
    await generate_traces(build_collab_system(t.pool, ceo=True, model="m", max_turn=1, max_inner_turns=2),
                          [ex(0), ex(1)], tmp_path)
    info = export(tmp_path, fmt="sharegpt")
    lines = [json.loads(x) for x in (tmp_path / "sft.jsonl").read_text().splitlines()]
    m500 = [json.loads(x) for x in (tmp_path / "m500.jsonl").read_text().splitlines()]
    assert info["questions"] == 2 and info["examples"] == len(lines)
    # grouped by question, in call order, one example per agent call (no CEO by default)
    assert [x["question_id"] for x in lines] == ["q0"] * (len(lines) // 2) + ["q1"] * (len(lines) // 2)
    q0 = [x["agent"] for x in lines if x["question_id"] == "q0"]
    assert q0[:3] == ["recruiter", "solvers", "critics"] and q0[-1] == "evaluator" and "ceo" not in q0
    conv = lines[0]["conversations"]
    assert [m["from"] for m in conv] == ["system", "human", "gpt"]
    rec = m500[0]
    assert set(rec) == {"id", "question", "solution", "recruiter", "solvers", "critics", "evaluator"}
    assert rec["solution"] == "Revised: so \\boxed{4}" and rec["question"] == "Question 0: what is 2 + 2?"
    assert (len(rec["recruiter"]), len(rec["solvers"]), len(rec["evaluator"])) == (1, 2, 1)
    assert len(rec["critics"]) == 2 and rec["critics"][0][-1]["role"] == "assistant"

    info = export(tmp_path, tmp_path / "chat.jsonl", fmt="messages", include_ceo=True)
    first = json.loads((tmp_path / "chat.jsonl").read_text().splitlines()[0])
    assert first["agent"] == "ceo" and first["messages"][-1]["role"] == "assistant"
