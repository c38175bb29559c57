"""Parsers of the roles' fixed-format replies: what is read, what falls back."""
import pytest

from mastune.systems.collab.parse import (as_expert, parse_ceo, parse_evaluation, parse_experts, parse_verdict, snap)

LADDER = [256, 512, 1024, 2048]


def ceo(text, experts=2, max_tokens=512):
    return parse_ceo(text, experts=experts, max_tokens=max_tokens, max_experts=4, ladder=LADDER)


def test_ceo_well_formed():
    d = ceo("Decision: Continue\nRecruit number: 3\nDirection: verify each step\nand the units\nMaximum tokens: 2048")
    assert (d.stop, d.experts, d.direction, d.max_tokens, d.fallbacks) == (False, 3, "verify each step and the units", 2048, [])


def test_ceo_markdown_and_stop():
    d = ceo("**Decision:** Stop\n**Recruit number:** 1\n**Direction:** none\n**Maximum tokens:** 1,024 tokens")
    assert d.stop and d.experts == 1 and d.max_tokens == 1024 and d.fallbacks == []


def test_ceo_clamps_and_snaps():
    d = ceo("Decision: continue\nRecruit number: 9\nDirection: x\nMaximum tokens: 5000")
    assert (d.experts, d.max_tokens) == (4, 2048)
    assert d.notes == ["recruit number 9 clamped to 4", "budget 5000 snapped to 2048"]
    assert d.fallbacks == []


def test_ceo_ambiguous_decision_falls_back_to_continue():
    d = ceo("Decision: Continue or Stop\nRecruit number: 2\nDirection: x\nMaximum tokens: 512")
    assert d.stop is False and d.fallbacks == ["decision"]


def test_ceo_garbage_keeps_current_resources():
    d = ceo("hello", experts=3, max_tokens=1024)
    assert (d.stop, d.experts, d.max_tokens, d.direction) == (False, 3, 1024, "")
    assert d.malformed and d.fallbacks == ["decision", "recruit_number", "direction", "max_tokens"]


@pytest.mark.parametrize("value,rung", [(1, 256), (384, 256), (385, 512), (700, 512), (9999, 2048)])
def test_snap(value, rung):
    assert snap(value, LADDER) == rung


def test_experts_numbered_and_bulleted():
    text = "Here you go:\n1. A chemist specialised in acids.\n2) A physicist specialised in optics\n- A poet"
    assert parse_experts(text, 2) == ["A chemist specialised in acids.", "A physicist specialised in optics"]
    assert parse_experts(text, 5)[-1] == "A poet"
    assert parse_experts("no list here", 2) == []


def test_as_expert_reads_after_you_are():
    assert as_expert("A chemist specialised in acids.") == "a chemist specialised in acids."
    assert as_expert("You are an engineer") == "an engineer."
    assert as_expert("Chemist") == "an expert: Chemist."


@pytest.mark.parametrize("text,verdict", [
    ("fine [Agree]", "agree"), ("[Agree] at first, but no. [Disagree]", "disagree"),
    ("[ disagree ]", "disagree"), ("I agree.", "missing"),
])
def test_verdict(text, verdict):
    assert parse_verdict(text) == verdict


def test_evaluation_fields():
    ev = parse_evaluation("Correctness: 1\nAdvice: none,\nall good\nRecruiting suggestion: a tester")
    assert ev.correct and ev.advice == "none, all good" and ev.recruiting == "a tester" and ev.fallbacks == []
    assert "Correctness: 1" in ev.feedback()


def test_evaluation_unreadable_is_not_accepted():
    ev = parse_evaluation("Looks correct to me!")
    assert not ev.correct and ev.fallbacks == ["correctness", "advice", "recruiting"]
    assert not parse_evaluation("Correctness: maybe").correct
