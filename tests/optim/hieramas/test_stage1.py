"""Stage 1 on a scripted pool: the selector learns the right, cheap model; node-level
rewards fix a credit-assignment error of the final reward alone."""
import torch

from mastune.optim.hieramas import HashEmbedder, RewardConfig, SelectorConfig, TrainConfig, train_stage1
from mastune.optim.hieramas.episode import Plan, RuntimeOptions, run_episode
from mastune.optim.hieramas.policy import Choice, Policy
from mastune.optim.hieramas.reinforce import reinforce_loss
from mastune.optim.hieramas.setup import Setup
from mastune.optim.hieramas.train import episode_terms

from .fakes import examples, model


def fake_pool():
    # "good" is right and cheap; "wrong" is cheaper but wrong; "pricey" is right at 100x the price.
    return {"good": model("good", price=1.0), "wrong": model("wrong", offset=1, price=0.5),
            "pricey": model("pricey", price=100.0)}


def config(**kw):
    base = dict(task="gsm8k", embedder="hash-64", iterations=15, batch_size=4, lr=0.01, temp_start=2.0, temp_end=0.5,
                val_every=5, n_dags=10, concurrency=8, runtime=RuntimeOptions(decision_model="good"),
                reward=RewardConfig(ref_tokens=1000), selector=SelectorConfig(allow_skip=False))
    base.update(kw)
    return TrainConfig(**base)


def greedy_assignments(cfg, pool, selector, questions):
    setup = Setup.make(cfg, pool, HashEmbedder(64))
    policy = Policy(selector, setup.embedder, setup.pool_info, setup.roles)
    return [policy.assignments(policy.greedy(q)) for q in questions]


def slot_models(assignments):
    return [m for a in assignments for spec in a.values() for m in [*spec["proposers"], spec["synthesiser"]]]


async def test_stage1_learns_the_right_cheap_model(tmp_path):
    cfg, pool = config(), fake_pool()
    held_out = [ex.question for ex in examples(3, start=200)]
    untrained = Setup.make(cfg, pool, HashEmbedder(64)).new_selector()
    assert set(slot_models(greedy_assignments(cfg, pool, untrained, held_out))) != {"good"}  # the test can fail
    result = await train_stage1(cfg, pool, examples(8), examples(3, start=100), tmp_path, embedder=HashEmbedder(64),
                                progress=False)
    assert set(slot_models(greedy_assignments(cfg, pool, result.selector, held_out))) == {"good"}
    assert len(result.log) == 15 and result.best["accuracy"] == 1.0
    assert result.log[-1]["cost"] < result.log[0]["cost"]  # dropped the pricey model


async def test_stage1_with_skips_picks_only_the_good_model_or_skip(tmp_path):
    cfg, pool = config(selector=SelectorConfig(allow_skip=True)), fake_pool()
    untrained = Setup.make(cfg, pool, HashEmbedder(64)).new_selector()
    assert not set(slot_models(greedy_assignments(cfg, pool, untrained, ["What is 1 + 2?"]))) <= {"good", "skip"}
    result = await train_stage1(cfg, pool, examples(8), examples(3, start=100), tmp_path, embedder=HashEmbedder(64),
                                progress=False)
    picks = greedy_assignments(cfg, pool, result.selector, [ex.question for ex in examples(3, start=200)])
    assert set(slot_models(picks)) <= {"good", "skip"}
    assert all(any(spec["synthesiser"] == "good" for spec in a.values()) for a in picks)  # one role always runs


async def one_step_on_a_misleading_episode(alpha):
    """Analyst on the wrong model, Solver and Inspector on the good one: the Analyst's own
    answer is wrong while the system's answer is right. One REINFORCE step on that episode."""
    cfg, pool = config(reward=RewardConfig(alpha=alpha, cost_ref=1.0)), fake_pool()
    setup = Setup.make(cfg, pool, HashEmbedder(64))
    policy = Policy(setup.new_selector(), setup.embedder, setup.pool_info, setup.roles)
    ex = examples(1)[0]
    wrong, good = setup.pool_info.names.index("wrong"), setup.pool_info.names.index("good")
    picks = torch.tensor([[wrong] * 3, [good] * 3, [good] * 3])
    plan = Plan("math", setup.roles, [(0, 1), (1, 2)], policy.assignments(Choice(None, picks)))
    ep = await run_episode(plan, pool, ex, cfg.runtime, cfg.proposers)
    assert ep.correct and ep.node_correct == {"Mathematical Analyst": False, "Math Solver": True, "Inspector": True}

    opt = torch.optim.SGD(policy.selector.parameters(), lr=0.05)

    def p_wrong_for_analyst():
        with torch.no_grad():
            return torch.softmax(policy.logits([ex.question])[0][0], -1)[:, wrong].mean().item()

    before = p_wrong_for_analyst()
    terms, _ = episode_terms(setup, Choice(policy.logits([ex.question])[0], picks), ep, 1.0)
    reinforce_loss([terms], beta=0.0).backward()
    opt.step()
    return terms.rewards[0].item(), p_wrong_for_analyst() - before


async def test_node_level_reward_stops_crediting_a_wrong_supernode_for_the_systems_success():
    eff_final_only, change_final_only = await one_step_on_a_misleading_episode(alpha=0.0)
    eff_mixed, change_mixed = await one_step_on_a_misleading_episode(alpha=0.5)
    assert eff_final_only > 0 and change_final_only > 0  # α = 0: the wrong model is reinforced
    assert eff_mixed < 0 and change_mixed < 0  # α = 0.5: it is discouraged
