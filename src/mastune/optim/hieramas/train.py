"""Stage 1 (the LLM selector, REINFORCE) and stage 2 (the graph classifier).

Layout of a run directory:
    config.json            the TrainConfig, pool models, git commits, runners (local | ray, workers)
    selector.pt            best-on-validation selector (versioned checkpoint)
    classifier.pt          graph classifier (versioned checkpoint)
    stage1/log.jsonl       one line per iteration: reward, accuracy, cost, entropy, validation
    stage1/state.pt        everything needed to resume after a kill (saved every iteration)
    stage2/labels.jsonl    one line per training query: its K DAGs, rewards, labels (resumable)
    stage2/log.jsonl       classifier epochs;  stage2/report.json  its summary
"""
from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from ...agents.runtime import PoolLike
from ...graph.generators import random_dag_pool
from ...graph.topology import SKIP
from ...rollout import LocalRunner
from ...rollout.record import runner_fields
from ...tasks.base import Example
from ..progress import progress_bar
from ..runfolder import RunFolder, git_commit
from ..seeds import stable_int
from .checkpoint import CLASSIFIER_FILE, SELECTOR_FILE, save_checkpoint
from .config import TrainConfig
from .embed import Embedder
from .episode import Episode, Plan, episode_rewards, run_episodes
from .policy import Choice, Policy
from .reinforce import Baseline, EpisodeTerms, clipped_policy_loss, cosine_temperature
from .rewards import effective_rewards
from .selector import LLMSelector, counted_slots, entropy, log_prob
from .setup import Setup

__all__ = ["CLASSIFIER_FILE", "SELECTOR_FILE", "Stage1Result", "Stage2Result", "train_stage1", "train_stage2"]


# ---- stage 1 -------------------------------------------------------------------------

@dataclass
class Stage1Result:
    selector: LLMSelector
    log: list[dict]
    best: dict | None  # validation metrics of the saved selector


def episode_terms(setup: Setup, choice: Choice, ep: Episode, temperature: float) -> tuple[EpisodeTerms, dict]:
    cfg = setup.cfg
    node_r, r_final = episode_rewards(ep, setup.roles, cfg.reward, setup.cost_ref)
    eff = effective_rewards(node_r, r_final, cfg.reward.alpha)
    mask = counted_slots(choice.picks, len(setup.pool_info.names))
    terms = EpisodeTerms(
        log_prob(choice.logits, choice.picks, temperature, mask),
        torch.tensor(eff, dtype=torch.float32),
        entropy(choice.logits, temperature),
    )
    node_rs = [r for r in node_r if r is not None]
    stats = {"reward": r_final, "node_reward": sum(node_rs) / len(node_rs) if node_rs else None,
             "correct": float(ep.correct), "cost": ep.cost, "calls": ep.calls}
    return terms, stats


def update(cfg: TrainConfig, setup: Setup, policy: Policy, opt: torch.optim.Optimizer, baseline: Baseline,
           rows_emb: torch.Tensor, choices: list[Choice], terms: list[EpisodeTerms], temp: float) -> tuple[list[float], float]:
    """`cfg.steps_per_batch` optimiser steps on one batch of episodes: the first is REINFORCE
    (with the baseline), later ones the clipped surrogate on logits recomputed from the same rows.
    Returns the loss of every step and the sampling entropy the episodes were drawn with."""
    n_models = len(setup.pool_info.names)
    masks = [counted_slots(c.picks, n_models) for c in choices]
    adv = baseline.advantages(torch.stack([t.rewards for t in terms]))
    old = torch.stack([t.log_probs for t in terms]).detach()
    entropy_before = torch.stack([t.entropy for t in terms]).mean().item()
    losses = []
    for step in range(cfg.steps_per_batch):
        if step == 0:
            lp, ent = torch.stack([t.log_probs for t in terms]), torch.stack([t.entropy for t in terms])
        else:
            lgs = policy.logits_of(rows_emb)
            lp = torch.stack([log_prob(lg, c.picks, temp, m) for lg, c, m in zip(lgs, choices, masks)])
            ent = torch.stack([entropy(lg, temp) for lg in lgs])
        loss = clipped_policy_loss(lp, old, adv, ent, cfg.entropy_beta, cfg.clip)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(policy.selector.parameters(), cfg.grad_clip)
        opt.step()
        losses.append(loss.item())
    return losses, entropy_before


