"""Parsers for the roles' fixed-format replies.

Each parser returns what it could read and names the fields it had to fill
with a default (`fallbacks`), so a malformed reply is visible in the trace
instead of silently turning into a decision.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

# ---------------------------------------------------------------- CEO


@dataclass
class CEODecision:
    """What the CEO decided, after defaults were applied to unreadable fields.

    Defaults (stated in the docs and prompts): Continue; keep the current
    number of experts; no direction; keep the current token budget.
    """

    stop: bool
    experts: int
    direction: str
    max_tokens: int
    raw: str = ""
    fallbacks: list[str] = field(default_factory=list)  # fields that were missing or invalid
    notes: list[str] = field(default_factory=list)  # clamped / snapped values, ignored Stop

    @property
    def malformed(self) -> bool:
        return bool(self.fallbacks)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_FIELD_END = r"(?=^\s*\**\s*(?:decision|recruit(?:ing)?\s*number|direction|max(?:imum)?\s*tokens)\b|\Z)"


def _field(text: str, name: str) -> str | None:
    """Text after 'Name:' up to the next known field (markdown bold tolerated)."""
    m = re.search(rf"^\s*\**\s*{name}\s*\**\s*[:：]\s*\**\s*(.*?){_FIELD_END}", text, re.I | re.M | re.S)
    return m.group(1).strip().strip("*").strip() if m else None


def _int(s: str | None) -> int | None:
    if s is None:
        return None
    m = re.search(r"\d[\d,]*", s)
    return int(m.group(0).replace(",", "")) if m else None


def snap(value: int, ladder: Sequence[int]) -> int:
    """The ladder rung nearest to `value` (ties go to the smaller budget)."""
    return min(ladder, key=lambda b: (abs(b - value), b))


def parse_ceo(text: str, *, experts: int, max_tokens: int, max_experts: int, ladder: Sequence[int]) -> CEODecision:
    """Read a CEO reply; `experts` / `max_tokens` are the current values (the defaults)."""
    d = CEODecision(stop=False, experts=experts, direction="", max_tokens=max_tokens, raw=text)

    decision = _field(text, "decision")
    words = re.findall(r"\b(continue|stop)\b", decision or "", re.I)
    if len(set(w.lower() for w in words)) == 1:
        d.stop = words[0].lower() == "stop"
    else:
        d.fallbacks.append("decision")

    n = _int(_field(text, r"recruit(?:ing)?\s*number"))
    if n is None:
        d.fallbacks.append("recruit_number")
    else:
        d.experts = max(1, min(max_experts, n))
        if d.experts != n:
            d.notes.append(f"recruit number {n} clamped to {d.experts}")

    direction = _field(text, "direction")
    if direction:
        d.direction = " ".join(direction.split())
    else:
        d.fallbacks.append("direction")

    budget = _int(_field(text, r"max(?:imum)?\s*tokens"))
    if budget is None or budget < 1:
        d.fallbacks.append("max_tokens")
    else:
        d.max_tokens = snap(budget, ladder)
        if d.max_tokens != budget:
            d.notes.append(f"budget {budget} snapped to {d.max_tokens}")
    return d


# ---------------------------------------------------------------- recruiter

_NUMBERED = re.compile(r"^\s*(?:\d+\s*[.):]|[-*•])\s*(.+?)\s*$", re.M)


def parse_experts(text: str, n: int) -> list[str]:
    """Up to `n` role descriptions from a numbered (or bulleted) list."""
    items = [" ".join(m.split()).strip("*").strip() for m in _NUMBERED.findall(text)]
    return [i for i in items if len(i) > 3][:n]


def as_expert(description: str) -> str:
    """'A chemist specialised in X' -> 'a chemist specialised in X.' (reads after 'You are ')."""
    d = description.strip().rstrip(".")
    d = re.sub(r"^(?:you are\s+)", "", d, flags=re.I)
    if re.match(r"^(?:A|An|The)\b", d):
        d = d[0].lower() + d[1:]
    elif not re.match(r"^(?:a|an|the)\b", d):
        d = "an expert: " + d
    return d + "."


# ---------------------------------------------------------------- critic

_VERDICT = re.compile(r"\[\s*(agree|disagree)\s*\]", re.I)


def parse_verdict(text: str) -> str:
    """'agree' | 'disagree' | 'missing' (the last bracketed verdict wins)."""
    found = _VERDICT.findall(text)
    return found[-1].lower() if found else "missing"


# ---------------------------------------------------------------- evaluator


@dataclass
class Evaluation:
    correct: bool
    advice: str
    recruiting: str
    raw: str = ""
    fallbacks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def feedback(self) -> str:
        return f"Correctness: {int(self.correct)}\nAdvice: {self.advice or '-'}\nRecruiting suggestion: {self.recruiting or '-'}"


_EVAL_END = r"(?=^\s*\**\s*(?:correctness|advice|recruiting\s*suggestion)\b|\Z)"


def parse_evaluation(text: str) -> Evaluation:
    """Correctness 0/1 (unreadable -> 0, i.e. not accepted), Advice, Recruiting suggestion."""

    def grab(name: str) -> str | None:
        m = re.search(rf"^\s*\**\s*{name}\s*\**\s*[:：]\s*\**\s*(.*?){_EVAL_END}", text, re.I | re.M | re.S)
        return " ".join(m.group(1).split()).strip("*").strip() if m else None

    ev = Evaluation(False, "", "", raw=text)
    c = grab("correctness")
    m = re.match(r"\s*([01])\b", c or "")
    if m:
        ev.correct = m.group(1) == "1"
    else:
        ev.fallbacks.append("correctness")
    ev.advice = grab("advice") or ""
    if not ev.advice:
        ev.fallbacks.append("advice")
    ev.recruiting = grab(r"recruiting\s*suggestion") or ""
    if not ev.recruiting:
        ev.fallbacks.append("recruiting")
    return ev
