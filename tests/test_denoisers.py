"""Exact denoisers and the preconditioner against brute-force float64 evaluations."""

import numpy as np
import pytest
import torch
from scipy.special import logsumexp, softmax
from torch import nn

from inflationary_flows.basis import EigenBasis
from inflationary_flows.denoisers import GaussianDenoiser, MixtureDenoiser
from inflationary_flows.preconditioning import IFPreconditioner, coefficients
from inflationary_flows.schedules import make_schedule

LAM = torch.tensor([2.0, 0.5, 0.1], dtype=torch.float64)


class Zero(nn.Module):
    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def forward(self, x, t):
        return torch.zeros_like(x)


def brute_force(u, C, means, variances, weights):
    """Per-point, per-component log p and score in plain numpy (float64)."""
    logp, score = [], []
    for ub, cb in zip(u, C, strict=True):
        total = cb + variances
        logits = np.log(weights) - 0.5 * (((ub - means) ** 2 / total)
                                          + np.log(2 * np.pi * total)).sum(-1)
        r = softmax(logits)
        logp.append(logsumexp(logits))
        score.append((r[:, None] * (means - ub) / total).sum(0))
    return np.array(logp), np.array(score)


@pytest.mark.parametrize("empirical", [True, False])
def test_mixture_score_and_density_match_brute_force_including_far_points(empirical):
    rng = np.random.default_rng(0)
    sched = make_schedule("prp", "exponential", LAM)
    means = rng.standard_normal((40, 3))
    variances = np.zeros((40, 3)) if empirical else rng.uniform(0.01, 0.2, (40, 3))
    weights = rng.uniform(0.5, 1.5, 40)
    weights /= weights.sum()
    mix = MixtureDenoiser(sched, torch.tensor(means),
                          None if empirical else torch.tensor(variances),
                          torch.tensor(weights), chunk_size=7)
    u = np.concatenate([rng.standard_normal((20, 3)), rng.standard_normal((5, 3)) * 60 + 200])
    t = torch.tensor(rng.uniform(0.0, 3.0, 25))
    C = sched.C(t).numpy()
    logp, score = brute_force(u, C, means, variances, weights)
    ut = torch.tensor(u)
    torch.testing.assert_close(mix.score(ut, t), torch.tensor(score), rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(mix.log_prob(ut, t), torch.tensor(logp), rtol=1e-12, atol=1e-9)
    # far points: clipping kernel weights at 1e-30 (the reference code) gives 0/0 there
    assert np.all(np.abs(score[20:]) > 1.0)


def test_mixture_score_is_gradient_of_its_log_density_and_chunking_is_invisible():
    sched = make_schedule("prr", "proportional", LAM, dims_to_keep=1, inflation_gap=1.0)
    means = torch.randn(100, 3, generator=torch.Generator().manual_seed(1))
    u = torch.randn(8, 3, generator=torch.Generator().manual_seed(2)).requires_grad_(True)
    t = torch.full((8,), 0.8)
    a, b = MixtureDenoiser(sched, means, chunk_size=13), MixtureDenoiser(sched, means)
    grad = torch.autograd.grad(a.log_prob(u, t).sum(), u)[0]
    torch.testing.assert_close(a.score(u, t), grad)
    torch.testing.assert_close(a(u, t), b(u, t), rtol=1e-13, atol=1e-14)


def test_gaussian_denoiser_is_the_zero_network_preconditioner():
    sched = make_schedule("prp", "proportional", LAM)
    gauss, pre = GaussianDenoiser(sched), IFPreconditioner(Zero(), sched)
    u, t = torch.randn(16, 3), torch.rand(16) * 4 + 0.01
    torch.testing.assert_close(pre(u, t), gauss(u, t), rtol=1e-14, atol=0)
    torch.testing.assert_close(gauss.score(u, t), -u / (LAM + sched.C(t)))
    assert torch.equal(gauss.residual(u, t), torch.zeros_like(u))


def test_preconditioning_coefficients_closed_form():
    lam, C = torch.tensor([1.0, 4.0]), torch.tensor([3.0, 0.0])
    c_skip, c_in, c_out = coefficients(lam, C)
    torch.testing.assert_close(c_skip, torch.tensor([0.25, 1.0]))
    torch.testing.assert_close(c_in, torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(c_out, torch.tensor([np.sqrt(0.75), 0.0]))


def test_zero_network_loss_is_one_for_non_gaussian_data():
    """Second moments alone fix the F = 0 loss: exactly 1 in expectation, for any data."""
    g = torch.Generator().manual_seed(3)
    sched = make_schedule("prr", "exponential", LAM, dims_to_keep=1, inflation_gap=1.0)
    signs = torch.randint(0, 2, (200_000, 3), generator=g) * 2.0 - 1
    u0 = signs * torch.sqrt(LAM)  # two points per axis: far from Gaussian, variance lam
    t = torch.rand(200_000, generator=g) * 8
    loss = IFPreconditioner(Zero(), sched).loss(u0, t, torch.randn(u0.shape, generator=g))
    mean, se = loss.mean(0), loss.std(0) / np.sqrt(len(loss))
    assert torch.all((mean - 1).abs() < 4 * se), (mean, se)


def test_data_space_network_equals_rotated_eigen_space_network():
    rng = np.random.default_rng(4)
    w, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    basis = EigenBasis(torch.tensor(w), torch.tensor([1.0, -2.0, 0.5]))
    M = torch.tensor(rng.standard_normal((3, 3)))

    class Linear(nn.Module):
        def __init__(self, matrix):
            super().__init__()
            self.m = nn.Parameter(matrix)

        def forward(self, x, t):
            return x @ self.m.T * (1 + t.unsqueeze(-1))

    W = torch.tensor(w)
    sched = make_schedule("prp", "exponential", LAM)
    data_net = IFPreconditioner(Linear(M), sched, basis, space="data")
    eigen_net = IFPreconditioner(Linear(W.T @ M @ W), sched, basis, space="eigen")
    u, t = torch.randn(5, 3), torch.rand(5)
    torch.testing.assert_close(data_net(u, t), eigen_net(u, t))
