"""HieraMAS in the paper's MMLU-Redux setting (8 role supernodes) on the local pool, stage by stage.

    python3 benchmarks/hieramas_mmlu.py --dry-run        # the plan, its size and hours; runs nothing
    python3 benchmarks/hieramas_mmlu.py --measure 3      # time cot / full-graph calls (no cache) -> timing.json
    python3 benchmarks/hieramas_mmlu.py                  # every stage not finished yet (resumable)
    python3 benchmarks/hieramas_mmlu.py --only train-ckpt,eval-cot-qwen2.5-coder-1.5b
    python3 benchmarks/hieramas_mmlu.py --phase report   # summary.md/json + plots from what is done
    python3 benchmarks/hieramas_mmlu.py --smoke          # tiny, on SmolLM2-135M: checks the pipeline

Roles: Knowledgeable Expert, Critic, Mathematician, Psychologist, Historian, Doctor, Lawyer,
Economist (the `mcq` family). Pool: SmolLM2-135M, Qwen2.5-Coder-0.5B, Qwen2.5-Coder-1.5B (built-in
prices). Data: MMLU-Redux's seeded split (split seed 0): training on train/valid, evaluation on
a seeded random --test-size of the test split (the file is sorted by subject: a first N would be a
few subjects), the same items for every system. Stages, in order:
    train-ckpt          stage 1 (selector) + stage 2 (classifier), node reward weight 0.5
    train-ckpt-alpha0   the same with node reward weight 0 (final reward only: the ablation)
    eval-cot-<m>        one CoT call, each pool model
    eval-sc-<S>         self-consistency (--sc-samples CoT samples, majority vote), strongest model S
    eval-full-<S>       the 8 role agents over a full graph + decision node, every call on S
    eval-random-<S>     the 8 role agents over a random DAG per question, S
    eval-hieramas       the method; eval-hieramas-no-graph (random DAG instead of the classifier),
    eval-hieramas-no-selection (every slot on S), eval-hieramas-alpha0 (the alpha-0 checkpoint)
    report              summary.md/json, accuracy_cost.png (Pareto front), stage1 plots, topology stats
A finished stage is skipped (training: all iterations logged and stage 2 reported; evaluation: every
test item answered); an unfinished one resumes where it stopped. Everything lands under --out
(default benchmarks/results/hieramas_mmlu[/smoke]).
"""
from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the GSM8K driver's trace readers

from hieramas_gsm8k import answer_flow, selection_profile, training_summary  # noqa: E402

from mastune import settings  # noqa: E402
from mastune.agents.prompts import family  # noqa: E402
from mastune.eval import EvalConfig, evaluate, markdown_table, paired, paired_markdown, plot, summarize  # noqa: E402
from mastune.eval.stats import pareto_front  # noqa: E402
from mastune.jsonl import ResultsFile, read_jsonl  # noqa: E402
from mastune.llm.cache import CallCache  # noqa: E402
from mastune.llm.pool import Pool  # noqa: E402
from mastune.optim.hieramas import (ClassifierConfig, RewardConfig, RuntimeOptions, SelectorConfig,  # noqa: E402
                                    TrainConfig, build_hieramas_system, train_stage1, train_stage2)
from mastune.optim.hieramas.analysis import format_stage1, format_topology, stage1_summary, topology_stats  # noqa: E402
from mastune.optim.hieramas.features import PoolInfo  # noqa: E402
from mastune.optim.hieramas.plots import plot_stage1  # noqa: E402
from mastune.systems import load_system  # noqa: E402
from mastune.tasks.selection import Selection, select_examples  # noqa: E402

