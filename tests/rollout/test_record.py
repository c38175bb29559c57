"""How a run was produced: the runner recorded in meta.json (rollout.record), addresses redacted."""
import json

from mastune.eval import EvalConfig, evaluate
from mastune.llm.pool import Pool
from mastune.rollout import LocalRunner
from mastune.rollout.record import runner_history, runner_info
from mastune.systems import resolve_spec
from mastune.tasks.base import Example


class Described:
    def __init__(self, **info):
        self.info = info

    def describe(self):
        return dict(self.info)


def test_a_ray_address_is_recorded_without_its_secret():
    info = runner_info(Described(kind="ray", workers=8, address="ray://admin:s3cretPassw0rd@head.example:10001"))
    assert info == {"kind": "ray", "workers": 8, "address": "ray://***@head.example:10001"}
    assert "s3cret" not in json.dumps(info)
    assert runner_info(Described(kind="ray", workers=1, address=None))["address"] is None
    assert runner_info(object()) == {"kind": "local"}  # a runner that does not describe itself
    assert runner_info(LocalRunner(None, 3)) == {"kind": "local", "workers": 1, "concurrency": 3}


def test_the_history_keeps_every_distinct_runner_in_order():
    a, b = {"kind": "local"}, {"kind": "ray", "workers": 2}
    assert runner_history(None, a) == [a]
    assert runner_history([a], a) == [a]
    assert runner_history([a], b) == [a, b] and runner_history([a, b], a) == [a, b, a]


async def test_eval_meta_records_the_runner_and_a_resume_on_another_one(tmp_path):
    pool = {"models": [{"name": "m", "backend": "fake", "fake": {"rules": [{"contains": "", "reply": "\\boxed{2}"}]}}]}
    spec = resolve_spec("cot", model="m", pool=pool)
    cfg = EvalConfig(system="cot", task="t", out=str(tmp_path / "run"), model="m")
    exs = [Example(f"t/{i}", f"q {i}", "2", "math") for i in range(3)]
    await evaluate(cfg, spec, exs[:2], pool=Pool.from_dict(pool), runner=LocalRunner(Pool.from_dict(pool), 4))
    meta = json.loads((tmp_path / "run" / "meta.json").read_text())
    first = {"kind": "local", "workers": 1, "concurrency": 4}
    assert meta["runner"] == first and meta["runners"] == [first] and meta["config"]["system"] == "cot"
    ray_like = Described(kind="ray", workers=2, address="ray://u:tok3n-value@h:10001", concurrency=1)
    ray_like.system = LocalRunner(Pool.from_dict(pool), 1).system
    ray_like.run = LocalRunner(Pool.from_dict(pool), 1).run
    await evaluate(cfg, spec, exs, pool=Pool.from_dict(pool), runner=ray_like)  # resumed: one item left
    again = json.loads((tmp_path / "run" / "meta.json").read_text())
    second = {"kind": "ray", "workers": 2, "address": "ray://***@h:10001", "concurrency": 1}
    assert again["runner"] == second and again["runners"] == [first, second]
    assert {k: v for k, v in again.items() if k not in ("runner", "runners")} == \
        {k: v for k, v in meta.items() if k not in ("runner", "runners")}  # the rest is as first written
