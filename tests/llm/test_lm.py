import asyncio

import pytest

from mastune.errors import ContextOverflow, LLMError, LLMTimeout, ModelUnavailable
from mastune.llm import FakeLM
from mastune.llm.lm import LM, RawCompletion

MSG = [{"role": "user", "content": "hi"}]


class Flaky(LM):
    def __init__(self, failures, exc, **kw):
        super().__init__("flaky", backoff_s=0.001, **kw)
        self.failures, self.exc, self.attempts = failures, exc, 0

    async def _generate(self, request):
        self.attempts += 1
        if self.attempts <= self.failures:
            raise self.exc("boom")
        return RawCompletion("ok", 1, 1)


async def test_retries_transient_errors():
    lm = Flaky(2, ModelUnavailable, max_retries=2)
    assert (await lm.chat(MSG)).text == "ok"
    assert lm.attempts == 3


async def test_gives_up_after_max_retries():
    lm = Flaky(5, ModelUnavailable, max_retries=1)
    with pytest.raises(ModelUnavailable):
        await lm.chat(MSG)
    assert lm.attempts == 2


async def test_context_overflow_and_plain_errors_are_not_retried():
    for exc in (ContextOverflow, LLMError):
        lm = Flaky(1, exc, max_retries=3)
        with pytest.raises(exc):
            await lm.chat(MSG)
        assert lm.attempts == 1


async def test_timeout_is_typed_and_says_what_to_do():
    lm = FakeLM(fn=lambda m, r: "late", latency_s=0.5, timeout_s=0.05, max_retries=0)
    with pytest.raises(LLMTimeout, match="timeout_s"):
        await lm.chat(MSG)


async def test_concurrency_limit_is_respected():
    active = peak = 0

    class Probe(LM):
        async def _generate(self, request):
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.01)
            active -= 1
            return RawCompletion("x", 1, 1)

    lm = Probe("p", max_concurrency=3)
    await asyncio.gather(*[lm.chat(MSG) for _ in range(12)])
    assert peak == 3


async def test_fake_lm_records_requests_and_runs_out():
    lm = FakeLM(responses=["a"])
    assert (await lm.chat(MSG, max_tokens=7)).text == "a"
    assert lm.requests[0]["max_tokens"] == 7
    with pytest.raises(LLMError, match="ran out"):
        await lm.chat(MSG)
