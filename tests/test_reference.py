"""The exact-score reference of a toy model on Gaussian data, and the summary row (float64)."""

import numpy as np
import torch

from inflationary_flows.analyses.reference import reference_flow, reference_metrics, summary_row
from inflationary_flows.pca import fit_pca

SPEC = {"kind": "prp", "form": "exponential", "rho": 1.0, "gamma0": 5e-4, "A0": 1.0,
        "t_min": 0.0, "t_max": 15.0}
SOLVER = {"method": "dopri5", "rtol": 1e-4, "atol": 1e-4}


def gaussian(n, g):
    rot = torch.tensor([[0.8, -0.6], [0.6, 0.8]])
    return (torch.randn(n, 2, generator=g) * torch.tensor([1.4, 0.6])) @ rot.T + 0.5


def test_the_exact_reference_of_gaussian_data_is_calibrated_within_noise():
    """The empirical score of 400 Gaussian points maps 300 held-out ones to a calibrated
    latent: a perfect model's max gap over the 7 radii at n = 300 is below ~6 pp (95th
    percentile). The exact score of the same points spread 1.5x wider misses by far more."""
    g = torch.Generator().manual_seed(0)
    train, test = gaussian(400, g), gaussian(600, g)
    fit = fit_pca(train.numpy())
    pca = {"mean": fit.mean, "eigenvalues": fit.eigenvalues, "eigenvectors": fit.eigenvectors}
    flow = reference_flow(train, pca, SPEC, SOLVER)
    torch.testing.assert_close(flow.schedule.eigenvalues, torch.as_tensor(fit.eigenvalues))
    result = reference_metrics(flow, test, 300, 2, torch.Generator().manual_seed(1))
    assert result["n_eval"] == 300 and result["generation"]["n"] == 300
    assert result["latent_calibration"]["max_abs_error"] < 0.06
    wide = train * 1.5
    fit = fit_pca(wide.numpy())
    pca = {"mean": fit.mean, "eigenvalues": fit.eigenvalues, "eigenvectors": fit.eigenvectors}
    miss = reference_metrics(reference_flow(wide, pca, SPEC, SOLVER), test, 300, 2,
                             torch.Generator().manual_seed(1))
    assert miss["latent_calibration"]["max_abs_error"] > 0.15


def test_the_summary_row_sets_the_metrics_side_by_side():
    def metrics(gap, ratio, n, kept=None):
        found = {"latent_calibration": {"max_abs_error": gap}, "n_eval": 5000,
                 "generation": {"ratio": ratio, "n": n}, "roundtrip_relative_mse": 1.5e-7}
        return found | ({"latent_calibration_kept": {"max_abs_error": kept}} if kept else {})

    row = summary_row("swirl_prr", metrics(0.045, 3.2, 5000, 0.062),
                      {**metrics(0.016, 0.75, 2000, 0.036), "n_train": 2000}, 2.4)
    assert row["calibration_max_gap_pp_trained"] == "4.50"
    assert row["calibration_max_gap_pp_exact"] == "1.60"
    assert (row["ratio_trained"], row["n_ratio_trained"]) == ("3.200", 5000)
    assert (row["ratio_trained_at_n_exact"], row["ratio_exact"]) == ("2.400", "0.750")
    assert (row["n_ratio_exact"], row["n_train_exact"]) == (2000, 2000)
    assert (row["kept_dims_max_gap_pp_trained"], row["kept_dims_max_gap_pp_exact"]) == \
        ("6.20", "3.60")
    prp = summary_row("swirl_prp", metrics(0.045, 3.2, 5000), {**metrics(0.016, 0.75, 2000),
                                                               "n_train": 2000}, None)
    assert prp["kept_dims_max_gap_pp_trained"] == "" and prp["ratio_trained_at_n_exact"] == ""
    assert np.isclose(float(prp["roundtrip_exact"]), 1.5e-7)
