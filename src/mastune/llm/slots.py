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
"""
from __future__ import annotations

import threading
import time
from typing import Any, Sequence

# Below this many shared characters a slot's content is not worth keeping the
# request waiting for: a system message alone is shorter. Then the least
# recently used idle slot is taken, as llama.cpp itself would.
MIN_SHARED_CHARS = 200


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
    """Which slot holds which prompt, and which slots are busy (one router per engine)."""

    def __init__(self, n_slots: int, min_shared_chars: int = MIN_SHARED_CHARS) -> None:
        self.n_slots = n_slots
        self.min_shared_chars = min_shared_chars
        self._held = [""] * n_slots
        self._busy = [False] * n_slots
        self._last_used = [0.0] * n_slots
        self._lock = threading.Lock()

    def acquire(self, key: str) -> int | None:
        """Reserve the best idle slot for `key`; None when every slot is busy (let the engine choose)."""
        with self._lock:
            idle = [i for i in range(self.n_slots) if not self._busy[i]]
            if not idle:
                return None
            shared = {i: common_prefix_len(self._held[i], key) for i in idle}
            best = max(idle, key=lambda i: (shared[i], -self._last_used[i]))
            if shared[best] < self.min_shared_chars:
                best = min(idle, key=lambda i: self._last_used[i])
            self._busy[best] = True
            return best

    def release(self, slot: int, key: str) -> None:
        """The slot now holds `key` (a prompt + its reply, `held_key`; "" after a failed call: content unknown)."""
        with self._lock:
            self._held[slot] = key
            self._busy[slot] = False
            self._last_used[slot] = time.monotonic()
