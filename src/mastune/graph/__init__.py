"""Topologies as plain data, generators, and the concurrent DAG executor."""
from .executor import NodeError, NodeRun, execute
from .generators import chain, edges_to_ids, full, layer_sizes, layered, random_dag, random_dag_pool, star
from .topology import SKIP, CycleError, GraphError, Node, Topology, find_cycle

__all__ = [
    "SKIP", "CycleError", "GraphError", "Node", "NodeError", "NodeRun", "Topology", "chain", "edges_to_ids",
    "execute", "find_cycle", "full", "layer_sizes", "layered", "random_dag", "random_dag_pool", "star",
]
