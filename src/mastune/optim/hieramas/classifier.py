"""The graph classifier: does this DAG of supernodes do well on this query?

Node features = a learnable role embedding (initialised from the text
embedding of the role description) ‖ the query embedding. Two GCN layers,
mean pooling, an MLP, one logit per graph. Graphs are plain tensors
(role index per node, edge_index [2, E], batch vector), PyG style.

Direction: edge_index[0] is the predecessor, edge_index[1] the successor, and
GCNConv's default flow (source_to_target) sums messages at the target: a node
hears from the agents it reads, as in the executor. (The public release had
this reversed by an indexing slip.)
"""
from __future__ import annotations

import copy
import random
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import torch
from torch import nn

from ...eval.stats import mean_group_auc, roc_auc


@dataclass
class GraphSample:
    query: str  # query id: groups graphs for the split and the per-query AUC
    roles: list[int]  # family role index of each node
    edges: list[tuple[int, int]]  # over node positions (indices into `roles`)
    label: float = 0.0


@dataclass
class GraphBatch:
    role_idx: torch.Tensor  # [N] long
    query: torch.Tensor  # [B, Q]
    edge_index: torch.Tensor  # [2, E] long, offsets applied
    batch: torch.Tensor  # [N] long: graph of each node

    @property
    def size(self) -> int:
        return self.query.shape[0]


def collate(samples: Sequence[GraphSample], query_emb: dict[str, torch.Tensor]) -> GraphBatch:
    role_idx, edges, batch = [], [], []
    offset = 0
    for g, s in enumerate(samples):
        role_idx += s.roles
        edges += [(offset + a, offset + b) for a, b in s.edges]
        batch += [g] * len(s.roles)
        offset += len(s.roles)
    edge_index = torch.tensor(edges, dtype=torch.long).t() if edges else torch.zeros(2, 0, dtype=torch.long)
    return GraphBatch(
        torch.tensor(role_idx, dtype=torch.long),
        torch.stack([query_emb[s.query] for s in samples]),
        edge_index,
        torch.tensor(batch, dtype=torch.long),
    )


class GraphClassifier(nn.Module):
    def __init__(self, role_init: torch.Tensor, query_dim: int, hidden: int = 64, dropout: float = 0.1) -> None:
        super().__init__()
        from torch_geometric.nn import GCNConv  # heavy import: only when a classifier is built

        self.role_emb = nn.Parameter(role_init.detach().clone().float())
        in_dim = role_init.shape[1] + query_dim
        self.conv1 = GCNConv(in_dim, hidden)
        self.conv2 = GCNConv(hidden, hidden)
        self.dropout = nn.Dropout(dropout)
        self.mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def node_states(self, b: GraphBatch) -> torch.Tensor:
        x = torch.cat([self.role_emb[b.role_idx], b.query[b.batch]], dim=-1)
        h = self.dropout(torch.relu(self.conv1(x, b.edge_index)))
        return torch.relu(self.conv2(h, b.edge_index))

    def forward(self, b: GraphBatch) -> torch.Tensor:
        from torch_geometric.nn import global_mean_pool

        pooled = global_mean_pool(self.node_states(b), b.batch, size=b.size)
        return self.mlp(pooled).squeeze(-1)


# ---- training ------------------------------------------------------------------

@dataclass
class ClassifierConfig:
    hidden: int = 64
    dropout: float = 0.1
    lr: float = 3e-3
    weight_decay: float = 1e-4
    epochs: int = 200
    patience: int = 25  # epochs without a better validation AUC before stopping
    batch_size: int = 64
    val_fraction: float = 0.2
    # queries held out of training *and* early stopping, for an unbiased per-query AUC (0: none;
    # the report then falls back to the early-stopping validation queries and says so)
    test_fraction: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ClassifierReport:
    best_epoch: int
    best_metric: float | None  # mean per-query validation ROC-AUC (or the fallback, see `metric`)
    metric: str
    epochs_run: int
    n_train: int
    n_val: int
    pos_weight: float
    history: list[dict] = field(default_factory=list)


