"""Prefix-aware slot routing (no engine)."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from mastune.llm.embedded import Engine, EngineSpec
from mastune.llm.lora import Adapter, AdapterSet
from mastune.llm.slots import SlotRouter, common_prefix_len, held_key, prompt_key

TASK = "Task:\n" + "a long shared question " * 20


def test_prompt_key_keeps_message_order_and_roles():
    a = prompt_key([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    b = prompt_key([{"role": "user", "content": "S"}, {"role": "user", "content": "U"}])
    assert a != b and common_prefix_len(a, a + "x") == len(a)


def test_a_call_goes_to_the_slot_holding_its_prefix():
    r = SlotRouter(3, min_shared_chars=50)
    first = r.acquire(TASK + "Analyst").slot
    r.release(first, TASK + "Analyst")
    other = r.acquire("another item " * 20).slot
    r.release(other, "another item " * 20)
    assert other != first  # nothing shared: the least recently used slot, not the one holding TASK
    assert r.acquire(TASK + "Agent Analyst said ... Solver").slot == first


def test_busy_slots_are_skipped_and_a_full_router_defers_to_the_engine():
    r = SlotRouter(2, min_shared_chars=50)
    s0 = r.acquire(TASK + "x").slot
    r.release(s0, TASK + "x")
    a = r.acquire(TASK + "proposer 1").slot
    b = r.acquire(TASK + "proposer 2").slot  # the same prefix, but its slot is busy
    assert a == s0 and b != a
    assert r.acquire(TASK) is None
    r.release(b, None)
    lease = r.acquire(TASK + "y")
    assert lease.slot == b and not lease.reuse  # free again; a failed call left nothing known to reuse


def test_short_shared_text_does_not_pin_a_slot():
    r = SlotRouter(2, min_shared_chars=200)
    s = r.acquire("system prompt. question one").slot
    r.release(s, "system prompt. question one")
    assert r.acquire("system prompt. question two").slot != s  # LRU: keeps s's cache for its own item


# ---- adapters: a slot's KV is reusable only under the adapter it was computed with ----------------
def test_a_slot_is_reused_only_under_the_tag_its_cache_was_computed_with():
    r = SlotRouter(1)
    seq = []
    for tag in ["A", "A", "B", "A", "A"]:
        lease = r.acquire(TASK, tag)
        seq.append(lease.reuse)
        r.release(lease.slot, TASK, tag)
    assert seq == [True, True, False, False, True]  # empty, A on A, B on A, A on B, A on A


def test_a_prefix_under_another_tag_does_not_attract_a_request():
    r = SlotRouter(2, min_shared_chars=50)
    a = r.acquire(TASK + "1", "A").slot
    r.release(a, TASK + "1", "A")
    b = r.acquire("other " * 20, "B").slot
    r.release(b, "other " * 20, "B")
    assert r.acquire(TASK + "2", "A").slot == a
    r.release(a, TASK + "2", "A")
    lease = r.acquire(TASK + "3", "B")  # the text matches a's slot, but a's KV is A's
    assert lease.slot == b and lease.reuse  # B's own slot
    lease = r.acquire(TASK + "4", "B")  # only a is idle: taken, without reuse
    assert lease.slot == a and not lease.reuse


def test_a_request_waits_for_the_busy_slot_computing_its_prefix():
    r = SlotRouter(2, min_shared_chars=50, wait_chars=100)
    first = r.acquire(TASK + "sample 1", "A")
    got = []
    t = threading.Thread(target=lambda: got.append(r.acquire(TASK + "sample 2", "A")))
    t.start()
    time.sleep(0.2)
    assert not got and r.waits >= 1  # an idle slot exists, but the busy one computes the shared task
    assert r.acquire(TASK + "x", "B").slot != first.slot  # another adapter does not wait
    r.release(first.slot, TASK + "sample 1", "A")
    t.join(5)
    assert got and got[0].slot == first.slot and got[0].reuse


class BuggyServer:
    """A llama.cpp server that reuses a slot's cached prefix whatever adapter computed it (the bug the
    router must make harmless). The reply names the adapter the reused prefix was computed under."""

    def __init__(self, n_slots: int) -> None:
        self.kv = [[] for _ in range(n_slots)]  # per slot: (char, adapter) pairs
        self.requests = []

    def handle_chat_completions(self, req: dict) -> dict:
        self.requests.append(req)
        now = next(i for i, x in enumerate(req["lora"]) if x["scale"] > 0)
        text = prompt_key(req["messages"])
        slot = req.get("id_slot", 0)
        cached = self.kv[slot] if req.get("cache_prompt", True) else []
        n = 0
        while n < min(len(cached), len(text)) and cached[n][0] == text[n]:
            n += 1
        kv = cached[:n] + [(c, now) for c in text[n:]]
        self.kv[slot] = kv
        used = sorted({a for _, a in kv})
        return {"choices": [{"message": {"content": f"kv under {used}"}}]}


def fake_engine(n_slots: int) -> Engine:
    engine = Engine.__new__(Engine)  # the routing logic only: no model is loaded
    adapters = AdapterSet(tuple(Adapter(n, f"/nowhere/{n}.gguf", n * 4) for n in "ABC"))
    engine.spec = EngineSpec("/nowhere/base.gguf", n_parallel=n_slots, adapters=adapters, adapter_prompt_cache=True)
    engine.server = BuggyServer(n_slots)
    engine.router = SlotRouter(n_slots)
    return engine


def test_same_prompt_under_a_then_b_then_a_gives_each_adapter_its_own_kv_with_reuse_on():
    """The old router forced cache_prompt on its least-recently-used fallback, whatever adapter the slot's
    KV came from: B's call then ran on A's cached prompt (with this fake server's bug, as with llama.cpp
    builds that do not clear a slot on an adapter change)."""
    for n_slots in (1, 2):
        engine = fake_engine(n_slots)
        spec = engine.spec.adapters
        msgs = [{"role": "system", "content": "You are node 1."}, {"role": "user", "content": TASK}]
        out = [engine._routed({"messages": msgs, **spec.request_fields(name, 1.0, prompt_cache=True)}, True)
               ["choices"][0]["message"]["content"] for name in ["A", "B", "A", "C", "A", "A"]]
        ids = {"A": 0, "B": 1, "C": 2}
        assert out == [f"kv under [{ids[n]}]" for n in ["A", "B", "A", "C", "A", "A"]], (n_slots, out)
        # ... and the prompt cache is still reused where it is valid (the last A after an A)
        assert engine.server.requests[-1]["cache_prompt"] is True


def test_unrouted_requests_on_an_adapter_engine_never_reuse_the_cache():
    engine = fake_engine(1)
    req = {"messages": [{"role": "user", "content": TASK}], **engine.spec.adapters.request_fields("A", 1.0, True)}
    engine._routed(req, False)
    assert engine.server.requests[-1]["cache_prompt"] is False
    engine._routed({**req, "id_slot": 0}, True)  # the caller's own slot: no reuse, and the router forgets it
    assert engine.server.requests[-1]["cache_prompt"] is False
    lease = engine.router.acquire(prompt_key(req["messages"]), "whatever")
    assert not lease.reuse

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
    engine.spec = EngineSpec("/nowhere/base.gguf", n_parallel=n_slots)  # a plain engine (no adapters)
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
