"""`mastune train neuromas`: REINFORCE over a layered network, one LoRA adapter per node (the `neuromas` optimiser).

    mastune train neuromas --task navigate --backbone smollm2-135m --layers 1,1 --out ckpt/n3
        [--grow-from ckpt/n3-small] [--episodes N | --steps S] [--rank R] [--lr LR] [--single-llm]
        [--runner ray [--ray-address ADDR] [--workers N]]

--backbone: a pool model name (its GGUF, pulled if needed: rollouts then run on the
embedded engine with per-node GGUF adapters), a .gguf file, or an HF folder
(transformers sampling only). --layers 1,1 = NeuroMAS-3, 2,2 = NeuroMAS-5, 2,2,2 =
NeuroMAS-7. --single-llm trains the single-LLM-RL baseline instead: one node whose one
adapter has as many trainable parameters as the --layers network (rank x calls).
--runner ray samples the episodes on Ray workers (each with its own engine; --concurrency
is then the episodes in flight per worker); the learner stays in this process.
Re-running the same command resumes a killed run; other settings in the same --out
folder are refused.
"""
from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any, Optional

import typer

from ..errors import ConfigError, MastuneError
from rich.markup import escape

from ..redact import redact
from .common import cli_settings, console, err_console
from .runner_opts import RAY_ADDRESS, RUNNER, WORKERS


def neuromas_config(*, task: str, backbone: str, layers: str, grow_from: Optional[str], episodes: Optional[int],
                    steps: Optional[int], rank: int, alpha: Optional[float], targets: str, lr: float,
                    questions_per_step: int, group_size: int, baseline: str, temperature: float, max_tokens: int,
                    eval_max_tokens: int, train_size: Optional[int], val_size: int, val_every: int, seed: int,
                    split_seed: int, concurrency: int, device: str, single_llm: bool) -> Any:
    """The flags as a NeuroMASConfig (the backbone pulled; a pool model recorded by name)."""
    from ..optim.neuromas import NeuroMASConfig, single_llm_config
    from ..optim.neuromas.engine import portable_backbone, resolve_backbone

    if episodes is not None and steps is not None:
        raise ConfigError("give --episodes (a total budget) or --steps, not both")
    if single_llm and grow_from:
        raise ConfigError("--single-llm trains one node from scratch; it cannot --grow-from a network")
    if grow_from and Path(grow_from).is_dir():  # a run folder: its best-on-validation network
        grow_from = str(Path(grow_from) / "best.pt")
    per_step = questions_per_step * group_size
    if episodes is not None:
        if episodes < 1:
            raise ConfigError(f"--episodes must be at least 1, got {episodes}")
        steps = math.ceil(episodes / per_step)
    cfg = NeuroMASConfig(
        backbone=portable_backbone(resolve_backbone(backbone)), task=task, split_seed=split_seed, train_size=train_size,
        val_size=val_size, layers=layers, rank=rank, alpha=alpha,
        target_modules=tuple(t.strip() for t in targets.split(",") if t.strip()), grow_from=grow_from, seed=seed,
        steps=steps if steps is not None else 10, questions_per_step=questions_per_step, group_size=group_size,
        baseline=baseline, lr=lr, temperature=temperature, max_tokens=max_tokens, eval_max_tokens=eval_max_tokens,
        val_every=val_every, concurrency=concurrency, device=device)
    return single_llm_config(cfg) if single_llm else cfg


def check_run_folder(cfg: Any, out: Path) -> str | None:
    """Refuse an --out folder that holds a run with other settings; a message if it already finished.

    Only what config.json and state.pt say; the trainer checks the rest (backbone hash, data) later."""
    from ..optim.checkpoint import CheckpointError
    from ..optim.neuromas.config import CONFIG_FILE, NeuroMASConfig

    if not (out / CONFIG_FILE).is_file():
        return None
    try:
        saved = NeuroMASConfig.load(out)
    except (ConfigError, ValueError, TypeError, KeyError):
        raise ConfigError(f"{out} holds something other than a NeuroMAS run ({CONFIG_FILE} is not a NeuroMAS "
                          "config); use a new --out folder") from None
    diffs = cfg.differences(saved)
    if diffs:
        raise ConfigError(f"{out} holds a run with other settings ({'; '.join(diffs)}); "
                          "use a new --out folder or the same options")
    try:
        from ..optim.neuromas.checkpoint import read_network
        from ..optim.neuromas.train import STATE_FILE

        state = read_network(out / STATE_FILE) if (out / STATE_FILE).is_file() else {}
    except (CheckpointError, ImportError):  # unreadable: the trainer says what is wrong with it
        return None
    done = state.get("step")
    if isinstance(done, int) and done >= cfg.steps:
        return (f"{out} already holds a finished run: {done} of {cfg.steps} steps, {state.get('episodes', '?')} "
                f"episodes, best validation {json.dumps(state.get('best'))} -> {out / 'best.pt'}; nothing to "
                "train (raise --steps or --episodes to train on)")
    return None


