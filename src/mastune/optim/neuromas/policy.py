"""One frozen HF backbone, one peft LoRA adapter per node (peft multi-adapter on one model).

The policy scores a node's sampled completion: the teacher-forced log-probability
of its tokens given the node's prompt, under that node's adapter. The prompt is
tokenised by `prompt_ids`, the same function the transformers sampler uses, so
the scored context is exactly the sampled one.

Adapter switching (`peft.set_adapter`) also flips which adapter requires grad,
so every use of the model goes through `self.lock` and a node's backward pass
runs before another adapter is selected.
"""
from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from ...errors import ConfigError
from ...llm.hf import torch_device_dtype
from ...llm.types import Message
from ..seeds import stable_int
from .lora import LoraSpec, lora_b_max
from .sampler import Sampled


def load_backbone(path: str | Path, dtype: torch.dtype = torch.float32) -> tuple[Any, Any]:
    """Tokenizer and causal LM from an HF folder, or from a .gguf file (dequantised by transformers,
    which needs the `gguf` package): the same weights the embedded engine serves."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    p = Path(path).expanduser()
    if not p.exists():
        raise ConfigError(f"backbone {path} not found: give an HF model folder or a .gguf file")
    kw: dict[str, Any] = {"gguf_file": p.name} if p.is_file() else {}
    where = p.parent if p.is_file() else p
    try:
        tok = AutoTokenizer.from_pretrained(where, **kw)
        model = AutoModelForCausalLM.from_pretrained(where, dtype=dtype, **kw)
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot load backbone {path}: {e}") from e
    if not getattr(tok, "chat_template", None):
        raise ConfigError(f"backbone {path} has no chat template (a base model?); use a chat/instruct model")
    return tok, model


def prompt_ids(tokenizer: Any, messages: Sequence[Message]) -> list[int]:
    """The chat template as both the sampler and the scorer apply it (generation prompt added)."""
    out = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, return_dict=True)
    return list(out["input_ids"])


class AdapterPolicy:
    """`nodes`: adapter names (node ids). Every adapter starts with LoRA B = 0 (peft's init),
    i.e. as the base model; A is drawn from a seed derived from (seed, node), so a node's
    initial adapter does not depend on which other nodes exist."""

    def __init__(self, backbone: str | Path, nodes: Sequence[str], lora: LoraSpec = LoraSpec(), *,
                 seed: int = 0, device: str = "cpu", dtype: str = "auto",
                 loaded: tuple[Any, Any] | None = None) -> None:
        """device: cpu | cuda[:N] | auto (cuda when available); dtype: auto (bfloat16 on cuda, float32
        on cpu) | float32 | bfloat16 | float16. Adapters stay float32 (peft's default)."""
        from peft import get_peft_model

        if not nodes:
            raise ConfigError("a policy needs at least one node")
        if len(set(nodes)) != len(nodes):
            raise ConfigError(f"duplicate node names {list(nodes)}")
        self.backbone = str(Path(backbone).expanduser().resolve()) if Path(backbone).expanduser().exists() \
            else str(backbone)
        self.lora = lora
        self.seed = seed
        self.device, torch_dtype = torch_device_dtype(device, dtype)
        self.tokenizer, base = loaded if loaded is not None else load_backbone(backbone, torch_dtype)
        base.to(self.device)
        for p in base.parameters():
            p.requires_grad_(False)
        self.lock = threading.RLock()
        self.nodes: list[str] = []
        self._check_name(nodes[0])
        with self._seeded(nodes[0]):
            self.model = get_peft_model(base, lora.peft_config(), adapter_name=nodes[0])
        self.nodes.append(nodes[0])
        for n in nodes[1:]:
            self.add_node(n)
        self.model.eval()  # no dropout: scoring is deterministic (lora dropout is 0 anyway)
        self.end_id = self._end_token()

    # ---- adapters --------------------------------------------------------------------
    @contextlib.contextmanager
    def _seeded(self, node: str) -> Iterator[None]:
        """Draw the node's initial A from its own seed, leaving the global RNG as it was."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(stable_int("neuromas-adapter", self.seed, node) % (2**31))
            yield

    def add_node(self, node: str) -> None:
        """A new adapter at zero contribution (B = 0): the node starts as the base model."""
        if node in self.nodes:
            raise ConfigError(f"node {node!r} already has an adapter")
        self._check_name(node)
        with self.lock, self._seeded(node):
            self.model.add_adapter(node, self.lora.peft_config())
            self.nodes.append(node)

    @staticmethod
    def _check_name(node: str) -> None:
        if not node or "." in node or node in "lora_":  # peft: a name inside its "lora_" prefix breaks loading
            raise ConfigError(f"node name {node!r} must be non-empty, without '.', and not part of 'lora_'")

    def _named(self, node: str) -> Iterator[tuple[str, torch.nn.Parameter]]:
        if node not in self.nodes:
            raise ConfigError(f"no adapter for node {node!r}; nodes: {self.nodes}")
        tag = f".{node}."
        for name, p in self.model.named_parameters():
            if "lora_" in name and tag in name:
                yield name.replace(tag, "."), p

    def parameters(self, node: str) -> list[torch.nn.Parameter]:
        return [p for _, p in self._named(node)]

    def adapter_state(self, node: str) -> dict[str, torch.Tensor]:
        """The node's LoRA tensors (copies), keyed without the adapter name."""
        return {k: p.detach().to("cpu", copy=True) for k, p in self._named(node)}

    def load_adapter_state(self, node: str, state: dict[str, torch.Tensor]) -> None:
        own = dict(self._named(node))
        if set(own) != set(state):
            missing, extra = sorted(set(own) - set(state))[:3], sorted(set(state) - set(own))[:3]
            raise ConfigError(f"adapter state for {node!r} does not fit this backbone/LoRA setting "
                              f"(missing e.g. {missing}, unexpected e.g. {extra})")
        with torch.no_grad():
            for k, p in own.items():
                if p.shape != state[k].shape:
                    raise ConfigError(f"adapter {node!r}: {k} has shape {tuple(state[k].shape)}, "
                                      f"this LoRA setting needs {tuple(p.shape)} (another rank?)")
                p.copy_(state[k])

    def b_max(self, node: str) -> float:
        """Largest |entry| of the node's LoRA B matrices (`lora.lora_b_max`)."""
        return lora_b_max(self._named(node))

    def trainable_count(self, node: str) -> int:
        return sum(p.numel() for p in self.parameters(node))

    def _use(self, node: str) -> None:
        if node not in self.nodes:
            raise ConfigError(f"no adapter for node {node!r}; nodes: {self.nodes}")
        self.model.set_adapter(node)

    # ---- tokens ----------------------------------------------------------------------
    def _end_token(self) -> int:
        """End of an assistant turn: the tokenizer's eos (for chat models, the end-of-turn token)."""
        eos = self.tokenizer.eos_token_id
        if eos is None:
            raise ConfigError(f"backbone {self.backbone} has no eos token; cannot score finished replies")
        return int(eos)

    def completion_ids(self, sample: Sampled) -> list[int]:
        if sample.token_ids is not None:
            return list(sample.token_ids)
        ids = list(self.tokenizer(sample.text, add_special_tokens=False)["input_ids"])
        return ids + [self.end_id] if sample.finished else ids

    # ---- sampling --------------------------------------------------------------------
    def generate(self, node: str, messages: Sequence[Message], temperature: float, max_tokens: int,
                 seed: int | None = None) -> Sampled:
        """transformers generation under `node`'s adapter (the TransformersSampler's backend)."""
        ids = prompt_ids(self.tokenizer, messages)
        kw: dict[str, Any] = {"max_new_tokens": max_tokens, "pad_token_id": self.tokenizer.pad_token_id or self.end_id,
                              "eos_token_id": self.end_id}
        if temperature > 0:
            kw.update(do_sample=True, temperature=temperature, top_p=1.0, top_k=0)
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        x = torch.tensor([ids], device=self.device)
        with self.lock, torch.no_grad():
            self._use(node)
            if seed is not None:
                torch.manual_seed(seed % (2**31))  # under the lock: the global RNG is ours here
            out = self.model.generate(input_ids=x, attention_mask=torch.ones_like(x), **kw)
        new = out[0, len(ids):].cpu().tolist()
        finished = self.end_id in new
        if finished:
            new = new[: new.index(self.end_id) + 1]
        text = self.tokenizer.decode([t for t in new if t != self.end_id], skip_special_tokens=True)
        return Sampled(text, finished, len(ids), len(new), tuple(new))

    # ---- scoring ---------------------------------------------------------------------
    def sequence_logprobs(self, node: str, items: Sequence[tuple[Sequence[Message], Sampled]],
                          batch_size: int = 4, temperature: float = 1.0) -> tuple[torch.Tensor, list[int]]:
        """Sum of log p(completion token | prompt, earlier tokens) per item, under `node`'s adapter,
        with grad when grad is enabled (call .backward() before selecting another adapter).
        temperature: score under softmax(logits / T), the distribution the samples were drawn from
        (pure temperature sampling: no top-k / top-p). Returns (log-probs [n], completion token counts)."""
        if temperature <= 0:
            raise ValueError("score under a temperature > 0 (greedy replies have no sampling distribution)")
        outs, counts = [], []
        for start in range(0, len(items), max(1, batch_size)):
            lp, n = self._batch_logprobs(node, items[start:start + batch_size], temperature)
            outs.append(lp)
            counts += n
        return (torch.cat(outs) if outs else torch.zeros(0)), counts

    def _batch_logprobs(self, node: str, items: Sequence[tuple[Sequence[Message], Sampled]], temperature: float):
        scored = self.token_logprobs(node, items, temperature)
        return (scored.logprobs * scored.mask).sum(1), scored.counts

    def token_logprobs(self, node: str | None, items: Sequence[tuple[Sequence[Message], Sampled]],
                       temperature: float, *, entropy: bool = False) -> "TokenScores":
        """Per-token log p(token | prompt, earlier tokens) under `node`'s adapter (None: the backbone
        alone, adapters off), as a [n, K] tensor right-aligned (row r's completion ends at column K-1)
        with a mask of real tokens; with grad when grad is enabled. `entropy`: also the per-token
        entropy of softmax(logits / T) (no grad)."""
        seqs = [(prompt_ids(self.tokenizer, m), self.completion_ids(s)) for m, s in items]
        # Left padding: every completion ends at the last position, so only the last
        # (longest completion + 1) positions need logits (the vocabulary is large).
        length = max(len(p) + len(c) for p, c in seqs)
        keep = max(len(c) for _, c in seqs) + 1
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.end_id
        ids = torch.full((len(seqs), length), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), length), dtype=torch.long)
        target_mask = torch.zeros((len(seqs), keep - 1), dtype=torch.bool)
        for r, (p, c) in enumerate(seqs):
            row = p + c
            ids[r, length - len(row):] = torch.tensor(row)
            mask[r, length - len(row):] = 1
            if c:
                target_mask[r, keep - 1 - len(c):] = True
        positions = (mask.cumsum(1) - 1).clamp(min=0)  # each row counts from 0 where it starts
        ids, mask, positions, target_mask = (t.to(self.device) for t in (ids, mask, positions, target_mask))
        with self.lock:
            if node is None:
                with self.model.disable_adapter():
                    logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                        logits_to_keep=keep).logits
            else:
                self._use(node)
                logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                    logits_to_keep=keep).logits
        logp = torch.log_softmax(logits[:, :-1].float() / temperature, dim=-1)
        targets = ids[:, length - keep + 1:]
        tok = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
        ent = None
        if entropy:
            with torch.no_grad():
                ent = -(logp.exp() * logp).sum(-1)
        return TokenScores(tok, target_mask, [len(c) for _, c in seqs], ent, [c for _, c in seqs])


    def shared_prompt_logprobs(self, node: str | None, messages: Sequence[Message], samples: Sequence[Sampled],
                               temperature: float, *, entropy: bool = False) -> "TokenScores":
        """`token_logprobs` for replies to one prompt, computing the prompt once: its keys and values
        are repeated across the replies (the gradient flows back through them), so a group of G
        samples costs one prompt plus G completions instead of G prompts. Left-aligned [n, K]."""
        p = prompt_ids(self.tokenizer, messages)
        comps = [self.completion_ids(s) for s in samples]
        n, k = len(comps), max(1, max(len(c) for c in comps))
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.end_id
        ids = torch.full((n, k), pad, dtype=torch.long)
        target_mask = torch.zeros((n, k), dtype=torch.bool)
        for r, c in enumerate(comps):
            if c:
                ids[r, :len(c)] = torch.tensor(c)
                target_mask[r, :len(c)] = True
        x = torch.tensor([p], device=self.device)
        ids, target_mask = ids.to(self.device), target_mask.to(self.device)
        with self.lock, (self.model.disable_adapter() if node is None else contextlib.nullcontext()):
            if node is not None:
                self._use(node)
            from transformers import DynamicCache

            cache = DynamicCache()
            kv = {self._cache_arg(): cache}
            head = self.model(input_ids=x, use_cache=True, logits_to_keep=1, **kv).logits
            cache.batch_repeat_interleave(n)
            # right padding: a pad after a reply's end is never attended to by that reply's own tokens
            mask = torch.ones((n, len(p) + k), dtype=torch.long, device=self.device)
            positions = torch.arange(len(p), len(p) + k, device=self.device).expand(n, k)
            body = self.model(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], **kv,
                              position_ids=positions[:, :-1], use_cache=False).logits if k > 1 else None
        logits = head.expand(n, 1, head.shape[-1]) if body is None else torch.cat([head.expand(n, 1, head.shape[-1]), body], 1)
        logp = torch.log_softmax(logits.float() / temperature, dim=-1)
        tok = logp.gather(-1, ids.unsqueeze(-1)).squeeze(-1)
        ent = None
        if entropy:
            with torch.no_grad():
                ent = -(logp.exp() * logp).sum(-1)
        return TokenScores(tok, target_mask, [len(c) for c in comps], ent, comps, left=True)


    def _cache_arg(self) -> str:
        """transformers renamed `past_key_values` to `cache` (5.x warns on the old name; 4.x has only it)."""
        import inspect

        return "cache" if "cache" in inspect.signature(self.model.get_base_model().forward).parameters \
            else "past_key_values"


class TokenScores:
    """Per-token scores of a batch (see AdapterPolicy.token_logprobs): [n, K] tensors, right-aligned
    (row r's completion ends at column K-1) or, with `left`, starting at column 0."""

    def __init__(self, logprobs: torch.Tensor, mask: torch.Tensor, counts: list[int],
                 entropy: torch.Tensor | None, ids: list[list[int]], left: bool = False) -> None:
        self.logprobs, self.mask, self.counts, self.entropy, self.ids = logprobs, mask, counts, entropy, ids
        self.left = left

    def aligned(self, rows: Sequence[Sequence[float] | None], fill: float = 0.0) -> torch.Tensor:
        """Per-token values given per row in completion order (e.g. the sampler's log-probs), laid out
        like `logprobs` (rows given as None are filled)."""
        out = torch.full(self.logprobs.shape, fill, dtype=torch.float32)
        k = self.logprobs.shape[1]
        for r, vals in enumerate(rows):
            if vals:
                v = list(vals)[-self.counts[r]:] if self.counts[r] else []
                if self.left:
                    out[r, :len(v)] = torch.tensor(v, dtype=torch.float32)
                else:
                    out[r, k - len(v):] = torch.tensor(v, dtype=torch.float32)
        return out.to(self.logprobs.device)
