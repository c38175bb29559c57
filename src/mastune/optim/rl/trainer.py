"""The RL loop: batch -> episodes -> reward -> advantages -> update(s) -> evaluation -> checkpoint.

One trainer for every LoRA policy on one frozen backbone: a single model is a network with no
hidden layer (one node, one adapter); NeuroMAS networks have one adapter per node. Each step:
1. draws `questions_per_step` questions and samples `group_size` episodes of each (temperature T;
   a group's samples run as concurrent streams of one engine, which reuses their shared prompt);
2. grades the final replies; a reply cut at the token budget is masked by default (its 0/1
   grade would teach brevity, not answers) and counted in `truncated`;
3. with `dynamic`, draws more questions while fewer than half the groups are informative (their
   samples disagree): an all-same group has zero advantage under a group baseline and teaches
   nothing, so its tokens are waste;
4. turns rewards into advantages (estimators.ADVANTAGES) and, for every node, scores only the
   replies with a non-zero advantage, `epochs` optimiser steps over the batch with the chosen loss
   (losses.LOSSES), the learner's first-epoch log-probs as the ratio's reference and the sampler's
   own log-probs for the importance weight and the agreement figures;
5. serves the new adapters (the engine re-exports them), evaluates greedily every `eval_every`
   steps on `eval_size` valid items, and writes the resume state.

Run folder (one writer at a time):
    config.json   the RLConfig, backbone hash, prompt fingerprint, data ids, commits, runner
    log.jsonl     one line per step (figures: see `Step.record`), eval lines carry "eval"
    state.pt      everything needed to resume (adapters, optimisers, estimator state, probes, best)
    best.pt       the network to ship: the best on evaluation when eval_size >= 100, else the last
    start.pt      the network before the first update (evaluate it as the untrained arm: same prompts)
    tb/           TensorBoard event files (train/*, eval/*), when tensorboardX is installed
    curves.png    reward, accuracy, truncation, entropy and evaluation accuracy by step
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ...errors import ConfigError
from ...graph.layernet import layered_network, node_ids
from ...graph.topology import Topology
from ...jsonl import append_jsonl, read_jsonl, write_jsonl
from ...llm.threads import budget
from ...rollout.record import runner_fields
from ...tasks.base import Example
from ...tasks.splits import ids_sha256
from ..checkpoint import CheckpointError
from ..neuromas.checkpoint import NetworkMeta, backbone_sha256, expectations, load_network, save_network
from ..neuromas.episode import Episode, NodeCall, RewardFn, score, task_reward
from ..neuromas.episodes import EpisodeRequest, Episodes, LocalEpisodes
from ..neuromas.growth import grow, new_nodes
from ..neuromas.policy import AdapterPolicy
from ..neuromas.reinforce import merge_identical
from ..neuromas.sampler import Sampled, Sampler, TransformersSampler
from ..neuromas.train import evaluate, task_fingerprint
from ..progress import progress_bar
from ..runfolder import RunFolder
from ..seeds import stable_int
from .config import RLConfig
from .estimators import get_estimator, informative_groups
from .losses import TokenBatch, get_loss
from .plain import PlainEpisodes, plain_fingerprint
from .scalars import ScalarLog

BEST_FILE, STATE_FILE, LOG_FILE, START_FILE = "best.pt", "state.pt", "log.jsonl", "start.pt"
TRAINER = "rl"  # config.json "trainer": folders of the earlier NeuroMAS REINFORCE loop have none
SELECT_MIN = 100  # fewer evaluation items than this select nothing (±5 points of noise at best)


@dataclass
class RLResult:
    policy: AdapterPolicy
    network: Topology
    log: list[dict]
    best: dict | None
    out: Path


def build_policy(cfg: RLConfig, loaded: tuple[Any, Any] | None = None) -> AdapterPolicy:
    return AdapterPolicy(cfg.backbone_file, node_ids(cfg.layers), cfg.lora, seed=cfg.seed, device=cfg.device,
                         loaded=loaded)


# ---- batches -----------------------------------------------------------------------------------------
def draw(cfg: RLConfig, train: Sequence[Example], step: int, round_: int, k: int, used: set[str]) -> list[Example]:
    """k questions for (step, round), none already used this step; the same on every resume."""
    rng = random.Random(stable_int(cfg.seed, "batch", step, round_))
    pool = [ex for ex in train if ex.id not in used]
    return rng.sample(pool, min(k, len(pool)))


def masked_reward(cfg: RLConfig, ep: Episode) -> float | None:
    """The episode's reward for the estimator: None for a reply cut at the budget (when masking)."""
    cut = not ep.calls[-1].sample.finished
    ep.info["truncated"] = cut
    if cut and cfg.truncated == "mask":
        return None
    return 0.0 if cut else ep.reward