def split_by_query(samples: Sequence[GraphSample], val_fraction: float, seed: int) -> tuple[list[GraphSample], list[GraphSample]]:
    """Hold out whole queries (80/20 by default): graphs of one query never straddle the split."""
    queries = sorted({s.query for s in samples})
    random.Random(seed).shuffle(queries)
    n_val = int(round(len(queries) * val_fraction)) if len(queries) > 1 else 0
    n_val = min(max(n_val, 1 if len(queries) > 1 else 0), len(queries) - 1) if queries else 0
    val_q = set(queries[:n_val])
    return [s for s in samples if s.query not in val_q], [s for s in samples if s.query in val_q]


@torch.no_grad()
def score(model: GraphClassifier, samples: Sequence[GraphSample], query_emb: dict[str, torch.Tensor],
          batch_size: int = 256) -> torch.Tensor:
    model.eval()
    out = [model(collate(samples[i : i + batch_size], query_emb)) for i in range(0, len(samples), batch_size)]
    return torch.cat(out) if out else torch.zeros(0)


def evaluate(model: GraphClassifier, samples: Sequence[GraphSample], query_emb: dict[str, torch.Tensor]) -> dict:
    s = score(model, samples, query_emb).tolist()
    y = [x.label for x in samples]
    return {"query_auc": mean_group_auc([x.query for x in samples], y, s), "auc": roc_auc(y, s)}


def train_classifier(
    model: GraphClassifier,
    samples: Sequence[GraphSample],
    query_emb: dict[str, torch.Tensor],
    cfg: ClassifierConfig = ClassifierConfig(),
    seed: int = 0,
    on_epoch: Callable[[dict], None] | None = None,
) -> ClassifierReport:
    """BCE with pos_weight = #neg/#pos; early stopping on mean per-query validation ROC-AUC
    (global AUC when no validation query holds both labels, else the validation loss)."""
    torch.manual_seed(seed)
    train, val = split_by_query(samples, cfg.val_fraction, seed)
    if not train:
        raise ValueError("no training graphs for the classifier")
    val = val or train  # a single query: nothing to hold out
    n_pos = sum(s.label > 0.5 for s in train)
    pos_weight = (len(train) - n_pos) / n_pos if n_pos else 1.0
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    rng = random.Random(seed)

    best_state, best, best_epoch, metric_name, history = None, None, -1, "query_auc", []
    order = list(train)
    for epoch in range(cfg.epochs):
        model.train()
        rng.shuffle(order)
        total = 0.0
        for i in range(0, len(order), cfg.batch_size):
            chunk = order[i : i + cfg.batch_size]
            b = collate(chunk, query_emb)
            loss = loss_fn(model(b), torch.tensor([s.label for s in chunk], dtype=torch.float32))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(chunk)
        ev = evaluate(model, val, query_emb)
        with torch.no_grad():
            vb = collate(val, query_emb)
            val_loss = loss_fn(model(vb), torch.tensor([s.label for s in val], dtype=torch.float32)).item()
        if ev["query_auc"] is not None:
            metric_name, value = "query_auc", ev["query_auc"]
        elif ev["auc"] is not None:
            metric_name, value = "auc", ev["auc"]
        else:
            metric_name, value = "-val_loss", -val_loss
        row = {"epoch": epoch, "train_loss": total / len(order), "val_loss": val_loss, **ev}
        history.append(row)
        if on_epoch:
            on_epoch(row)
        if best is None or value > best + 1e-9:
            best, best_epoch, best_state = value, epoch, copy.deepcopy(model.state_dict())
        elif epoch - best_epoch >= cfg.patience:
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return ClassifierReport(best_epoch, best, metric_name, len(history), len(train), len(val), pos_weight, history)
