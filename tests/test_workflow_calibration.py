"""The calibration analyses of the tiny config, run for real inside the default target."""

import numpy as np
import pytest
import yaml

from inflationary_flows.datasets import read_dataset
from inflationary_flows.io import read_h5, read_json, read_provenance

pytestmark = pytest.mark.workflow


def test_figures_are_real_pdfs_with_provenance(tiny_run):
    for name, step in (("fig1", "duality"), ("fig4", "posterior-report"),
                       ("supp_pr", "pr-over-time"), ("supp_residuals", "residuals"),
                       ("supp_coverage", "coverage-report"), ("supp_solvers", "solver-accuracy"),
                       ("supp_embedded", "embedded"), ("supp_prr", "prr-generation")):
        path = tiny_run / f"results/figures/{name}.pdf"
        assert path.read_bytes()[:4] == b"%PDF" and path.stat().st_size > 5000, name
        assert read_provenance(path)["step"] == step


def test_hmc_calibration_summary(tiny_run):
    summary = read_json(tiny_run / "results/metrics/hmc_calibration.json", "hmc_calibration")
    row = summary["models"]["circles_prr"]
    assert row["replicates"] == 10 and len(row["sbc_rank_uniformity"]) == 3
    mean = np.asarray(row["figure4"]["posterior_mean"])
    assert abs(mean.sum() - 1) < 1e-9 and set(row["interval_coverage"]) == {"0.50", "0.90"}
    arrays, attrs = read_h5(tiny_run / "results/posterior/circles_prr.h5", "posterior")
    assert arrays["sbc/ranks"].shape == (10, 3) and arrays["sbc/ranks"].max() <= 100
    # generation then inflation recovers the latents the data were made from
    assert attrs["latent_recovery_max_error"] < 0.1


def test_coverage_and_pr_outputs(tiny_run):
    cov = read_json(tiny_run / "results/metrics/coverage_s_curve_prr.json", "coverage")
    assert cov["dim"] == 3 and len(cov["initial"]["runs"]) == 2
    assert np.all(np.diff(cov["initial"]["mean"]) >= 0)  # nested balls hold nested shares
    pr = read_json(tiny_run / "results/metrics/pr_over_time.json", "pr_over_time")
    main = pr["datasets"]["s_curve"]["prpmain"]
    # the main-text PRP keeps the PR of the atoms (the first training rows) at every time
    atoms = yaml.safe_load((tiny_run / "tiny.yaml").read_text())["calibration"][
        "pr_over_time"]["atoms"]
    train = read_dataset(tiny_run / "results/data/s_curve.h5", ["train"])[0]["train"]
    lam = np.linalg.eigvalsh(np.cov(train[:atoms].T, bias=True))
    np.testing.assert_allclose(main["closed_form"], lam.sum() ** 2 / (lam**2).sum(),
                               rtol=1e-10)
    # 200 pushed samples: their PR within sampling error (measured 4.6 % at most)
    np.testing.assert_allclose(main["empirical"], main["closed_form"], rtol=0.1)
    prr = pr["datasets"]["s_curve"]["prr"]
    assert prr["limit"] == 2.0 and prr["closed_form"][-1] < prr["closed_form"][0]
    residuals = read_json(tiny_run / "results/metrics/residuals.json", "residual_correlation")
    R = np.asarray(residuals["models"]["circles_prp"]["residual"]["R"])
    np.testing.assert_allclose(np.diag(R), 1.0, atol=1e-12)


def test_embedded_toys_keep_neighbourhoods_of_the_noiseless_sets(tiny_run):
    result = read_json(tiny_run / "results/metrics/embedded.json", "embedded")
    models = result["models"]
    assert set(models) == {"circles_flat", "circles_curved", "circles_flat_noisy",
                           "circles_curved_noisy"}
    # at t_min a flat noiseless embedding is an isometry of the 2-D set: every neighbour kept
    assert models["circles_flat"]["start"] == 1.0
    # what each set is, measured on the data: the noisy set is the flat one plus isotropic
    # noise of the recorded sd (1800 coordinates: the sd within 2 % of it), the curved set
    # departs from the flat one
    data = {name: read_dataset(tiny_run / f"results/data/circles_{name}.h5", ["train"])[0][
        "train"] for name in ("flat", "flat_noisy", "curved")}
    noise = (data["flat_noisy"] - data["flat"]).std()
    assert models["circles_flat_noisy"]["noise"] == pytest.approx(noise, rel=0.1)
    assert models["circles_flat"]["noise"] == models["circles_flat"]["curvature"] == 0
    assert models["circles_curved"]["curvature"] > 0
    assert np.abs(data["curved"] - data["flat"]).max() > 0.1
    for row in models.values():
        assert len(row["knn_overlap"]) == 11 and row["end"] > 2 * result["chance"]


def test_prr_generation_sweeps_the_configured_grid(tiny_run):
    sweep = yaml.safe_load((tiny_run / "tiny.yaml").read_text())["calibration"]["prr_generation"]
    rows = read_json(tiny_run / "results/metrics/prr_generation.json",
                     "prr_generation")["datasets"]["circles"]
    assert [(r["t_max"], r["inflation_gap"]) for r in rows] == [
        (t, g) for t in sweep["t_max"] for g in sweep["inflation_gaps"]]
    # circles: D = 2, d = 1, so IG 2 is the paper's "orig" gap D / (D - d)
    assert all(r["keep"] == 1 and r["n"] == sweep["points"] and r["is_orig_gap"] for r in rows)
