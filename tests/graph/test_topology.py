import pytest

from mastune.errors import ConfigError
from mastune.graph import CycleError, GraphError, Node, Topology


def nodes(*ids):
    return [Node(i, role=i.upper(), models=["m"]) for i in ids]


def test_cycle_is_named():
    with pytest.raises(CycleError) as e:
        Topology(nodes("a", "b", "c", "d"), [("d", "a"), ("a", "b"), ("b", "c"), ("c", "a")])
    assert "cycle: a -> b -> c -> a" in str(e.value)
    assert e.value.cycle == ["a", "b", "c", "a"]
    assert isinstance(e.value, ConfigError)


def test_self_loop_is_a_cycle():
    with pytest.raises(CycleError, match="cycle: a -> a"):
        Topology(nodes("a"), [("a", "a")])


@pytest.mark.parametrize(
    "edges, match",
    [([("a", "zz")], "unknown node 'zz'"), ([("a", "b"), ("a", "b")], "duplicate edge")],
)
def test_bad_edges(edges, match):
    with pytest.raises(GraphError, match=match):
        Topology(nodes("a", "b"), edges)


def test_duplicate_ids_and_bad_kind():
    with pytest.raises(GraphError, match="duplicate node id"):
        Topology(nodes("a", "a"))
    with pytest.raises(GraphError, match="kind"):
        Topology([Node("a", kind="oracle")])


def test_structure_helpers():
    t = Topology(nodes("a", "b", "c", "d"), [("a", "c"), ("b", "c"), ("c", "d"), ("a", "d")])
    assert t.predecessors()["d"] == ["c", "a"]  # edge-list order
    assert t.topo_order() == ["a", "b", "c", "d"]
    assert t.levels() == {"a": 0, "b": 0, "c": 1, "d": 2}
    assert t.output_id == "d"
    sub = t.subgraph(["a", "b", "d"])
    assert sub.edges == [("a", "d")]


def test_output_must_be_explicit_with_several_sinks():
    t = Topology(nodes("a", "b"))
    with pytest.raises(GraphError, match="sinks"):
        t.output_id


def test_json_and_yaml_round_trip(tmp_path):
    t = Topology(
        [Node("a", role="Math Solver", models=["x", "skip"], synthesiser="y", params={"temperature": 0.5}),
         Node("d", kind="decision", prompt="decision", models=["x"])],
        [("a", "d")],
        output="d",
    )
    assert Topology.from_json(t.to_json()) == t
    assert Topology.from_yaml(t.to_yaml()) == t
    t.to_json(tmp_path / "t.json")
    assert Topology.from_json(tmp_path / "t.json") == t


def test_unknown_node_field_is_rejected():
    with pytest.raises(GraphError, match="unknown fields"):
        Topology.from_dict({"nodes": [{"id": "a", "modle": "x"}], "edges": []})


def test_long_one_line_json_is_text_not_a_path():
    t = Topology([Node(f"node-{i}" * 5) for i in range(30)])
    text = t.to_json().replace("\n", "")
    assert len(text) > 4000 and Topology.from_json(text) == t


def test_graph_errors_pickle():  # a runner's worker sends them back with the rollout
    import pickle

    from mastune.graph.executor import NodeError
    from mastune.graph.topology import CycleError, Node

    e = CycleError(["a", "b", "a"])
    back = pickle.loads(pickle.dumps(e))
    assert str(back) == str(e) and back.cycle == ["a", "b", "a"]
    n = NodeError(Node("x", prompt="cot", models=["m"]), ValueError("bad"))
    back = pickle.loads(pickle.dumps(n))
    assert str(back) == str(n) and back.node_id == "x" and isinstance(back.cause, ValueError)
