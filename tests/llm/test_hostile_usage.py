"""An endpoint must not be able to fake a cost or break every file its reply reaches (issue 41).

Scripted OpenAI-compatible endpoints on loopback report usage that is negative,
absurd or not a number at all (each must be an error of the call, never a cost
below zero), and replies with lone UTF-16 surrogates (which must not break the
call cache or anything written afterwards).
"""
import json

import pytest

from mastune.errors import ConfigError, LLMError, MastuneError
from mastune.llm.pool import Pool
from mastune.llm.types import Price

from .conftest import completion


def lm_for(url, price=(1.0, 2.0)):
    cfg = {"name": "remote", "backend": "openai", "base_url": url, "model_id": "m", "max_retries": 0,
           "price": {"input": price[0], "output": price[1]}}
    lm = Pool.from_dict({"models": [cfg]})["remote"]
    lm.backoff_s = 0.0
    return lm


async def chat(lm, **kw):
    return await lm.chat([{"role": "user", "content": "hi"}], max_tokens=4, **kw)


def with_usage(**usage):
    body = completion("hello")
    body["usage"] = usage
    return body


BAD = [
    {"prompt_tokens": -1000, "completion_tokens": 1},
    {"prompt_tokens": 3, "completion_tokens": -5},
    {"prompt_tokens": -1, "completion_tokens": -1},
    {"prompt_tokens": 1e30, "completion_tokens": 1},
    {"prompt_tokens": 10**12, "completion_tokens": 1},
    {"prompt_tokens": "-12", "completion_tokens": 1},  # the client turns numeric strings into numbers
    {"prompt_tokens": 3, "completion_tokens": 2.5},
    {"prompt_tokens": [3], "completion_tokens": 1},
    {"prompt_tokens": "many", "completion_tokens": 1},
]


@pytest.mark.parametrize("usage", BAD, ids=[json.dumps(u) for u in BAD])
async def test_bad_usage_is_an_error_of_the_call_never_a_cost(endpoint, usage):
    endpoint.reply(200, with_usage(**usage, total_tokens=0))
    try:
        out = await chat(lm_for(endpoint.url), use_cache=False)
    except MastuneError as e:
        assert "usage" in str(e) and isinstance(e, LLMError)
    else:
        pytest.fail(f"accepted usage {usage}: cost {out.usage.cost}")


@pytest.mark.parametrize("usage,tokens", [
    ({"prompt_tokens": 3, "completion_tokens": 1}, (3, 1)),
    ({"prompt_tokens": 0, "completion_tokens": 0}, (0, 0)),
    ({"prompt_tokens": 7.0, "completion_tokens": 2.0}, (7, 2)),  # whole floats, as some servers send
    ({}, (0, 0)),
])
async def test_honest_usage_still_costs_what_it_says(endpoint, usage, tokens):
    endpoint.reply(200, with_usage(**usage))
    out = await chat(lm_for(endpoint.url), use_cache=False)
    assert (out.usage.prompt_tokens, out.usage.completion_tokens) == tokens
    assert out.usage.cost == pytest.approx((tokens[0] * 1.0 + tokens[1] * 2.0) / 1e6) and out.usage.cost >= 0


def test_prices_and_counts_below_zero_are_refused():
    for bad in ((-1.0, 0.0), (0.0, -2.0), (float("nan"), 0.0), (float("inf"), 0.0)):
        with pytest.raises(ConfigError):
            Price(*bad)
    with pytest.raises(LLMError):
        Price(1.0, 1.0).cost(-10, 0)


@pytest.mark.parametrize("content", ["\\ud800", "a\\udfffb", "\\udc80\\ud800x", "\\ud83d"])
async def test_a_reply_with_lone_surrogates_reaches_the_caller_and_the_cache(endpoint, call_cache, content):
    body = json.dumps(completion("PLACEHOLDER")).replace("PLACEHOLDER", content)  # raw JSON escapes
    endpoint.reply(200, body)
    lm = lm_for(endpoint.url)
    out = await chat(lm)  # cached: the sqlite cache must be able to store it
    out.text.encode("utf-8")  # no lone surrogate is left to break a file
    assert "\ufffd" in out.text
    again = await chat(lm)
    assert again.text == out.text and again.usage.cache_hits == 1 and len(endpoint.requests) == 1
    # and the next agent's prompt, which quotes the reply, can be sent and cached too
    nxt = await lm.chat([{"role": "user", "content": out.text}], max_tokens=4)
    assert nxt.text.encode("utf-8")
