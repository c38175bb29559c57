"""Any OpenAI-compatible endpoint (vLLM, SGLang, Ollama, llama.cpp server, OpenAI...).

The API key is read from an environment variable named in the config at call
time; it is never stored on the object, logged or put in a cache key.
"""
from __future__ import annotations

import os
from typing import Any

from ..errors import ConfigError, ContextOverflow, LLMError, LLMTimeout, ModelUnavailable
from .lm import LM, RawCompletion
from .types import Price

_OVERFLOW_HINTS = ("context length", "context_length", "maximum context", "exceeds the available context", "too many tokens")


class OpenAICompatLM(LM):
    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        model_id: str,
        api_key_env: str | None = None,
        price: Price = Price(),
        profile: str = "",
        **kw: Any,
    ) -> None:
        super().__init__(name, price=price, profile=profile, **kw)
        self.base_url = base_url
        self.model_id = model_id
        self.api_key_env = api_key_env
        self._clients: dict[int, Any] = {}  # one client per event loop

    def identity(self) -> dict[str, Any]:
        return {"backend": "openai", "base_url": self.base_url, "model_id": self.model_id}

    def _client(self):
        import asyncio

        from openai import AsyncOpenAI

        loop_id = id(asyncio.get_running_loop())
        client = self._clients.get(loop_id)
        if client is None:
            key = "not-needed"
            if self.api_key_env:
                key = os.environ.get(self.api_key_env, "")
                if not key:
                    raise ConfigError(
                        f"model {self.name!r} reads its API key from ${self.api_key_env}, which is not set; "
                        f"export {self.api_key_env}=..."
                    )
            # Retries are done by LM.chat (one policy for every backend).
            client = AsyncOpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=self.timeout_s)
            self._clients[loop_id] = client
        return client

    async def _generate(self, request: dict[str, Any]) -> RawCompletion:
        import openai

        client = self._client()
        params = dict(request)
        extra_body = {k: params.pop(k) for k in list(params) if k not in _OPENAI_PARAMS}
        try:
            resp = await client.chat.completions.create(model=self.model_id, extra_body=extra_body or None, **params)
        except openai.APITimeoutError as e:
            raise LLMTimeout(f"model {self.name!r} at {self.base_url} timed out") from e
        except openai.APIConnectionError as e:
            raise ModelUnavailable(f"cannot reach {self.base_url} for model {self.name!r}: {e}") from e
        except openai.RateLimitError as e:
            raise ModelUnavailable(f"rate limited by {self.base_url}: {e}") from e
        except openai.AuthenticationError as e:
            raise ConfigError(f"the endpoint {self.base_url} rejected the API key from ${self.api_key_env}") from e
        except openai.BadRequestError as e:
            msg = str(e)
            if any(h in msg.lower() for h in _OVERFLOW_HINTS):
                raise ContextOverflow(f"model {self.name!r}: {msg}") from e
            raise LLMError(f"model {self.name!r} rejected the request: {msg}") from e
        except openai.APIStatusError as e:
            if e.status_code >= 500:
                raise ModelUnavailable(f"{self.base_url} answered {e.status_code}") from e
            raise LLMError(f"model {self.name!r}: {e}") from e
        choice = resp.choices[0]
        usage = resp.usage
        return RawCompletion(
            text=choice.message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            finish_reason=choice.finish_reason or "stop",
        )

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


_OPENAI_PARAMS = {"messages", "max_tokens", "temperature", "top_p", "seed", "stop", "n", "logprobs", "top_logprobs"}
