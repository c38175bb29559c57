"""Route each request to the engine slot whose KV cache holds the longest prefix of it.

llama.cpp reuses a slot's cache only for a shared token *prefix*. Calls of one
run that share the task and predecessor outputs (see agents/prompts.yaml) share
such a prefix, so sending them to the slot that served the previous call turns
most of their prefill into a cache hit. The router works on the messages' text
(the chat template keeps message order, so a shared text prefix is a shared
token prefix up to the last few tokens) and only picks among idle slots: a busy
slot would queue the request and serialise calls that could run in parallel.

A slot holds the prompt *and* the reply it generated (llama.cpp keeps sampled
tokens in the slot's cache), so the held key is `held_key(prompt, reply)`: a
later call whose messages continue that conversation (the prompt, then the
reply as an assistant message: agents/prompts.yaml's transcript layout) finds
the reply's tokens cached too instead of evaluating them as prompt.

Adapters (per-request LoRA): KV computed under adapter A is valid only for later
requests under A. Every request carries a `tag` (the adapter selection; the
weights digest is part of the engine), each slot remembers the tag its KV was
computed under, and a lease says whether reusing the slot's cache is safe: only
when the slot is empty or holds the same tag. A slot whose content is unknown
(a failed call) is never reused.

`wait_chars` (adapter engines serving groups of samples): when a *busy* slot is
computing a prompt sharing at least that many more characters with this one than
any idle slot does, wait for it instead of evaluating the shared part again on
another slot. On a CPU-bound engine the prefill saved is worth more than the
parallelism lost (batched decoding gains little there).
"""
from __future__ import annotations

import threading
import time
from typing import Any, NamedTuple, Sequence

# Below this many shared characters a slot's content is not worth keeping the
# request waiting for: a system message alone is shorter. Then the least
# recently used idle slot is taken, as llama.cpp itself would.
MIN_SHARED_CHARS = 200

EMPTY, UNKNOWN = object(), object()  # slot tags that are no request's tag


class Lease(NamedTuple):
    slot: int
    reuse: bool  # the slot's cached prompt was computed under this request's tag (or it holds nothing)


def prompt_key(messages: Sequence[dict[str, Any]]) -> str:
    """The request's messages as one string, in the order the chat template lays them out."""
    return "".join(f"\x00{m.get('role', '')}\x01{m.get('content', '')}" for m in messages)


def held_key(key: str, reply: str) -> str:
    """What a slot holds after answering `key` with `reply`: the prompt, then the reply as an assistant turn."""
    return key + prompt_key([{"role": "assistant", "content": reply}])


def common_prefix_len(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class SlotRouter:
    """Which slot holds which prompt under which tag, and which slots are busy (one router per engine)."""

    def __init__(self, n_slots: int, min_shared_chars: int = MIN_SHARED_CHARS, wait_chars: int = 0) -> None:
        self.n_slots = n_slots
        self.min_shared_chars = min_shared_chars
        self.wait_chars = wait_chars  # 0: never wait for a busy slot
        self._held = [""] * n_slots  # the prompt in the slot's KV (idle) or being computed there (busy)
        self._tag: list[Any] = [EMPTY] * n_slots
        self._busy = [False] * n_slots
        self._last_used = [0.0] * n_slots
        self._stale: set[int] = set()  # busy slots that something else wrote to meanwhile
        self._cv = threading.Condition()
        self.waits = 0  # times a request waited for a busy slot's prefix (benchmarks, tests)

    def _shared(self, i: int, key: str, tag: Any) -> int:
        return common_prefix_len(self._held[i], key) if self._tag[i] == tag else -1

    def acquire(self, key: str, tag: Any = "", *, block: bool = False) -> Lease | None:
        """Reserve the best idle slot for `key` under `tag`. With every slot busy: None (let the engine
        choose), or with `block` wait for one (an adapter engine must know what every slot holds)."""
        with self._cv:
            while True:
                idle = [i for i in range(self.n_slots) if not self._busy[i]]
                shared = {i: self._shared(i, key, tag) for i in range(self.n_slots)}
                best_idle = max((shared[i] for i in idle), default=-1)
                best_busy = max((shared[i] for i in range(self.n_slots) if self._busy[i]), default=-1)
                if self.wait_chars and best_busy - max(best_idle, 0) >= self.wait_chars:
                    self.waits += 1
                    self._cv.wait()
                    continue
                if idle:
                    break
                if not block:
                    return None
                self._cv.wait()
            best = max(idle, key=lambda i: (shared[i], -self._last_used[i]))
            if shared[best] < self.min_shared_chars:
                best = min(idle, key=lambda i: self._last_used[i])
            reuse = self._tag[best] is EMPTY or self._tag[best] == tag
            self._busy[best] = True
            self._held[best], self._tag[best] = key, tag  # what the slot computes now (others may wait for it)
            return Lease(best, reuse)

    def release(self, slot: int, key: str | None, tag: Any = "") -> None:
        """The slot now holds `key` (a prompt + its reply, `held_key`) under `tag` (None after a failed
        call: content unknown)."""
        with self._cv:
            if slot in self._stale:
                self._stale.discard(slot)
                key = None
            self._held[slot] = key or ""
            self._tag[slot] = UNKNOWN if key is None else tag
            self._busy[slot] = False
            self._last_used[slot] = time.monotonic()
            self._cv.notify_all()

    def forget(self, slot: int) -> None:
        """Something outside the router used `slot`: its content is unknown from now on."""
        with self._cv:
            if 0 <= slot < self.n_slots:
                self._held[slot], self._tag[slot] = "", UNKNOWN
                if self._busy[slot]:
                    self._stale.add(slot)
