"""Prefix-aware slot routing (no engine)."""
import threading
from concurrent.futures import ThreadPoolExecutor

from mastune.llm.embedded import Engine
from mastune.llm.slots import SlotRouter, common_prefix_len, held_key, prompt_key

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


# -- what a slot holds after a call: its prompt AND the reply it generated ------------------------

SYSTEM = {"role": "system", "content": "You are one of a team of agents solving a task together."}
FIRST = [SYSTEM, {"role": "user", "content": TASK + "You are the Analyst."}]


class FakeServer:
    """Stands in for xllamacpp.Server: replies per slot, records which slot each request was sent to.
    With `together=N` the first N requests wait for each other (they are in flight at once)."""

    def __init__(self, replies, together=1):
        self.replies = dict(replies)  # slot -> reply text ("error" -> an error response)
        self.slots = []
        self.together = together
        self.barrier = threading.Barrier(together)

    def handle_chat_completions(self, request):
        slot = request.get("id_slot")
        self.slots.append(slot)
        if len(self.slots) <= self.together:
            self.barrier.wait(timeout=10)
        if self.replies.get(slot) == "error":
            return {"error": {"message": "boom"}}
        return {"choices": [{"message": {"role": "assistant", "content": self.replies.get(slot, "")}}]}


def routed_engine(server, n_slots):
    engine = Engine.__new__(Engine)  # only the routing half: no model load
    engine.server, engine.router = server, SlotRouter(n_slots, min_shared_chars=50)
    return engine


def test_held_key_is_the_prompt_then_the_reply_as_an_assistant_turn():
    key = prompt_key(FIRST)
    continued = prompt_key(FIRST + [{"role": "assistant", "content": "plan B"}, {"role": "user", "content": "Solve."}])
    assert continued.startswith(held_key(key, "plan B"))
    assert common_prefix_len(held_key(key, "plan A"), continued) < len(held_key(key, "plan B"))


def test_a_continued_conversation_goes_to_the_slot_that_generated_the_reply():
    """Two proposers ran the same prompt at once, on two slots; the successor continues the reply of
    the one that finished first. With prompt-only held keys both slots tie on the shared prompt and
    the most recently used one would win."""
    server = FakeServer({0: "draft from slot 0 " * 5, 1: "draft from slot 1 " * 5}, together=2)
    engine = routed_engine(server, 3)
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: engine._routed({"messages": FIRST}, route=True), range(2)))
    assert sorted(server.slots) == [0, 1]
    earlier = min((0, 1), key=lambda i: engine.router._last_used[i])
    assert engine.router._held[earlier] == held_key(prompt_key(FIRST), server.replies[earlier])
    succ = FIRST + [{"role": "assistant", "content": server.replies[earlier]}, {"role": "user", "content": "Go on."}]
    engine._routed({"messages": succ}, route=True)
    assert server.slots[-1] == earlier


def test_a_failed_call_leaves_its_slot_holding_nothing():
    server = FakeServer({0: "error"})
    engine = routed_engine(server, 2)
    engine._routed({"messages": FIRST}, route=True)
    assert server.slots == [0] and engine.router._held[0] == ""
