"""The paper's MMLU-Redux setting: the mcq family's 8 role supernodes in the graph layouts."""
from mastune.llm import FakeLM
from mastune.systems import load_system

ROLES = ["Knowledgeable Expert", "Critic", "Mathematician", "Psychologist", "Historian", "Doctor", "Lawyer",
         "Economist"]


def test_full_graph_on_mmlu_has_the_eight_roles_on_one_model():
    pool = {"m": FakeLM("m", fn=lambda m, r: "The answer is A"), "other": FakeLM("other", fn=lambda m, r: "")}
    topo = load_system("full", pool, model="m").topology("mmlu-redux")
    agents = [n for n in topo.nodes if n.kind == "agent"]
    assert [n.role for n in agents] == ROLES
    assert {m for n in topo.nodes for m in n.models} == {"m"}
    role_edges = [e for e in topo.edges if e[1] != "decision"]
    assert len(role_edges) == 8 * 7 // 2 and sum(e[1] == "decision" for e in topo.edges) == 8


def test_a_role_subset_for_the_baselines():
    pool = {"m": FakeLM("m", fn=lambda m, r: "The answer is A")}
    topo = load_system("random", pool, model="m", roles={"mcq": ["Critic", "Doctor"]}).topology("mmlu", "q")
    assert [n.role for n in topo.nodes if n.kind == "agent"] == ["Critic", "Doctor"]
