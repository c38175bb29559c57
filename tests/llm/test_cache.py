
from mastune import settings
from mastune.llm import FakeLM, track_usage
from mastune.llm.cache import CallCache, cache_key, is_cacheable, strip_secrets

MSG = [{"role": "user", "content": "hi"}]


def test_key_strips_secrets():
    a = {"messages": MSG, "api_key": "sk-1", "headers": {"Authorization": "Bearer x"}}
    b = {"messages": MSG, "api_key": "sk-2"}
    assert cache_key(a) == cache_key(b)
    assert "sk-1" not in str(strip_secrets(a))


def test_key_depends_on_request_and_rollout():
    base = {"messages": MSG, "temperature": 0.7}
    assert cache_key(base) != cache_key({**base, "temperature": 0.8})
    assert cache_key(base, rollout=1) != cache_key(base, rollout=2)
    assert cache_key(base, rollout=1) == cache_key(dict(base), rollout=1)


def test_sampled_calls_without_seed_or_rollout_are_not_cacheable():
    assert is_cacheable({"temperature": 0.0}, None)
    assert not is_cacheable({"temperature": 0.7}, None)
    assert is_cacheable({"temperature": 0.7}, "r1")
    assert is_cacheable({"temperature": 0.7, "seed": 3}, None)


async def test_cache_hit_returns_same_text_and_flags_hit(call_cache):
    counter = iter(range(100))
    lm = FakeLM(fn=lambda m, r: f"answer {next(counter)}")
    first = await lm.chat(MSG)
    with track_usage() as t:
        second = await lm.chat(MSG)
    assert second.text == first.text
    assert second.usage.cache_hits == 1 and t.total.cache_hits == 1
    assert second.usage.cost == first.usage.cost  # a hit is worth what the call cost
    assert len(lm.requests) == 1
    bypass = await lm.chat(MSG, use_cache=False)
    assert bypass.text != first.text


async def test_rollouts_are_not_collapsed(call_cache):
    counter = iter(range(100))
    lm = FakeLM(fn=lambda m, r: f"sample {next(counter)}")
    outs = [(await lm.chat(MSG, temperature=0.9, rollout=i)).text for i in range(3)]
    assert len(set(outs)) == 3
    again = [(await lm.chat(MSG, temperature=0.9, rollout=i)).text for i in range(3)]
    assert again == outs  # same rollout id -> same cached sample
    free = {(await lm.chat(MSG, temperature=0.9)).text for _ in range(3)}
    assert len(free) == 3  # no seed, no rollout: never cached


def test_cache_persists_on_disk(tmp_path):
    c = CallCache(tmp_path / "c.sqlite")
    c.put("k", {"text": "v"})
    assert CallCache(tmp_path / "c.sqlite").get("k") == {"text": "v"}
    assert len(c) == 1


def test_no_cache_by_default():
    assert settings.get().cache is None
