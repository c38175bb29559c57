"""CollabConfig: YAML round trip, built-ins, overrides and validation."""
import pytest

from mastune.systems.collab import CollabConfig, builtin_configs, load_collab_config
from mastune.errors import ConfigError


def test_builtins_load_and_round_trip(tmp_path):
    assert builtin_configs() == ["collab", "collab-ceo"]
    for name in builtin_configs():
        cfg = load_collab_config(name)
        cfg.to_yaml(tmp_path / "c.yaml")
        assert load_collab_config(tmp_path / "c.yaml") == cfg
    assert load_collab_config(ceo=True).ceo and not load_collab_config(ceo=False).ceo
    assert load_collab_config("collab", ceo=True).ceo


def test_paper_defaults():
    cfg = load_collab_config("collab")
    assert (cfg.experts, cfg.max_turn, cfg.max_inner_turns, cfg.temperature) == (2, 2, 3, 0.7)


def test_roles_from_yaml_shorthand(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("name: x\nroles:\n  critic: [a, b]\n  ceo: big\n  evaluator: {model: c, max_tokens: 99}\n")
    with pytest.raises(ConfigError, match="roles.critic"):
        load_collab_config(p)
    p.write_text("name: x\nroles:\n  critic: {model: [a, b]}\n  ceo: big\n  evaluator: {model: c, max_tokens: 99}\n")
    cfg = load_collab_config(p)
    assert [cfg.model_for("critic", i, "d") for i in range(3)] == ["a", "b", "a"]
    assert cfg.model_for("ceo", 0, "d") == "big" and cfg.model_for("solver", 0, "d") == "d"
    assert cfg.aux_tokens_for("evaluator") == 99 and cfg.aux_tokens_for("recruiter") == cfg.aux_max_tokens


@pytest.mark.parametrize("bad,match", [
    ({"experts": 5}, "experts must be between"),
    ({"max_turn": 0}, "max_turn must be >= 1"),
    ({"roles": {"boss": {}}}, "unknown role"),
    ({"roles": {"solver": {"max_tokens": 10}}}, "round budget"),
    ({"budget_ladder": []}, "budget_ladder"),
])
def test_validation(bad, match):
    with pytest.raises(ConfigError, match=match):
        CollabConfig(**bad)


def test_override_rejects_unknown_knobs_and_ignores_none():
    cfg = CollabConfig()
    assert cfg.override(max_turn=None) == cfg
    assert cfg.override(max_turn=3, budget_ladder=[2048, 256]).budget_ladder == [256, 2048]
    with pytest.raises(ConfigError, match="unknown collab option"):
        cfg.override(turns=3)