# ---- the update --------------------------------------------------------------------------------------
@dataclass
class Scored:
    call: NodeCall
    advantage: float


def node_items(policy: AdapterPolicy, episodes: Sequence[Episode], adv: Sequence[float]) -> dict[str, list[Scored]]:
    """Per node, the calls to score: those of episodes with a non-zero advantage, identical calls merged
    (same prompt and reply: one forward pass with the advantages summed; zero sums dropped)."""
    out: dict[str, list[Scored]] = {}
    for node in policy.nodes:
        pairs = [(c, a) for e, a in zip(episodes, adv) if a != 0 for c in e.calls if c.node == node]
        out[node] = [Scored(c, a) for c, a in merge_identical(pairs)]
    return out


def update_node(cfg: RLConfig, policy: AdapterPolicy, node: str, items: list[Scored], opt: torch.optim.Optimizer,
                n_episodes: int) -> dict[str, Any]:
    """`epochs` optimiser steps of `node`'s adapter over its scored calls. Returns the step's figures."""
    loss_fn = get_loss(cfg.loss)
    bs = cfg.logprob_batch
    by_prompt: dict[str, list[Scored]] = {}
    for s in items:  # a group's samples share their prompt: it is computed once per chunk
        by_prompt.setdefault(repr(s.call.messages), []).append(s)
    chunks = [g[i:i + bs] for g in by_prompt.values() for i in range(0, len(g), bs)]
    old: list[torch.Tensor] = []
    ref: list[torch.Tensor | None] = []
    fig: dict[str, Any] = {"calls": len(items), "tokens": 0, "entropy": None, "gap": None, "gap_abs": None,
                           "clipped": [], "tis_weight": [], "kl_ref": [], "grad_norm": []}
    ent_sum = gap_sum = gap_abs = 0.0
    n_tok = n_gap = 0
    for epoch in range(cfg.epochs):
        opt.zero_grad(set_to_none=True)
        with policy.lock:  # no adapter switch between this node's forward and backward passes
            for i, chunk in enumerate(chunks):
                msgs, samples = chunk[0].call.messages, [s.call.sample for s in chunk]
                sc = policy.shared_prompt_logprobs(node, msgs, samples, cfg.temperature, entropy=epoch == 0)
                if epoch == 0:
                    old.append(sc.logprobs.detach())
                    if cfg.kl > 0:
                        with torch.no_grad():
                            ref.append(policy.shared_prompt_logprobs(None, msgs, samples, cfg.temperature).logprobs)
                    else:
                        ref.append(None)
                beh_rows = [s.call.sample.token_logprobs for s in chunk]
                beh = sc.aligned(beh_rows) if all(r is not None for r in beh_rows) else None
                batch = TokenBatch(sc.logprobs, old[i], torch.tensor([s.advantage for s in chunk],
                                                                      device=sc.logprobs.device),
                                   sc.mask, beh, ref[i])
                total, st = loss_fn(batch, clip=cfg.clip, kl=cfg.kl, tis_cap=cfg.tis_cap)
                (total / max(1, n_episodes)).backward()
                m = sc.mask
                if epoch == 0:
                    n_tok += int(m.sum())
                    ent_sum += float((sc.entropy * m).sum())
                    if beh is not None:
                        d = (old[i] - beh)[m]
                        gap_sum += float(d.sum())
                        gap_abs += float(d.abs().sum())
                        n_gap += int(d.numel())
                else:
                    fig["clipped"].append(st["clipped"])
                fig["tis_weight"].append(st["tis_weight"])
                if st["kl_ref"] is not None:
                    fig["kl_ref"].append(st["kl_ref"])
            params = policy.parameters(node)
            norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip if cfg.grad_clip > 0 else float("inf"))
            opt.step()
            opt.zero_grad(set_to_none=True)
        fig["grad_norm"].append(float(norm))
    mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
    fig.update(tokens=n_tok, entropy=ent_sum / n_tok if n_tok else None,
               gap=gap_sum / n_gap if n_gap else None, gap_abs=gap_abs / n_gap if n_gap else None,
               clipped=mean(fig["clipped"]), tis_weight=mean(fig["tis_weight"]), kl_ref=mean(fig["kl_ref"]),
               b_max=policy.b_max(node))
    return fig


