import pytest
import torch

from mastune.errors import ConfigError
from mastune.optim.rl.losses import TokenBatch, get_loss


def batch(lp, old=None, adv=(1.0,), mask=None, behaviour=None, reference=None):
    lp = torch.tensor(lp, requires_grad=True)
    return TokenBatch(lp, torch.tensor(old if old is not None else lp.detach().tolist()), torch.tensor(adv),
                      torch.tensor(mask) if mask is not None else torch.ones_like(lp, dtype=torch.bool),
                      None if behaviour is None else torch.tensor(behaviour),
                      None if reference is None else torch.tensor(reference))


def test_reinforce_gradient_is_minus_advantage_per_unmasked_token():
    b = batch([[-1.0, -2.0, -3.0]], adv=(2.0,), mask=[[False, True, True]])
    total, _ = get_loss("reinforce")(b)
    total.backward()
    assert b.logprobs.grad.tolist() == [[0.0, -2.0, -2.0]]


def test_clip_equals_reinforce_at_the_first_update():
    b1, b2 = batch([[-1.0, -0.5]], adv=(-1.5,)), batch([[-1.0, -0.5]], adv=(-1.5,))
    get_loss("clip")(b1)[0].backward()
    get_loss("reinforce")(b2)[0].backward()
    assert torch.allclose(b1.logprobs.grad, b2.logprobs.grad)


def test_clip_stops_the_gradient_once_the_ratio_left_the_range_in_the_advantage_direction():
    # ratio e^0.5 > 1.2 with a positive advantage: no more push up; e^-0.5 < 0.8 with positive: still pushed
    b = batch([[0.0, -1.0]], old=[[-0.5, -0.5]], adv=(1.0,))
    total, stats = get_loss("clip")(b, clip=0.2)
    total.backward()
    assert b.logprobs.grad[0, 0] == 0.0
    assert b.logprobs.grad[0, 1] < 0.0
    assert stats["clipped"] == 1.0


def test_truncated_importance_weight_is_capped_and_detached():
    # learner p / sampler p = e^2 -> capped at 2; e^-1 -> 0.37
    b = batch([[-1.0, -1.0]], adv=(1.0,), behaviour=[[-3.0, 0.0]])
    total, stats = get_loss("reinforce")(b, tis_cap=2.0)
    total.backward()
    assert b.logprobs.grad.tolist()[0] == pytest.approx([-2.0, -torch.exp(torch.tensor(-1.0)).item()])
    assert stats["tis_weight"] == pytest.approx((2.0 + 0.36788) / 2, rel=1e-4)


def test_kl_penalty_pulls_towards_the_reference_and_is_zero_on_it():
    same = batch([[-1.0]], adv=(0.0,), reference=[[-1.0]])
    total, _ = get_loss("reinforce")(same, kl=0.1)
    total.backward()
    assert total.item() == 0.0 and same.logprobs.grad.item() == pytest.approx(0.0)
    above = batch([[-0.5]], adv=(0.0,), reference=[[-1.0]])
    total, stats = get_loss("reinforce")(above, kl=0.1)
    total.backward()
    assert total.item() > 0 and above.logprobs.grad.item() > 0  # descent lowers log p back to the reference
    assert stats["kl_ref"] > 0


def test_unknown_loss():
    with pytest.raises(ConfigError, match="unknown policy loss"):
        get_loss("ppo2")
