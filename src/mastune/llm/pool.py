"""A pool: named models with a backend, a price and a short text profile.

    models:
      - name: qwen-0.5b
        backend: embedded
        model: qwen2.5-coder-0.5b        # built-in name or a .gguf path
        price: {input: 0.05, output: 0.05} # $ per 1M tokens
      - name: gpt-4o-mini
        backend: openai
        base_url: https://api.openai.com/v1
        model_id: gpt-4o-mini
        api_key_env: OPENAI_API_KEY       # the key itself never goes in a file
        price: {input: 0.15, output: 0.60}
      - name: m1
        backend: hf                       # transformers (+ peft): serves LoRA adapters as trained
        adapter: adapters/m1              # base model read from the adapter's config
      - name: node-1                      # embedded + GGUF LoRA: entries on one base share one engine
        model: smollm2-135m
        adapter: adapters/node-1.gguf     # (mastune.llm.lora.peft_to_gguf); or a name from `adapters`
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Iterator, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from ..errors import ConfigError
from ..io import load_yaml_file
from ..models.registry import MODELS, resolve
from ..redact import looks_like_env_name
from .lm import LM
from .types import Price


def builtin_price(name: str) -> Price:
    """A built-in local model's default rate (its price_per_m, prompt and completion alike); Price() otherwise."""
    m = resolve(name)
    return Price(m.price_per_m, m.price_per_m) if m else Price()


class PriceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: float = 0.0
    output: float = 0.0


class ModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    backend: Literal["embedded", "openai", "hf", "fake"] = "embedded"
    model: str | None = None  # embedded: built-in model name or GGUF path; hf: HF folder or hub id
    adapter: str | None = None  # hf: a LoRA adapter folder; embedded: a GGUF LoRA file or a name in `adapters`
    adapters: dict[str, str] | None = None  # embedded: named GGUF LoRA files on this base, chosen per call
    device: str = "auto"  # hf: auto | cpu | cuda[:N]
    dtype: str = "auto"  # hf: auto | float32 | bfloat16 | float16
    base_url: str | None = None  # openai
    model_id: str | None = None  # openai
    api_key_env: str | None = None  # openai: name of the environment variable holding the key
    fake: dict[str, Any] | None = None  # fake: scripted replies for tests (llm.fake.ScriptedReplies)
    price: PriceConfig | None = None
    profile: str = ""
    max_concurrency: int | None = None
    n_parallel: int = 4
    ctx_per_slot: int = 4096
    n_threads: int = 0  # embedded: 0 = $MASTUNE_THREADS or the shared thread budget (llm/threads.py)
    route_slots: bool = True  # embedded: send calls to the slot caching their longest prefix
    speculative: Literal["", "ngram"] = ""  # embedded: n-gram prompt-lookup speculation (greedy-exact)
    # embedded: chat (the GGUF's template) | completion (Q/A prompt, base models) | auto (by the model)
    prompt_format: Literal["auto", "chat", "completion"] = "auto"
    timeout_s: float = 600.0
    max_retries: int = 2

    @model_validator(mode="before")
    @classmethod
    def _no_inline_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict) and "api_key" in data:
            raise ValueError("do not put API keys in a config file; set api_key_env: NAME_OF_ENV_VAR instead")
        return data

    @model_validator(mode="after")
    def _backend_fields(self) -> "ModelConfig":
        if self.api_key_env is not None and not looks_like_env_name(self.api_key_env):
            # never echo the value: it is most likely the key itself
            raise ValueError(f"model {self.name!r}: api_key_env must be the NAME of an environment variable "
                             "holding the key (like OPENAI_API_KEY); the value given does not look like one, so "
                             "it is not shown. If you pasted the key there, move it into a variable and name that")
        if self.backend == "openai" and not (self.base_url and self.model_id):
            raise ValueError(f"model {self.name!r}: backend 'openai' needs base_url and model_id")
        if self.backend == "hf" and not (self.model or self.adapter):
            raise ValueError(f"model {self.name!r}: backend 'hf' needs model (HF folder or hub id) or adapter")
        if (self.adapter or self.adapters) and self.backend == "openai":
            raise ValueError(f"model {self.name!r}: adapters are served by backends 'embedded' and 'hf'")
        if self.adapters and self.backend != "embedded":
            raise ValueError(f"model {self.name!r}: named `adapters` are for backend 'embedded' "
                             "(backend 'hf' takes one peft folder as `adapter`)")
        if self.backend == "embedded" and self.adapter and not (self.adapter.endswith(".gguf")
                                                                 or self.adapter in (self.adapters or {})):
            raise ValueError(f"model {self.name!r}: an embedded adapter is a GGUF LoRA file (convert a peft "
                             "folder with mastune.llm.lora.peft_to_gguf) or a name in `adapters`")
        return self

    def engine_adapters(self) -> dict[str, str]:
        """Adapters this entry brings to its base's engine: its named ones, plus a file `adapter` as itself."""
        named = dict(self.adapters or {})
        if self.adapter and self.adapter.endswith(".gguf"):
            named[self.name] = self.adapter
        return named

    def default_adapter(self) -> str | None:
        return self.name if self.adapter and self.adapter.endswith(".gguf") else self.adapter

    def build(self, engine_adapters: dict[str, str] | None = None) -> LM:
        """`engine_adapters`: every adapter on this entry's engine (the pool's entries on the same base)."""
        common: dict[str, Any] = dict(profile=self.profile, timeout_s=self.timeout_s, max_retries=self.max_retries)
        builtin = resolve(self.model or self.name) if self.backend == "embedded" else None
        if self.price is not None:
            price = Price(self.price.input, self.price.output)
        elif builtin is not None:
            price = builtin_price(builtin.name)
        else:
            price = Price()
        if not common["profile"] and builtin is not None:
            common["profile"] = builtin.profile
        if self.max_concurrency:
            common["max_concurrency"] = self.max_concurrency
        if self.backend == "openai":
            from .openai_compat import OpenAICompatLM

            return OpenAICompatLM(
                self.name, base_url=self.base_url, model_id=self.model_id, api_key_env=self.api_key_env,
                price=price, **common,
            )
        if self.backend == "fake":
            from .fake import FakeLM

            return FakeLM.from_config(self.name, self.fake or {}, price=price, **common)
        if self.backend == "hf":
            from .hf import HFLM

            return HFLM(self.name, self.model, adapter=self.adapter, device=self.device, dtype=self.dtype,
                        price=price, **common)
        from .embedded import EmbeddedLM

        return EmbeddedLM(
            self.name, self.model or self.name, n_parallel=self.n_parallel, ctx_per_slot=self.ctx_per_slot,
            n_threads=self.n_threads, adapters=engine_adapters or self.engine_adapters(),
            adapter=self.default_adapter(), route_slots=self.route_slots, speculative=self.speculative,
            prompt_format=self.prompt_format, price=price, **common,
        )


class PoolConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: list[ModelConfig]
    default: str | None = None

    @model_validator(mode="after")
    def _check(self) -> "PoolConfig":
        names = [m.name for m in self.models]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate model names: {sorted(dup)}")
        if not names:
            raise ValueError("a pool needs at least one model")
        if self.default is not None and self.default not in names:
            raise ValueError(f"default {self.default!r} is not one of the pool's models {names}")
        return self


class Pool(Mapping[str, LM]):
    """Named LMs, built lazily from config (so listing a pool loads no engine)."""

    def __init__(self, config: PoolConfig) -> None:
        self.config = config
        self._lms: dict[str, LM] = {}

    # -- construction ------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "pool config") -> "Pool":
        try:
            return cls(PoolConfig.model_validate(data))
        except ValidationError as e:
            problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or '(top)'}: {err['msg']}" for err in e.errors())
            raise ConfigError(f"invalid {source}: {problems}") from None

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Pool":
        data = load_yaml_file(path, "pool config")
        if not isinstance(data, dict):
            raise ConfigError(f"pool config {path} must be a mapping with a 'models' list")
        return cls.from_dict(data, source=f"pool config {path}")

    @classmethod
    def default(cls, **engine: Any) -> "Pool":
        """The built-in local pool (embedded engine), smallest model first."""
        models = [{"name": m.name, "backend": "embedded", "model": m.name, **engine} for m in MODELS.values()]
        return cls.from_dict({"models": models, "default": "qwen2.5-coder-0.5b"}, source="built-in pool")

    @classmethod
    def load(cls, spec: str | Path | None) -> "Pool":
        return cls.default() if spec in (None, "", "default") else cls.from_yaml(spec)

    # -- access ------------------------------------------------------------
    def __getitem__(self, name: str) -> LM:
        lm = self._lms.get(name)
        if lm is None:
            cfg = self._config_for(name)
            lm = self._lms[cfg.name] = cfg.build(self._engine_adapters(cfg))
        return lm

    def _engine_adapters(self, cfg: ModelConfig) -> dict[str, str] | None:
        """All adapters of the entries sharing cfg's base engine, so one loaded base serves them all."""
        if cfg.backend != "embedded":
            return None
        engine = lambda c: (c.model or c.name, c.n_parallel, c.ctx_per_slot, c.n_threads, c.speculative,  # noqa: E731
                            c.prompt_format)
        merged: dict[str, str] = {}
        for other in self.config.models:
            if other.backend == "embedded" and engine(other) == engine(cfg):
                for name, path in other.engine_adapters().items():
                    if merged.setdefault(name, path) != path:
                        raise ConfigError(f"adapter name {name!r} names two files on one base: "
                                          f"{merged[name]} and {path}")
        return merged

    def _config_for(self, name: str) -> ModelConfig:
        for cfg in self.config.models:
            if cfg.name == name:
                return cfg
        builtin = resolve(name)
        if builtin is not None:
            for cfg in self.config.models:
                if cfg.name == builtin.name:
                    return cfg
        raise ConfigError(f"model {name!r} is not in the pool; available: {', '.join(self.names())}")

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.config.models)

    def names(self) -> list[str]:
        return [m.name for m in self.config.models]

    @property
    def default_model(self) -> str:
        return self.config.default or self.config.models[0].name

    def profiles(self) -> dict[str, str]:
        return {n: self[n].profile for n in self.names()}

    def subset(self, names: list[str]) -> "Pool":
        for n in names:
            self._config_for(n)
        cfg = PoolConfig(models=[self._config_for(n) for n in names], default=names[0] if names else None)
        return Pool(cfg)

    async def aclose(self) -> None:
        for lm in self._lms.values():
            await lm.close()
