"""The HieraMAS benchmark's report helpers (the script itself runs for hours)."""
import importlib.util
from pathlib import Path

from mastune.agents.trace import Trace
from mastune.graph.topology import Node, Topology

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "hieramas_gsm8k.py"


def load_script():
    spec = importlib.util.spec_from_file_location("hieramas_gsm8k", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def trace(edges, models):
    nodes = [Node(id=f"r{i}", role=name, models=list(models[i]), synthesiser=models[i][0])
             for i, name in enumerate(["Analyst", "Solver", "Inspector"])]
    nodes.append(Node(id="out", kind="decision", models=["big"]))
    topo = Topology(nodes, edges + [(f"r{i}", "out") for i in range(3)], output="out")
    return Trace(system="hieramas", question="q", family="math", topology=topo)


def test_selection_profile_counts_models_and_dags(tmp_path):
    (tmp_path / "traces").mkdir()
    inspector_first = [("r2", "r0"), ("r2", "r1")]
    trace(inspector_first, [["big", "big"]] * 3).to_json(tmp_path / "traces" / "a.json")
    trace(inspector_first, [["small", "big"], ["big", "big"], ["big", "big"]]).to_json(tmp_path / "traces" / "b.json")
    trace([("r0", "r1")], [["big", "big"]] * 3).to_json(tmp_path / "traces" / "c.json")

    prof = load_script().selection_profile(tmp_path)
    assert prof["queries"] == 3 and prof["agents_per_query"] == 3.0
    assert prof["role_edges_per_query"] == 5 / 3  # edges into the decision node are not role edges
    assert prof["slot_picks"] == {"proposer:big": 17, "proposer:small": 1, "synthesiser:big": 8, "synthesiser:small": 1}
    assert prof["dags"] == {"Inspector -> Analyst; Inspector -> Solver": 2, "Analyst -> Solver": 1}


def test_selection_profile_without_traces(tmp_path):
    assert load_script().selection_profile(tmp_path) is None
