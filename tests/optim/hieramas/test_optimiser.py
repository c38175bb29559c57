"""HieraMAS through the optimiser contract: compile -> artifact folder -> Artifact.load -> the same system."""
import pytest

from mastune.errors import ConfigError
from mastune.optim import get_optimiser
from mastune.optim.hieramas import HashEmbedder, build_hieramas_system
from mastune.optim.hieramas.episode import RuntimeOptions
from mastune.optim.hieramas.optimiser import HieraMASArtifact, student_spec
from mastune.systems import build_system, resolve_spec

from .fakes import examples
from .test_stage1 import config, fake_pool


async def test_compile_writes_an_artifact_that_loads_as_a_runnable_system(tmp_path):
    cfg, pool = config(iterations=2, k_dags=3, classifier=dict(epochs=10, patience=5, hidden=16)), fake_pool()
    opt = get_optimiser("hieramas")(cfg, stage="all", progress=False, embedder=HashEmbedder(64))
    student = student_spec(RuntimeOptions(decision_model="good", max_tokens=99))
    folder = await opt.compile(student, pool, examples(4), examples(2, start=100), tmp_path)
    assert folder == tmp_path and opt.stage1 is not None and opt.stage2 is not None
    system = HieraMASArtifact.load(folder, pool, embedder=HashEmbedder(64))
    assert system.setup.cfg.runtime.max_tokens == 99  # the student's runtime options were trained with
    same = build_hieramas_system(folder, pool, embedder=HashEmbedder(64))
    assert system.fingerprint() == same.fingerprint() and set(system.fingerprint()) == {"selector", "classifier"}
    result = await system.run(examples(1, start=300)[0].question, "math")
    assert result.trace.system == "hieramas" and result.calls > 0
    spec = HieraMASArtifact.spec(folder, graph_classifier=False)  # the picklable form builds it too
    assert spec == resolve_spec("hieramas", options={"checkpoint": str(folder), "graph_classifier": False})
    assert not build_system(spec, pool).graph_classifier


async def test_compile_refuses_a_student_of_another_kind(tmp_path):
    opt = get_optimiser("hieramas")(config(), progress=False)
    with pytest.raises(ConfigError, match="untrained `hieramas` student, not 'graph'"):
        await opt.compile(resolve_spec("cot"), fake_pool(), examples(2), [], tmp_path)
    with pytest.raises(ConfigError, match="--stage must be one of"):
        get_optimiser("hieramas")(config(), stage="3")
