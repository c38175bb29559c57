"""Agents: roles and prompts (data), supernodes, decision and vote nodes, traces."""
from .answers import answer_key, extract_answer, majority, unanimous
from .nodes import RUNNERS, node_runner
from .prompts import Family, Role, canonical_family, family, messages
from .runtime import NodeOutput, PoolLike, Runtime
from .supernode import resolve_skips, run_agent
from .trace import CallRecord, NodeRecord, Trace

__all__ = [
    "CallRecord", "Family", "NodeOutput", "NodeRecord", "PoolLike", "RUNNERS", "Role", "Runtime", "Trace",
    "answer_key", "canonical_family", "extract_answer", "family", "majority", "messages", "node_runner",
    "resolve_skips", "run_agent", "unanimous",
]
