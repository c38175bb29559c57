"""Runs that no reply and no planted file can crash or fool (issue 41, items 5, 6, 11 and 12)."""
import json
import os
from dataclasses import dataclass

import pytest

from mastune.errors import ConfigError
from mastune.eval import EvalConfig, ResultsFile, evaluate
from mastune.eval.report import summarize
from mastune.io import writer_lock
from mastune.jsonl import JsonlFile, read_jsonl
from mastune.llm.types import Usage
from mastune.tasks.base import Example

BIG = "7" * 5000


@dataclass
class Result:
    answer_text: str
    usage: Usage
    calls: int = 1
    trace: object = None


class Replies:
    """Answers each question with the reply scripted for it."""

    def __init__(self, replies):
        self.replies = replies

    async def run(self, question, family):
        return Result(self.replies[question], Usage(prompt_tokens=3, completion_tokens=2, cost=0.01, calls=1, model="m"))


def items(golds):
    return [Example(f"t/{i}", f"q{i}", g, "math") for i, g in enumerate(golds)]


def cfg(tmp_path, **kw):
    return EvalConfig(system="fake", task="t", out=str(tmp_path / "run"), **kw)


# ---------------------------------------------------------------- 5 and 6: replies that crashed a run


HOSTILE_REPLIES = [
    rf"\boxed{{{BIG}}}",                       # past the int->str digit limit, right
    rf"The answer is {BIG[:-1]}8.",            # past it, wrong in the last digit
    f"so {BIG}",                               # past it, found as the last number
    "\ud800 \\boxed{4}",                       # a lone high surrogate, right
    "\\boxed{4} \udfff",                       # a lone low surrogate at the end
    "\udc80\ud800\\boxed{5}\ud83d",            # several, wrong
]
GOLDS = [BIG, BIG, BIG, "4", "4", "4"]


async def test_hostile_replies_become_results_and_the_run_goes_on(tmp_path):
    examples = items(GOLDS) + items(["9"])[0:0] + [Example("t/last", "qlast", "1", "math")]
    replies = {e.question: r for e, r in zip(examples, HOSTILE_REPLIES)} | {"qlast": r"\boxed{1}"}
    s = await evaluate(cfg(tmp_path), Replies(replies), examples)
    assert (s.n, s.errors) == (len(examples), 0)
    recs = ResultsFile(tmp_path / "run" / "results.jsonl").latest()
    assert set(recs) == {e.id for e in examples}  # nothing after a hostile reply is lost
    assert [recs[f"t/{i}"]["correct"] for i in range(6)] == [True, False, True, True, True, False]
    assert recs["t/3"]["reply"] == "\ud800 \\boxed{4}"  # kept as given, readable again
    again = await evaluate(cfg(tmp_path), Replies(replies), examples)  # the resume reads them back
    assert again.skipped == len(examples) and again.correct == s.correct


async def test_lone_surrogates_in_saved_traces_are_written(tmp_path):
    from mastune.agents.trace import Trace

    class Traced(Replies):
        async def run(self, question, family):
            out = await super().run(question, family)
            out.trace = Trace(system="s", question="\ud800 " + question, family=family, topology=None)
            return out

    examples = items(["4"])
    s = await evaluate(cfg(tmp_path, save_traces=True), Traced({"q0": "\ud800 \\boxed{4}"}), examples)
    assert s.correct == 1
    saved = json.loads(next((tmp_path / "run" / "traces").glob("*.json")).read_text())
    assert saved["question"].startswith("\ud800")


@pytest.mark.parametrize("record", [
    {"id": "a", "text": "\ud800"}, {"id": "a", "text": "x\udfffy"}, {"id": "\udc00", "k": ["\ud83d", {"\ud800": 1}]},
])
def test_any_record_with_lone_surrogates_is_appended_and_read_back(tmp_path, record):
    f = JsonlFile(tmp_path / "log.jsonl")
    f.append(record)
    f.append({"id": "next"})
    assert read_jsonl(f.path) == [record, {"id": "next"}]
    f.rewrite([record])
    assert read_jsonl(f.path) == [record]


