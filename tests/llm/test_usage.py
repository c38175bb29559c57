import asyncio
import threading

from mastune.llm import FakeLM, Usage, record_usage, track_usage


async def test_tracker_sums_concurrent_calls():
    lm = FakeLM(fn=lambda m, r: "one two three", latency_s=0.01)
    with track_usage() as t:
        await asyncio.gather(*[lm.chat([{"role": "user", "content": f"q {i}"}]) for i in range(50)])
    total = t.total
    assert total.calls == 50
    assert total.completion_tokens == 150
    assert total.prompt_tokens == 100
    assert abs(total.cost - (100 * 1.0 + 150 * 2.0) / 1e6) < 1e-12


async def test_sibling_trackers_are_isolated_and_nest_into_parent():
    a = FakeLM("a", fn=lambda m, r: "x", latency_s=0.01)
    b = FakeLM("b", fn=lambda m, r: "y y", latency_s=0.01)

    async def node(lm, n):
        with track_usage() as mine:
            await asyncio.gather(*[lm.chat([{"role": "user", "content": "q"}]) for _ in range(n)])
        return mine.total

    with track_usage() as outer:
        ua, ub = await asyncio.gather(node(a, 3), node(b, 5))
    assert (ua.calls, ua.model) == (3, "a")
    assert (ub.calls, ub.model) == (5, "b")
    assert outer.total.calls == 8
    assert outer.total.model == ""  # mixed models
    assert outer.by_model()["b"].completion_tokens == 10


def test_tracker_threads():
    with track_usage() as t:
        def work():
            for _ in range(1000):
                record_usage(Usage(prompt_tokens=1, calls=1, model="m"))

        # Threads do not inherit context vars by default: copy the context explicitly.
        import contextvars

        threads = [threading.Thread(target=contextvars.copy_context().run, args=(work,)) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert t.total.calls == 8000


def test_outside_tracker_nothing_recorded():
    record_usage(Usage(calls=1))  # must not raise, must not leak into later trackers
    with track_usage() as t:
        pass
    assert t.total.calls == 0


def test_usage_dict_round_trip():
    u = Usage(prompt_tokens=3, completion_tokens=4, latency_s=0.5, cost=0.1, calls=1, cache_hits=0, model="m")
    assert Usage.from_dict(u.to_dict()) == u
    assert (u + u).total_tokens == 14


def test_engine_prompt_and_draft_counts_sum_and_round_trip():
    a = Usage(prompt_tokens=100, prompt_evaluated=30, prompt_cached=70, calls=1, model="m")
    b = Usage(prompt_tokens=50, prompt_evaluated=50, draft_tokens=12, draft_accepted=9, calls=1, model="m")
    s = a + b
    assert (s.prompt_evaluated, s.prompt_cached, s.draft_tokens, s.draft_accepted) == (80, 70, 12, 9)
    assert Usage.from_dict(s.to_dict()) == s


async def test_backend_without_engine_timings_counts_the_whole_prompt_as_evaluated():
    out = await FakeLM(fn=lambda m, r: "ok").chat([{"role": "user", "content": "one two"}], use_cache=False)
    assert out.usage.prompt_evaluated == out.usage.prompt_tokens > 0 and out.usage.prompt_cached == 0
