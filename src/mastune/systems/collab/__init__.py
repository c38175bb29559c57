"""M1 / CEO: AgentVerse-style collaborative reasoning steered by a CEO agent.

    system = build_collab_system(pool, ceo=True, model="qwen2.5-coder-0.5b", max_turn=2)
    result = await system.run(question, "math")   # -> systems.SystemResult
    result.trace.rounds, result.trace.decisions  # what each round did / what the CEO decided
"""
from .config import CollabConfig, RoleSettings, builtin_configs, load_collab_config
from .parse import CEODecision, Evaluation, parse_ceo, parse_evaluation, parse_experts, parse_verdict
from .system import CollabSystem, build_collab_system, collab_config
from .trace import CollabTrace, RoundRecord

__all__ = [
    "CEODecision", "CollabConfig", "CollabSystem", "CollabTrace", "Evaluation", "RoleSettings", "RoundRecord",
    "build_collab_system", "builtin_configs", "collab_config", "load_collab_config", "parse_ceo", "parse_evaluation",
    "parse_experts", "parse_verdict",
]
