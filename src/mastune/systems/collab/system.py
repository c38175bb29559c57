"""CollabSystem: the M1 / AgentVerse loop on the shared runtime.

One round (repeated up to max_turn times):
  0. CEO (when on): reads the task, the latest solution, the evaluator's
     feedback and the current resources; Stop ends the run with the current
     solution, Continue sets this round's experts, direction and token budget.
  1. Recruiter: one role description per expert; [0] is the solver.
  2. Solver drafts; up to max_inner_turns times the critics (experts - 1 of
     them) review concurrently, each ending with [Agree] / [Disagree]; all
     agree -> consensus, the discussion ends; else the solver revises.
  3. Tester (code only): the solution against docstring / generated tests,
     in the sandbox.
  4. Evaluator: Correctness 0/1, Advice, Recruiting suggestion; Correctness 1
     ends the run (accept_on_correct), else its feedback goes to the next round.

A kind of the system contract: `BaseSystem.run` owns the trace, runtime,
usage and answer; this module is only the loop (`_solve`). Every LLM call goes
through `agents.Runtime.call`, so the result is the same `SystemResult` +
trace as every other system (plus the per-round record).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ...agents.prompts import canonical_family
from ...agents.runtime import PoolLike, Runtime, bind_models, gather_all
from ...agents.trace import NodeRecord, Trace
from ...llm.types import Usage
from ..base import BaseSystem
from ..registry import register_kind
from ..spec import SystemSpec
from . import prompts
from .config import CollabConfig, load_collab_config
from .tester import ExecReport, no_execution, run_tests
from .parse import CEODecision, Evaluation, as_expert, parse_ceo, parse_evaluation, parse_experts, parse_verdict
from .trace import CollabTrace, RoundRecord


@register_kind("collab")
class CollabSystem(BaseSystem):
    def __init__(self, config: CollabConfig, pool: PoolLike) -> None:
        self.config = config
        self.pool = pool
        self.default_model = bind_models(config, pool)

    @property
    def name(self) -> str:
        return self.config.name

    def model(self, role: str, index: int = 0) -> str:
        return self.config.model_for(role, index, self.default_model)

    def roles(self, family: str) -> list[str]:
        """The trace's node ids, in the order a round runs them (the loop is not a DAG: no topology)."""
        code = canonical_family(family) == "code"  # only code tasks run a tester
        return [*(["ceo"] if self.config.ceo else []), "recruiter", "solver", "critics",
                *(["tester"] if code else []), "evaluator"]

    def _trace(self, question: str, family: str) -> Trace:
        return CollabTrace(self.name, question, family, None, config=self.config.to_dict(), roles=self.roles(family))

    async def _solve(self, rt: Runtime) -> tuple[str, str | None]:
        return await _Loop(self, rt, rt.trace).run(), None

    def _finish(self, trace: Trace) -> None:
        _node_records(trace)

    # ---- the kind ------------------------------------------------------------
    @classmethod
    def spec(cls, name: str, *, model: str | None = None, config: str | None = None,
             options: dict[str, Any] | None = None, checkpoint: str | None = None) -> dict[str, Any]:
        return collab_config(model=model, config=config, **(options or {})).to_dict()

    @classmethod
    def from_spec(cls, spec: SystemSpec, pool: PoolLike) -> "CollabSystem":
        return cls(CollabConfig.from_dict(dict(spec.config), "the spec's collab config"), pool)

    def __repr__(self) -> str:
        return f"CollabSystem({self.name!r}, ceo={self.config.ceo})"


