"""Training a layered network with REINFORCE, and loading what it produced.

Layout of a run folder (one writer at a time: mastune.io.writer_lock):
    config.json   the NeuroMASConfig, backbone hash, prompt fingerprint, train/valid ids (count + hash),
                  git commits, growth mapping, trainable parameters per node, runner(s) the episodes ran on
    log.jsonl     one line per step: reward, accuracy, per-node log-prob / grad norm / tokens,
                  tokens, episodes/hour, validation (when run)
    state.pt      everything needed to resume after a kill (adapters, optimisers, baseline, best),
                  rewritten atomically after every step
    best.pt       the best-on-validation network (a versioned checkpoint; without a validation set,
                  the latest step's)

Determinism: step s trains on questions drawn with seed (seed, s), and every node call is
sampled with seed (seed, s, question, sample, node), so a resumed run draws what an
uninterrupted one would have drawn.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ...agents.layered import prompt_fingerprint
from ...agents.prompts import family
from ...errors import ConfigError
from ...llm.threads import budget
from ...graph.layernet import layered_network, node_ids, parse_layers
from ...graph.topology import Topology
from ...io import writer_lock
from ...tasks.base import Example
from ...tasks.splits import ids_sha256
from ..checkpoint import CheckpointError
from ..runfolder import git_commit
from ...rollout.record import runner_fields
from ..progress import progress_bar
from ...jsonl import append_jsonl, read_jsonl, write_jsonl
from ..seeds import stable_int
from .checkpoint import NetworkMeta, backbone_sha256, expectations, load_network, save_network
from .config import CONFIG_FILE, NeuroMASConfig
from .episode import Episode, RewardFn, score, task_reward
from .episodes import EpisodeRequest, Episodes, LocalEpisodes, as_episodes
from .growth import grow, new_nodes
from .lora import LoraSpec
from .policy import AdapterPolicy
from .reinforce import EmaBaseline, advantages, make_optimizers, update
from .sampler import Sampler, TransformersSampler

BEST_FILE, STATE_FILE, LOG_FILE = "best.pt", "state.pt", "log.jsonl"


@dataclass
class TrainResult:
    policy: AdapterPolicy
    network: Topology
    log: list[dict]
    best: dict | None  # validation metrics of best.pt
    out: Path


def build_policy(cfg: NeuroMASConfig, loaded: tuple[Any, Any] | None = None) -> AdapterPolicy:
    """One adapter per node of cfg.layers on the backbone (fresh: every B = 0)."""
    return AdapterPolicy(cfg.backbone_file, node_ids(cfg.layers), cfg.lora, seed=cfg.seed, device=cfg.device,
                         loaded=loaded)


def task_fingerprint(examples: Sequence[Example]) -> str:
    fams = {e.family for e in examples}
    if len(fams) != 1:
        raise ConfigError(f"a NeuroMAS run trains on one task family, got {sorted(fams)}")
    return prompt_fingerprint(family(fams.pop()).format)


async def evaluate(network: Topology, sampler: "Sampler | Episodes", examples: Sequence[Example], *,
                   reward: RewardFn = task_reward, max_tokens: int = 200, concurrency: int = 8,
                   seed: int = 0) -> tuple[dict, list[Episode]]:
    """Greedy forward passes (the paper's evaluation): accuracy = share of episodes with reward 1.
    `sampler`: a Sampler (episodes here, `concurrency` at once) or an Episodes source (e.g. Ray workers)."""
    eps = await as_episodes(sampler, concurrency).run(
        network, [EpisodeRequest(ex, 0.0, max_tokens, seed) for ex in examples])
    for ep, ex in zip(eps, examples):
        ep.reward = await score(reward, ex, ep.answer)
    n = len(eps)
    return ({"n": n, "accuracy": sum(e.reward == 1.0 for e in eps) / n if n else None,
             "reward": sum(e.reward for e in eps) / n if n else None,
             "tokens": sum(e.tokens for e in eps)}, eps)


def _better(new: dict, old: dict | None) -> bool:
    return bool(new) and (old is None or (new["accuracy"], new["reward"]) > (old["accuracy"], old["reward"]))


def _commits(out: Path, now: str | None) -> list[str | None]:
    path = out / CONFIG_FILE
    saved = json.loads(path.read_text()) if path.is_file() else {}
    seen = saved.get("git_commits") or []
    return seen if seen and seen[-1] == now else [*seen, now]


def _check_same_run(cfg: NeuroMASConfig, out: Path, bb_hash: str, fp: str, data: dict) -> dict:
    path = out / CONFIG_FILE
    if not path.is_file():
        return {}
    saved = json.loads(path.read_text())
    diffs = cfg.differences(NeuroMASConfig.load(out))
    for key, now in (("backbone_sha256", bb_hash), ("prompt_fingerprint", fp), ("data", data)):
        if saved.get(key) not in (None, now):
            diffs.append(f"{key}: run has {saved[key]}, now {now}")
    if diffs:
        raise CheckpointError(f"{out} holds a run with other settings ({'; '.join(diffs)}); "
                              "use a new output folder or the same options")
    return saved


def _batch(cfg: NeuroMASConfig, train: Sequence[Example], step: int) -> list[Example]:
    rng = random.Random(stable_int(cfg.seed, "batch", step))
    return rng.sample(list(train), min(cfg.questions_per_step, len(train)))


async def train_network(cfg: NeuroMASConfig, train: Sequence[Example], valid: Sequence[Example],
                        out_dir: str | Path, *, policy: AdapterPolicy | None = None, sampler: Sampler | None = None,
                        episodes: Episodes | None = None, reward: RewardFn = task_reward, progress: bool = True,
                        on_step: Callable[[int, dict], None] | None = None) -> TrainResult:
    """Train cfg.steps steps (resuming OUT/state.pt when present). `policy` defaults to
    build_policy(cfg); `sampler` to transformers generation on the policy (slow; the engine
    sampler plugs in here). `episodes`: where episodes are sampled instead of on `sampler` in
    this process (ray_episodes.RayEpisodes; the learner, the grading and the update stay here).
    `reward(example, final reply)` defaults to the task grader."""
    if not train:
        raise ConfigError("NeuroMAS training needs at least one training question")
    if episodes is not None and sampler is not None:
        raise ConfigError("give a sampler (episodes in this process) or an episodes source, not both")
    with writer_lock(out_dir):
        return await _train(cfg, list(train), list(valid), Path(out_dir), policy, sampler, episodes, reward, progress,
                            on_step)


async def _train(cfg: NeuroMASConfig, train: list[Example], valid: list[Example], out: Path,
                 policy: AdapterPolicy | None, sampler: Sampler | None, episodes: Episodes | None, reward: RewardFn,
                 progress: bool, on_step: Callable[[int, dict], None] | None) -> TrainResult:
    policy = policy or build_policy(cfg)
    if list(policy.nodes) != node_ids(cfg.layers) or policy.lora.to_dict() != cfg.lora.to_dict():
        raise ConfigError(f"the policy (nodes {policy.nodes}, {policy.lora}) was not built for this config "
                          f"(layers {list(cfg.layers)}, {cfg.lora})")
    if Path(policy.backbone).expanduser().resolve() != Path(cfg.backbone_file).resolve():
        raise ConfigError(f"the policy runs backbone {policy.backbone}, the config names {cfg.backbone}")
    source = episodes or LocalEpisodes(sampler or TransformersSampler(policy), cfg.concurrency)
    network = layered_network(cfg.layers)
    bb_hash, fp = backbone_sha256(cfg.backbone_file), task_fingerprint([*train, *valid])
    data = {"train": {"n": len(train), "sha256": ids_sha256(e.id for e in train)},
            "valid": {"n": len(valid), "sha256": ids_sha256(e.id for e in valid)}}
    saved = _check_same_run(cfg, out, bb_hash, fp, data)
    expect = expectations(policy, list(cfg.layers), fp, bb_hash)
    optimizers = make_optimizers(policy, cfg.lr)
    ema = EmaBaseline(cfg.ema_decay)
    start, best, n_episodes, elapsed = 0, None, 0, 0.0
    growth = saved.get("growth")
    state_path = out / STATE_FILE
    if state_path.is_file():
        adapters, _, blob = load_network(state_path, **expect)
        for n in policy.nodes:
            policy.load_adapter_state(n, adapters[n])
            optimizers[n].load_state_dict(blob["optimizers"][n])
        ema.value = blob["ema"]
        start, best, n_episodes, elapsed = blob["step"], blob["best"], blob["episodes"], blob["elapsed_s"]
        await source.sync(policy, start)
    elif cfg.grow_from:
        adapters, small, _ = load_network(cfg.grow_from, **{**expect, "layers": None})
        mapping = grow(policy, adapters, small.layers, cfg.layers)
        growth = {"from": str(cfg.grow_from), "from_layers": small.layers, "mapping": mapping,
                  "new_nodes": new_nodes(policy, mapping)}
        await source.sync(policy, 0)
    cfg.save(out, backbone_sha256=bb_hash, prompt_fingerprint=fp, data=data, git_commits=_commits(out, git_commit()),
             growth=growth, nodes=policy.nodes, **runner_fields(saved, source),
             trainable_per_node={n: policy.trainable_count(n) for n in policy.nodes})
    log_path = out / LOG_FILE
    log = [r for r in read_jsonl(log_path) if r.get("step", 1e18) < start]  # lines past the saved state
    write_jsonl(log_path, log)

    def meta(info: dict) -> NetworkMeta:
        return NetworkMeta.of(policy, list(cfg.layers), fp, bb_hash, {**info, "growth": growth})

    with progress_bar(progress) as bar:
        task = bar.add_task(f"neuromas {list(cfg.layers)}", total=cfg.steps, completed=start, status="")
        for step in range(start, cfg.steps):
            t0 = time.perf_counter()
            batch = _batch(cfg, train, step)
            jobs = [(q, ex, g) for q, ex in enumerate(batch) for g in range(cfg.group_size)]
            eps = await source.run(network, [EpisodeRequest(ex, cfg.temperature, cfg.max_tokens,
                                                            stable_int(cfg.seed, step, ex.id, g)) for _, ex, g in jobs])
            for ep, (q, ex, _) in zip(eps, jobs):
                ep.group, ep.reward = q, await score(reward, ex, ep.answer)
            t1 = time.perf_counter()
            adv = advantages(cfg.baseline, eps, ema)
            torch.set_num_threads(budget().learner_threads())  # re-read: other processes come and go
            node_stats = update(policy, optimizers, eps, adv, grad_clip=cfg.grad_clip, length_norm=cfg.length_norm,
                                batch_size=cfg.logprob_batch, temperature=cfg.temperature)
            await source.sync(policy, step + 1)
            t2 = time.perf_counter()
            n_episodes += len(eps)
            record: dict[str, Any] = {
                "step": step, "episodes": n_episodes,
                "reward": sum(e.reward for e in eps) / len(eps),
                "accuracy": sum(e.reward == 1.0 for e in eps) / len(eps),
                "advantage_abs": sum(abs(a) for a in adv) / len(adv),
                "baseline": ema.value if cfg.baseline == "ema" else None,
                "nodes": node_stats,
                "tokens": sum(e.tokens for e in eps),
                "completion_tokens": sum(c.sample.completion_tokens for e in eps for c in e.calls),
                "questions": [ex.id for ex in batch], "sample_s": t1 - t0, "update_s": t2 - t1, "val": None,
            }
            last = step == cfg.steps - 1
            if valid and ((step + 1) % cfg.val_every == 0 or last):
                record["val"], _ = await evaluate(network, source, valid, reward=reward,
                                                  max_tokens=cfg.eval_max_tokens, concurrency=cfg.concurrency,
                                                  seed=cfg.seed)
                if _better(record["val"], best):
                    best = record["val"]
                    save_network(out / BEST_FILE, policy, meta({"step": step, "val": best}))
            elif not valid:
                save_network(out / BEST_FILE, policy, meta({"step": step, "val": None}))
            dt = time.perf_counter() - t0
            elapsed += dt
            record.update(time_s=dt, episodes_per_hour=len(eps) * 3600 / (t2 - t0),
                          episodes_per_hour_total=n_episodes * 3600 / elapsed if elapsed else None)
            append_jsonl(log_path, record)
            log.append(record)
            save_network(state_path, policy, meta({"step": step}), extra={
                "step": step + 1, "optimizers": {n: o.state_dict() for n, o in optimizers.items()},
                "ema": ema.value, "best": best, "episodes": n_episodes, "elapsed_s": elapsed})
            v = record["val"] or {}
            bar.update(task, advance=1, status=f"reward={record['reward']:.2f}"
                       + (f" | val acc={v['accuracy']:.2f}" if v else ""))
            if on_step:
                on_step(step, record)
    return TrainResult(policy, network, log, best, out)


def load_splits(cfg: NeuroMASConfig) -> tuple[list[Example], list[Example]]:
    """cfg.task's train and valid examples (seeded split, first train_size / val_size of each)."""
    from ...tasks.datasets import load_task

    train = load_task(cfg.task, split="train", seed=cfg.split_seed, limit=cfg.train_size)
    valid = load_task(cfg.task, split="valid", seed=cfg.split_seed, limit=cfg.val_size)
    return train, valid


async def train_neuromas(cfg: NeuroMASConfig, out_dir: str | Path, **kw: Any) -> TrainResult:
    """`mastune train neuromas` in one call: the task's seeded splits, then train_network(**kw)."""
    train, valid = load_splits(cfg)
    return await train_network(cfg, train, valid, out_dir, **kw)


def load_trained(path: str | Path, *, backbone: str | Path | None = None, answer_format: str | None = None,
                 device: str = "auto", loaded: tuple[Any, Any] | None = None
                 ) -> tuple[AdapterPolicy, Topology, NetworkMeta]:
    """A trained network for inference: the policy with every node's adapter and its topology.
    `path`: best.pt or a run folder. backbone: defaults to the one recorded (its file hash is checked
    either way); answer_format: when given, the prompt fingerprint is checked against it."""
    p = Path(path)
    p = p / BEST_FILE if p.is_dir() else p
    _, meta, _ = load_network(p)
    from .engine import resolve_backbone

    bb = resolve_backbone(str(backbone or meta.backbone))
    fp = prompt_fingerprint(answer_format) if answer_format is not None else None
    adapters, meta, _ = load_network(p, backbone_sha256=backbone_sha256(bb), prompt_fingerprint=fp)
    policy = AdapterPolicy(bb, meta.nodes, LoraSpec(meta.rank, tuple(meta.target_modules), meta.alpha),
                           device=device, loaded=loaded)
    for n in meta.nodes:
        policy.load_adapter_state(n, adapters[n])
    return policy, layered_network(parse_layers(meta.layers)), meta
