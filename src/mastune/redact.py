"""One place that strips credentials from text before it is written or printed.

Keys reach text three ways: inside a URL (`http://user:key@host`, `?api_key=...`), echoed
by an endpoint in an error body, or pasted where a variable *name* belongs. `redact`
covers the first and the known key shapes; `secrets=` adds exact values (the key a
client was given), so an echoed key is removed whatever it looks like.
"""
from __future__ import annotations

import os
import re
from typing import Iterable

MASK = "***"

# scheme://user:password@host -> scheme://***@host (a bare user@ is kept: it is no secret)
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<info>[^/\s@:]*:[^/\s@]*)@")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:api[_-]?key|key|token|access[_-]?token|secret|password|auth)=)[^&\s#'\"]+")
_HEADER_SECRET = re.compile(r"(?i)\b(bearer|authorization:?|x-api-key:?|api[_-]?key[\"']?\s*[:=])\s*[\"']?([A-Za-z0-9._~+/=-]{8,})")
# shapes of common provider keys (OpenAI / Anthropic sk-..., HF hf_..., Google AIza..., GitHub gh?_...)
_KEY_SHAPES = re.compile(r"\b(?:sk-[A-Za-z0-9_-]{12,}|hf_[A-Za-z0-9]{16,}|AIza[0-9A-Za-z_-]{20,}|gh[pousr]_[A-Za-z0-9]{20,})")

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CONVENTIONAL_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")


def looks_like_env_name(name: str) -> bool:
    """An environment variable name as people write them (OPENAI_API_KEY), not a pasted key:
    upper case, digits and underscores, and a long name has underscores in it."""
    return bool(_CONVENTIONAL_ENV_NAME.fullmatch(name)) and (len(name) < 24 or "_" in name)


def redact_url(url: str | None) -> str | None:
    """A URL without the password part of its userinfo or secret query parameters."""
    return None if url is None else redact(url)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with credentials replaced by ***: URL passwords, secret query parameters, bearer
    tokens, well-known key shapes, and every exact value in `secrets` (short ones are ignored:
    masking a 3-character value would shred ordinary text)."""
    if not text:
        return text
    for s in secrets:
        if s and len(s) >= 6:
            text = text.replace(s, MASK)
    text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{MASK}@", text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)
    text = _HEADER_SECRET.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _KEY_SHAPES.sub(MASK, text)


def env_secrets(names: Iterable[str | None]) -> list[str]:
    """The values of the named environment variables (the keys to mask), skipping unset ones."""
    return [v for n in names if n and ENV_NAME.match(n) and (v := os.environ.get(n))]
