"""LoRA SFT on collaboration traces (transformers + peft; CPU for tiny models, GPU when present).

    mastune traces export --in traces/ --format sharegpt      # -> traces/sft.jsonl
    mastune train sft --data traces/sft.jsonl --base MODEL_DIR --out adapters/m1

Data: one chat per line, `conversations` (sharegpt: from/value) or `messages`
(role/content), with a `question_id`. The loss covers only the final
assistant turn (the agent's reply); the prompt is masked. As in M1, every
example of one question lands in the same batch(es), in generation order;
the order of questions is shuffled per epoch (seeded).

Output (`--out`, a run folder as every optimiser's: one writer at a time,
config.json with every commit): the LoRA adapter (peft format), the
tokenizer, `log.jsonl` (one line per logged step) and `sft_run.json`
(config, steps, losses, data hash).

Using the adapter in the runtime (both ways work; the first needs nothing else):
  * Serve it as trained: a pool entry with `backend: hf` and `adapter: OUT`
    (transformers + peft in-process, see `mastune.llm.hf`); the base model is
    read from the adapter's config. Slower than llama.cpp (no batching), fine
    on a GPU or for small models.
  * For the fast embedded engine: `merge_adapter(adapter_dir, out_dir)` (or
    `--merge`) folds the LoRA into the base weights as a plain HF model; then
    convert that to GGUF with llama.cpp's converter (not a dependency here)
    and point a pool entry at the file:

        pip install -r llama.cpp/requirements/requirements-convert_hf_to_gguf.txt
        python llama.cpp/convert_hf_to_gguf.py adapters/m1/merged --outfile m1.gguf --outtype q8_0
        # pool.yaml:  models: [{name: m1, backend: embedded, model: /abs/path/m1.gguf}]
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ...errors import ConfigError
from ...llm.hf import adapter_base, torch_device_dtype
from ...llm.threads import budget
from ..runfolder import RunFolder

IGNORE = -100  # label value the loss skips
_ROLE = {"system": "system", "human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant"}


@dataclass
class SFTConfig:
    data: str
    base: str  # a local HF-format model folder (or a hub id when online)
    out: str
    epochs: float = 1.0  # the paper: 5 epochs of full SFT at lr 1e-5; LoRA takes a higher lr
    lr: float = 1e-4
    max_steps: int | None = None  # optimizer steps; caps epochs
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 2048
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] | str = "all-linear"  # every linear layer except the LM head
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    seed: int = 0
    device: str = "auto"  # auto: cuda when available, else cpu
    dtype: str = "auto"  # auto: bfloat16 on cuda, float32 on cpu
    log_every: int = 10
    merge: bool = False  # also write OUT/merged (base + LoRA) for GGUF conversion


@dataclass
class SFTResult:
    out: str
    steps: int
    examples: int
    questions: int
    losses: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    device: str = ""
    merged: str | None = None


# ---------------------------------------------------------------- data


def read_chats(path: str | Path) -> list[dict[str, Any]]:
    """[{question_id, messages}] in file order; sharegpt or messages lines."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"SFT data not found: {path} (make it with `mastune traces export`)")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if "messages" in row:
            msgs = [{"role": _ROLE[m["role"]], "content": m["content"]} for m in row["messages"]]
        elif "conversations" in row:
            msgs = [{"role": _ROLE[m["from"]], "content": m["value"]} for m in row["conversations"]]
        else:
            raise ConfigError(f"{path}:{n}: a line needs `conversations` (sharegpt) or `messages`")
        if not msgs or msgs[-1]["role"] != "assistant":
            raise ConfigError(f"{path}:{n}: the last turn must be the assistant's reply (the training target)")
        out.append({"question_id": str(row.get("question_id", row.get("id", n))), "messages": msgs})
    if not out:
        raise ConfigError(f"{path} holds no examples")
    return out


def _fallback_template(messages: Sequence[dict[str, str]]) -> str:
    """For tokenizers without a chat template (base models)."""
    return "".join(f"<|{m['role']}|>\n{m['content']}\n" for m in messages) + "<|assistant|>\n"


