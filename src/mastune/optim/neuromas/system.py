"""The inference-time `neuromas` system: a trained layered network, greedy, every node on its adapter.

    mastune run "Q" --system neuromas --checkpoint DIR
    mastune eval --system neuromas --checkpoint DIR --task navigate

Layer by layer, the nodes of a layer concurrently, node i of layer l reading the
task and layer l-1's messages (the prompts training used: episode.node_messages),
greedy, max_tokens 200 (the paper's evaluation). Every node call goes through
`Runtime.call`, so the trace records each one. How the nodes are served (`serve`):
- engine: the embedded engine on the checkpoint's GGUF backbone with one GGUF LoRA
  per node, chosen per call (converted once per checkpoint into DIR/serve/<digest>/);
- pool: the pool has one entry per node, named like the node (vLLM / SGLang /
  llama.cpp server with `--lora-modules node=...`; see the README);
- transformers: the HF backbone + peft adapters in this process (slow on CPU; the
  fallback for an HF-folder backbone);
- auto (default): pool when the pool names every node, else engine for a GGUF
  backbone, else transformers.
A kind of the system contract, registered here because it is the NeuroMAS
optimiser's artifact: its spec names the checkpoint (best.pt or its run folder).
"""
from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Iterator

from ...agents.layered import prompt_fingerprint
from ...agents.prompts import family as family_of
from ...agents.runtime import PoolLike, Runtime, pool_names
from ...agents.trace import NodeRecord, Trace
from ...errors import ConfigError
from ...graph.layernet import layer_groups, layered_network, network_name, parse_layers
from ...graph.topology import Topology
from ...llm.lm import LM, RawCompletion
from ...llm.pool import builtin_price
from ...llm.types import Price
from ...systems.base import BaseSystem
from ...systems.registry import register_kind
from ...systems.spec import SystemSpec
from .episode import node_messages

SERVE = ("auto", "engine", "pool", "transformers")
OPTIONS = ("serve", "max_tokens", "backbone", "device")
SLOT = "main"
BEST_FILE = "best.pt"


def checkpoint_file(checkpoint: str | Path) -> Path:
    p = Path(checkpoint).expanduser()
    return p / BEST_FILE if p.is_dir() else p


