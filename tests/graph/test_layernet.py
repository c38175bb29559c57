import pytest

from mastune.agents.layered import layered_messages, prompt_fingerprint, render_context
from mastune.errors import ConfigError
from mastune.graph.layernet import (OUTPUT, calls, layer_groups, layered_network, network_name, node_ids,
                                   parse_layers)
from mastune.graph.topology import Topology


@pytest.mark.parametrize("layers,n", [([1, 1], 3), ([2, 2], 5), ([2, 2, 2], 7), ([], 1), ([3], 4)])
def test_sizes_and_names(layers, n):
    t = layered_network(layers)
    assert len(t.nodes) == n == calls(layers)
    assert network_name(layers) == f"NeuroMAS-{n}"
    assert t.output_id == OUTPUT and t.sinks() == [OUTPUT]
    assert t.ids == node_ids(layers)


def test_every_node_reads_all_of_the_previous_layer_only():
    t = layered_network("2,2,2")
    preds = t.predecessors()
    assert preds["h1_0"] == [] and preds["h1_1"] == []
    assert preds["h2_0"] == ["h1_0", "h1_1"] and preds["h3_1"] == ["h2_0", "h2_1"]
    assert preds[OUTPUT] == ["h3_0", "h3_1"]
    assert len(t.edges) == 2 * 2 + 2 * 2 + 2
    assert layer_groups(t) == [["h1_0", "h1_1"], ["h2_0", "h2_1"], ["h3_0", "h3_1"], [OUTPUT]]
    assert t.levels()[OUTPUT] == 3
    assert t.node(OUTPUT).params == {"layer": 4, "index": 0, "output": True}
    assert t.node("h2_1").models == ["h2_1"]  # one slot per node: its adapter


def test_round_trips_as_topology_data():
    t = layered_network([2, 1])
    again = Topology.from_json(t.to_json())
    assert again.to_dict() == t.to_dict()


@pytest.mark.parametrize("bad", ["1,0", "a,b", [0]])
def test_bad_layers_are_config_errors(bad):
    with pytest.raises(ConfigError):
        parse_layers(bad)


def test_parse_layers_forms():
    assert parse_layers("2, 2") == (2, 2) == parse_layers([2, 2])
    assert parse_layers("") == ()


def test_prompts_are_role_free_and_structure_aware():
    hidden = layered_messages("What is 2+2?", layer=2, index=1, output=False, previous=["four", "4"])
    text = hidden[0]["content"] + hidden[1]["content"]
    assert "node 2 of layer 2" in text  # index shown 1-based
    assert "What is 2+2?" in text and "[node 1] four" in text and "[node 2] 4" in text
    assert "Messages from layer 1" in text
    for word in ("expert", "critic", "solver", "mathematician", "role"):
        assert word not in text.lower()
    out = layered_messages("Q", layer=3, index=0, output=True, previous=["x"], answer_format="Put it in a box.")
    assert "output node" in out[0]["content"] and out[1]["content"].endswith("Put it in a box.")
    assert "Put it in a box." not in text  # hidden nodes are not given the answer format


def test_first_layer_has_no_context_and_empty_messages_vanish():
    first = layered_messages("Q", layer=1, index=0, output=False)
    assert "Messages from" not in first[1]["content"]
    assert render_context(1, ["", "  "]) == ""
    assert render_context(1, ["a", ""]) == render_context(1, ["a"])  # a silent node adds nothing
    assert layered_messages("Q", layer=2, index=0, output=False, previous=["a", ""]) == \
        layered_messages("Q", layer=2, index=0, output=False, previous=["a"])


def test_fingerprint_depends_on_the_answer_format():
    assert prompt_fingerprint("A") == prompt_fingerprint("A") != prompt_fingerprint("B")
