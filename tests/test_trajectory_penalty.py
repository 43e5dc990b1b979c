"""The trajectory penalty: the variance drift at flow states in closed form, the flow states
of the Gaussian denoiser in closed form, and its place in the training loss."""

from dataclasses import replace

import pytest
import torch
from test_training import FIRST_STEP, four_clusters, make_model, off_gaussian_prr

from inflationary_flows.training import TrainConfig, Trainer
from inflationary_flows.trajectory_penalty import (
    TIMES,
    flow_states,
    trajectory_penalty,
    variance_drift,
)


class SlopeOff(torch.nn.Module):
    """D(y, t) = (lambda / (lambda + C) + delta) y: the Gaussian denoiser with its slope off
    by delta per direction."""

    def __init__(self, schedule, delta):
        super().__init__()
        self.schedule, self.delta = schedule, delta

    def forward(self, y, t):
        lam = self.schedule.eigenvalues
        return (lam / (lam + self.schedule.C(t)) + self.delta) * y


@pytest.mark.parametrize("kind", ["prp", "prr"])
def test_variance_drift_and_penalty_in_closed_form(kind):
    """Rows of +-s in every direction have E[y^2] = s^2 in any draw, so the drift is exactly
    -delta s^2 / (lambda + C) and the penalty the kept directions' sum of its squares (PRR to
    d = 1 of 2: the first direction's alone); the Gaussian denoiser's drift is 0 on any rows."""
    sched = make_model(four_clusters(100), kind=kind).schedule
    delta = torch.tensor([0.1, -0.3], dtype=torch.float64)
    s = torch.tensor([0.7, 1.9], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    signs = torch.randint(0, 2, (TIMES, 64, 2), generator=g).double() * 2 - 1
    t = torch.full((TIMES,), 3.0, dtype=torch.float64)  # every recorded time the same
    spread = sched.eigenvalues + sched.C(t[:1])[0]
    expected = -delta * s**2 / spread
    drift = variance_drift(SlopeOff(sched, delta), sched, signs * s, t)
    torch.testing.assert_close(drift, expected.expand(TIMES, 2), rtol=1e-12, atol=0)
    penalty = trajectory_penalty(SlopeOff(sched, delta), sched, signs * s, t, g)
    assert penalty.item() == pytest.approx((expected**2 * sched.kept).sum().item(), rel=1e-12)
    assert sched.kept.tolist() == ([True, True] if kind == "prp" else [True, False])
    skewed = torch.randn(3, 50, 2, generator=g, dtype=torch.float64) ** 3  # not Gaussian
    gaussian = variance_drift(SlopeOff(sched, 0.0), sched, skewed, t[:3] * torch.tensor(
        [0.5, 1.0, 2.0], dtype=torch.float64))
    assert gaussian.abs().max().item() < 1e-12


def test_flow_states_of_the_gaussian_denoiser_scale_each_row_in_closed_form(monkeypatch):
    """With F = 0 (the model's Gaussian denoiser) the flow is linear: a row's eigen
    coordinates at t are its t_min ones times sqrt((lambda + C(t)) / (lambda + C(t_min))),
    up to Heun's error, which falls 4-fold as the steps double."""
    import inflationary_flows.trajectory_penalty as module

    x = four_clusters(200)
    model = make_model(x, kind="prr")  # zero-initialised output layer: F = 0
    u = model.basis.to_eigen(x)
    times = [0.5, 2.0, 6.0]
    sched = model.schedule
    t = torch.tensor([0.01, *times], dtype=torch.float64)
    spread = sched.eigenvalues + sched.C(t)
    exact = u * (spread[1:] / spread[0]).sqrt()[:, None, :]
    errors = []
    for steps in (module.SOLVER_STEPS, 2 * module.SOLVER_STEPS):
        monkeypatch.setattr(module, "SOLVER_STEPS", steps)
        states = flow_states(model, u, 0.01, 8.0, times)
        assert states.shape == (3, 200, 2)
        errors.append((states / exact - 1).abs().max().item())
    assert errors[0] < 1e-2 and 3.5 < errors[0] / errors[1] < 4.5


def test_the_trajectory_penalty_enters_the_training_loss():
    """The first step's loss with trajectory_penalty_weight w is the denoising loss plus w
    times the penalty at the initial EMA flow's states, on the draws after the batch's."""
    x = four_clusters(300)
    cfg, weighted = FIRST_STEP, replace(FIRST_STEP, trajectory_penalty_weight=2.0)

    def model():
        return off_gaussian_prr(x)

    u = model().basis.to_eigen(x)
    plain = Trainer(model(), u, cfg).train_step().item()
    probe = Trainer(model(), u, weighted)
    probe._batch()
    penalty = probe._trajectory_penalty().item()
    times, states = probe.trajectory
    assert states.shape == (TIMES, 300, 2)
    torch.testing.assert_close(times[[0, -1]], torch.tensor([2.5, 8.0], dtype=torch.float64))
    assert penalty > 0
    assert Trainer(model(), u, weighted).train_step().item() == pytest.approx(
        plain + 2.0 * penalty, rel=1e-6)


@pytest.mark.parametrize("keys, message", [
    ({"trajectory_penalty_band": (2.5, 20.0)},
     r"trajectory_penalty_band \[2.5, 20\] must rise within the schedule's \[0, 15\]"),
    ({"trajectory_penalty_band": (5.0, 5.0)}, "must rise within"),
    ({"checkpoint_every": 300},
     r"checkpoint_every \(300\) must be a multiple of trajectory_penalty_every \(250\)"),
    ({"trajectory_penalty_weight": -1.0}, "trajectory_penalty_weight must be >= 0"),
])
def test_a_trajectory_penalty_that_cannot_run_is_refused(keys, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(t_max=15.0, **{"trajectory_penalty_weight": 1.0, **keys})
    if "trajectory_penalty_weight" not in keys:  # off: its other keys are not checked
        TrainConfig(t_max=15.0, **keys)