def encode(tokenizer: Any, messages: Sequence[dict[str, str]], max_length: int) -> dict[str, list[int]]:
    """input_ids + labels with the prompt masked; over-long prompts lose their start."""
    prompt_msgs, target = messages[:-1], messages[-1]["content"]
    if getattr(tokenizer, "chat_template", None):
        prompt = tokenizer.apply_chat_template(list(prompt_msgs), tokenize=False, add_generation_prompt=True)
    else:
        prompt = _fallback_template(prompt_msgs)
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    t_ids = tokenizer(target, add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        t_ids = t_ids + [tokenizer.eos_token_id]
    t_ids = t_ids[:max_length - 1]  # keep at least one prompt token
    p_ids = p_ids[-(max_length - len(t_ids)):]
    return {"input_ids": p_ids + t_ids, "labels": [IGNORE] * len(p_ids) + t_ids}


def question_batches(groups: dict[str, list[Any]], batch_size: int, rng: random.Random) -> list[list[Any]]:
    """Batches that never mix questions; question order shuffled, call order kept."""
    keys = list(groups)
    rng.shuffle(keys)
    return [groups[k][i:i + batch_size] for k in keys for i in range(0, len(groups[k]), batch_size)]


def collate(batch: Sequence[dict[str, list[int]]], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(x["input_ids"]) for x in batch)

    def pad(seq: list[int], value: int) -> list[int]:
        return seq + [value] * (width - len(seq))

    return {
        "input_ids": torch.tensor([pad(x["input_ids"], pad_id) for x in batch]),
        "attention_mask": torch.tensor([pad([1] * len(x["input_ids"]), 0) for x in batch]),
        "labels": torch.tensor([pad(x["labels"], IGNORE) for x in batch]),
    }


# ---------------------------------------------------------------- training


def train_sft(cfg: SFTConfig, *, log: Callable[[str], None] | None = None) -> SFTResult:
    """Fine-tune a LoRA adapter on `cfg.data`; saves it under `cfg.out`."""
    chats = read_chats(cfg.data)  # bad data fails before the heavy imports
    with RunFolder(cfg.out).lock() as run:
        run.save_config(asdict(cfg), data_sha256=_sha(cfg.data))
        return _train(cfg, chats, run, log)


def _train(cfg: SFTConfig, chats: list[dict[str, Any]], run: RunFolder,
           log: Callable[[str], None] | None) -> SFTResult:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, get_linear_schedule_with_warmup

    log = log or (lambda s: None)
    start = time.perf_counter()
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    device, dtype = torch_device_dtype(cfg.device, cfg.dtype)

    tokenizer = AutoTokenizer.from_pretrained(cfg.base)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad_id is None:
        raise ConfigError(f"tokenizer of {cfg.base} has neither a pad nor an eos token")
    groups: dict[str, list[dict[str, list[int]]]] = {}
    for chat in chats:
        groups.setdefault(chat["question_id"], []).append(encode(tokenizer, chat["messages"], cfg.max_length))

    model = AutoModelForCausalLM.from_pretrained(cfg.base, dtype=dtype)
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=cfg.target_modules, task_type="CAUSAL_LM")
    model = get_peft_model(model, lora).to(device)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    rng = random.Random(cfg.seed)
    per_epoch = math.ceil(len(question_batches(groups, cfg.batch_size, random.Random(0))) / cfg.grad_accum)
    total = max(1, math.ceil(per_epoch * cfg.epochs))
    if cfg.max_steps is not None:
        total = min(total, cfg.max_steps) if cfg.max_steps > 0 else total
    torch.set_num_threads(budget().learner_threads())  # MASTUNE_THREADS / the process's share, not every core
    sched = get_linear_schedule_with_warmup(optim, int(cfg.warmup_ratio * total), total)
    log(f"{len(chats)} examples from {len(groups)} questions; {total} steps on {device} ({dtype})")

    losses: list[float] = []
    steps_log = run.log("log.jsonl")
    steps_log.rewrite([])  # SFT does not resume: a rerun trains from the start
    step, micro = 0, 0
    for batch in _forever(groups, cfg.batch_size, rng):
        inputs = {k: v.to(device) for k, v in collate(batch, pad_id).items()}
        loss = model(**inputs).loss / cfg.grad_accum
        loss.backward()
        micro += 1
        if micro % cfg.grad_accum:
            continue
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        optim.step()
        sched.step()
        optim.zero_grad(set_to_none=True)
        step += 1
        losses.append(round(loss.item() * cfg.grad_accum, 5))
        if step % cfg.log_every == 0 or step == total:
            steps_log.append({"step": step, "loss": losses[-1], "lr": sched.get_last_lr()[0]})
            log(f"step {step}/{total}  loss {losses[-1]:.4f}  lr {sched.get_last_lr()[0]:.2e}")
        if step >= total:
            break

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    result = SFTResult(str(out), step, len(chats), len(groups), losses, time.perf_counter() - start, device)
    if cfg.merge:
        result.merged = str(merge_adapter(out, out / "merged", base=cfg.base))
    (out / "sft_run.json").write_text(json.dumps(
        {"config": asdict(cfg), "result": asdict(result), "data_sha256": _sha(cfg.data)}, indent=2))
    return result


def _forever(groups: dict[str, list[Any]], batch_size: int, rng: random.Random) -> Iterator[list[Any]]:
    while True:
        yield from question_batches(groups, batch_size, rng)


def _sha(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def merge_adapter(adapter_dir: str | Path, out_dir: str | Path, *, base: str | None = None) -> Path:
    """Base + LoRA -> one plain HF model folder (input for llama.cpp's GGUF converter)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = base or adapter_base(str(adapter_dir))
    model = AutoModelForCausalLM.from_pretrained(base)
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    out = Path(out_dir)
    merged.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(out)
    return out
