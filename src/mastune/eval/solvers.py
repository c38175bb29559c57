"""Name -> something with `async run(question, family)`: the one place the
eval harness learns about systems. Built-in runtime systems and YAML configs
load through `mastune.systems`; learned/looped systems plug in here."""
from __future__ import annotations

from typing import Any

from ..errors import ConfigError


def build_solver(system: str, pool: Any, *, model: str | None = None, config: str | None = None,
                 options: dict[str, Any] | None = None) -> Any:
    options = {k: v for k, v in (options or {}).items() if v is not None}
    if system == "custom" and not config:
        raise ConfigError("give --system NAME or --config FILE.yaml")
    if system == "hieramas":
        from ..optim.hieramas.system import build_hieramas_system

        checkpoint = options.pop("checkpoint", None)
        if not checkpoint:
            raise ConfigError("--system hieramas needs --checkpoint DIR (train one with `mastune train hieramas`)")
        return build_hieramas_system(checkpoint, pool, single_model=model, **options)
    if system == "collab":
        from ..collab import build_collab_system

        return build_collab_system(pool, model=model, config=config, **options)
    from ..systems.system import load_system

    overrides = {k: options[k] for k in ("max_tokens",) if k in options}
    return load_system(config or system, pool, model=model, **overrides)
