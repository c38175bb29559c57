import asyncio
import json
from dataclasses import dataclass

import pytest

from mastune.errors import ConfigError, LLMError
from mastune.eval import EvalConfig, ResultsFile, evaluate
from mastune.llm.types import Usage
from mastune.tasks.base import Example


@dataclass
class Result:
    answer_text: str
    usage: Usage
    calls: int = 1
    trace: object = None


class ScriptedSolver:
    """Answers \\boxed{gold} for even items, wrong for odd; can fail on demand."""

    def __init__(self, fail=()):
        self.fail = set(fail)
        self.seen = []

    async def run(self, question, family):
        self.seen.append(question)
        await asyncio.sleep(0.001)
        if question in self.fail:
            raise LLMError("engine exploded")
        n = int(question.split()[-1])
        ans = n * 2 if n % 2 == 0 else -1
        return Result(f"so \\boxed{{{ans}}}", Usage(prompt_tokens=10, completion_tokens=5, cost=0.01, calls=1, model="m"))


def examples(n):
    return [Example(f"t/{i}", f"double {i}", str(2 * i), "math") for i in range(n)]


def cfg(tmp_path, **kw):
    return EvalConfig(system="fake", task="t", out=str(tmp_path / "run"), **kw)


async def test_streams_results_and_counts(tmp_path):
    s = await evaluate(cfg(tmp_path), ScriptedSolver(), examples(6))
    assert (s.n, s.correct, s.errors) == (6, 3, 0)
    assert s.cost == pytest.approx(0.06)
    recs = list(ResultsFile(tmp_path / "run" / "results.jsonl").records())
    assert len(recs) == 6 and {r["id"] for r in recs} == {f"t/{i}" for i in range(6)}
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["config"]["system"] == "fake" and "commit" in meta["git"] and meta["config_hash"]


async def test_resume_skips_finished_and_retries_errors(tmp_path):
    first = ScriptedSolver(fail={"double 3"})
    s1 = await evaluate(cfg(tmp_path), first, examples(5))
    assert s1.errors == 1 and s1.n == 4  # the failure is not scored as wrong
    second = ScriptedSolver()
    s2 = await evaluate(cfg(tmp_path), second, examples(5))
    assert second.seen == ["double 3"]  # only the errored item is redone
    assert (s2.n, s2.skipped, s2.errors) == (5, 4, 0)
    latest = ResultsFile(tmp_path / "run" / "results.jsonl").latest()
    assert latest["t/3"]["status"] == "ok"


async def test_torn_last_line_is_tolerated(tmp_path):
    await evaluate(cfg(tmp_path), ScriptedSolver(), examples(3))
    path = tmp_path / "run" / "results.jsonl"
    with open(path, "a") as f:
        f.write('{"id": "t/3", "status": "ok", "corr')  # killed mid-write
    solver = ScriptedSolver()
    s = await evaluate(cfg(tmp_path), solver, examples(4))
    assert solver.seen == ["double 3"] and s.n == 4
    assert len(ResultsFile(path).latest()) == 4


async def test_a_different_config_is_refused(tmp_path):
    await evaluate(cfg(tmp_path), ScriptedSolver(), examples(2))
    with pytest.raises(ConfigError, match="model"):
        await evaluate(cfg(tmp_path, model="other"), ScriptedSolver(), examples(2))


async def test_progress_hook_sees_every_item(tmp_path):
    calls = []
    await evaluate(cfg(tmp_path), ScriptedSolver(), examples(4), progress=lambda s, total: calls.append((s.n, total)))
    assert calls[0] == (0, 4) and calls[-1] == (4, 4)


async def test_a_second_writer_is_refused_and_a_dead_one_does_not_block(tmp_path, another_writer):
    run = tmp_path / "run"
    with another_writer(run) as pid:
        with pytest.raises(ConfigError, match=f"another process \\(pid {pid}\\)"):
            await evaluate(cfg(tmp_path), ScriptedSolver(), examples(2))
        assert not (run / "results.jsonl").exists()
    s = await evaluate(cfg(tmp_path), ScriptedSolver(), examples(2))  # the lock died with its holder
    assert s.n == 2


async def test_resume_with_edited_prompts_is_refused(tmp_path):
    await evaluate(cfg(tmp_path), ScriptedSolver(), examples(2))
    meta_path = tmp_path / "run" / "meta.json"
    meta = json.loads(meta_path.read_text())
    assert set(meta["prompts"]) == {"agents/prompts.yaml", "collab/prompts.yaml"}
    await evaluate(cfg(tmp_path), ScriptedSolver(), examples(3))  # same prompts: resumes
    meta["prompts"]["collab/prompts.yaml"] = "0" * 16  # as if the file was edited after the first run
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="collab/prompts.yaml changed"):
        await evaluate(cfg(tmp_path), ScriptedSolver(), examples(4))
    del meta["prompts"]  # runs from before fingerprints: nothing to compare, resume allowed
    meta_path.write_text(json.dumps(meta))
    assert (await evaluate(cfg(tmp_path), ScriptedSolver(), examples(4))).n == 4


