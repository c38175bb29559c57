"""The rollout primitive and the local runner: bounded concurrency, errors kept, specs built once."""
import asyncio

import pytest

from mastune.errors import LLMError
from mastune.llm import FakeLM
from mastune.rollout import Job, LocalRunner, rollout
from mastune.systems import resolve_spec
from mastune.tasks.base import Example


def ex(i, answer="7"):
    return Example(f"t/{i}", f"question {i}", answer, "math")


class Slow:
    """Answers after a delay that shrinks with the item index; counts how many run at once."""

    def __init__(self, n):
        self.n, self.running, self.peak, self.rollouts = n, 0, 0, []

    async def run(self, question, family, rollout=None):
        self.rollouts.append(rollout)
        self.running += 1
        self.peak = max(self.peak, self.running)
        await asyncio.sleep(0.01 * (self.n - int(question.split()[-1])))
        self.running -= 1
        if question.endswith(" 2"):
            raise LLMError("boom")
        from mastune.llm.types import Usage
        from types import SimpleNamespace

        return SimpleNamespace(answer_text="\\boxed{7}", usage=Usage(calls=1), calls=1, trace=None)


async def test_rollout_grades_and_keeps_failures_as_errors():
    system = Slow(3)
    ok = await rollout(system, ex(1), "r1")
    assert ok.ok and ok.grade.correct and ok.result.answer_text == "\\boxed{7}" and system.rollouts == ["r1"]
    bad = await rollout(system, ex(2))
    assert not bad.ok and isinstance(bad.error, LLMError) and bad.grade is None
    with pytest.raises(LLMError):
        bad.raise_error()


async def test_local_runner_bounds_concurrency_and_yields_in_completion_order():
    system = Slow(6)
    runner = LocalRunner(concurrency=2)
    outs = [o async for o in runner.run([Job(system, ex(i)) for i in range(6)])]
    assert system.peak == 2 and len(outs) == 6
    assert [o.example.id for o in outs][:2] == ["t/1", "t/0"]  # item 1 is quicker than item 0
    assert [o.ok for o in outs].count(False) == 1
    ordered = await LocalRunner(concurrency=3).map([Job(system, ex(i)) for i in range(6)])
    assert [o.example.id for o in ordered] == [f"t/{i}" for i in range(6)]


async def test_local_runner_builds_each_spec_once_on_its_pool():
    lm = FakeLM("m", fn=lambda messages, request: "so \\boxed{7}")
    spec = resolve_spec("cot", model="m")
    runner = LocalRunner({"m": lm}, concurrency=2)
    outs = await runner.map([Job(spec, ex(i)) for i in range(3)])
    assert all(o.ok and o.grade.correct for o in outs) and len(lm.requests) == 3
    assert runner.system(spec) is runner.system(resolve_spec("cot", model="m"))  # same content, same system
    assert outs[0].trace.system == "cot" and outs[0].usage.calls == 1


async def test_jobs_and_rollouts_are_plain_data_a_cluster_runner_can_ship():
    import pickle

    lm = FakeLM("m", fn=lambda messages, request: "so \\boxed{7}")
    job = Job(resolve_spec("full", model="m"), ex(0), "r/0")
    assert pickle.loads(pickle.dumps(job)) == job  # what a worker receives
    out = (await LocalRunner({"m": lm}).map([job]))[0]
    back = pickle.loads(pickle.dumps(out))  # what it sends back
    assert back.ok and back.grade == out.grade and back.result.answer_text == out.result.answer_text
    assert back.trace.to_dict() == out.trace.to_dict() and back.usage == out.usage


async def test_a_failed_rollout_travels_too():
    import pickle

    def fn(messages, request):
        raise LLMError("engine died")

    out = (await LocalRunner({"m": FakeLM("m", fn=fn)}).map([Job(resolve_spec("chain", model="m"), ex(0))]))[0]
    assert not out.ok and out.trace is not None
    back = pickle.loads(pickle.dumps(out))
    assert str(back.error) == str(out.error) and type(back.error) is type(out.error)
    assert back.error.node_id == out.error.node_id and back.trace.to_dict() == out.trace.to_dict()
