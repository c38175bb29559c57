"""The HieraMAS benchmark's report helpers (the script itself runs for hours)."""
import importlib.util
import json
from pathlib import Path

from mastune.agents.trace import CallRecord, Trace
from mastune.eval import trace_path
from mastune.graph.topology import Node, Topology
from mastune.llm.types import Usage

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


def test_answer_flow_counts_right_calls_per_slot(tmp_path):
    def call(node, slot, answer):
        return CallRecord(node=node, slot=slot, model="big", messages=[], output=f"so \\boxed{{{answer}}}",
                          usage=Usage(), max_tokens=64, temperature=0.7)

    (tmp_path / "traces").mkdir()
    rows = [{"id": "gsm8k/1", "status": "ok", "gold": "1,000", "correct": False},  # right proposal lost
            {"id": "gsm8k/2", "status": "ok", "gold": "7", "correct": True},
            {"id": "gsm8k/3", "status": "error", "gold": "9", "correct": False}]  # no trace: not counted
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    first = trace([("r0", "r1")], [["big"]] * 3)
    first.calls = [call("r0", "proposer 0", "1000"), call("r0", "proposer 1", "3"), call("r0", "synthesiser", "3"),
                   call("out", "decision", "3")]
    first.to_json(trace_path(tmp_path, "gsm8k/1"))
    second = trace([("r0", "r1")], [["big"]] * 3)
    second.calls = [call("r0", "proposer 0", "7"), call("r0", "proposer 1", "7"), call("r0", "synthesiser", "7.0")]
    second.to_json(trace_path(tmp_path, "gsm8k/2"))

    flow = load_script().answer_flow(tmp_path)
    assert flow == {"items": 2, "some_call_right": 2, "final_right": 1,
                    "right_per_slot": {"out decision": "0/1", "r0 proposer": "3/4", "r0 synthesiser": "1/2"}}