class TrainedSolver(ScriptedSolver):
    """A solver that says which trained weights it loaded, as HieraMAS does."""

    def __init__(self, digest):
        super().__init__()
        self.digest = digest

    def fingerprint(self):
        return {"selector": self.digest}


async def test_resume_with_retrained_weights_is_refused(tmp_path):
    await evaluate(cfg(tmp_path), TrainedSolver("aaaa"), examples(2))
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    assert meta["solver"] == {"selector": "aaaa"}
    assert (await evaluate(cfg(tmp_path), TrainedSolver("aaaa"), examples(3))).n == 3  # same weights: resumes
    with pytest.raises(ConfigError, match="other trained weights"):
        await evaluate(cfg(tmp_path), TrainedSolver("bbbb"), examples(4))
    assert len(list(ResultsFile(tmp_path / "run" / "results.jsonl").records())) == 3  # nothing was added


async def test_untrained_solvers_record_no_weights(tmp_path):
    await evaluate(cfg(tmp_path), ScriptedSolver(), examples(1))
    assert json.loads((tmp_path / "run" / "meta.json").read_text())["solver"] is None


# ---------------------------------------------------------------- issue 15: content identity, hostile files


async def test_resume_refuses_items_whose_content_changed(tmp_path):
    from mastune.tasks.datasets import load_task

    data = tmp_path / "data.jsonl"
    rows = [{"question": f"double {i}", "answer": f"#### {2 * i}"} for i in range(3)]
    data.write_text("\n".join(json.dumps(r) for r in rows))
    await evaluate(cfg(tmp_path, data_path=str(data)), ScriptedSolver(), load_task("gsm8k", path=data))
    rows[1] = {"question": "double 8", "answer": "#### 16"}  # same row position, a new question
    data.write_text("\n".join(json.dumps(r) for r in rows))
    solver = ScriptedSolver()
    with pytest.raises(ConfigError, match=r"gsm8k/1.*changed since it was answered") as info:
        await evaluate(cfg(tmp_path, data_path=str(data)), solver, load_task("gsm8k", path=data))
    assert "another --out" in str(info.value) and solver.seen == []


async def test_results_record_a_hash_of_each_item(tmp_path):
    await evaluate(cfg(tmp_path), ScriptedSolver(), examples(2))
    recs = list(ResultsFile(tmp_path / "run" / "results.jsonl").records())
    assert all(len(r["item_sha"]) == 16 for r in recs) and recs[0]["item_sha"] != recs[1]["item_sha"]


async def test_records_that_are_not_objects_do_not_crash_resume_or_report(tmp_path):
    from mastune.eval import summarize

    await evaluate(cfg(tmp_path), ScriptedSolver(), examples(2))
    path = tmp_path / "run" / "results.jsonl"
    with open(path, "a") as f:
        f.write('[1, 2]\n"text"\n42\nnull\n{"no_id": true}\n{"id": "t/9", "status": "ok"}\n')
    solver = ScriptedSolver()
    s = await evaluate(cfg(tmp_path), solver, examples(3))
    assert solver.seen == ["double 2"] and (s.n, s.skipped) == (3, 2)
    assert summarize(tmp_path / "run").n == 4  # 3 items + the bare t/9 record, no crash on its missing fields
    rf = ResultsFile(path)
    rf.latest()
    assert rf.bad_lines == 5


async def test_concurrency_below_one_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="concurrency"):
        await evaluate(cfg(tmp_path, concurrency=0), ScriptedSolver(), examples(1))


class OverflowSolver(ScriptedSolver):
    async def run(self, question, family):
        from mastune.errors import ContextOverflow

        if len(question) > 1000:
            raise ContextOverflow("the request needs 50000 tokens; the context holds 4096")
        return await super().run(question, family)


async def test_an_item_that_cannot_fit_is_counted_as_unfixable(tmp_path):
    exs = examples(2) + [Example("t/big", "double " + "9" * 200_000, "0", "math")]
    s = await evaluate(cfg(tmp_path), OverflowSolver(), exs)
    assert (s.errors, s.unfixable) == (1, 1)
    rec = ResultsFile(tmp_path / "run" / "results.jsonl").latest()["t/big"]
    assert rec["status"] == "error" and rec["retryable"] is False


def test_item_sha_follows_graded_content_only():
    from mastune.jsonl import item_sha

    base = Example("c/1", "write f", "def f(): ...", "code", {"plus_input": [[1]], "subject": "x"})
    assert item_sha(base) == item_sha(Example("c/1", "write f", "def f(): ...", "code",
                                              {"plus_input": [[1]], "subject": "y"}))
    assert item_sha(base) != item_sha(Example("c/1", "write f", "def f(): ...", "code", {"plus_input": [[2]]}))
    assert item_sha(base) != item_sha(Example("c/1", "write g", "def f(): ...", "code", {"plus_input": [[1]]}))