@torch.no_grad()
def policy_snapshot(policy: Policy, rows_emb: torch.Tensor, temp: float) -> dict[str, Any]:
    """After the update, on this batch's queries: the sampling entropy at T and at 1, and per role the
    softmax over the columns (models, skip) averaged over slots and queries: the paper's Figure 4
    (normalised logits per role x model)."""
    lgs = torch.stack(policy.logits_of(rows_emb))  # [Q, R, S, M+1]
    probs = torch.softmax(lgs, -1).mean(dim=(0, 2))  # [R, M+1]
    columns = [*policy.pool.names, SKIP]
    return {"entropy_after": torch.stack([entropy(lg, temp) for lg in lgs]).mean().item(),
            "entropy_t1": torch.stack([entropy(lg, 1.0) for lg in lgs]).mean().item(),
            "prefs": {r.name: {c: round(float(p), 5) for c, p in zip(columns, row)}
                      for r, row in zip(policy.roles, probs)}}


def _mean(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if r.get(key) is not None]
    return sum(vals) / len(vals) if vals else None


async def validate(setup: Setup, policy: Policy, runner: LocalRunner, val: Sequence[Example],
                   dags: list[list[tuple[int, int]]], version: int | None = None) -> dict:
    """Greedy (argmax) selection; each validation query always gets the same DAG."""
    cfg = setup.cfg
    if not val:
        return {}
    with torch.no_grad():
        policy.selector.eval()
        logits = policy.logits([ex.question for ex in val])
        choices = [policy.choose(lg) for lg in logits]
    plans = [Plan(cfg.family, setup.roles, dags[stable_int(cfg.seed, ex.id) % len(dags)], policy.assignments(c))
             for ex, c in zip(val, choices)]
    eps = await run_episodes(runner, list(zip(plans, val)), cfg.runtime, cfg.proposers, version)
    rows = [episode_terms(setup, c, ep, 1.0)[1] for c, ep in zip(choices, eps)]
    return {"reward": _mean(rows, "reward"), "accuracy": _mean(rows, "correct"), "cost": _mean(rows, "cost"),
            "calls": _mean(rows, "calls"), "n": len(rows)}


def val_rank(val: dict) -> tuple[float, float]:
    """How validation results are compared to keep the best selector: reward, then accuracy."""
    return val["reward"], val["accuracy"]


def _better(new: dict, old: dict | None) -> bool:
    if not new:
        return False
    return old is None or val_rank(new) > val_rank(old)


async def train_stage1(
    cfg: TrainConfig,
    pool: PoolLike,
    train: Sequence[Example],
    val: Sequence[Example],
    out_dir: str | Path,
    *,
    embedder: Embedder | None = None,
    progress: bool = True,
    on_iteration: Callable[[int, dict], None] | None = None,
    runner: Any = None,
) -> Stage1Result:
    """Train the selector; resumes from out_dir/stage1/state.pt when present. Episodes run on `runner`
    (default: a LocalRunner on `pool`; a RayRunner fans them out, the learner stays here)."""
    if not train:
        raise ValueError("stage 1 needs at least one training query")
    with RunFolder(out_dir).lock():
        return await _stage1(cfg, pool, train, val, Path(out_dir), embedder, progress, on_iteration, runner)