# ---- probes: KL to the start -------------------------------------------------------------------------
def probe_kl(policy: AdapterPolicy, probes: list[dict], temperature: float) -> float | None:
    """Mean over the probe replies' tokens of log p_start - log p_now: the replies were sampled from the
    starting policy, so this estimates KL(start || now) per token."""
    if not probes:
        return None
    total = n = 0.0
    with torch.no_grad():
        for p in probes:
            s = Sampled("", True, token_ids=tuple(p["ids"]))
            sc = policy.token_logprobs(p["node"], [(p["messages"], s)], temperature)
            now = sc.logprobs[sc.mask]
            start = torch.tensor(p["start"], dtype=now.dtype)
            total += float((start - now.cpu()).sum())
            n += now.numel()
    return total / n if n else None


async def make_probes(cfg: RLConfig, policy: AdapterPolicy, source: Episodes, network: Topology,
                      train: Sequence[Example]) -> list[dict]:
    if cfg.probes == 0:
        return []
    exs = random.Random(stable_int(cfg.seed, "probes")).sample(list(train), min(cfg.probes, len(train)))
    eps = await source.run(network, [EpisodeRequest(ex, cfg.temperature, cfg.max_tokens,
                                                    stable_int(cfg.seed, "probe", ex.id)) for ex in exs])
    probes = []
    with torch.no_grad():
        for ep in eps:
            for c in ep.calls:
                ids = policy.completion_ids(c.sample)
                if not ids:
                    continue
                sc = policy.token_logprobs(c.node, [(c.messages, Sampled("", True, token_ids=tuple(ids)))],
                                           cfg.temperature)
                probes.append({"node": c.node, "messages": c.messages, "ids": ids,
                               "start": sc.logprobs[sc.mask].cpu().tolist()})
    return probes


# ---- the run -----------------------------------------------------------------------------------------
def _check_same_run(cfg: RLConfig, folder: RunFolder, fixed: dict[str, Any]) -> dict:
    saved = folder.saved()
    if not saved:
        return {}
    if saved.get("trainer") != TRAINER:
        raise CheckpointError(
            f"{folder.path} holds a run of the earlier NeuroMAS REINFORCE loop (no 'trainer': 'rl' in its "
            f"config.json); its best.pt still loads for evaluation (mastune eval --system neuromas), but this "
            f"trainer does not resume it: use a new output folder")
    diffs = cfg.differences(RLConfig.from_dict(saved["config"]))
    for key, now in fixed.items():
        if saved.get(key) not in (None, now):
            diffs.append(f"{key}: run has {saved[key]}, now {now}")
    if diffs:
        raise CheckpointError(f"{folder.path} holds a run with other settings ({'; '.join(diffs)}); "
                              "use a new output folder or the same options")
    return saved


async def train_rl(cfg: RLConfig, train: Sequence[Example], valid: Sequence[Example], out_dir: str | Path, *,
                   policy: AdapterPolicy | None = None, sampler: Sampler | None = None,
                   episodes: Episodes | None = None, reward: RewardFn = task_reward, progress: bool = True,
                   on_step: Callable[[int, dict], None] | None = None) -> RLResult:
    """Train cfg.steps steps into `out_dir` (resuming its state.pt). `sampler`: where node calls are
    sampled (default: transformers generation on the policy; the engine sampler plugs in here);
    `episodes`: an Episodes source instead (e.g. Ray workers). `reward(example, final reply)`."""
    if not train:
        raise ConfigError("RL training needs at least one training question")
    if episodes is not None and sampler is not None:
        raise ConfigError("give a sampler (episodes in this process) or an episodes source, not both")
    folder = RunFolder(out_dir)
    with folder.lock():
        return await _train(cfg, list(train), list(valid), folder, policy, sampler, episodes, reward, progress,
                            on_step)


