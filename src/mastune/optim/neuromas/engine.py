"""Rollouts on the embedded llama.cpp engine: every node served with its own GGUF LoRA adapter.

The learner trains peft adapters on an HF copy of the backbone GGUF (transformers
dequantises it); the engine serves that same GGUF file. After each update `sync`
exports every node's adapter as a peft folder (`export_peft`, OUT/peft/<node>, the
folders vLLM / SGLang take too), converts it to a GGUF LoRA (OUT/gguf/<node>.gguf,
written atomically) and points the engine at the new files. Why the engine never
serves stale weights:
- an adapter file's digest is part of the engine key (mastune.llm.lora): new
  files mean a new engine load, the old one closes once its calls are done;
- the digest is in every request, and calls go with `use_cache=False` anyway;
- a slot's prompt cache (KV) is reused only by a request under the same adapter
  (llm/slots.py routes every request of an adapter engine and tracks which adapter
  computed each slot's KV); `prompt_reuse=False` turns reuse off altogether. With
  reuse, llama.cpp's flash attention is off: on CPU its results depend on how a
  prompt is split into evaluated chunks (reuse then flipped near-tie greedy tokens).
Why reuse pays: a step samples a group of G episodes per question, so a first-layer
prompt repeats G times under the same adapter and every node's system + task
prefix repeats within a group. With `prefix_wait_chars` a request waits for the
busy slot computing its group's shared prefix rather than evaluating it again on
another slot: on a CPU-bound engine prefill is the larger cost and batched
decoding gains little (benchmarks/neuromas_sampling.py measures both).
Sampling is plain temperature (top-k 0, top-p 1, min-p 0; llama.cpp's defaults
would cut the tail): the learner scores the samples under softmax(logits / T),
so anything else would be off-policy.
"""
from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ...errors import ConfigError
from ...llm.types import Message, Price
from .sampler import Sampled

if TYPE_CHECKING:
    from ...llm.embedded import EmbeddedLM
    from .policy import AdapterPolicy

# A request waits for a busy slot computing a prompt that shares this many more characters with it
# than any idle slot holds (a group's task: a navigate / MMLU question is a few hundred characters).
PREFIX_WAIT_CHARS = 200

# Request fields that make llama.cpp sample from softmax(logits / T) and nothing else.
PLAIN_SAMPLING = {"top_k": 0, "top_p": 1.0, "min_p": 0.0, "typical_p": 1.0, "repeat_penalty": 1.0,
                  "presence_penalty": 0.0, "frequency_penalty": 0.0}
# ... and report, per sampled token, its id and its probability under that same distribution
# (post-sampling: after the temperature), the end-of-turn token included.
TOKEN_REPORT = {"logprobs": True, "n_probs": 1, "post_sampling_probs": True}


def sampled_tokens(extra: Mapping[str, Any]) -> tuple[tuple[int, ...], tuple[float, ...]] | None:
    """(token ids, log-probs) from a llama.cpp response's `logprobs` (None when absent). Greedy requests
    report no sampling distribution: their probabilities are those of the T = 1 softmax."""
    import math

    content = ((extra or {}).get("logprobs") or {}).get("content")
    if not content:
        return None
    ids, lps = [], []
    for e in content:
        ids.append(int(e["id"]))
        if "prob" in e:
            lps.append(math.log(max(float(e["prob"]), 1e-30)))  # a 0 underflow must not become -inf
        else:
            lps.append(float(e.get("logprob", float("nan"))))
    return tuple(ids), tuple(lps)


def is_gguf(path: str | Path) -> bool:
    p = Path(path).expanduser()
    return p.is_file() and p.suffix == ".gguf"


def resolve_backbone(name_or_path: str) -> str:
    """An existing HF folder or .gguf file as is; otherwise a pool model name, pulled, as its GGUF path."""
    p = Path(name_or_path).expanduser()
    if p.exists():
        return str(p.resolve())
    from ...models.export_hf import gguf_file

    return str(gguf_file(name_or_path).resolve())


def portable_backbone(name_or_path: str) -> str:
    """What configs and checkpoints record: a pool model's name for its cached file (no machine path
    in a saved run; resolve_backbone finds or pulls it again), any other path as is."""
    from ...models.pull import cached_name

    if not Path(name_or_path).expanduser().exists():
        return name_or_path  # a name already (or a missing path: its own error later)
    return cached_name(name_or_path) or name_or_path


def write_gguf_adapters(peft_dirs: Mapping[str, Path], base_gguf: str | Path, out_dir: str | Path) -> dict[str, str]:
    """peft folders -> OUT/<node>.gguf (each rewritten atomically: a reader sees the old or the new file)."""
    from ...llm.lora import peft_to_gguf

    out = Path(out_dir)
    return {n: str(peft_to_gguf(d, base_gguf, out / f"{n}.gguf")) for n, d in peft_dirs.items()}


def state_gguf_adapters(states: Mapping[str, Mapping[str, Any]], alpha: float, base_gguf: str | Path,
                        out_dir: str | Path) -> dict[str, str]:
    """Adapter state dicts (a checkpoint's) -> OUT/<node>.gguf, without building the HF model."""
    from ...llm.lora import peft_to_gguf

    out = Path(out_dir)
    return {n: str(peft_to_gguf(dict(s), base_gguf, out / f"{n}.gguf", lora_alpha=alpha)) for n, s in states.items()}


