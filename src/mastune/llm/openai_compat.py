"""Any OpenAI-compatible endpoint (vLLM, SGLang, Ollama, llama.cpp server, OpenAI...).

The API key is read from an environment variable named in the config at call
time; it is never stored on the object, logged or put in a cache key, and every
error message passes through `redact` (an endpoint may echo the key back, and a
base_url may carry user:key@).
"""
from __future__ import annotations

import json
import os
from typing import Any

from ..errors import ConfigError, ContextOverflow, LLMError, LLMTimeout, ModelUnavailable
from ..redact import looks_like_env_name, redact, redact_url
from .lm import LM, RawCompletion
from .types import Price, token_count, without_lone_surrogates

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
        self.shown_url = redact_url(base_url)  # what messages may print
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
            key = self._api_key() or "not-needed"
            # Retries are done by LM.chat (one policy for every backend).
            client = AsyncOpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=self.timeout_s)
            self._clients[loop_id] = client
        return client

    def _api_key(self) -> str | None:
        if not self.api_key_env:
            return None
        if not looks_like_env_name(self.api_key_env):
            raise ConfigError(f"model {self.name!r}: api_key_env must be the NAME of an environment variable holding "
                              "the key (like OPENAI_API_KEY); the value given does not look like one, so it is not "
                              "shown. If you pasted the key there, move it into a variable and name that")
        key = os.environ.get(self.api_key_env, "")
        if not key:
            raise ConfigError(f"model {self.name!r} reads its API key from ${self.api_key_env}, which is not set; "
                              f"export {self.api_key_env}=...")
        return key

    def _safe(self, text: str) -> str:
        return redact(text.replace(self.base_url, self.shown_url or ""), secrets=[self._key_value()])

    def _key_value(self) -> str | None:
        return os.environ.get(self.api_key_env) if self.api_key_env and looks_like_env_name(self.api_key_env) else None

    async def _generate(self, request: dict[str, Any]) -> RawCompletion:
        import openai

        client = self._client()
        params = dict(request)
        extra_body = {k: params.pop(k) for k in list(params) if k not in _OPENAI_PARAMS}
        where = f"model {self.name!r} at {self.shown_url}"
        try:
            resp = await client.chat.completions.create(model=self.model_id, extra_body=extra_body or None, **params)
        except openai.APITimeoutError as e:
            raise LLMTimeout(f"{where} timed out") from e
        except openai.APIConnectionError as e:
            raise ModelUnavailable(self._safe(f"cannot reach {self.shown_url} for model {self.name!r}: {e}")) from e
        except openai.RateLimitError as e:
            raise ModelUnavailable(self._safe(f"rate limited by {self.shown_url}: {e}")) from e
        except openai.AuthenticationError as e:
            raise ConfigError(f"the endpoint {self.shown_url} rejected the API key from ${self.api_key_env}") from e
        except openai.BadRequestError as e:
            msg = self._safe(str(e))
            if any(h in msg.lower() for h in _OVERFLOW_HINTS):
                raise ContextOverflow(f"model {self.name!r}: {msg}") from e
            raise LLMError(f"model {self.name!r} rejected the request: {msg}") from e
        except openai.APIStatusError as e:
            if e.status_code >= 500:
                raise ModelUnavailable(f"{self.shown_url} answered {e.status_code}") from e
            raise LLMError(self._safe(f"model {self.name!r}: {e}")) from e
        except (json.JSONDecodeError, openai.APIResponseValidationError) as e:
            # a body cut off mid-stream (or mangled by a proxy): worth another try
            raise ModelUnavailable(f"{where} answered with a body that is not valid JSON ({e})") from e
        return self._completion(resp, where)

    def _completion(self, resp: Any, where: str) -> RawCompletion:
        """Read a reply defensively: endpoints and proxies return anything with status 200."""
        if not hasattr(resp, "choices"):
            # the client hands back the raw text when the body is not JSON (an HTML error page, ...)
            snippet = self._safe(" ".join(str(resp).split())[:120])
            raise ModelUnavailable(f"{where} answered with a body that is not valid JSON: {snippet!r}")
        if not resp.choices:
            raise LLMError(f"{where} answered with no choices (an empty 'choices' list): nothing to read")
        choice = resp.choices[0]
        if getattr(choice, "message", None) is None:
            raise LLMError(f"{where} answered with a choice that has no message")
        usage = resp.usage
        text = choice.message.content or ""
        if not isinstance(text, str):
            raise LLMError(f"{where} answered with a message whose content is not text ({type(text).__name__})")
        return RawCompletion(
            text=without_lone_surrogates(text),
            prompt_tokens=token_count(getattr(usage, "prompt_tokens", None), "prompt_tokens", where),
            completion_tokens=token_count(getattr(usage, "completion_tokens", None), "completion_tokens", where),
            finish_reason=str(choice.finish_reason or "stop"),
        )

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
        self._clients.clear()


_OPENAI_PARAMS = {"messages", "max_tokens", "temperature", "top_p", "seed", "stop", "n", "logprobs", "top_logprobs"}