async def _train(cfg: RLConfig, train: list[Example], valid: list[Example], folder: RunFolder,
                 policy: AdapterPolicy | None, sampler: Sampler | None, episodes: Episodes | None,
                 reward: RewardFn, progress: bool, on_step: Callable[[int, dict], None] | None) -> RLResult:
    out = folder.path
    policy = policy or build_policy(cfg)
    if list(policy.nodes) != node_ids(cfg.layers) or policy.lora.to_dict() != cfg.lora.to_dict():
        raise ConfigError(f"the policy (nodes {policy.nodes}, {policy.lora}) was not built for this config "
                          f"(layers {list(cfg.layers)}, {cfg.lora})")
    if cfg.prompt == "plain":
        if cfg.layers:
            raise ConfigError("the plain prompt is for one model (no hidden layers)")
        source: Episodes = PlainEpisodes(sampler or TransformersSampler(policy), cfg.n_parallel) \
            if episodes is None else episodes
        fp = plain_fingerprint()
    else:
        source = episodes or LocalEpisodes(sampler or TransformersSampler(policy), cfg.n_parallel)
        fp = task_fingerprint([*train, *valid])
    network = layered_network(cfg.layers)
    evalset = valid[:cfg.eval_size]
    bb_hash = backbone_sha256(cfg.backbone_file)
    data = {"train": {"n": len(train), "sha256": ids_sha256(e.id for e in train)},
            "eval": {"n": len(evalset), "sha256": ids_sha256(e.id for e in evalset)}}
    saved = _check_same_run(cfg, folder, {"backbone_sha256": bb_hash, "prompt_fingerprint": fp, "data": data})
    expect = expectations(policy, list(cfg.layers), fp, bb_hash)
    opts = {n: torch.optim.Adam(policy.parameters(n), lr=cfg.lr_at(0)) for n in policy.nodes}
    est_state: dict[str, Any] = {"ema_decay": cfg.ema_decay}
    start, best, n_episodes, elapsed, probes = 0, None, 0, 0.0, None
    growth = saved.get("growth")
    state_path = out / STATE_FILE
    if state_path.is_file():
        adapters, _, blob = load_network(state_path, **expect)
        for n in policy.nodes:
            policy.load_adapter_state(n, adapters[n])
            opts[n].load_state_dict(blob["optimizers"][n])
        est_state, probes = blob["estimator"], blob["probes"]
        start, best, n_episodes, elapsed = blob["step"], blob["best"], blob["episodes"], blob["elapsed_s"]
    elif cfg.grow_from:
        adapters, small, _ = load_network(cfg.grow_from, **{**expect, "layers": None})
        mapping = grow(policy, adapters, small.layers, cfg.layers)
        growth = {"from": str(cfg.grow_from), "from_layers": small.layers, "mapping": mapping,
                  "new_nodes": new_nodes(policy, mapping)}
    await source.sync(policy, start)
    from ..neuromas.engine import portable_backbone

    folder.save_config({**cfg.to_dict(), "backbone": portable_backbone(cfg.backbone)}, trainer=TRAINER,
                       backbone_sha256=bb_hash, prompt_fingerprint=fp, data=data, growth=growth,
                       nodes=policy.nodes, trainable_per_node={n: policy.trainable_count(n) for n in policy.nodes},
                       **runner_fields(saved, source))
    if not (out / START_FILE).is_file() and start == 0:
        # the network before any update: the untrained arm evaluated with the same prompts and budget
        save_network(out / START_FILE, policy, NetworkMeta.of(policy, list(cfg.layers), fp, bb_hash,
                                                              {"step": -1, "growth": growth, "trainer": TRAINER}))
    if probes is None:
        probes = await make_probes(cfg, policy, source, network, train)
    log_path = out / LOG_FILE
    log = [r for r in read_jsonl(log_path) if r.get("step", 1e18) < start]  # lines past the saved state
    write_jsonl(log_path, log)
    scalars = ScalarLog(out / "tb", purge_step=start)
    select = len(evalset) >= SELECT_MIN

    def meta(info: dict) -> NetworkMeta:
        return NetworkMeta.of(policy, list(cfg.layers), fp, bb_hash, {**info, "growth": growth, "trainer": TRAINER})

    try:
        with progress_bar(progress) as bar:
            task = bar.add_task(f"rl {list(cfg.layers) or 'single'}", total=cfg.steps, completed=start, status="")
            for step in range(start, cfg.steps):
                t0 = time.perf_counter()
                lr = cfg.lr_at(step)
                for o in opts.values():
                    for g in o.param_groups:
                        g["lr"] = lr
                eps, rewards, groups, draws = await _sample_step(cfg, train, step, source, network, reward)
                t1 = time.perf_counter()
                adv = get_estimator(cfg.advantage)(rewards, groups, est_state)
                torch.set_num_threads(budget().learner_threads())  # re-read: other processes come and go
                items = node_items(policy, eps, adv)
                nodes = {n: update_node(cfg, policy, n, its, opts[n], len(eps)) if its else {"calls": 0, "tokens": 0}
                         for n, its in items.items()}
                t_sync = time.perf_counter()
                await source.sync(policy, step + 1)
                t2 = time.perf_counter()
                n_episodes += len(eps)
                record = step_record(step, eps, rewards, groups, adv, nodes, draws, lr, t1 - t0, t_sync - t1, policy)
                record["sync_s"] = t2 - t_sync  # serving the new adapters (export, convert, engine reload)
                record["episodes"] = n_episodes
                if probes and (cfg.probe_every and (step + 1) % cfg.probe_every == 0 or step == cfg.steps - 1):
                    record["kl_start"] = sum(probe_kl(policy, [p], cfg.temperature) or 0.0 for p in probes) / len(probes)
                last = step == cfg.steps - 1
                if evalset and ((cfg.eval_every and (step + 1) % cfg.eval_every == 0) or last):
                    te = time.perf_counter()
                    record["eval"], _ = await evaluate(network, source, evalset, reward=reward,
                                                       max_tokens=cfg.eval_max_tokens, concurrency=cfg.n_parallel,
                                                       seed=cfg.seed)
                    record["eval"]["truncated"] = sum(not e.calls[-1].sample.finished for e in _) / len(_)
                    record["eval_s"] = time.perf_counter() - te
                    if select and (best is None or record["eval"]["accuracy"] > best["accuracy"]):
                        best = {**record["eval"], "step": step}
                        save_network(out / BEST_FILE, policy, meta({"step": step, "eval": best}))
                if not select:  # too few items to choose on: ship the last network
                    save_network(out / BEST_FILE, policy, meta({"step": step, "eval": record.get("eval")}))
                dt = time.perf_counter() - t0
                elapsed += dt
                record.update(time_s=dt, episodes_per_hour=len(eps) * 3600 / max(1e-9, t2 - t0),
                              informative_tokens_per_hour=record["informative_tokens"] * 3600 / max(1e-9, dt))
                append_jsonl(log_path, record)
                log.append(record)
                scalars.step(step, record)
                save_network(state_path, policy, meta({"step": step}), extra={
                    "step": step + 1, "optimizers": {n: o.state_dict() for n, o in opts.items()},
                    "estimator": est_state, "probes": probes, "best": best, "episodes": n_episodes,
                    "elapsed_s": elapsed})
                ev = record.get("eval") or {}
                bar.update(task, advance=1, status=f"reward={record['reward'] if record['reward'] is not None else float('nan'):.2f}"
                           f" trunc={record['truncated']:.2f}" + (f" | eval acc={ev['accuracy']:.3f}" if ev else ""))
                if on_step:
                    on_step(step, record)
    finally:
        scalars.close()
    write_curves(log, out / "curves.png")
    return RLResult(policy, network, log, best, out)


