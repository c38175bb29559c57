"""Growth: a trained smaller network's adapters become nodes of a bigger one.

Mapping (`growth_mapping`): hidden node (layer l, index i) of the small network ->
(layer l, index i) of the big one; output -> output. So every small layer must fit
in the big layer at the same depth (width_small[l] <= width_big[l], no more hidden
layers than the big one). [1,1] -> [2,2] keeps h1_0, h2_0 and out and adds h1_1,
h2_1; [2,2] -> [2,2,2] keeps all five and adds layer 3 (h3_0, h3_1) between the old
layer 2 and the output. An explicit mapping may be given instead.

Old adapters are copied bit for bit; new nodes keep their fresh adapter with
LoRA B = 0, i.e. they start as the base model (zero contribution of the adapter).

When is the grown network's output the small one's? A kept node's prompt is
"its layer, its index, the task, and the non-empty messages of the previous layer"
(empty messages are left out). So with the same adapters and greedy decoding:
- kept layer-1 nodes always answer as before (they read only the task);
- a kept deeper node answers as before iff every new node of the layer before it
  writes an empty message (only then is its prompt unchanged);
- the output node answers as before iff, in addition, the depth is unchanged
  (its prompt names its layer): true for width growth ([1,1] -> [2,2]) with silent
  new nodes, never for depth growth ([2,2] -> [2,2,2]).
B = 0 makes a new node the *base model*, not a silent one: in real use it writes
messages, so the grown network starts near, not at, the small one.
"""
from __future__ import annotations

from typing import Sequence

import torch

from ...errors import ConfigError
from ...graph.layernet import OUTPUT, node_id, node_ids, parse_layers
from .policy import AdapterPolicy


def growth_mapping(small: Sequence[int], big: Sequence[int]) -> dict[str, str]:
    """small node id -> big node id, same (layer, index); output -> output."""
    small, big = parse_layers(small), parse_layers(big)
    if len(small) > len(big) or any(s > b for s, b in zip(small, big)):
        raise ConfigError(f"cannot grow layers {list(small)} into {list(big)}: each small layer must fit in the "
                          "big layer at the same depth (same or more nodes, same or more layers)")
    mapping = {node_id(l, i): node_id(l, i) for l, w in enumerate(small, 1) for i in range(w)}
    mapping[OUTPUT] = OUTPUT
    return mapping


def grow(policy: AdapterPolicy, adapters: dict[str, dict[str, torch.Tensor]], small: Sequence[int],
         big: Sequence[int], mapping: dict[str, str] | None = None) -> dict[str, str]:
    """Load the small network's `adapters` into the matching nodes of `policy` (built for `big`).
    Returns the mapping used; nodes not in it keep their fresh B = 0 adapters."""
    mapping = dict(mapping) if mapping is not None else growth_mapping(small, big)
    if set(policy.nodes) != set(node_ids(parse_layers(big))):
        raise ConfigError(f"the policy's nodes {policy.nodes} are not those of layers {list(big)}")
    missing = [s for s in mapping if s not in adapters]
    bad = [d for d in mapping.values() if d not in policy.nodes]
    if missing or bad or len(set(mapping.values())) != len(mapping):
        raise ConfigError(f"growth mapping {mapping} is invalid: small nodes without adapters {missing}, "
                          f"unknown big nodes {bad}, or two small nodes onto one")
    for s, d in mapping.items():
        policy.load_adapter_state(d, adapters[s])
    return mapping


def new_nodes(policy: AdapterPolicy, mapping: dict[str, str]) -> list[str]:
    kept = set(mapping.values())
    return [n for n in policy.nodes if n not in kept]
