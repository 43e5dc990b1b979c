"""Schedules against autograd, finite differences and the paper's closed forms (float64)."""

import math

import pytest
import torch

from inflationary_flows.schedules import (
    ExponentialSchedule,
    ProportionalSchedule,
    g_prp,
    g_prr_constant_gap,
    g_prr_orig,
    make_schedule,
    time_grid,
)

LAM = torch.tensor([3.0, 1.5, 0.4, 0.1], dtype=torch.float64)


def all_schedules():
    return {
        "main-prp": make_schedule("prp", "proportional", LAM, rho=0.7, A0=1.3),
        "main-prr": make_schedule("prr", "proportional", LAM, dims_to_keep=2, inflation_gap=1.5),
        "ref-prp": make_schedule("prp", "exponential", LAM, rho=1.0, gamma0=5e-4),
        "ref-prr-orig": make_schedule("prr", "exponential", LAM, dims_to_keep=1, g_mode="orig"),
        "ref-prr-gap": make_schedule("prr", "exponential", LAM, dims_to_keep=3, inflation_gap=1.02),
    }


@pytest.mark.parametrize("name", list(all_schedules()))
def test_derivatives_match_autograd(name):
    sched = all_schedules()[name]
    for t0 in (0.05, 0.7, 3.0, 9.0):
        t = torch.tensor(t0, requires_grad=True)
        for value, deriv in ((sched.C, sched.dC_dt), (sched.A, sched.dA_dt)):
            out = value(t)
            grads = torch.stack([torch.autograd.grad(out[i], t, retain_graph=True)[0]
                                 for i in range(out.shape[0])])
            torch.testing.assert_close(deriv(t0), grads, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", list(all_schedules()))
def test_derivatives_match_finite_differences(name):
    sched = all_schedules()[name]
    h = 1e-5
    for t in (0.3, 2.0):
        for value, deriv in ((sched.C, sched.dC_dt), (sched.A, sched.dA_dt)):
            fd = (value(t + h) - value(t - h)) / (2 * h)
            torch.testing.assert_close(deriv(t), fd, rtol=1e-6, atol=1e-10)


def test_vectorised_in_t():
    sched = all_schedules()["ref-prr-gap"]
    t = torch.tensor([[0.1, 1.0], [2.0, 5.0]])
    assert sched.C(t).shape == (2, 2, 4) and sched.A(t).shape == (2, 2, 4)
    torch.testing.assert_close(sched.C(t)[1, 0], sched.C(2.0))


def test_main_text_prp_is_stationary_and_keeps_pr_constant():
    sched = all_schedules()["main-prp"]
    t = torch.linspace(0, 12, 50)
    pr = sched.participation_ratio(t)
    pr0 = (LAM.sum() ** 2 / (LAM**2).sum())
    assert torch.max(torch.abs(pr - pr0)) < 1e-10
    # A Sigma A^T = diag(A0^2) at all times (section 1.3)
    torch.testing.assert_close(sched.latent_variance(t), torch.full((50, 4), 1.3**2))


def test_main_text_prr_pr_follows_closed_form_and_tends_to_truncated_pr():
    sched = all_schedules()["main-prr"]
    g = sched.g
    for t in (0.0, 0.5, 3.0, 10.0):
        w = LAM * torch.exp((g - g.max()) * t)
        torch.testing.assert_close(sched.participation_ratio(t), w.sum() ** 2 / (w**2).sum())
    kept = LAM[:2]
    truncated = kept.sum() ** 2 / (kept**2).sum()
    assert abs(sched.participation_ratio(60.0) - truncated) < 1e-10


def test_reference_schedule_latent_variances():
    sched = all_schedules()["ref-prp"]
    # gamma0 e^15 >> lambda: latent ~ N(0, I) (section 1.5)
    torch.testing.assert_close(sched.latent_variance(15.0), torch.ones(4), rtol=2e-3, atol=0)
    prr = make_schedule("prr", "exponential", LAM, dims_to_keep=2, inflation_gap=2.0)
    var = prr.latent_variance(7.0)
    gamma_star = 5e-4 * math.exp(14.0)
    eps = (LAM[2:] + 5e-4) / (LAM[0] + gamma_star)  # compressed g = 0: noise stays gamma0
    torch.testing.assert_close(var[2:], eps)
    torch.testing.assert_close(var[:2], (LAM[:2] + gamma_star) / (LAM[0] + gamma_star))


def test_g_constructions_follow_paper_convention():
    assert torch.equal(g_prp(3), torch.ones(3))
    torch.testing.assert_close(g_prr_orig(2, 1), torch.tensor([2.0, 0.0]))  # IG = 2
    torch.testing.assert_close(g_prr_orig(3, 2), torch.tensor([2.0, 2.0, -1.0]))  # IG = 3
    torch.testing.assert_close(g_prr_constant_gap(4, 1, 1.02), torch.tensor([2, 0.98, 0.98, 0.98]))
    with pytest.raises(ValueError, match="0 < d < D"):
        g_prr_orig(3, 3)


def test_invalid_schedules_are_rejected():
    with pytest.raises(ValueError, match="descending"):
        ExponentialSchedule(torch.tensor([1.0, 2.0]), g_prp(2))
    with pytest.raises(ValueError, match="g >= 0"):
        ProportionalSchedule(LAM, g_prr_orig(4, 3))
    with pytest.raises(ValueError, match="rho"):
        ExponentialSchedule(LAM, g_prp(4), rho=0.0)


def test_eigenvalue_floor_keeps_constant_directions_finite():
    sched = make_schedule("prp", "exponential", torch.tensor([2.0, 0.0]))
    assert sched.eigenvalues[1] == pytest.approx(2e-6)


def test_time_grids():
    g = time_grid(0.0, 7.01, 701)
    assert g.shape == (702,) and g[1] - g[0] == pytest.approx(0.01)
    g = time_grid(15.01, 0.01, 255)
    assert g[0] == 15.01 and g[-1] == pytest.approx(0.01) and torch.all(g.diff() < 0)
    p = time_grid(0.01, 15.0, 100, "power")
    assert torch.all(p.diff() > 0) and p.diff()[0] < p.diff()[-1] / 100
    torch.testing.assert_close(time_grid(15.0, 0.01, 100, "power"), p.flip(0))