async def _sample_step(cfg: RLConfig, train: list[Example], step: int, source: Episodes, network: Topology,
                       reward: RewardFn) -> tuple[list[Episode], list[float | None], list[int], int]:
    """The step's episodes, their (masked) rewards and group ids; redraws while too few groups inform."""
    eps: list[Episode] = []
    rewards: list[float | None] = []
    groups: list[int] = []
    used: set[str] = set()
    want = cfg.questions_per_step
    round_ = 0
    while True:
        batch = draw(cfg, train, step, round_, want, used)
        if not batch:
            break
        used |= {ex.id for ex in batch}
        base = len(used) - len(batch)
        jobs = [(base + q, ex, g) for q, ex in enumerate(batch) for g in range(cfg.group_size)]
        got = await source.run(network, [EpisodeRequest(ex, cfg.temperature, cfg.max_tokens,
                                                        stable_int(cfg.seed, step, round_, ex.id, g))
                                         for _, ex, g in jobs])
        for ep, (q, ex, _) in zip(got, jobs):
            ep.group, ep.reward = q, await score(reward, ex, ep.answer)
            eps.append(ep)
            rewards.append(masked_reward(cfg, ep))
            groups.append(q)
        round_ += 1
        informative = len(informative_groups(rewards, groups))
        if not cfg.dynamic or round_ > cfg.max_redraws or informative * 2 >= cfg.questions_per_step:
            break
        want = cfg.questions_per_step - informative
    return eps, rewards, groups, round_


