"""Versioned NeuroMAS checkpoints: every node's adapter plus what they are only valid for.

One file (written atomically: a kill never leaves half a checkpoint) holding
{"meta": NetworkMeta, "adapters": {node: {tensor name: tensor}}}. The meta names
the format version, the backbone (and a hash of its files), the hidden layers,
the LoRA rank / alpha / target modules and the prompt fingerprint. Loading
compares them with what the caller runs and fails with a message naming every
difference: adapters trained for other weights or other prompts would load
without error and silently mean nothing.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from ...graph.layernet import node_ids
from ..checkpoint import CheckpointError, atomic_save, check_format_version, read_checkpoint
from .lora import LoraSpec
from .policy import AdapterPolicy

FORMAT_VERSION = 1
KIND = "neuromas-network"


def backbone_sha256(path: str | Path) -> str:
    """sha256 of the backbone's files (a .gguf file, or every file of an HF folder by relative name)."""
    p = Path(path).expanduser()
    files = [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
    if not files:
        raise CheckpointError(f"backbone {path} has no files to hash")
    h = hashlib.sha256()
    for f in files:
        h.update((f.name if p.is_file() else str(f.relative_to(p))).encode() + b"\x00")
        with f.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()


@dataclass
class NetworkMeta:
    backbone: str  # as given (path or name): informative only
    backbone_sha256: str
    layers: list[int]
    rank: int
    alpha: float
    target_modules: list[str]
    prompt_fingerprint: str
    nodes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)  # step, validation, growth mapping, ...
    kind: str = KIND
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        self.layers = [int(w) for w in self.layers]
        self.target_modules = list(self.target_modules)
        if not self.nodes:
            self.nodes = node_ids(self.layers)

    @property
    def lora(self) -> LoraSpec:
        return LoraSpec(self.rank, tuple(self.target_modules), self.alpha)

    @classmethod
    def of(cls, policy: AdapterPolicy, layers: list[int], prompt_fingerprint: str, backbone_hash: str,
           info: dict | None = None) -> "NetworkMeta":
        from .engine import portable_backbone

        return cls(portable_backbone(policy.backbone), backbone_hash, list(layers), policy.lora.rank, policy.lora.lora_alpha,
                   list(policy.lora.target_modules), prompt_fingerprint, list(policy.nodes), dict(info or {}))


# What a checkpoint is checked against, and how to say it.
_CHECKED = (("backbone_sha256", "backbone file hash"), ("layers", "hidden layers"), ("rank", "LoRA rank"),
            ("alpha", "LoRA alpha"), ("target_modules", "LoRA target modules"),
            ("prompt_fingerprint", "prompt fingerprint (agents/layered.yaml + answer format)"))


def save_network(path: str | Path, policy: AdapterPolicy, meta: NetworkMeta,
                 extra: dict[str, Any] | None = None) -> None:
    """extra: more top-level entries (optimiser states, RNG...) for a resumable training state."""
    if list(meta.nodes) != list(policy.nodes):
        raise ValueError(f"meta lists nodes {meta.nodes}, the policy has {policy.nodes}")
    blob = {"meta": asdict(meta), "adapters": {n: policy.adapter_state(n) for n in policy.nodes}, **(extra or {})}
    atomic_save(blob, path)


def read_network(path: str | Path) -> dict[str, Any]:
    """The raw checkpoint (meta checked for kind and format version only)."""
    blob = read_checkpoint(path, kind="NeuroMAS", what="NeuroMAS", readable_as="NeuroMAS", payload="adapters",
                           train_hint="train one first (mastune train neuromas ...)")
    meta = blob["meta"]
    if meta.get("kind") != KIND:
        raise CheckpointError(f"{path} is a {meta.get('kind')!r} checkpoint, not a NeuroMAS network")
    check_format_version(path, meta, FORMAT_VERSION)
    return blob


def load_network(path: str | Path, **expect: Any) -> tuple[dict[str, dict[str, torch.Tensor]], NetworkMeta, dict]:
    """(adapters per node, meta, the whole blob). Every keyword given (backbone_sha256, layers, rank,
    alpha, target_modules, prompt_fingerprint) must equal the checkpoint's; None is not checked."""
    blob = read_network(path)
    meta = NetworkMeta(**blob["meta"])
    known = {k for k, _ in _CHECKED}
    unknown = set(expect) - known
    if unknown:
        raise TypeError(f"cannot check {sorted(unknown)}; checkable: {sorted(known)}")
    problems = []
    for key, what in _CHECKED:
        want = expect.get(key)
        if want is None:
            continue
        want = [int(w) for w in want] if key == "layers" else list(want) if key == "target_modules" else want
        have = getattr(meta, key)
        if key == "alpha":
            want, have = float(want), float(have)
        if want != have:
            problems.append(f"{what}: checkpoint has {have!r}, you have {want!r}")
    if problems:
        raise CheckpointError(f"NeuroMAS checkpoint {path} does not match: " + "; ".join(problems)
                              + ". Use the backbone, layers, LoRA settings and prompts it was trained with, "
                                "or train a new one.")
    if sorted(blob["adapters"]) != sorted(meta.nodes):
        raise CheckpointError(f"{path} is damaged: adapters {sorted(blob['adapters'])} but nodes {meta.nodes}")
    return blob["adapters"], meta, blob


def expectations(policy: AdapterPolicy, layers: list[int] | None, prompt_fingerprint: str,
                 backbone_hash: str) -> dict[str, Any]:
    """What a checkpoint must match to be loaded into `policy` (layers None: not checked, for growth)."""
    return {"backbone_sha256": backbone_hash, "layers": layers, "rank": policy.lora.rank,
            "alpha": policy.lora.lora_alpha, "target_modules": list(policy.lora.target_modules),
            "prompt_fingerprint": prompt_fingerprint}


def export_peft(policy: AdapterPolicy, out_dir: str | Path) -> dict[str, Path]:
    """Every node's adapter as a peft folder OUT/<node>/ (adapter_config.json + weights): the input of
    the peft -> GGUF LoRA conversion and of vLLM / SGLang `--lora-modules node=OUT/node`."""
    out = Path(out_dir)
    with policy.lock:
        policy.model.save_pretrained(out, selected_adapters=list(policy.nodes))
    return {n: out / n for n in policy.nodes}