def adapter_lm(base_gguf: str | Path, adapters: Mapping[str, str] | None = None, *, name: str = "neuromas",
               n_parallel: int = 4, ctx_per_slot: int = 4096, n_threads: int = 0, prompt_reuse: bool = False,
               prefix_wait_chars: int = PREFIX_WAIT_CHARS, speculative: str = "", price: Price = Price()
               ) -> "EmbeddedLM":
    """One embedded model on the backbone, holding every node's adapter (chosen per call). `prompt_reuse`:
    reuse a slot's prompt cache under the adapter that computed it (llm/slots.py), with llama.cpp's flash
    attention off: its CPU kernel's results depend on how a prompt is split into evaluated chunks, so with
    it a reused prefix flipped near-tie greedy tokens (without it, reuse reproduces full evaluation:
    tests/optim/neuromas/test_engine_sampler.py). Off here (evaluation keeps its engine settings);
    the training sampler turns it on. `price`: the per-token rate calls are costed at (a checkpoint's
    backbone rate, so a network's $/item compares with Direct's on the same model)."""
    from ...llm.embedded import EmbeddedLM

    return EmbeddedLM(name, str(base_gguf), n_parallel=n_parallel, ctx_per_slot=ctx_per_slot, n_threads=n_threads,
                      adapters=dict(adapters or {}), max_concurrency=n_parallel, adapter_prompt_cache=prompt_reuse,
                      prefix_wait_chars=prefix_wait_chars if prompt_reuse else 0,
                      flash_attn=False if prompt_reuse else None, speculative=speculative, price=price)


class EngineSampler:
    """The Sampler of training runs on a GGUF backbone: each request names its node's adapter.

    `work_dir` holds peft/ and gguf/ (rewritten at every sync). Returns texts only (the
    policy re-tokenises them; the engine's prompt length is checked against the scorer's
    in reinforce.update)."""

    def __init__(self, base_gguf: str | Path, work_dir: str | Path, *, n_parallel: int = 4,
                 ctx_per_slot: int = 2048, n_threads: int = 0, prompt_reuse: bool = True,
                 prefix_wait_chars: int = PREFIX_WAIT_CHARS, speculative: str = "",
                 report_tokens: bool = False) -> None:
        if not is_gguf(base_gguf):
            raise ConfigError(f"the engine sampler serves a .gguf backbone; {base_gguf} is not one "
                              "(give --backbone a pool model name or a .gguf file, or use the transformers sampler)")
        self.base = str(Path(base_gguf).expanduser().resolve())
        self.dir = Path(work_dir)
        self.lm = adapter_lm(self.base, n_parallel=n_parallel, ctx_per_slot=ctx_per_slot, n_threads=n_threads,
                             prompt_reuse=prompt_reuse, prefix_wait_chars=prefix_wait_chars,
                             speculative=speculative)
        self.syncs = 0
        self.sync_s = 0.0  # time spent exporting + converting (benchmarks)
        # token ids and behaviour log-probs with every sample (the RL trainer scores exactly those ids)
        self.report_tokens = report_tokens

    async def sync(self, policy: "AdapterPolicy") -> None:
        import time

        if Path(policy.backbone).resolve() != Path(self.base):
            raise ConfigError(f"the policy trains on {policy.backbone}, the engine serves {self.base}: "
                              "they must be the same GGUF file")
        t0 = time.perf_counter()
        files = await asyncio.to_thread(self._export, policy)
        self.lm.set_adapters(files)
        self.syncs += 1
        self.sync_s += time.perf_counter() - t0

    def _export(self, policy: "AdapterPolicy") -> dict[str, str]:
        from .checkpoint import export_peft

        peft_dir = self.dir / "peft"
        if peft_dir.exists():  # nodes of an older network must not linger
            shutil.rmtree(peft_dir)
        return write_gguf_adapters(export_peft(policy, peft_dir), self.base, self.dir / "gguf")

    async def sample(self, node: str, messages: Sequence[Message], temperature: float, max_tokens: int,
                     seed: int | None = None) -> Sampled:
        if node not in self.lm.adapter_files:
            raise ConfigError(f"the engine serves no adapter for node {node!r} (served: "
                              f"{sorted(self.lm.adapter_files) or 'none'}); call sync(policy) first")
        report = TOKEN_REPORT if self.report_tokens else {}
        c = await self.lm.chat(messages, adapter=node, max_tokens=max_tokens, temperature=temperature, seed=seed,
                               use_cache=False, **PLAIN_SAMPLING, **report)
        tokens = sampled_tokens(c.extra) if self.report_tokens else None
        return Sampled(c.text, c.finish_reason != "length", c.usage.prompt_tokens, c.usage.completion_tokens,
                       prompt_evaluated=c.usage.prompt_evaluated, token_ids=tokens and tokens[0],
                       token_logprobs=tokens and tokens[1])

    async def aclose(self) -> None:
        await self.lm.close()


def serve_adapter_files(sampler: EngineSampler, files: Mapping[str, str | Path]) -> None:
    """Serve GGUF adapter files made elsewhere instead of exporting a policy (a Ray worker writes the
    driver's bytes to its own folder): the same switch `sync` makes, so the same guarantees hold."""
    sampler.lm.set_adapters({n: str(f) for n, f in files.items()})
    sampler.syncs += 1