def step_record(step: int, eps: list[Episode], rewards: list[float | None], groups: list[int], adv: list[float],
                nodes: dict[str, dict], draws: int, lr: float, sample_s: float, learn_s: float,
                policy: AdapterPolicy) -> dict[str, Any]:
    """One log line: what was sampled, what carried gradient, how sampler and learner agreed, speed."""
    seen = [r for r in rewards if r is not None]
    comp = [sum(c.sample.completion_tokens for c in e.calls) for e in eps]
    informative = sum(t for t, a in zip(comp, adv) if a != 0)
    beh = [lp for e in eps for c in e.calls if c.sample.token_logprobs for lp in c.sample.token_logprobs]
    scored = sum(n.get("tokens", 0) for n in nodes.values())
    # replies whose text, tokenised again, gives other ids than the sampler drew: why the learner
    # scores the sampler's own ids
    retok = [e.calls[-1].sample for e in eps if e.calls[-1].sample.token_ids]
    mismatch = sum(1 for s in retok if _retokenised(policy, s) != list(s.token_ids)) if retok else None
    gaps = [(n["gap"], n["gap_abs"], n["tokens"]) for n in nodes.values() if n.get("gap") is not None]
    gt = sum(t for *_, t in gaps)
    return {
        "step": step, "n": len(eps), "draws": draws, "lr": lr,
        "reward": sum(seen) / len(seen) if seen else None,
        "accuracy": sum(e.reward == 1.0 for e in eps) / len(eps),
        "truncated": sum(bool(e.info.get("truncated")) for e in eps) / len(eps),
        "groups": len(set(groups)), "informative_groups": len(informative_groups(rewards, groups)),
        "completion_tokens": sum(comp), "informative_tokens": informative,
        "informative_share": informative / sum(comp) if sum(comp) else 0.0,
        "reply_tokens_mean": sum(comp) / len(comp),
        "sampler_entropy": -sum(beh) / len(beh) if beh else None,  # mean -log p of sampled tokens
        "learner_entropy": (sum(n["entropy"] * n["tokens"] for n in nodes.values() if n.get("entropy") is not None)
                            / scored) if scored else None,
        "logprob_gap": sum(g * t for g, _, t in gaps) / gt if gt else None,  # learner - sampler, per token
        "logprob_gap_abs": sum(a * t for _, a, t in gaps) / gt if gt else None,
        "retokenise_mismatch": mismatch / len(retok) if retok else None,
        "scored_tokens": scored, "nodes": nodes,
        "sample_s": sample_s, "learn_s": learn_s,
        "sample_tok_s": sum(comp) / sample_s if sample_s else None,
        "learn_tok_s": scored / learn_s if learn_s else None,
    }


def _retokenised(policy: AdapterPolicy, s: Sampled) -> list[int]:
    ids = list(policy.tokenizer(s.text, add_special_tokens=False)["input_ids"])
    return ids + [s.token_ids[-1]] if s.finished and s.token_ids else ids


def write_curves(log: list[dict], path: Path) -> None:
    """Reward, accuracy, truncation and entropy by step, evaluation accuracy at its steps."""
    if not log:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [r["step"] for r in log]
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    for key in ("reward", "accuracy", "truncated", "informative_share"):
        axes[0].plot(steps, [r.get(key) if r.get(key) is not None else math.nan for r in log], label=key)
    axes[0].set_title("training batch")
    axes[0].legend(fontsize=7)
    ev = [(r["step"], r["eval"]["accuracy"]) for r in log if r.get("eval")]
    if ev:
        axes[1].plot(*zip(*ev), marker="o")
    axes[1].set_title("greedy evaluation accuracy")
    for key in ("sampler_entropy", "kl_start"):
        pts = [(r["step"], r[key]) for r in log if r.get(key) is not None]
        if pts:
            axes[2].plot(*zip(*pts), label=key)
    axes[2].set_title("entropy / KL to start (per token)")
    if axes[2].lines:
        axes[2].legend(fontsize=7)
    for a in axes:
        a.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def load_config(out_dir: str | Path) -> RLConfig:
    saved = RunFolder(out_dir).saved()
    if saved.get("trainer") != TRAINER:
        raise ConfigError(f"{out_dir} holds no RL training run")
    return RLConfig.from_dict(saved["config"])


def summary(out_dir: str | Path) -> dict[str, Any]:
    """The run's last step and best evaluation, read from its folder (no model loaded)."""
    log = read_jsonl(Path(out_dir) / LOG_FILE)
    return {"steps": len(log), "last": log[-1] if log else None,
            "evals": [{"step": r["step"], **r["eval"]} for r in log if r.get("eval")]}
