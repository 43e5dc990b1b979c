"""Cross-fitted calibration: folds, a perfect model's gap, and the pooled check on data whose
model is known exactly."""

import numpy as np
import pytest
from scipy import stats

from inflationary_flows.analyses.cross_fit import (
    cross_fitted_calibration,
    fold_labels,
    perfect_model_gap,
)
from inflationary_flows.analyses.metrics import calibration_radii


def test_every_row_is_held_out_exactly_once_in_balanced_seeded_folds():
    labels = fold_labels(569, 5, seed=3)
    assert sorted(np.bincount(labels)) == [113, 114, 114, 114, 114]
    np.testing.assert_array_equal(labels, fold_labels(569, 5, seed=3))
    assert (labels != fold_labels(569, 5, seed=4)).any()
    with pytest.raises(ValueError, match="2 <= folds <= rows"):
        fold_labels(10, 1, seed=0)


def test_a_perfect_models_gap_at_one_radius_is_the_binomial_closed_form():
    """With one ball the largest gap is |B / n - p| with B ~ Binomial(n, p)."""
    n, dim = 114, 30
    radius = (float(np.sqrt(stats.chi2.ppf(0.5, dim))),)
    noise = perfect_model_gap(n, radius, dim, draws=20000, seed=1)
    k = np.arange(n + 1)
    gap = np.abs(k / n - 0.5)
    order = np.argsort(gap)
    cdf = np.cumsum(stats.binom.pmf(k, n, 0.5)[order])
    median = gap[order][np.searchsorted(cdf, 0.5)]
    p95 = gap[order][np.searchsorted(cdf, 0.95)]
    assert noise["median"] == pytest.approx(median, abs=1 / n + 1e-12)
    assert noise["p95"] == pytest.approx(p95, abs=1 / n + 1e-12)


@pytest.mark.parametrize(("kind", "keep"), [("prp", 4), ("prr", 2)])
def test_gaussian_rows_are_calibrated_when_pooled_over_folds(kind, keep):
    """On Gaussian rows the untrained network (zero output layer) is the Gaussian denoiser of
    each fold's PCA, the exact model up to its covariance estimate: every row's latent through
    the fold that did not see it is N(0, I) (PRR: in its kept dimensions, whitened by the
    schedule's latent variance), so the pooled gap is a perfect model's. Each fold's
    preprocessing sees its own training rows only."""
    rng = np.random.default_rng(0)
    cov = np.array([[2.0, 0.6, 0.0, 0.1], [0.6, 1.0, 0.2, 0.0], [0.0, 0.2, 0.5, 0.1],
                    [0.1, 0.0, 0.1, 0.3]])
    rows = rng.multivariate_normal(np.zeros(4), cov, size=600)
    spec = {"schedule": {"kind": kind, "form": "exponential", "rho": 1.0, "gamma0": 5e-4,
                         "A0": 1.0, "t_min": 0.0, "t_max": 15.0 if kind == "prp" else 7.0,
                         "dims_to_keep": keep, "g_mode": "constant_gap", "inflation_gap": 2.0},
            "backbone": {"kind": "mlp", "width": 8, "depth": 1, "time_features": 2, "dim": 4,
                         "t_max": 15.0},
            "space": "eigen"}
    training = {"steps": 1, "batch_size": 8, "lr": 1e-12, "warmup_steps": 0}
    solver = {"method": "dopri5", "rtol": 1e-8, "atol": 1e-8}
    seen = []

    def prepare(fit, held):  # a z-score fitted to the fold's training rows, recorded
        seen.append((fit, held))
        mean, std = fit.mean(0), fit.std(0)
        return (fit - mean) / std, (held - mean) / std

    result = cross_fitted_calibration(spec, training, solver, rows, folds=3, seed=5,
                                      source="gaussian.csv", prepare=prepare)
    held = np.concatenate([h for _, h in seen])
    np.testing.assert_array_equal(np.sort(held, 0), np.sort(rows, 0))  # each row once
    for fit, part in seen:
        assert len(fit) + len(part) == 600
        assert not {r.tobytes() for r in fit} & {r.tobytes() for r in part}
    assert result["n"] == 600 and result["dims"] == keep
    assert [f["n_held_out"] for f in result["per_fold"]] == [200, 200, 200]
    assert all(f["n_fit"] == 400 for f in result["per_fold"])
    cal = result["calibration"]
    np.testing.assert_allclose(cal["radii"], calibration_radii(keep), rtol=1e-12)
    # pooled fractions are the folds' weighted by their rows
    pooled = sum(np.multiply(f["calibration"]["fraction_inside"], f["n_held_out"])
                 for f in result["per_fold"]) / 600
    np.testing.assert_allclose(cal["fraction_inside"], pooled, rtol=1e-12)
    assert cal["max_abs_error"] < result["perfect_model_gap"]["p95"] + 0.01
    assert cal["ks_pvalue"] > 0.001
