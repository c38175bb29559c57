"""Prefix-aware slot routing (no engine)."""
from mastune.llm.slots import SlotRouter, common_prefix_len, prompt_key

TASK = "Task:\n" + "a long shared question " * 20


def test_prompt_key_keeps_message_order_and_roles():
    a = prompt_key([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    b = prompt_key([{"role": "user", "content": "S"}, {"role": "user", "content": "U"}])
    assert a != b and common_prefix_len(a, a + "x") == len(a)


def test_a_call_goes_to_the_slot_holding_its_prefix():
    r = SlotRouter(3, min_shared_chars=50)
    first = r.acquire(TASK + "Analyst")
    r.release(first, TASK + "Analyst")
    other = r.acquire("another item " * 20)
    r.release(other, "another item " * 20)
    assert other != first  # nothing shared: the least recently used slot, not the one holding TASK
    assert r.acquire(TASK + "Agent Analyst said ... Solver") == first


def test_busy_slots_are_skipped_and_a_full_router_defers_to_the_engine():
    r = SlotRouter(2, min_shared_chars=50)
    s0 = r.acquire(TASK + "x")
    r.release(s0, TASK + "x")
    a = r.acquire(TASK + "proposer 1")
    b = r.acquire(TASK + "proposer 2")  # the same prefix, but its slot is busy
    assert a == s0 and b != a
    assert r.acquire(TASK) is None
    r.release(b, "")
    assert r.acquire(TASK + "y") == b  # free again; a failed call left nothing to share


def test_short_shared_text_does_not_pin_a_slot():
    r = SlotRouter(2, min_shared_chars=200)
    s = r.acquire("system prompt. question one")
    r.release(s, "system prompt. question one")
    assert r.acquire("system prompt. question two") != s  # LRU: keeps s's cache for its own item