def neuromas(
    task: str = typer.Option("navigate", "--task", "-t", help="task to train on (its seeded train/valid split)"),
    backbone: str = typer.Option(..., "--backbone", "-b", help="pool model name (e.g. smollm2-135m), .gguf file or HF folder"),
    layers: str = typer.Option("1,1", "--layers", help="hidden widths: 1,1 = NeuroMAS-3, 2,2 = -5, 2,2,2 = -7"),
    out: Path = typer.Option(..., "--out", "-o", help="run folder (re-run the same command to resume)"),
    grow_from: Optional[Path] = typer.Option(None, "--grow-from", help="a smaller trained network (run folder or "
                                             "best.pt): its adapters seed the matching nodes, new ones start at B = 0"),
    episodes: Optional[int] = typer.Option(None, "--episodes", help="episode budget (steps = ceil(N / episodes per step))"),
    steps: Optional[int] = typer.Option(None, "--steps", help="update steps (default 10; or give --episodes)"),
    rank: int = typer.Option(8, "--rank", help="LoRA rank of every node's adapter"),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="LoRA alpha (default 2 x rank)"),
    targets: str = typer.Option("q_proj,k_proj,v_proj,o_proj", "--targets", help="LoRA target modules"),
    lr: float = typer.Option(1e-4, "--lr"),
    questions_per_step: int = typer.Option(4, "--questions-per-step", help="questions per update"),
    group_size: int = typer.Option(4, "--group-size", help="samples per question (leave-one-out baseline: >= 2)"),
    baseline: str = typer.Option("loo", "--baseline", help="loo (leave-one-out in the group) | ema (moving average)"),
    temperature: float = typer.Option(0.7, "--temperature", help="training sampling temperature (eval is greedy)"),
    max_tokens: int = typer.Option(200, "--max-tokens", help="tokens per node call while training"),
    eval_max_tokens: int = typer.Option(200, "--eval-max-tokens", help="tokens per node call on validation (greedy)"),
    train_size: Optional[int] = typer.Option(None, "--train-size", help="first N items of the train split"),
    val_size: int = typer.Option(50, "--val-size", help="first N items of the valid split (best-on-validation)"),
    val_every: int = typer.Option(5, "--val-every", help="validate every N steps (and after the last)"),
    seed: int = typer.Option(0, "--seed"),
    split_seed: int = typer.Option(0, "--split-seed", help="seed of the dataset's train/valid/test split"),
    concurrency: int = typer.Option(8, "--concurrency", "-c", help="episodes sampled at once"),
    sampler: str = typer.Option("auto", "--sampler", help="auto | engine (GGUF backbone) | transformers"),
    device: str = typer.Option("auto", "--device", help="learner device: auto | cpu | cuda[:N]"),
    single_llm: bool = typer.Option(False, "--single-llm", help="train the single-LLM-RL baseline: one node, "
                                    "rank x calls so its parameters match the --layers network's"),
    print_config: bool = typer.Option(False, "--print-config", help="print the resolved config as JSON and stop"),
    verbose: bool = typer.Option(False, "--verbose", help="show llama.cpp logs"),
    runner_kind: str = RUNNER,
    ray_address: Optional[str] = RAY_ADDRESS,
    workers: Optional[int] = WORKERS,
) -> None:
    """Train a NeuroMAS network (or the single-LLM-RL baseline) with REINFORCE on a task's train split."""
    try:
        cfg = neuromas_config(
            task=task, backbone=backbone, layers=layers, grow_from=str(grow_from) if grow_from else None,
            episodes=episodes, steps=steps, rank=rank, alpha=alpha, targets=targets, lr=lr,
            questions_per_step=questions_per_step, group_size=group_size, baseline=baseline, temperature=temperature,
            max_tokens=max_tokens, eval_max_tokens=eval_max_tokens, train_size=train_size, val_size=val_size,
            val_every=val_every, seed=seed, split_seed=split_seed, concurrency=concurrency, device=device,
            single_llm=single_llm)
        from ..optim import get_optimiser
        from ..optim.neuromas.optimiser import sampler_kind, student_spec

        kind = sampler_kind(cfg, sampler)
        if episodes is not None and cfg.steps * cfg.episodes_per_step != episodes:
            err_console.print(f"note: --episodes {episodes} runs {cfg.steps * cfg.episodes_per_step} episodes: "
                              f"{cfg.steps} whole step(s) of {cfg.questions_per_step} questions x {cfg.group_size} "
                              "samples", highlight=False)
        if print_config:
            print(json.dumps({"config": cfg.to_dict(), "sampler": kind}))
            return
        finished = check_run_folder(cfg, out)  # before the backbone loads (tens of seconds)
        if finished is not None:
            console.print(finished, highlight=False)
            return
        from ..optim.neuromas import load_splits

        train, valid = load_splits(cfg)
        opt = get_optimiser("neuromas")(cfg, sampler=kind, runner=runner_kind, ray_address=ray_address,
                                        workers=workers)
        with cli_settings(cache=False, verbose=verbose):
            asyncio.run(opt.compile(student_spec(), {}, train, valid, out))
        res = opt.result
        last = res.log[-1] if res.log else {}
        what = "single-LLM RL" if single_llm else f"NeuroMAS {list(cfg.layers)}"
        console.print(f"{what}: {len(res.log)} steps, {last.get('episodes', 0)} episodes, last reward "
                      f"{last.get('reward', float('nan')):.3f}, {last.get('episodes_per_hour', 0):.0f} episodes/hour "
                      f"({kind} sampler{', Ray workers' if runner_kind == 'ray' else ''}); "
                      f"best validation {json.dumps(res.best)} -> {out / 'best.pt'}")
    except (MastuneError, ValueError) as e:
        err_console.print(f"[red]error:[/] {escape(redact(str(e)))}")  # an install hint like mastune[ray] is not markup
        raise typer.Exit(1)