class _Loop:
    """State of one run: the current resources, solution and feedback."""

    def __init__(self, system: CollabSystem, rt: Runtime, trace: CollabTrace) -> None:
        self.sys, self.cfg, self.rt, self.trace = system, system.config, rt, trace
        self.experts, self.budget, self.direction = self.cfg.experts, self.cfg.max_tokens, ""
        self.solution: str | None = None
        self.evaluation: Evaluation | None = None

    async def call(self, node: str, slot: str, role: str, messages: list, *, index: int = 0,
                   max_tokens: int | None = None) -> str:
        return await self.rt.call(
            node, slot, self.sys.model(role, index), messages,
            max_tokens=max_tokens or self.cfg.aux_tokens_for(role), temperature=self.cfg.temperature_for(role),
        )

    def render(self, role: str, **fields: Any) -> list:
        return prompts.render(role, question=self.rt.question, family_name=self.rt.family, **fields)

    async def run(self) -> str:
        self.trace.stop_reason = "max_turn"
        for r in range(1, self.cfg.max_turn + 1):
            if self.cfg.ceo:
                decision = await self.ceo(r)
                if decision.stop:
                    self.trace.stop_reason = "ceo_stop"
                    break
                self.experts, self.budget, self.direction = decision.experts, decision.max_tokens, decision.direction
            rec = RoundRecord(r, self.experts, self.budget, self.direction)
            self.trace.rounds.append(rec)
            await self.recruit(rec)
            self.solution = rec.solution = await self.discuss(rec)
            report = await self.test(rec) if self.rt.family == "code" else None
            rec.execution = report.to_dict() if report else None
            self.evaluation = await self.evaluate(rec, report)
            rec.evaluation = self.evaluation.to_dict()
            if self.evaluation.correct and self.cfg.accept_on_correct:
                self.trace.stop_reason = "evaluator_correct"
                break
        return self.solution or ""

    # ---- roles ---------------------------------------------------------------
    async def ceo(self, r: int) -> CEODecision:
        messages = self.render(
            "ceo",
            solution=self.solution or "No solution yet.",
            feedback=self.evaluation.feedback() if self.evaluation else "No evaluation yet.",
            round=r, max_turn=self.cfg.max_turn, experts=self.experts, max_tokens=self.budget,
            max_experts=self.cfg.max_experts, ladder=", ".join(map(str, self.cfg.budget_ladder)),
        )
        text = await self.call("ceo", f"round {r}", "ceo", messages)
        d = parse_ceo(text, experts=self.experts, max_tokens=self.budget, max_experts=self.cfg.max_experts,
                      ladder=self.cfg.budget_ladder)
        if d.stop and self.solution is None:
            d.stop = False  # nothing to stop with: the first round must produce a solution
            d.notes.append("Stop ignored: no solution yet")
        self.trace.decisions.append({"before_round": r, **d.to_dict()})
        return d

    async def recruit(self, rec: RoundRecord) -> None:
        advice = self.evaluation.recruiting if self.evaluation else ""
        messages = self.render("recruiter", n=rec.experts, recruiting=prompts.block("recruiting", recruiting=advice))
        text = await self.call("recruiter", f"round {rec.index}", "recruiter", messages)
        roles = parse_experts(text, rec.experts)
        defaults = prompts.default_experts(self.rt.family)
        rec.recruit_fallbacks = rec.experts - len(roles)
        rec.roles = roles + [defaults[i % len(defaults)] for i in range(len(roles), rec.experts)]

    async def discuss(self, rec: RoundRecord) -> str:
        r, direction = rec.index, prompts.block("direction", direction=rec.direction)
        solver, critics = rec.roles[0], rec.roles[1:]
        messages = self.render(
            "solver", expert=as_expert(solver), direction=direction,
            previous=prompts.block("previous", solution=self.solution or ""),
            advice=prompts.block("advice", advice=self.evaluation.advice if self.evaluation else ""),
        )
        solution = await self.call("solver", f"round {r} draft", "solver", messages, max_tokens=rec.max_tokens)
        if not critics:
            rec.consensus = True  # a lone solver has no one to disagree with
            return solution
        for t in range(1, self.cfg.max_inner_turns + 1):
            replies = await gather_all(
                self.call("critics", f"round {r} turn {t} critic {i + 1}", "critic",
                          self.render("critic", expert=as_expert(desc), solution=solution),
                          index=i, max_tokens=rec.max_tokens)
                for i, desc in enumerate(critics)
            )
            verdicts = [parse_verdict(x) for x in replies]
            rec.verdicts.append(verdicts)
            if all(v == "agree" for v in verdicts):
                rec.consensus = True
                break
            critiques = "".join(
                prompts.block("critique", index=i + 1, role=critics[i].rstrip("."), text=reply)
                for i, (reply, v) in enumerate(zip(replies, verdicts)) if v != "agree"
            )
            messages = self.render("revise", expert=as_expert(solver), solution=solution, critiques=critiques,
                                   direction=direction)
            solution = await self.call("solver", f"round {r} revision {t}", "solver", messages, max_tokens=rec.max_tokens)
        return solution

    async def test(self, rec: RoundRecord) -> ExecReport:
        async def write_tests(question: str, entry: str) -> str:
            messages = self.render("test_writer", n=self.cfg.max_tests, entry_point=entry)
            return await self.call("tester", f"round {rec.index} tests", "test_writer", messages)

        return await run_tests(
            self.rt.question, rec.solution, write_tests=write_tests if self.cfg.generate_tests else None,
            max_tests=self.cfg.max_tests, timeout_s=self.cfg.exec_timeout_s,
        )

    async def evaluate(self, rec: RoundRecord, report: ExecReport | None) -> Evaluation:
        execution = report.summary() if report else no_execution()
        messages = self.render("evaluator", solution=rec.solution, execution=execution)
        return parse_evaluation(await self.call("evaluator", f"round {rec.index}", "evaluator", messages))


def _node_records(trace: CollabTrace) -> None:
    """Per-node usage and last output, as the DAG systems record them."""
    for node_id in trace.roles:
        calls = trace.calls_of(node_id)
        usage = sum((c.usage for c in calls), Usage())
        note = ""
        if node_id == "tester" and trace.rounds and trace.rounds[-1].execution:
            note = trace.rounds[-1].execution["summary"].splitlines()[0]
        status = "done" if calls or note else "skipped"
        out = calls[-1].output if calls else ""
        answer = trace.extracted_answer if node_id == "solver" else None
        trace.nodes[node_id] = NodeRecord(node_id, status, out, answer, usage, note=note)


def collab_config(*, ceo: bool | None = None, model: str | None = None,
                  config: str | Path | CollabConfig | None = None, **knobs: Any) -> CollabConfig:
    """A built-in or YAML config, then knobs.

    ceo: True / False switch the CEO on / off (and pick the built-in config
    `collab-ceo` / `collab` when no `config` is given); None keeps the config's.
    knobs are CollabConfig fields (max_turn, max_inner_turns, experts, max_tokens,
    budget_ladder, temperature, roles, ...); None values are ignored; `model`
    puts every role on one model.
    """
    cfg = config if isinstance(config, CollabConfig) else load_collab_config(config, ceo=ceo)
    return cfg.override(ceo=ceo, model=model, **knobs)


def build_collab_system(pool: PoolLike, *, ceo: bool | None = None, model: str | None = None,
                        config: str | Path | CollabConfig | None = None, **knobs: Any) -> CollabSystem:
    """The collab system on `pool` (arguments as `collab_config`)."""
    return CollabSystem(collab_config(ceo=ceo, model=model, config=config, **knobs), pool)
