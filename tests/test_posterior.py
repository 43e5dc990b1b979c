"""Posterior calibration machinery: SBC ranks are uniform and intervals cover when the
posterior is exact (identity flow), and they detect a wrong posterior."""

import numpy as np
import torch
from scipy import stats

from inflationary_flows.analyses.posterior import (
    figure4_mixture,
    interval_coverage,
    rank_uniformity,
    sample_weight_posterior,
    sbc_ranks,
)


def simulate(replicates, n, seed):
    mixture = figure4_mixture(2)
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    truth = torch.distributions.Dirichlet(torch.ones(3, dtype=torch.float64)).sample(
        (replicates,))
    zeta, comp = mixture.sample(truth, n, gen)
    return mixture, truth, zeta, comp


def test_mixture_samples_follow_the_weights_and_density_normalises():
    mixture, truth, zeta, comp = simulate(2, 20000, 0)
    for r in range(2):
        shares = torch.bincount(comp[r], minlength=3) / 20000
        assert torch.allclose(shares, truth[r], atol=0.015)
    # each component's log density is a normalised Gaussian: check by quadrature in 2D
    g = torch.linspace(-6, 6, 601, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    mass = mixture.component_log_density(grid).exp().sum(0) * (g[1] - g[0]) ** 2
    np.testing.assert_allclose(mass.numpy(), 1.0, rtol=1e-6)


def test_sbc_ranks_are_uniform_when_the_posterior_is_exact():
    """Identity flow: the recovered latents are the latents, so NUTS samples the exact
    posterior and the ranks of prior-drawn truths are uniform."""
    mixture, truth, zeta, _ = simulate(50, 40, seed=3)
    draws = sample_weight_posterior(zeta, mixture, warmup=80, draws=150, seed=4)
    assert draws.shape == (150, 50, 3)
    assert torch.allclose(draws.sum(-1), torch.ones(()), atol=1e-10)  # on the simplex
    ranks = sbc_ranks(truth, draws, n_ranks=50)
    for test in rank_uniformity(ranks, 50, bins=6):
        assert test["p_value"] > 0.01, test
    coverage = interval_coverage(truth, draws)
    assert 0.35 < coverage["0.50"] < 0.65 and 0.8 < coverage["0.90"] <= 1.0, coverage


def test_sbc_detects_a_posterior_that_ignores_the_data():
    """Draws from a fixed Dirichlet(10) (overconfident, data ignored) fail the rank test."""
    _, truth, _, _ = simulate(200, 10, seed=5)
    wrong = torch.distributions.Dirichlet(torch.full((3,), 10.0, dtype=torch.float64)).sample(
        (300, 200))
    ranks = sbc_ranks(truth, wrong, n_ranks=50)
    assert min(t["p_value"] for t in rank_uniformity(ranks, 50)) < 1e-6
    assert interval_coverage(truth, wrong)["0.90"] < 0.7


def test_rank_statistics_of_exchangeable_draws_are_exactly_uniform():
    """Truth and draws from the same distribution: the rank is uniform on 0..L by symmetry."""
    rng = torch.Generator().manual_seed(0)
    truth = torch.rand(4000, 1, generator=rng, dtype=torch.float64)
    draws = torch.rand(99, 4000, 1, generator=rng, dtype=torch.float64)
    ranks = sbc_ranks(truth, draws, n_ranks=99)
    assert stats.chisquare(np.bincount(ranks[:, 0], minlength=100)).pvalue > 0.001
