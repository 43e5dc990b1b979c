"""Density benchmark: each method's held-out log-likelihood against a closed form."""

import numpy as np
import torch
from scipy import stats
from test_flow import mixture_flow

from inflationary_flows.analyses.density import (
    dequantize,
    gaussian,
    inflationary,
    masked_autoregressive_flow,
    training_seconds,
)

COV = np.array([[1.0, 0.6], [0.6, 0.5]])


def gaussian_rows(n, seed):
    return np.random.default_rng(seed).multivariate_normal([0.5, -1.0], COV, size=n)


def test_gaussian_baseline_is_the_maximum_likelihood_normal_density():
    train, test = gaussian_rows(5000, 0), gaussian_rows(4000, 1)
    found = gaussian(train, test)
    expected = stats.multivariate_normal(train.mean(0), np.cov(train.T, bias=True)).logpdf(test)
    np.testing.assert_allclose(found.log_likelihood, expected, rtol=1e-12)
    row = found.row()
    assert row["dim"] == 2 and abs(row["nats_per_dim"] - expected.mean() / 2) < 1e-12
    assert row["calibration_max_gap_pp"] < 2.5  # Gaussian data: calibrated up to noise


def test_inflationary_log_prob_at_t_and_2t_is_the_mixture_density():
    flow, mix = mixture_flow()
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(3))
    exact = mix.log_prob(x, torch.zeros(8)).numpy()
    at_t, at_2t = inflationary(flow, x.numpy(), (1.0, 2.0))  # one solve, recorded at T
    alone = inflationary(flow, x.numpy())[0]  # a solve that ends at T
    np.testing.assert_allclose(at_t.log_likelihood, alone.log_likelihood, rtol=0, atol=1e-12)
    assert at_t.method == "inflationary_flow" and at_2t.method == "inflationary_flow_2T"
    assert at_2t.detail["t_max"] == 30.0
    # the Gaussian-latent assumption errs by O((lambda / C(T))^2): far smaller at 2T
    np.testing.assert_allclose(at_t.log_likelihood, exact, atol=1e-4)
    np.testing.assert_allclose(at_2t.log_likelihood, exact, atol=1e-6)


def test_maf_learns_a_gaussian_to_its_density():
    train, test = gaussian_rows(2000, 2), gaussian_rows(500, 3)
    found = masked_autoregressive_flow(train, test, seed=0, steps=200, transforms=2, hidden=32)
    truth = stats.multivariate_normal([0.5, -1.0], COV).logpdf(test)
    assert abs(found.log_likelihood.mean() - truth.mean()) < 0.1, found.log_likelihood.mean()
    assert found.row()["calibration_max_gap_pp"] < 10
    assert found.row()["setting"].startswith("steps=200 best_step=")


def test_training_time_from_logged_throughput_and_dequantisation():
    history = [{"step": 100, "samples_per_s": 1000.0}, {"step": 150, "samples_per_s": 500.0}]
    assert training_seconds(history, batch_size=10) == 100 * 10 / 1000 + 50 * 10 / 500
    x = np.repeat(np.arange(4.0)[:, None], 1000, axis=1)
    noisy = dequantize(x, 0.125, seed=0)
    assert np.all((noisy >= x) & (noisy < x + 0.125))
    np.testing.assert_allclose((noisy - x).mean(1), 0.0625, atol=0.005)