async def _stage1(cfg: TrainConfig, pool: PoolLike, train: Sequence[Example], val: Sequence[Example], out: Path,
                  embedder: Embedder | None, progress: bool,
                  on_iteration: Callable[[int, dict], None] | None, runner: Any = None) -> Stage1Result:
    setup = Setup.make(cfg, pool, embedder)
    setup.check_same_run(out)
    run = RunFolder(out)
    runner = runner or LocalRunner(pool, cfg.concurrency)
    cfg.save(out, pool_models=list(setup.pool_info.names), git_commits=run.commits(git_commit()),
             cost_ref=setup.cost_ref, embedding_model=setup.embedder.name,
             **runner_fields(run.saved(), runner))
    log_file, state_name = run.log("stage1/log.jsonl"), "stage1/state.pt"

    selector = setup.new_selector()
    opt = torch.optim.Adam(selector.parameters(), lr=cfg.lr)
    policy = Policy(selector, setup.embedder, setup.pool_info, setup.roles)
    dags = random_dag_pool(len(setup.roles), cfg.n_dags, cfg.density, seed=cfg.seed)
    rng = random.Random(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    baseline = Baseline(cfg.baseline, cfg.baseline_decay)
    start, best = 0, None
    st = run.load_state(state_name)
    if st is not None:
        selector.load_state_dict(st["selector"])
        opt.load_state_dict(st["optimizer"])
        rng.setstate(st["python_rng"])
        gen.set_state(st["torch_rng"])
        start, best = st["iteration"], st["best"]
        baseline.values = st.get("baseline")
    # drop log lines of iterations whose state was never saved (killed in between)
    log = [r for r in log_file.records() if r.get("iteration", 1e18) < start]
    log_file.rewrite(log)

    with progress_bar(progress) as bar:
        task = bar.add_task("stage 1: selector", total=cfg.iterations, completed=start, status="")
        for it in range(start, cfg.iterations):
            t0 = time.perf_counter()
            temp = cosine_temperature(it, cfg.iterations, cfg.temp_start, cfg.temp_end)
            batch = rng.sample(list(train), min(cfg.batch_size, len(train)))
            dag_ids = [rng.randrange(len(dags)) for _ in batch]
            selector.train()
            rows_emb = policy.rows([ex.question for ex in batch])
            choices = [policy.choose(lg, temp, gen) for lg in policy.logits_of(rows_emb)]
            plans = [Plan(cfg.family, setup.roles, dags[d], policy.assignments(c)) for d, c in zip(dag_ids, choices)]
            # rollout id per query: repeats of the same (query, prompt, model) across iterations hit the cache
            t_run = time.perf_counter()
            eps = await run_episodes(runner, list(zip(plans, batch)), cfg.runtime, cfg.proposers, version=it)
            t_run = time.perf_counter() - t_run
            pairs = [episode_terms(setup, c, ep, temp) for c, ep in zip(choices, eps)]
            losses, entropy_before = update(cfg, setup, policy, opt, baseline, rows_emb, choices,
                                            [t for t, _ in pairs], temp)

            rows = [s for _, s in pairs]
            record: dict[str, Any] = {
                "iteration": it, "temperature": temp, "loss": losses[0], "losses": losses,
                "reward": _mean(rows, "reward"), "node_reward": _mean(rows, "node_reward"),
                "accuracy": _mean(rows, "correct"), "cost": _mean(rows, "cost"), "calls": _mean(rows, "calls"),
                # entropy of the sampling distribution (at T) before and after this batch's update, against
                # the uniform policy's ln(options): the policy has moved when it falls clearly below
                "entropy": entropy_before, "entropy_uniform": math.log(policy.n_options),
                **policy_snapshot(policy, rows_emb, temp),
                "episodes": len(batch), "episodes_s": t_run,
                "queries": [ex.id for ex in batch], "val": None,
            }
            last = it == cfg.iterations - 1
            if val and ((it + 1) % cfg.val_every == 0 or last):
                t_val = time.perf_counter()
                record["val"] = await validate(setup, policy, runner, val, dags, version=it)
                record["val_s"] = time.perf_counter() - t_val
                if _better(record["val"], best):
                    best = record["val"]
                    save_checkpoint(out / SELECTOR_FILE, selector.state_dict(),
                                    setup.meta("selector", {"selector": cfg.selector.to_dict()},
                                               {"iteration": it, "val": best}))
            elif not val:
                save_checkpoint(out / SELECTOR_FILE, selector.state_dict(),
                                setup.meta("selector", {"selector": cfg.selector.to_dict()}, {"iteration": it}))
            record["time_s"] = time.perf_counter() - t0
            log_file.append(record)
            log.append(record)
            run.save_state(state_name, {"iteration": it + 1, "selector": selector.state_dict(),
                                        "optimizer": opt.state_dict(), "python_rng": rng.getstate(),
                                        "torch_rng": gen.get_state(), "best": best, "baseline": baseline.values})
            v = record["val"] or {}
            bar.update(task, advance=1, status=f"T={temp:.2f} reward={record['reward']:+.3f} acc={record['accuracy']:.2f} "
                       f"H={record['entropy_after']:.2f}/{record['entropy_uniform']:.2f}"
                       + (f" | val reward={v['reward']:+.3f} acc={v['accuracy']:.2f}" if v else ""))
            if on_iteration:
                on_iteration(it, record)
    return Stage1Result(setup.load_selector(out / SELECTOR_FILE), log, best)


# ---- stage 2 -------------------------------------------------------------------------

@dataclass
class Stage2Result:
    classifier: Any
    report: dict
    n_labelled: int


async def train_stage2(
    cfg: TrainConfig,
    pool: PoolLike,
    train: Sequence[Example],
    out_dir: str | Path,
    *,
    embedder: Embedder | None = None,
    progress: bool = True,
    runner: Any = None,
) -> Stage2Result:
    """Label random DAGs with the frozen stage-1 selector, then fit the graph classifier."""
    with RunFolder(out_dir).lock():
        return await _stage2(cfg, pool, train, Path(out_dir), embedder, progress, runner)


async def _stage2(cfg: TrainConfig, pool: PoolLike, train: Sequence[Example], out: Path,
                  embedder: Embedder | None, progress: bool, runner: Any = None) -> Stage2Result:
    from .analysis import group_aucs, spread
    from .classifier import GraphClassifier, score, split_by_query, train_classifier
    from .data import check_labels_source, generate_labels, load_samples
    from .features import query_text, role_text

    setup = Setup.make(cfg, pool, embedder)
    setup.check_same_run(out)
    # Loading checks the checkpoint against this pool/task/embedder: stage 2 never runs an untrained selector.
    selector = setup.load_selector(out / SELECTOR_FILE)
    policy = Policy(selector, setup.embedder, setup.pool_info, setup.roles)
    labels_path = out / "stage2" / "labels.jsonl"
    check_labels_source(labels_path, out / SELECTOR_FILE)
    runner = runner or LocalRunner(pool, cfg.concurrency)
    RunFolder(out).note_runner(runner)  # stage 2's label episodes may run elsewhere than stage 1's
    with progress_bar(progress) as bar:
        await generate_labels(setup, policy, runner, train, labels_path, bar)
    samples = load_samples(labels_path)
    if not samples:
        raise ValueError("stage 2 has nothing to learn: for every training query the selector keeps fewer than "
                         "2 supernodes, so there is no topology to choose; use the system with "
                         "graph_classifier=False (--no-graph-classifier)")
    queries = {ex.id: ex.question for ex in train}
    qids = sorted({s.query for s in samples})
    qemb = dict(zip(qids, setup.embedder.embed([query_text(queries[q]) for q in qids])))
    role_init = setup.embedder.embed([role_text(r) for r in setup.roles])
    torch.manual_seed(cfg.seed)
    model = GraphClassifier(role_init, int(setup.embedder.dim), cfg.classifier.hidden, cfg.classifier.dropout)
    epochs = RunFolder(out).log("stage2/log.jsonl")
    epochs.rewrite([])
    fit, test = (split_by_query(samples, cfg.classifier.test_fraction, cfg.seed + 1)
                 if cfg.classifier.test_fraction > 0 else (samples, []))
    report = train_classifier(model, fit, qemb, cfg.classifier, seed=cfg.seed, on_epoch=epochs.append)
    summary = {k: v for k, v in asdict(report).items() if k != "history"}
    # per-query ROC-AUC with its spread, on queries the classifier never saw (else on the validation queries)
    held, where = (test, "test") if test else (split_by_query(fit, cfg.classifier.val_fraction, cfg.seed)[1],
                                               "validation (also used for early stopping)")
    aucs = group_aucs([s.query for s in held], [s.label for s in held], score(model, held, qemb).tolist()) if held else {}
    summary["heldout"] = {"split": where, "queries": len({s.query for s in held}), "graphs": len(held),
                          "queries_with_auc": len(aucs), "query_auc": spread(list(aucs.values()))}
    summary["n_positive"] = sum(s.label > 0.5 for s in samples)
    summary["n_graphs"] = len(samples)
    summary["n_queries"] = len(qids)
    (out / "stage2" / "report.json").write_text(json.dumps(summary, indent=2))
    save_checkpoint(out / CLASSIFIER_FILE, model.state_dict(),
                    setup.meta("classifier", {"classifier": cfg.classifier.to_dict(),
                                              "role_dim": int(role_init.shape[1])}, summary))
    return Stage2Result(model, summary, len(samples))
