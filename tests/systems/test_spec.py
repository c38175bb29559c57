"""A system spec is plain data: it pickles, and a fresh process builds the same system from it."""
import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from mastune.errors import ConfigError
from mastune.llm import FakeLM
from mastune.llm.pool import Pool
from mastune.systems import SystemSpec, build_system, get_kind, kinds, resolve_spec

ROOT = Path(__file__).resolve().parents[2]
CKPT = ROOT / "benchmarks" / "results" / "hieramas" / "ckpt"
QUESTION = "Tom has 3 apples and buys 4 more. How many apples does he have?"

# Runs in a fresh interpreter: unpickle, build on the spec's own pool, describe what was built.
CHILD = """
import json, pickle, sys
from mastune.systems import build_system  # only systems: a trained kind is found through spec.provider
spec = pickle.loads(open(sys.argv[1], "rb").read())
print(json.dumps(__import__("tests_describe").describe(build_system(spec), sys.argv[2])))
"""

DESCRIBE = '''
def describe(system, question):
    """What identifies a built system: kind, class, name, config, the trace it starts, trained weights."""
    cfg = getattr(system, "config", None)
    trace = system._trace(question, "math")
    return {"kind": system.kind, "class": type(system).__name__, "name": system.name,
            "config": cfg.to_dict() if cfg is not None else None,
            "topology": trace.topology.to_dict() if trace.topology is not None else None,
            "roles": getattr(trace, "roles", None), "dropped": trace.dropped,
            "fingerprint": system.fingerprint()}
'''


def describe_here(system, question, tmp_path):
    sys.path.insert(0, str(tmp_path))
    try:
        import tests_describe

        return json.loads(json.dumps(tests_describe.describe(system, question)))
    finally:
        sys.path.remove(str(tmp_path))


def describe_in_fresh_process(spec, question, tmp_path):
    (tmp_path / "spec.pkl").write_bytes(pickle.dumps(spec))
    env_path = f"{tmp_path}:{ROOT / 'src'}"
    out = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "spec.pkl"), question], capture_output=True,
                         text=True, timeout=300, env={**__import__("os").environ, "PYTHONPATH": env_path})
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture
def describe_module(tmp_path):
    (tmp_path / "tests_describe.py").write_text(DESCRIBE)
    return tmp_path


def cli_spec(system, **kw):
    return resolve_spec(system, pool=Pool.default().config.model_dump(), **kw)


@pytest.mark.parametrize("name,kw", [
    ("cot", {"model": "qwen2.5-coder-0.5b"}),
    ("full", {"model": "qwen2.5-coder-0.5b", "options": {"max_tokens": 77}}),
    ("collab", {"model": "qwen2.5-coder-0.5b", "options": {"ceo": True}}),
])
def test_a_spec_round_trips_through_pickle_and_builds_the_same_system_elsewhere(name, kw, describe_module):
    spec = cli_spec(name, **kw)
    assert pickle.loads(pickle.dumps(spec)) == spec and pickle.loads(pickle.dumps(spec)).key() == spec.key()
    here = describe_here(build_system(spec), QUESTION, describe_module)
    there = describe_in_fresh_process(spec, QUESTION, describe_module)
    assert there == here
    assert here["kind"] == ("collab" if name == "collab" else "graph")
    if name == "full":
        assert {n["params"]["max_tokens"] for n in here["topology"]["nodes"] if n["kind"] != "decision"} == {77}
    if name == "collab":
        assert here["config"]["ceo"] is True and here["roles"][0] == "ceo" and here["topology"] is None


def test_the_committed_hieramas_checkpoint_builds_the_same_system_in_a_fresh_process(describe_module):
    pytest.importorskip("torch")
    import mastune.optim  # noqa: F401  (names the trained kinds, as the CLI does)

    spec = cli_spec("hieramas", options={"checkpoint": str(CKPT)})
    assert spec.kind == "hieramas" and spec.checkpoint == str(CKPT)
    assert spec.provider == "mastune.optim.hieramas.system"  # imported first by a process that lacks the kind
    here = describe_here(build_system(spec), QUESTION, describe_module)
    there = describe_in_fresh_process(spec, QUESTION, describe_module)
    assert there == here and set(here["fingerprint"]) == {"selector", "classifier"}
    assert here["kind"] == "hieramas" and len(here["topology"]["nodes"]) >= 2


def test_names_resolve_to_kinds_and_bad_names_fail_clearly():
    import mastune.optim  # noqa: F401  (names the trained kinds)

    assert {"graph", "collab", "hieramas"} <= set(kinds())
    assert resolve_spec("debate").kind == "graph" and resolve_spec("collab").kind == "collab"
    assert resolve_spec("collab", options={"ceo": True}).config["name"] == "collab-ceo"
    with pytest.raises(ConfigError, match="needs --checkpoint"):
        resolve_spec("hieramas")
    with pytest.raises(ConfigError, match="unknown system 'nope'"):
        resolve_spec("nope")
    with pytest.raises(ConfigError, match="give --system NAME or --config"):
        resolve_spec("custom")
    with pytest.raises(ConfigError, match="unknown system kind 'ring'"):
        get_kind("ring")
    with pytest.raises(ConfigError, match="unknown hieramas option"):
        resolve_spec("hieramas", options={"checkpoint": "x", "ceo": True})


def test_a_spec_builds_on_a_given_pool():
    lm = FakeLM("m", fn=lambda messages, request: "so \\boxed{7}")
    spec = resolve_spec("cot", model="m")
    system = build_system(spec, {"m": lm})
    assert system.config.to_dict() == spec.config and system.default_model == "m"
    assert SystemSpec.from_dict(spec.to_dict()) == spec