TASK = "mmlu-redux"
SPLIT_SEED = 0
LOCAL = ("smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
# Seconds per call when no timing.json was measured (--measure): 1-thread engine, MMLU prompts.
# cot = a plain CoT call (~200 prompt + ~250 completion tokens: Qwen-Coder writes long CoT on MMLU
# and often hits 256); role = a call inside an 8-role graph (prompts grow with the predecessors'
# outputs; prefill ~35 tok/s on one thread for the 1.5B). Derived from DESIGN.md's engine figures;
# measured here under heavy contention, 1.5B: 55-88 s per 256-token cot call, 68 s/call overall.
DEFAULT_S_PER_CALL = {"smollm2-135m": {"cot": 2.0, "role": 4.0}, "qwen2.5-coder-0.5b": {"cot": 7.0, "role": 14.0},
                      "qwen2.5-coder-1.5b": {"cot": 20.0, "role": 40.0}}


def local_pool() -> Pool:
    common = {"backend": "embedded", "n_parallel": 4, "ctx_per_slot": 4096}  # 8 roles: long contexts
    return Pool.from_dict({"models": [{"name": m, "model": m, **common} for m in LOCAL],
                           "default": "qwen2.5-coder-0.5b"}, source="MMLU local pool")


def smoke_pool() -> Pool:
    common = {"backend": "embedded", "model": "smollm2-135m", "n_parallel": 4, "ctx_per_slot": 2048}
    return Pool.from_dict({"models": [
        {"name": "smol-cheap", "price": {"input": 0.01, "output": 0.01}, **common},
        {"name": "smol-dear", "price": {"input": 0.5, "output": 0.5}, **common},
    ], "default": "smol-cheap"})


@functools.lru_cache(maxsize=None)
def selection(split: str, n: int) -> Selection:
    """A seeded random n of the split, kept in dataset order: the file is sorted by subject, so its
    first 150 test items are 4 subjects (anatomy, abstract algebra, astronomy, business ethics), a
    seeded sample spreads over all 57. Loaded once per process (the file is 5.7k rows)."""
    return select_examples(TASK, split=split, seed=SPLIT_SEED, sample=n)


def items(split: str, n: int) -> list[Any]:
    return selection(split, n).examples


# ---- sizes ---------------------------------------------------------------------------------

def sizes(args: argparse.Namespace) -> dict[str, Any]:
    if args.smoke:
        return dict(train=3, stage2=2, val=1, test=2, iterations=2, batch=2, val_every=2, k_dags=2, proposers=1,
                    steps=2, max_tokens=16, eval_max_tokens=16, epochs=3, candidates=10, sc=2, test_fraction=0.0,
                    roles=["Knowledgeable Expert", "Critic", "Doctor"])
    return dict(train=args.train_size, stage2=args.stage2_size, val=args.val_size, test=args.test_size,
                iterations=args.iterations, batch=args.batch_size, val_every=args.val_every, k_dags=args.k_dags,
                proposers=args.proposers, steps=args.steps_per_batch, max_tokens=args.max_tokens,
                eval_max_tokens=args.eval_max_tokens, epochs=200, candidates=args.candidates, sc=args.sc_samples,
                test_fraction=args.test_fraction,
                roles=[r.strip() for r in args.roles.split(",")] if args.roles else None)


def role_names(s: dict[str, Any]) -> list[str]:
    return s["roles"] or [r.name for r in family(TASK).roles]


def train_config(s: dict[str, Any], args: argparse.Namespace, decision: str, alpha: float) -> TrainConfig:
    return TrainConfig(
        task=TASK, seed=args.seed, split_seed=SPLIT_SEED, train_size=s["train"], val_size=s["val"], sample=True,
        embedder=args.embedder, roles=s["roles"], proposers=s["proposers"], concurrency=args.concurrency,
        iterations=s["iterations"], batch_size=s["batch"], val_every=s["val_every"], k_dags=s["k_dags"],
        lr=args.lr, steps_per_batch=s["steps"], baseline=args.baseline, temp_start=args.temp_start,
        temp_end=args.temp_end, entropy_beta=args.entropy_weight,
        runtime=RuntimeOptions(decision_model=decision, max_tokens=s["max_tokens"], prompt_layout=args.prompt_layout),
        reward=RewardConfig(alpha=alpha), selector=SelectorConfig(allow_skip=True),
        classifier=ClassifierConfig(epochs=s["epochs"], test_fraction=s["test_fraction"]),
    )


# ---- stages --------------------------------------------------------------------------------

@dataclass
class Stage:
    name: str
    kind: str  # train | eval
    run: Callable[[], Any]
    done: Callable[[], bool]
    # for the size estimate: episodes or items, calls per episode/item (upper bound), timed as
    episodes: int = 0
    calls_each: float = 0.0
    model: str = ""
    call_kind: str = "role"  # cot | role
    note: str = ""
    depends: list[str] = field(default_factory=list)
    # expected size under a uniform selector (skips prune, slots spread over the pool): None = the max
    expected_calls: float | None = None
    mix: list[str] | None = None  # models the calls spread over (mean s/call); None: `model`


def unpruned_calls(s: dict[str, Any]) -> int:
    """An episode with nothing skipped: P proposers + a synthesiser per role, and the decision node."""
    return len(role_names(s)) * (s["proposers"] + 1) + 1


def uniform_calls(s: dict[str, Any], n_models: int) -> float:
    """Expected calls of an episode under a uniform selector (the start of training): each slot is
    skip with q = 1/(M+1); a skipped synthesiser drops its role, every proposer skipping leaves one."""
    q, p = 1 / (n_models + 1), s["proposers"]
    proposers = p * (1 - q) + q ** p  # kept proposers, plus the fallback when all skip
    return len(role_names(s)) * (1 - q) * (proposers + 1) + 1


def training_done(ckpt: Path, s: dict[str, Any]) -> bool:
    log = ckpt / "stage1" / "log.jsonl"
    n = len(read_jsonl(log)) if log.is_file() else 0
    return n >= s["iterations"] and ((ckpt / "stage2" / "report.json").is_file()
                                     or (ckpt / "stage2" / "skipped.txt").is_file())


def eval_done(run: Path, n: int) -> bool:
    if not (run / "results.jsonl").is_file():
        return False
    latest = ResultsFile(run / "results.jsonl").latest().values()
    return sum(r.get("status") == "ok" for r in latest) >= n


async def train(cfg: TrainConfig, pool: Pool, out: Path, s: dict[str, Any]) -> None:
    train_set, val_set = items("train", s["train"]), items("valid", s["val"])
    print(f"training {out}: {len(train_set)} train / {len(val_set)} valid queries", file=sys.stderr, flush=True)
    s1 = await train_stage1(cfg, pool, train_set, val_set, out)
    print(format_stage1(stage1_summary(s1.log)), file=sys.stderr, flush=True)
    try:
        await train_stage2(cfg, pool, train_set[: s["stage2"]], out)
    except ValueError as e:  # the selector keeps < 2 supernodes everywhere: no topology to learn
        print(f"stage 2 skipped: {e}", file=sys.stderr)
        (out / "stage2").mkdir(parents=True, exist_ok=True)
        (out / "stage2" / "skipped.txt").write_text(str(e))


def build_stages(args: argparse.Namespace, out: Path, pool: Pool, s: dict[str, Any], strongest: str,
                 decision: str) -> list[Stage]:
    mt, n_test = s["eval_max_tokens"], s["test"]
    fam_roles = {"mcq": role_names(s)}
    stages: list[Stage] = []
    episodes_s1 = s["iterations"] * s["batch"] + math.ceil(s["iterations"] / s["val_every"]) * s["val"]
    episodes_s2 = min(s["stage2"], s["train"]) * s["k_dags"]
    for ckpt, alpha in (("ckpt", 0.5), ("ckpt-alpha0", 0.0)):
        cfg = train_config(s, args, decision, alpha)
        stages.append(Stage(f"train-{ckpt}", "train", lambda cfg=cfg, ckpt=ckpt: train(cfg, pool, out / ckpt, s),
                            lambda ckpt=ckpt: training_done(out / ckpt, s), episodes_s1 + episodes_s2,
                            unpruned_calls(s), strongest,
                            note=f"stage 1 {episodes_s1} episodes (incl. validation) + stage 2 {episodes_s2}",
                            expected_calls=uniform_calls(s, len(pool.names())), mix=pool.names()))

    def eval_stage(name: str, kind: str, build: Callable[[], Any], opts: dict[str, Any], calls: float, model: str,
                   call_kind: str, depends: list[str] | None = None) -> Stage:
        run_dir = out / "runs" / name
        return Stage(f"eval-{name}", "eval", lambda: run_eval(args, out, pool, s, name, kind, build, opts),
                     lambda: eval_done(run_dir, n_test), n_test, calls, model, call_kind, depends=depends or [])

    for m in pool.names():
        stages.append(eval_stage(f"cot-{m}", "cot", lambda m=m: load_system("cot", pool, model=m, max_tokens=mt),
                                 {"model": m, "max_tokens": mt}, 1, m, "cot"))
    stages.append(eval_stage(f"sc-{strongest}", "self-consistency",
                             lambda: load_system("self-consistency", pool, model=strongest, max_tokens=mt,
                                                 samples=s["sc"]),
                             {"model": strongest, "max_tokens": mt, "samples": s["sc"]}, s["sc"], strongest, "cot"))
    for layout in ("full", "random"):
        stages.append(eval_stage(f"{layout}-{strongest}", layout,
                                 lambda layout=layout: load_system(layout, pool, model=strongest, max_tokens=mt,
                                                                   roles=fam_roles, prompt_layout=args.prompt_layout),
                                 {"model": strongest, "max_tokens": mt, "roles": fam_roles,
                                  "prompt_layout": args.prompt_layout},
                                 len(role_names(s)) + 1, strongest, "role"))

    def hm(name: str, ckpt: str, **kw: Any) -> Stage:
        opts = {"checkpoint": str(out / ckpt), "n_candidates": s["candidates"], "max_tokens": mt, **kw}

        def build() -> Any:
            gc = opts.get("graph_classifier", True) and (out / ckpt / "classifier.pt").is_file()
            return build_hieramas_system(opts["checkpoint"], pool, **{
                **{k: v for k, v in opts.items() if k != "checkpoint"}, "graph_classifier": gc})

        st = eval_stage(name, "hieramas", build, opts, unpruned_calls(s), strongest, "role", [f"train-{ckpt}"])
        if kw.get("llm_selection", True):
            st.expected_calls, st.mix = uniform_calls(s, len(pool.names())), pool.names()
        return st

    stages += [hm("hieramas", "ckpt"), hm("hieramas-no-graph", "ckpt", graph_classifier=False),
               hm("hieramas-no-selection", "ckpt", llm_selection=False, single_model=strongest),
               hm("hieramas-alpha0", "ckpt-alpha0")]
    return stages


async def run_eval(args: argparse.Namespace, out: Path, pool: Pool, s: dict[str, Any], name: str, kind: str,
                   build: Callable[[], Any], opts: dict[str, Any]) -> None:
    sel = selection("test", s["test"])
    examples, manifest = sel.examples, sel.manifest
    cfg = EvalConfig(system=kind, task=TASK, out=str(out / "runs" / name), model=opts.get("model"), split="test",
                     seed=SPLIT_SEED, sample=s["test"], concurrency=args.concurrency, pool=args.pool,
                     options={"name": name, **opts}, save_traces=kind in ("hieramas", "full", "random"))
    print(f"{name}: {len(examples)} items ...", file=sys.stderr, flush=True)
    summary = await evaluate(cfg, build(), examples, pool=pool, split_manifest=manifest)
    print(f"{name}: {summary.correct}/{summary.n} correct, errors {summary.errors}, cost ${summary.cost:.6f}",
          file=sys.stderr, flush=True)


# ---- the size estimate ---------------------------------------------------------------------

def load_timing(out: Path) -> dict[str, dict[str, float]]:
    path = out / "timing.json"
    measured = json.loads(path.read_text())["s_per_call"] if path.is_file() else {}
    return {m: {**DEFAULT_S_PER_CALL.get(m, {"cot": 5.0, "role": 10.0}), **measured.get(m, {})}
            for m in {*DEFAULT_S_PER_CALL, *measured}}


def estimate(stages: list[Stage], timing: dict[str, dict[str, float]]) -> tuple[str, dict[str, Any]]:
    """Calls and hours per stage: the max (nothing pruned, every slot on the stage's model) and the
    expected under a uniform selector (what training starts from; a trained one prunes more or less)."""
    lines = ["| stage | status | episodes/items | calls each max / exp | calls max | calls exp | s/call | "
             "hours max | hours exp | note |", "|---|---|---|---|---|---|---|---|---|---|"]
    tot = {"calls_max": 0.0, "calls_exp": 0.0, "hours_max": 0.0, "hours_exp": 0.0, "hours_exp_to_do": 0.0}
    fallback = {"cot": 5.0, "role": 10.0}
    for st in stages:
        t_max = timing.get(st.model, fallback)[st.call_kind]
        mix = st.mix or [st.model]
        t_exp = sum(timing.get(m, fallback)[st.call_kind] for m in mix) / len(mix)
        each_exp = st.calls_each if st.expected_calls is None else st.expected_calls
        c_max, c_exp = st.episodes * st.calls_each, st.episodes * each_exp
        h_max, h_exp = c_max * t_max / 3600, c_exp * t_exp / 3600
        done = st.done()
        for k, v in (("calls_max", c_max), ("calls_exp", c_exp), ("hours_max", h_max), ("hours_exp", h_exp)):
            tot[k] += v
        tot["hours_exp_to_do"] += 0 if done else h_exp
        lines.append(f"| {st.name} | {'done' if done else 'to do'} | {st.episodes} | {st.calls_each:g} / "
                     f"{each_exp:.1f} | {c_max:,.0f} | {c_exp:,.0f} | {t_max:.1f} max, {t_exp:.1f} exp "
                     f"({st.call_kind}) | {h_max:.1f} | {h_exp:.1f} | {st.note} |")
    lines.append(f"| total | | | | {tot['calls_max']:,.0f} | {tot['calls_exp']:,.0f} | | {tot['hours_max']:.1f} | "
                 f"{tot['hours_exp']:.1f} (to do: {tot['hours_exp_to_do']:.1f}) | |")
    return "\n".join(lines), tot


async def measure(args: argparse.Namespace, out: Path, pool: Pool, s: dict[str, Any], strongest: str) -> None:
    """s/call without the cache, one item at a time: cot per model, the full 8-role graph on the strongest."""
    sample = items("train", args.measure)
    timing: dict[str, dict[str, float]] = {}
    tokens: dict[str, dict[str, float]] = {}

    async def timed(system: Any, exs: list[Any]) -> tuple[float, float, int]:
        t0, calls, completion = time.perf_counter(), 0, 0
        for ex in exs:
            res = await system.run(ex.question, "mcq")
            calls, completion = calls + res.calls, completion + res.usage.completion_tokens
        return (time.perf_counter() - t0) / calls, completion / calls, calls

    with settings.context(cache=None):
        for m in pool.names():
            cot = load_system("cot", pool, model=m, max_tokens=s["eval_max_tokens"])
            await cot.run(sample[0].question, "mcq")  # loads the engine: not timed
            timing.setdefault(m, {})["cot"], tokens.setdefault(m, {})["cot"], _ = await timed(cot, sample)
            print(f"{m}: cot {timing[m]['cot']:.1f} s/call, {tokens[m]['cot']:.0f} completion tokens/call",
                  file=sys.stderr, flush=True)
        full = load_system("full", pool, model=strongest, max_tokens=s["eval_max_tokens"],
                           roles={"mcq": role_names(s)})
        timing[strongest]["role"], tokens[strongest]["role"], calls = await timed(full, sample[:1])
        print(f"{strongest}: role call in the full graph {timing[strongest]['role']:.1f} s/call, "
              f"{tokens[strongest]['role']:.0f} completion tokens/call ({calls} calls)", file=sys.stderr, flush=True)
    (out / "timing.json").write_text(json.dumps({"s_per_call": timing, "completion_tokens_per_call": tokens,
                                                 "items": len(sample), "max_tokens": s["eval_max_tokens"]}, indent=2))


# ---- the report ----------------------------------------------------------------------------

def test_topologies(out: Path, pool: Pool, s: dict[str, Any], ckpt: str = "ckpt") -> dict[str, Any] | None:
    """The DAGs HieraMAS would run on the test items (plans: no LLM calls), as in the paper's Fig. 3:
    the classifier's top-1 when stage 2 made one, else the seeded random DAG the system then runs."""
    if not training_done(out / ckpt, s):
        return None
    has_classifier = (out / ckpt / "classifier.pt").is_file()
    system = build_hieramas_system(out / ckpt, pool, n_candidates=s["candidates"], graph_classifier=has_classifier)
    examples = items("test", s["test"])
    graphs = []
    for ex in examples:
        plan = system.plan(ex.question, ex.family)
        names = [r.name for r in plan.roles]
        graphs.append((names, [(names[a], names[b]) for a, b in plan.edges]))
    return {"chosen_by": "classifier" if has_classifier else "random DAG (no classifier)", **topology_stats(graphs)}


def report(out: Path, pool: Pool, s: dict[str, Any], strongest: str, decision: str) -> str:
    runs = sorted(p for p in (out / "runs").glob("*") if (p / "meta.json").is_file())
    summaries = [summarize(r) for r in runs]
    if summaries:
        plot(summaries, out / "accuracy_cost.png", title="MMLU-Redux test: accuracy vs cost (local pool)")
    cot = [sm for sm in summaries if sm.name.startswith("cot-")]
    best_cot = max(cot, key=lambda sm: sm.accuracy) if cot else None
    full = next((sm for sm in summaries if sm.name == f"full-{strongest}"), None)
    front = {summaries[i].name for i in pareto_front([(sm.per_item(sm.cost), sm.accuracy) for sm in summaries])}
    comparisons = [paired(sm, ref) for ref in (full, best_cot) if ref for sm in summaries if sm is not ref]
    data = {sm.name: {"n": sm.n, "correct": sm.correct, "accuracy": sm.accuracy, "ci95": sm.ci, "cost": sm.cost,
                      "cost_per_item": sm.per_item(sm.cost), "calls_per_item": sm.per_item(sm.calls),
                      "tokens_per_item": sm.per_item(sm.tokens), "unparsed": sm.unparsed, "errors": sm.errors,
                      "pareto": sm.name in front} for sm in summaries}
    method = data.get("hieramas")
    target = None
    if method and full:
        fd = data[full.name]
        target = {"accuracy_at_least_full": method["accuracy"] >= fd["accuracy"],
                  "cost_at_most_a_third_of_full": method["cost_per_item"] <= fd["cost_per_item"] / 3,
                  "on_pareto_front": method["pareto"]}
    training, plots = {}, []
    for ckpt in ("ckpt", "ckpt-alpha0"):
        log_path = out / ckpt / "stage1" / "log.jsonl"
        if log_path.is_file() and (log := read_jsonl(log_path)):
            training[ckpt] = {**training_summary(out / ckpt), "stage1": stage1_summary(log)}
            plots.append(plot_stage1(log, out / f"stage1-{ckpt}.png", title=f"{ckpt}: stage 1 on MMLU-Redux"))
    topo = {ckpt: t for ckpt in ("ckpt", "ckpt-alpha0") if (t := test_topologies(out, pool, s, ckpt))}
    profiles = {sm.name: prof for sm, run in zip(summaries, runs) if sm.system == "hieramas"
                and (prof := selection_profile(run))}
    flows = {name: flow for name in profiles if (flow := answer_flow(out / "runs" / name))}
    text = (f"# HieraMAS on MMLU-Redux (test: a seeded sample of {s['test']} items of the seed-{SPLIT_SEED} split)\n\n"
            f"roles: {', '.join(role_names(s))}; test items from "
            f"{len({e.meta.get('subject') for e in items('test', s['test'])})} subjects\n\nstrongest model: {strongest}; decision model: {decision}; "
            f"best single-model CoT: {best_cot.name if best_cot else None}; Pareto front: {sorted(front)}\n\n"
            + markdown_table(summaries)
            + (f"\ntarget (HieraMAS >= full accuracy at <= 1/3 of its cost, not dominated): {json.dumps(target)}\n"
               if target else "")
            + ("\n## paired with full and with the best single model (exact McNemar)\n\n"
               + paired_markdown(comparisons) if comparisons else "")
            + "".join(f"\n## {ckpt}: topologies on the test items (plans; {t['chosen_by']})\n\n"
                      + format_topology(t) + "\n" for ckpt, t in topo.items())
            + "".join(f"\n{ckpt}: {format_stage1(t['stage1'])}\n" for ckpt, t in training.items())
            + "\n## choices and answer flow (from traces)\n\n```json\n"
            + json.dumps({"choices": profiles, "answer_flow": flows}, indent=2) + "\n```\n")
    (out / "summary.md").write_text(text)
    (out / "summary.json").write_text(json.dumps({
        "sizes": s, "strongest": strongest, "decision_model": decision, "systems": data,
        "best_single_cot": best_cot.name if best_cot else None, "pareto_front": sorted(front), "target": target,
        "paired": [{**vars(c), "p_value": c.p_value} for c in comparisons], "topologies": topo,
        "training": training, "choices": profiles, "answer_flow": flows}, indent=2, default=str))
    return text


# ---- main ----------------------------------------------------------------------------------

def parse(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, 3 roles, two SmolLM2-135M entries")
    ap.add_argument("--dry-run", action="store_true", help="print the plan and its size estimate, run nothing")
    ap.add_argument("--measure", type=int, metavar="N", help="time N cot items per model and one full-graph item "
                    "(no cache), write timing.json, and stop")
    ap.add_argument("--phase", choices=["all", "train", "eval", "report"], default="all")
    ap.add_argument("--only", help="comma-separated stage names (see --dry-run)")
    ap.add_argument("--pool", help="pool YAML (default: SmolLM2-135M, Qwen2.5-Coder-0.5B and -1.5B)")
    ap.add_argument("--out")
    ap.add_argument("--roles", help="comma-separated subset of the 8 roles (default: all 8)")
    ap.add_argument("--train-size", type=int, default=96,
                    help="stage-1 query pool; a small pool repeats queries, and repeats of a (query, prompt, model) "
                         "call are cache hits")
    ap.add_argument("--val-size", type=int, default=16)
    ap.add_argument("--test-size", type=int, default=150)
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--val-every", type=int, default=10)
    ap.add_argument("--steps-per-batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-2)
    ap.add_argument("--baseline", default="mean")
    ap.add_argument("--temp-start", type=float, default=2.0)
    ap.add_argument("--temp-end", type=float, default=0.8)
    ap.add_argument("--entropy-weight", type=float, default=0.05)
    ap.add_argument("--proposers", type=int, default=2)
    ap.add_argument("--stage2-size", type=int, default=60, help="training queries labelled for stage 2")
    ap.add_argument("--k-dags", type=int, default=5)
    ap.add_argument("--test-fraction", type=float, default=0.2, help="stage-2 queries held out for the AUC report")
    ap.add_argument("--candidates", type=int, default=100, help="random DAGs the classifier scores per query")
    ap.add_argument("--max-tokens", type=int, default=256, help="per call while training (mcq: short replies)")
    ap.add_argument("--eval-max-tokens", type=int, default=384,
                    help="per call on the test set, every system (at 256, 1.5B CoT was cut off before its "
                         "answer on 3 of 3 abstract-algebra items)")
    ap.add_argument("--sc-samples", type=int, default=5)
    ap.add_argument("--prompt-layout", default="text", choices=["text", "transcript"],
                    help="graph systems (HieraMAS training and eval, full, random): transcript reuses a "
                         "predecessor's prompt and reply from the KV cache (benchmarks/RESULTS.md, prefix reuse)")
    ap.add_argument("--strongest", help="model of full/random/sc/no-selection (default: the priciest)")
    ap.add_argument("--decision-model", help="HieraMAS decision node (default: the strongest)")
    ap.add_argument("--embedder", default="minilm")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-cache", action="store_true")
    return ap.parse_args(argv)


async def run_all(args: argparse.Namespace, out: Path) -> str | None:
    s = sizes(args)
    pool = Pool.load(args.pool) if args.pool else (smoke_pool() if args.smoke else local_pool())
    strongest = args.strongest or PoolInfo.of(pool).strongest()
    decision = args.decision_model or strongest
    try:
        if args.measure:
            await measure(args, out, pool, s, strongest)
        stages = build_stages(args, out, pool, s, strongest, decision)
        only = set(args.only.split(",")) if args.only else None
        unknown = (only or set()) - {st.name for st in stages}
        if unknown:
            raise SystemExit(f"--only names no stage: {sorted(unknown)}; stages: {[st.name for st in stages]}")
        table, total = estimate(stages, load_timing(out))
        print(f"plan: {TASK}, roles {role_names(s)}, pool {pool.names()}, strongest {strongest}\n\n{table}\n\n"
              f"max: nothing pruned, every slot on {strongest}; exp: a uniform selector (1/{len(pool.names()) + 1} "
              f"skip per slot, calls spread over the pool). Cache hits (repeated training queries, shared "
              f"baselines) are free and not subtracted. "
              f"s/call from {'timing.json' if (out / 'timing.json').is_file() else 'defaults (run --measure N)'}.",
              flush=True)
        if args.dry_run or args.measure:
            return None
        for st in stages:
            if only is not None and st.name not in only:
                continue
            if args.phase not in ("all", st.kind):
                continue
            if st.done():
                print(f"{st.name}: done, skipped", file=sys.stderr)
                continue
            missing = [d for d in st.depends if not training_done(out / d.removeprefix("train-"), s)]
            if missing:
                print(f"{st.name}: waits for {missing}", file=sys.stderr)
                continue
            await st.run()
        return report(out, pool, s, strongest, decision)
    finally:
        await pool.aclose()


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    out = Path(args.out or ("benchmarks/results/hieramas_mmlu/smoke" if args.smoke else "benchmarks/results/hieramas_mmlu"))
    out.mkdir(parents=True, exist_ok=True)
    cache = None if args.no_cache else CallCache.default()
    with settings.context(cache=cache):
        text = asyncio.run(run_all(args, out))
    if text:
        print(text)
        print(f"results under {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
