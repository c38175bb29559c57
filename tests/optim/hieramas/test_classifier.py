"""Graph classifier: learns a synthetic edge rule; messages follow the DAG's direction."""
import random

import torch

from mastune.graph.generators import random_dag
from mastune.optim.hieramas.classifier import (ClassifierConfig, GraphClassifier, GraphSample, collate, evaluate,
                                               train_classifier)


def synthetic(n_queries, graphs_per_query, seed, n_roles=4):
    """Positive iff the DAG has the edge role 0 -> role 1 (the reverse edge is negative)."""
    rng = random.Random(seed)
    samples, emb = [], {}
    for q in range(n_queries):
        qid = f"s{seed}-q{q}"
        emb[qid] = torch.randn(8, generator=torch.Generator().manual_seed(seed * 1000 + q))
        for _ in range(graphs_per_query):
            edges = random_dag(n_roles, (0.2, 0.8), rng)
            samples.append(GraphSample(qid, list(range(n_roles)), edges, float((0, 1) in edges)))
    return samples, emb


def test_classifier_learns_an_edge_rule_on_held_out_graphs():
    torch.manual_seed(0)
    train, emb = synthetic(30, 8, seed=1)
    test, test_emb = synthetic(15, 8, seed=2)
    model = GraphClassifier(torch.randn(4, 8), query_dim=8, hidden=32, dropout=0.0)
    report = train_classifier(model, train, emb, ClassifierConfig(epochs=40, patience=10, lr=1e-2, batch_size=32), seed=0)
    assert report.n_val > 0 and report.metric == "query_auc"
    held_out = evaluate(model, test, test_emb)
    assert held_out["auc"] > 0.8 and held_out["query_auc"] > 0.8, held_out


def test_messages_flow_from_predecessor_to_successor():
    torch.manual_seed(0)
    model = GraphClassifier(torch.randn(3, 4), query_dim=2, hidden=8, dropout=0.0)
    model.eval()
    emb = {"q": torch.zeros(2)}
    a = collate([GraphSample("q", [0, 1], [(0, 1)])], emb)
    b = collate([GraphSample("q", [0, 2], [(0, 1)])], emb)  # only the successor's role changes
    ha, hb = model.node_states(a), model.node_states(b)
    assert torch.allclose(ha[0], hb[0])  # the source hears nothing from its successor
    assert not torch.allclose(ha[1], hb[1])
    c = collate([GraphSample("q", [2, 1], [(0, 1)])], emb)  # only the source's role changes
    assert not torch.allclose(model.node_states(c)[1], ha[1])  # the successor hears its source
