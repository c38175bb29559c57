"""`mastune train hieramas`: stage 1 (LLM selector) and stage 2 (graph classifier), the `hieramas` optimiser.

    mastune train hieramas --task gsm8k --pool POOL.yaml --out ckpt/DIR [--stage 1|2|all]
        [--train-size N] [--iterations I] [--batch-size B] [--seed S] [--stage2-size N]
        [--lr LR] [--steps-per-batch K] [--baseline mean|ema|none] [--temp-start T0] [--temp-end T1]
        [--entropy-weight BETA] [--roles "Critic,Doctor,..."] [--node-reward-weight ALPHA]

The release's budget (12 iterations x 4 queries, one Adam step each at lr 2e-3,
temperature 10 -> 0.8) leaves the selector at its initial near-uniform policy
(benchmarks/RESULTS.md); the defaults here (lr 1e-2, 4 clipped steps per batch,
a leave-one-out baseline, temperature 2 -> 0.8) move it within a few hundred
episodes. The command prints episodes/hour and the entropy against ln(options).

Re-running the same command resumes a killed run (stage 1 from its last
iteration, stage 2 from its last labelled query); other settings in the same
--out folder are refused.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from ..errors import ConfigError, MastuneError
from ..llm.pool import Pool
from ..tasks.datasets import get_task
from .common import cli_settings, console, err_console
from .runner_opts import RAY_ADDRESS, RUNNER, WORKERS



def load_pool(spec: Optional[Path]):
    return Pool.load(spec)


def load_split(task: str, path: Optional[Path], split: str, seed: int, n: Optional[int], sample: bool) -> list:
    """The first n items of the seeded split, or (sample) a seeded random n of it in dataset order."""
    if sample and n is not None:
        from ..tasks.selection import select_examples

        return select_examples(task, path=path, split=split, seed=seed, sample=n).examples
    return get_task(task, path=path, split=split, seed=seed, limit=n).examples


def hieramas(
    task: str = typer.Option("gsm8k", "--task", "-t", help="benchmark to train on (its seeded train split)"),
    pool: Optional[Path] = typer.Option(None, "--pool", help="pool config YAML (default: built-in local pool)"),
    out: Path = typer.Option(..., "--out", "-o", help="run folder for checkpoints and logs (re-run to resume)"),
    stage: str = typer.Option("all", "--stage", help="1 (selector), 2 (graph classifier) or all"),
    train_size: Optional[int] = typer.Option(None, "--train-size", help="first N items of the train split"),
    val_size: int = typer.Option(20, "--val-size", help="first N items of the valid split (stage-1 model selection)"),
    sample: bool = typer.Option(False, "--sample", help="--train-size/--val-size take a seeded random N of the split "
                                                        "instead of the first N (MMLU-Redux is sorted by subject)"),
    iterations: int = typer.Option(12, "--iterations", help="stage-1 REINFORCE iterations"),
    val_every: int = typer.Option(2, "--val-every", min=1, help="validate (argmax) every N iterations"),
    roles: Optional[str] = typer.Option(None, "--roles", help="comma-separated roles of the task family to use as "
                                                              "supernodes (default: all of them)"),
    proposers: int = typer.Option(2, "--proposers", min=1, help="proposer slots per supernode"),
    batch_size: int = typer.Option(4, "--batch-size", help="queries per iteration"),
    seed: int = typer.Option(0, "--seed", help="training seed (selector init, batches, DAGs, sampling)"),
    split_seed: int = typer.Option(0, "--split-seed", help="seed of the dataset's train/valid/test split"),
    node_reward_weight: float = typer.Option(0.5, "--node-reward-weight",
                                             help="alpha: weight of node-level rewards (0 = final reward only)"),
    k_dags: int = typer.Option(5, "--k-dags", help="stage 2: random DAGs run per training query"),
    stage2_size: Optional[int] = typer.Option(None, "--stage2-size", min=1,
                                              help="stage 2: label DAGs for the first N training queries "
                                                   "(default: all; each costs --k-dags system runs)"),
    max_tokens: int = typer.Option(384, "--max-tokens", help="per-call completion limit"),
    decision_model: Optional[str] = typer.Option(None, "--decision-model", help="the fixed decision LLM"),
    prompt_layout: str = typer.Option("text", "--prompt-layout", help="text, or transcript (a successor continues a "
                                                                      "predecessor's conversation: KV-cache reuse)"),
    skip: bool = typer.Option(True, "--skip/--no-skip", help="let the selector skip slots and whole supernodes"),
    embedder: str = typer.Option("minilm", "--embedder", help="minilm (all-MiniLM-L6-v2) or hash-DIM"),
    lr: float = typer.Option(1e-2, "--lr", help="selector learning rate (Adam)"),
    steps_per_batch: int = typer.Option(4, "--steps-per-batch", help="optimiser steps per batch of episodes "
                                                                      "(REINFORCE, then a clipped surrogate)"),
    baseline: str = typer.Option("mean", "--baseline", help="reward baseline: mean (leave-one-out per role), "
                                                            "ema, or none (the release)"),
    test_fraction: float = typer.Option(0.0, "--test-fraction", help="stage 2: queries held out of training and "
                                                                     "early stopping, for the per-query AUC report"),
    temp_start: float = typer.Option(2.0, "--temp-start",
                                     help="stage-1 sampling temperature at the first iteration (cosine schedule)"),
    temp_end: float = typer.Option(0.8, "--temp-end", help="... and at the last"),
    entropy_weight: float = typer.Option(0.1, "--entropy-weight", help="entropy bonus in the REINFORCE loss"),
    concurrency: int = typer.Option(4, "--concurrency", "-c", help="queries run at once"),
    data_path: Optional[Path] = typer.Option(None, "--data-path", help="local data file for the task"),
    no_cache: bool = typer.Option(False, "--no-cache", help="bypass the on-disk call cache"),
    verbose: bool = typer.Option(False, "--verbose", help="show llama.cpp logs"),
    runner_kind: str = RUNNER,
    ray_address: Optional[str] = RAY_ADDRESS,
    workers: Optional[int] = WORKERS,
) -> None:
    """Train HieraMAS (learned LLM mixtures + learned topology) on a task's train split."""
    from ..optim import get_optimiser
    from ..optim.hieramas import ClassifierConfig, RewardConfig, RuntimeOptions, SelectorConfig, TrainConfig
    from ..optim.hieramas.analysis import format_spread, format_stage1, stage1_summary
    from ..optim.hieramas.optimiser import STAGES, student_spec
    from ..rollout.choose import open_runner

    try:
        if stage not in STAGES:
            raise ConfigError(f"--stage must be one of {', '.join(STAGES)}, got {stage!r}")
        cfg = TrainConfig(
            task=task, seed=seed, split_seed=split_seed, train_size=train_size, val_size=val_size, sample=sample,
            embedder=embedder,
            roles=[r.strip() for r in roles.split(",") if r.strip()] if roles else None, proposers=proposers,
            iterations=iterations, batch_size=batch_size, lr=lr, steps_per_batch=steps_per_batch, baseline=baseline,
            temp_start=temp_start, temp_end=temp_end, val_every=val_every,
            entropy_beta=entropy_weight, concurrency=concurrency, k_dags=k_dags,
            classifier=ClassifierConfig(test_fraction=test_fraction),
            runtime=RuntimeOptions(decision_model=decision_model, max_tokens=max_tokens, prompt_layout=prompt_layout),
            reward=RewardConfig(alpha=node_reward_weight), selector=SelectorConfig(allow_skip=skip),
        )
        the_pool = load_pool(pool)
        train, val = load_split(task, data_path, "train", split_seed, train_size, sample), []
        if val_size:
            val = load_split(task, data_path, "valid", split_seed, val_size, sample)
        opt = get_optimiser("hieramas")(cfg, stage=stage, stage2_size=stage2_size)
        with open_runner(runner_kind, the_pool, concurrency=concurrency, address=ray_address,
                         workers=workers) as runner, cli_settings(cache=not no_cache, verbose=verbose):
            opt.runner = runner  # episodes on the chosen runner; the learner stays in this process
            asyncio.run(opt.compile(student_spec(cfg.runtime), the_pool, train, val, out))
            if opt.stage1 is not None:
                s1 = opt.stage1
                console.print(f"stage 1: {len(s1.log)} iterations; best validation {json.dumps(s1.best)} "
                              f"-> {out / 'selector.pt'}")
                console.print(escape(format_stage1(stage1_summary(s1.log))))
            if opt.stage2 is not None:
                r = opt.stage2.report
                console.print(f"stage 2: {r['n_graphs']} graphs from {r['n_queries']} queries ({r['n_positive']} "
                              f"positive); best validation {r['metric']} = {r['best_metric']} "
                              f"-> {out / 'classifier.pt'}")
                h = r["heldout"]
                console.print(escape(f"held-out ({h['split']}): {h['queries']} queries, {h['queries_with_auc']} with "
                                     f"both labels; " + format_spread("per-query ROC-AUC", h["query_auc"])))
                if not r["n_positive"]:
                    err_console.print("[yellow]warning:[/] no DAG earned a positive label (no labelled run solved its "
                                      "query), so the classifier learned nothing useful; use more training queries "
                                      "(--train-size) or run the system with --no-graph-classifier")
    except MastuneError as e:
        err_console.print(f"[red]error:[/] {escape(str(e))}")  # an install hint like mastune[ray] is not markup
        raise typer.Exit(1)
    except ValueError as e:  # e.g. an empty split: say what, not a traceback
        err_console.print(f"[red]error:[/] {e}")
        raise typer.Exit(1)
