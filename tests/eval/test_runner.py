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