class PoolOverlay(Mapping):
    """The caller's pool plus this system's own models (the backbone engine with the adapters)."""

    def __init__(self, own: dict[str, LM], base: PoolLike) -> None:
        self.own, self.base = own, base

    def __getitem__(self, name: str) -> LM:
        return self.own[name] if name in self.own else self.base[name]

    def names(self) -> list[str]:
        return [*self.own, *(n for n in pool_names(self.base) if n not in self.own)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


class PolicyLM(LM):
    """The transformers fallback as an LM: a request's `node` picks the adapter."""

    def __init__(self, name: str, policy: Any, digest: str, price: Price = Price()) -> None:
        super().__init__(name, price=price, max_concurrency=1)
        self.policy, self.digest = policy, digest

    def identity(self) -> dict[str, Any]:
        return {"backend": "neuromas-transformers", "checkpoint": self.digest}

    async def _generate(self, request: dict[str, Any]) -> RawCompletion:
        s = await asyncio.to_thread(self.policy.generate, request["node"], request["messages"],
                                    request["temperature"], request["max_tokens"], request.get("seed"))
        return RawCompletion(s.text, s.prompt_tokens, s.completion_tokens, "stop" if s.finished else "length")


@register_kind("neuromas")
class NeuroMASSystem(BaseSystem):
    """`route[node]` = (pool model name, extra chat arguments) of each node."""

    def __init__(self, network: Topology, pool: PoolLike, route: dict[str, tuple[str, dict[str, Any]]], *,
                 prompt_fp: str | None = None, max_tokens: int = 200, serve: str = "engine",
                 fingerprint: dict[str, Any] | None = None) -> None:
        missing = [n for n in network.ids if n not in route]
        if missing:
            raise ConfigError(f"neuromas: no model for nodes {missing}")
        self.network, self.pool, self.route = network, pool, route
        self.prompt_fp, self.max_tokens, self.serve = prompt_fp, max_tokens, serve
        self._fingerprint = fingerprint

    @property
    def name(self) -> str:
        return "neuromas"

    def fingerprint(self) -> dict[str, Any] | None:
        return self._fingerprint

    def _trace(self, question: str, family: str) -> Trace:
        if self.prompt_fp is not None and prompt_fingerprint(family_of(family).format) != self.prompt_fp:
            raise ConfigError(f"this NeuroMAS checkpoint was trained with another answer format than the "
                              f"{family!r} family's; evaluate it on the task family it was trained on")
        return Trace(self.name, question, family, self.network)

    async def _solve(self, rt: Runtime) -> tuple[str, str | None]:
        fmt = family_of(rt.family).format
        previous: list[str] = []
        for group in layer_groups(self.network):
            nodes = [self.network.node(n) for n in group]

            async def one(node: Any) -> str:
                model, extra = self.route[node.id]
                return await rt.call(node.id, SLOT, model, node_messages(node, rt.question, previous, fmt),
                                     max_tokens=self.max_tokens, temperature=0.0, **extra)

            previous = list(await asyncio.gather(*(one(n) for n in nodes)))
            for n, text in zip(nodes, previous):
                rt.trace.nodes[n.id] = NodeRecord(n.id, "done", text)
        return previous[-1], None  # the output node is the last layer

    def _finish(self, trace: Trace) -> None:
        for c in trace.calls:  # each node's own usage, from its call record
            if c.node in trace.nodes:
                trace.nodes[c.node].usage = c.usage

    # ---- the kind ------------------------------------------------------------
    @classmethod
    def spec(cls, name: str, *, model: str | None = None, config: str | None = None,
             options: dict[str, Any] | None = None, checkpoint: str | None = None) -> dict[str, Any]:
        if not checkpoint:
            raise ConfigError("--system neuromas needs --checkpoint DIR (train one with `mastune train neuromas`)")
        opts = {k: v for k, v in (options or {}).items() if v is not None}
        if model:
            opts["backbone"] = model
        unknown = set(opts) - set(OPTIONS)
        if unknown:
            raise ConfigError(f"unknown neuromas option(s) {sorted(unknown)}; options: {list(OPTIONS)}")
        if opts.get("serve", "auto") not in SERVE:
            raise ConfigError(f"neuromas serve must be one of {SERVE}, got {opts['serve']!r}")
        return opts

    @classmethod
    def from_spec(cls, spec: SystemSpec, pool: PoolLike) -> "NeuroMASSystem":
        if not spec.checkpoint:
            raise ConfigError("a neuromas spec needs its checkpoint")
        return build_neuromas_system(spec.checkpoint, pool, **spec.config)

    def __repr__(self) -> str:
        return f"NeuroMASSystem({network_name(self._layers())}, serve={self.serve!r})"

    def _layers(self) -> list[int]:
        return [len(g) for g in layer_groups(self.network)][:-1]


def build_neuromas_system(checkpoint: str | Path, pool: PoolLike, *, serve: str = "auto", max_tokens: int = 200,
                          backbone: str | None = None, device: str = "auto") -> NeuroMASSystem:
    """A trained network (best.pt, or its run folder) bound to `pool`; checked against its backbone's hash."""
    from ...llm.lora import file_digest
    from .checkpoint import backbone_sha256, load_network
    from .engine import is_gguf, resolve_backbone

    if serve not in SERVE:
        raise ConfigError(f"neuromas serve must be one of {SERVE}, got {serve!r}")
    path = checkpoint_file(checkpoint)
    _, meta, _ = load_network(path)
    network = layered_network(parse_layers(meta.layers))
    digest = file_digest(path)
    bb = ""  # resolved only where it is used (a pool name may be pulled)
    if serve == "auto":
        names = set(pool_names(pool))
        if all(n in names for n in network.ids):
            serve = "pool"
        else:
            bb = resolve_backbone(backbone or meta.backbone)
            serve = "engine" if is_gguf(bb) else "transformers"
    common = dict(prompt_fp=meta.prompt_fingerprint, max_tokens=max_tokens, serve=serve,
                  fingerprint={"checkpoint": digest, "layers": list(meta.layers), "serve": serve})
    if serve == "pool":  # the served adapters are the server's: not checkable from here
        return NeuroMASSystem(network, pool, {n: (n, {}) for n in network.ids}, **common)
    bb = bb or resolve_backbone(backbone or meta.backbone)
    if serve == "engine":
        from .engine import adapter_lm, state_gguf_adapters

        if not is_gguf(bb):
            raise ConfigError(f"neuromas serve=engine needs a .gguf backbone; the checkpoint's is {bb} "
                              "(use serve=transformers, or a pool with one entry per node)")
        adapters, meta, _ = load_network(path, backbone_sha256=backbone_sha256(bb))
        serve_dir = path.parent / "serve" / digest
        files = {n: serve_dir / f"{n}.gguf" for n in meta.nodes}
        if not all(f.is_file() for f in files.values()):
            state_gguf_adapters(adapters, meta.alpha, bb, serve_dir)
        name = f"neuromas-{digest[:8]}"
        lm = adapter_lm(bb, {n: str(f) for n, f in files.items()}, name=name, price=builtin_price(meta.backbone))
        return NeuroMASSystem(network, PoolOverlay({name: lm}, pool), {n: (name, {"adapter": n}) for n in network.ids},
                              **common)
    from .train import load_trained

    policy, network, meta = load_trained(path, backbone=bb, device=device)
    name = f"neuromas-hf-{digest[:8]}"
    lm = PolicyLM(name, policy, digest, builtin_price(meta.backbone))
    return NeuroMASSystem(network, PoolOverlay({name: lm}, pool), {n: (name, {"node": n}) for n in network.ids},
                          **common)
