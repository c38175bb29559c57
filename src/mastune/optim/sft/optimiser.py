"""SFT on collaboration traces under the optimiser contract.

    opt = SFTOptimiser(SFTConfig(data="", base="MODEL_DIR", out=""))
    folder = await opt.compile(student, pool, "traces/sft.jsonl", [], "adapters/m1")
    system = SFTArtifact.load(folder, pool)      # the student, its agents on the fine-tuned model

The student is the spec whose agents the adapter serves (default: collab with
every role on the model named `SFT_MODEL`); the train set is the chat file
`mastune traces export` writes. The artifact folder holds the adapter and
`artifact.json` (the student spec); loading adds the adapter to the pool as
an `hf` model under that name and builds the student on it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from ...agents.runtime import PoolLike
from ...errors import ConfigError
from ...systems.registry import build_system
from ...systems.spec import SystemSpec
from ..base import Artifact, Optimiser, register_optimiser
from .train import SFTConfig, SFTResult, train_sft

ARTIFACT_FILE = "artifact.json"
SFT_MODEL = "sft"  # the pool name the adapter is served under


class SFTArtifact(Artifact):
    kind = "sft"

    @classmethod
    def load(cls, folder: str | Path, pool: PoolLike, **options: Any) -> Any:
        folder = Path(folder)
        path = folder / ARTIFACT_FILE
        if not path.is_file():
            raise ConfigError(f"{folder} holds no SFT artifact ({ARTIFACT_FILE} missing); train one with "
                              "`mastune train sft --student NAME ...`")
        info = json.loads(path.read_text())
        student = SystemSpec.from_dict(info["student"])
        return build_system(student, with_adapter(pool, info["model"], folder))

    @classmethod
    def spec(cls, folder: str | Path, pool: dict[str, Any] | None = None, **options: Any) -> SystemSpec:
        info = json.loads((Path(folder) / ARTIFACT_FILE).read_text())
        student = SystemSpec.from_dict(info["student"])
        models = [*(pool or {}).get("models", []), {"name": info["model"], "backend": "hf", "adapter": str(folder)}]
        return replace(student, pool={**(pool or {}), "models": models})


def with_adapter(pool: PoolLike, name: str, folder: Path) -> PoolLike:
    """`pool` plus the adapter served by transformers + peft under `name`."""
    entry = {"name": name, "backend": "hf", "adapter": str(folder)}
    config = getattr(pool, "config", None)
    if config is not None:
        from ...llm.pool import Pool

        models = [m.model_dump() for m in config.models if m.name != name] + [entry]
        return Pool.from_dict({"models": models, "default": config.default}, source="pool + SFT adapter")
    from ...llm.pool import ModelConfig

    return {**dict(pool), name: ModelConfig(**entry).build()}


@register_optimiser("sft")
@dataclass
class SFTOptimiser(Optimiser):
    config: SFTConfig  # data / out are taken from compile's trainset / out
    log: Any = None  # a callable for progress lines
    result: SFTResult | None = None

    artifact = SFTArtifact

    async def compile(self, student: SystemSpec | None, pool: PoolLike, trainset: str | Path | Sequence[Any],
                      validset: Sequence[Any], out: str | Path) -> Path:
        if not isinstance(trainset, (str, Path)):
            raise ConfigError("SFT trains on a chat file: give the path `mastune traces export` wrote")
        cfg = replace(self.config, data=str(trainset), out=str(out))
        self.result = train_sft(cfg, log=self.log)
        if student is not None:
            (Path(out) / ARTIFACT_FILE).write_text(json.dumps({"student": student.to_dict(), "model": SFT_MODEL},
                                                              indent=2))
        return Path(out)
