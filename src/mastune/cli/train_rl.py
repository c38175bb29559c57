"""`mastune train rl`: RL of one model's LoRA adapter on a task (the `rl` optimiser; optim/rl).

    mastune train rl --task gsm8k --backbone qwen2.5-coder-0.5b --out runs/rl [--steps 200] [--dry-run]

Every option of the recipe is a field of `RLConfig` (optim/rl/config.py): the flags below are
generated from it. --layers 1,1 trains a NeuroMAS network on the same trainer. Re-running the same
command resumes a killed run; other settings in the same --out folder are refused. --dry-run prints
the run's size (episodes, calls, tokens, hours at this machine's measured rates) and stops.
"""
from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any, Optional

import typer
from rich.markup import escape

from ..errors import ConfigError, MastuneError
from ..redact import redact
from .common import cli_settings, console, err_console
from .config_flags import with_config_flags

# Measured here (2 cores): completion tokens/s of 8 concurrent streams on the engine, and tokens/s the
# fp32 learner scores (forward + backward, per epoch). Used only to size a run before it starts.
RATES = {"smollm2-135m": (110.0, 400.0), "qwen2.5-coder-0.5b": (37.0, 36.0), "qwen2.5-coder-1.5b": (15.0, 12.0)}


def plan(cfg: Any, episodes_override: Optional[int] = None) -> dict[str, Any]:
    """The run's size: episodes, calls, tokens (replies assumed to average half the budget), hours."""
    from ..graph.layernet import calls

    per_call = cfg.max_tokens / 2
    n_calls = calls(cfg.layers)
    episodes = cfg.steps * cfg.episodes_per_step
    sample_tok = episodes * n_calls * per_call
    learn_tok = sample_tok * 0.5 * cfg.epochs  # about half the replies carry a non-zero advantage
    evals = (cfg.steps // cfg.eval_every if cfg.eval_every else 0) + 1
    eval_tok = evals * cfg.eval_size * n_calls * cfg.eval_max_tokens / 2
    s_rate, l_rate = RATES.get(cfg.backbone, RATES["qwen2.5-coder-0.5b"])
    hours = (sample_tok / s_rate + learn_tok / l_rate + eval_tok / s_rate) / 3600
    return {"steps": cfg.steps, "episodes": episodes, "calls": episodes * n_calls, "evaluations": evals,
            "sampled_tokens": int(sample_tok), "scored_tokens": int(learn_tok), "eval_tokens": int(eval_tok),
            "hours": round(hours, 2), "rates_tok_s": {"sample": s_rate, "learn": l_rate},
            "assumes": "replies average half of max_tokens; half of them carry a non-zero advantage"}


@with_config_flags(__import__("mastune.optim.rl.config", fromlist=["RLConfig"]).RLConfig)
def rl(
    config_values: dict,
    out: Path = typer.Option(..., "--out", "-o", help="run folder (re-run the same command to resume)"),
    episodes: Optional[int] = typer.Option(None, "--episodes", help="episode budget instead of --steps "
                                           "(steps = ceil(N / (questions_per_step x group_size)), said when rounded)"),
    sampler: str = typer.Option("auto", "--sampler", help="auto | engine (GGUF backbone) | transformers"),
    dry_run: bool = typer.Option(False, "--dry-run", help="print the run's size and stop"),
    print_config: bool = typer.Option(False, "--print-config", help="print the resolved config as JSON and stop"),
    verbose: bool = typer.Option(False, "--verbose", help="show llama.cpp logs"),
) -> None:
    """Train a model's LoRA adapter (or a NeuroMAS network) with RL on a task's train split."""
    try:
        from ..optim.rl import RLConfig

        values = dict(config_values)
        if episodes is not None:
            per = values["questions_per_step"] * values["group_size"]
            if episodes < 1:
                raise ConfigError(f"--episodes must be at least 1, got {episodes}")
            values["steps"] = math.ceil(episodes / per)
            if values["steps"] * per != episodes:
                err_console.print(f"--episodes {episodes} rounded up to {values['steps'] * per} "
                                  f"({values['steps']} steps of {per})")
        cfg = RLConfig(**values)
        if print_config:
            print(json.dumps({"config": cfg.to_dict()}))
            return
        if dry_run:
            console.print_json(json.dumps(plan(cfg)))
            return
        from ..optim import get_optimiser
        from ..optim.neuromas.optimiser import student_spec
        from ..tasks.datasets import load_task

        train = load_task(cfg.task, split="train", seed=cfg.split_seed, limit=cfg.train_size)
        valid = load_task(cfg.task, split="valid", seed=cfg.split_seed, limit=cfg.eval_size)
        opt = get_optimiser("rl")(cfg, sampler=sampler)
        with cli_settings(cache=False, verbose=verbose):
            asyncio.run(opt.compile(student_spec(), {}, train, valid, out))
        res = opt.result
        last = res.log[-1] if res.log else {}
        console.print(f"rl {list(cfg.layers) or 'single model'}: {len(res.log)} steps, {last.get('episodes', 0)} "
                      f"episodes, last reward {last.get('reward') or float('nan'):.3f}, truncated "
                      f"{last.get('truncated', float('nan')):.2f}; evaluation {json.dumps(res.best or last.get('eval'))}"
                      f" -> {out / 'best.pt'}")
    except (MastuneError, ValueError) as e:
        err_console.print(f"[red]error:[/] {escape(redact(str(e)))}")
        raise typer.Exit(1)