# ---------------------------------------------------------------- 11: links planted in the run folder


@pytest.fixture
def victim(tmp_path):
    v = tmp_path / "victim.txt"
    v.write_text("precious\n")
    return v


def _untouched(victim):
    return victim.read_text() == "precious\n"


def test_a_symlink_planted_as_the_lock_is_refused(tmp_path, victim):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").symlink_to(victim)
    with pytest.raises(ConfigError, match="symbolic link"):
        with writer_lock(out):
            pass
    assert _untouched(victim)


@pytest.mark.parametrize("name", ["results.jsonl", ".lock"])
async def test_evaluate_refuses_links_in_its_folder_and_leaves_their_targets(tmp_path, victim, name):
    out = tmp_path / "run"
    out.mkdir()
    (out / name).symlink_to(victim)
    with pytest.raises(ConfigError, match="symbolic link"):
        await evaluate(cfg(tmp_path), Replies({"q0": r"\boxed{4}"}), items(["4"]))
    assert _untouched(victim)


@pytest.mark.parametrize("op", ["append", "records"])
def test_jsonl_files_never_follow_a_link(tmp_path, victim, op):
    path = tmp_path / "results.jsonl"
    path.symlink_to(victim)
    f = ResultsFile(path)
    with pytest.raises(ConfigError, match="symbolic link"):
        if op == "append":
            f.append({"id": "x", "status": "ok", "correct": True})
        else:
            list(f.records())
    assert _untouched(victim)
    f.rewrite([{"id": "x"}])  # a whole rewrite replaces the link itself, never writes through it
    assert not path.is_symlink() and _untouched(victim) and read_jsonl(path) == [{"id": "x"}]


@pytest.mark.timeout(60)
def test_a_fifo_or_a_hard_link_planted_as_results_is_refused(tmp_path, victim):
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):  # and never blocks waiting for a reader
        JsonlFile(fifo).append({"id": "x"})
    hard = tmp_path / "hard.jsonl"
    os.link(victim, hard)
    with pytest.raises(ConfigError, match="hard link"):
        JsonlFile(hard).append({"id": "x"})
    assert _untouched(victim)


# ---------------------------------------------------------------- 12: hand-edited results


EDITED = [
    {"correct": "false"}, {"correct": "true"}, {"correct": 1}, {"parsed": "no"},
    {"usage": {"cost": "0.01"}}, {"usage": {"cost": -5.0}}, {"usage": {"cost": float("inf")}},
    {"usage": {"prompt_tokens": -3}}, {"usage": ["cost", 1]}, {"calls": "2"}, {"status": "done"},
    {"wall_s": -1}, {"item_sha": 42},
]


@pytest.mark.parametrize("edit", EDITED, ids=[json.dumps(e) for e in EDITED])
async def test_a_hand_edited_record_is_neither_counted_nor_a_crash(tmp_path, edit):
    examples = items(["4", "6"])
    wrong = Replies({"q0": r"\boxed{5}", "q1": r"\boxed{6}"})
    first = await evaluate(cfg(tmp_path), wrong, examples)
    assert first.correct == 1
    path = tmp_path / "run" / "results.jsonl"
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    recs[0].update(edit)  # the wrong answer, hand-edited
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert summarize(tmp_path / "run").correct == 1  # the report does not count it
    again = await evaluate(cfg(tmp_path), wrong, examples)  # nor does a resume, which redoes the item
    assert (again.correct, again.n, again.skipped, again.bad_records) == (1, 2, 1, 1)
    assert again.cost >= 0


async def test_an_untouched_record_still_counts(tmp_path):
    examples = items(["4"])
    await evaluate(cfg(tmp_path), Replies({"q0": r"\boxed{4}"}), examples)
    again = await evaluate(cfg(tmp_path), Replies({"q0": r"\boxed{4}"}), examples)
    assert (again.correct, again.skipped, again.bad_records) == (1, 1, 0)
