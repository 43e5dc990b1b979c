"""Your own data through the workflow: the tiny run's real table (scikit-learn's breast
cancer measurements) through the toy rules, its figure and the density benchmark; bad
tables stop with one line."""

import math

import numpy as np
import pytest
from conftest import snakemake
from scipy import stats

from inflationary_flows.datasets import read_dataset
from inflationary_flows.io import read_csv, read_h5, read_json, read_provenance

pytestmark = pytest.mark.workflow


def test_the_real_table_goes_through_the_toy_chain(tiny_run):
    data, attrs = read_dataset(tiny_run / "results/data/breast_cancer.h5")
    assert data["train"].shape == (455, 30) and data["test"].shape == (114, 30)
    assert attrs["params"]["kind"] == "table" and attrs["params"]["standardize"]
    # the default config's power transform: one exponent per column, fitted to the training
    # split, then the z-score
    assert attrs["params"]["transform"] == "yeo-johnson"
    assert len(attrs["params"]["yeo_johnson_lambdas"]) == 30
    np.testing.assert_allclose(data["train"].mean(0), 0, atol=1e-12)
    prp = read_json(tiny_run / "results/metrics/toys/breast_cancer_prp.json", "toy_metrics")
    radii = [math.sqrt(stats.chi2.ppf(p, 30)) for p in (0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)]
    np.testing.assert_allclose(prp["latent_calibration"]["radii"], radii, rtol=1e-12)
    assert prp["generation"]["n"] == 57  # half the 114 held-out rows: the floor's other half
    prr = read_json(tiny_run / "results/metrics/toys/breast_cancer_prr.json", "toy_metrics")
    assert prr["dims_to_keep"] == 5  # the table's own d, not the schedule's D - 1
    assert len(prr["latent_calibration_kept"]["radii"]) == 7
    figure = tiny_run / "results/figures/tables/breast_cancer.pdf"
    assert read_provenance(figure)["params"]["labels"] == ["breast_cancer_prp",
                                                           "breast_cancer_prr"]


def test_a_table_flow_starts_where_the_noise_reaches_the_neighbours(tiny_run):
    """t_min: auto and the validation split (the table defaults), checked from the files."""
    data, _ = read_dataset(tiny_run / "results/data/breast_cancer.h5")
    model = read_json(tiny_run / "results/models/toys/breast_cancer_prp.json", "model")
    sched = model["spec"]["schedule"]
    # exponential PRP: tr C(t) = D gamma0 exp(rho t); the median nearest-neighbour distance
    dist = np.sqrt(((data["train"][:, None] - data["train"][None]) ** 2).sum(-1))
    np.fill_diagonal(dist, np.inf)
    nearest = float(np.median(dist.min(1)))
    expected = math.log(nearest**2 / (30 * sched["gamma0"])) / sched["rho"]
    assert sched["t_min"] == pytest.approx(expected, abs=1e-8)
    assert model["training"]["config"]["validation_fraction"] == 0.2
    selection = model["training"]["selection"]
    assert selection["loss"] == min(c["loss"] for c in selection["curve"])
    # held-out rows are inflated with fresh noise of variance C(t_min) along each eigen axis
    flow, _ = read_h5(tiny_run / "results/flows/toys/breast_cancer_prp.h5", "flow")
    std = np.sqrt(sched["gamma0"] * np.exp(sched["rho"] * sched["t_min"]))
    np.testing.assert_allclose(flow["smoothing/std"], std, rtol=1e-12)
    noise = (flow["smoothing/test"] - data["test"]) @ flow["eigenvectors"] / std
    assert abs(noise.mean()) < 0.1 and abs(noise.var() - 1) < 0.1  # 3420 draws
    n = flow["inflation/x"].shape[0]
    np.testing.assert_array_equal(flow["inflation/x"], flow["smoothing/test"][:n])
    circles, _ = read_h5(tiny_run / "results/flows/toys/circles_prp.h5", "flow")
    assert "smoothing/test" not in circles  # the toys keep the paper's t_min


def test_cross_fitted_calibration_holds_out_every_row_once(tiny_run):
    """calibration.cross_fit (default config: breast_cancer_prp, 5 folds) in the tiny run:
    both splits pooled, each fold fitted by the model's own recipe to the other folds."""
    result = read_json(tiny_run / "results/metrics/cross_fit/breast_cancer_prp.json",
                       "cross_fit")
    assert result["n"] == 569 and result["folds"] == 5 and result["dims"] == 30
    folds = result["per_fold"]
    assert sorted(f["n_held_out"] for f in folds) == [113, 114, 114, 114, 114]
    assert all(f["n_fit"] + f["n_held_out"] == 569 for f in folds)
    # t_min auto resolved from each fold's own rows (tiny run: 40 training steps)
    model = read_json(tiny_run / "results/models/toys/breast_cancer_prp.json", "model")
    t_mins = [f["t_min"] for f in folds]
    assert len(set(t_mins)) == 5 and all(abs(t - model["spec"]["schedule"]["t_min"]) < 0.5
                                         for t in t_mins)
    pooled = sum(np.multiply(f["calibration"]["fraction_inside"], f["n_held_out"])
                 for f in folds) / 569
    np.testing.assert_allclose(result["calibration"]["fraction_inside"], pooled, rtol=1e-12)
    radii = [math.sqrt(stats.chi2.ppf(p, 30)) for p in (0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)]
    np.testing.assert_allclose(result["calibration"]["radii"], radii, rtol=1e-12)
    assert result["perfect_model_gap"]["median"] < result["perfect_model_gap_per_fold"]["median"]


def test_density_benchmark_rows_and_the_gaussian_closed_form(tiny_run):
    rows = read_csv(tiny_run / "results/tables/density_benchmark.csv")
    assert [(r["model"], r["method"]) for r in rows] == [
        (m, method) for m in ("breast_cancer_prp", "circles_prp")
        for method in ("inflationary_flow", "inflationary_flow_2T", "maf", "gaussian")]
    data, _ = read_dataset(tiny_run / "results/data/breast_cancer.h5")
    train, test = data["train"], data["test"][:40]
    normal = stats.multivariate_normal(train.mean(0), np.cov(train.T, bias=True))
    gaussian = next(r for r in rows if r["model"] == "breast_cancer_prp"
                    and r["method"] == "gaussian")
    assert float(gaussian["nats_per_dim"]) == pytest.approx(normal.logpdf(test).mean() / 30,
                                                            rel=1e-10)
    assert all(math.isfinite(float(r["nats_per_dim"])) for r in rows)


def table_config(tables):
    return {"data": {"toys": [], "digits": False, "tables": tables},
            "toys": {"models": {"prp": list(tables), "prr": []}, "animations": []},
            "calibration": {"posterior": {"models": []}, "pr_over_time": {"datasets": []},
                            "prr_generation": {"datasets": []},
                            "coverage": {"models": []}, "solvers": {"model": ""},
                            "density": {"models": []},
                            "cross_fit": {"models": []}, "embedded": {"base": ""},
                            "residuals": {"enabled": False}},
            "images": {"datasets": []}}


def test_bad_tables_stop_with_one_line_and_leave_nothing(tmp_path):
    missing = tmp_path / "absent.csv"
    proc = snakemake(tmp_path / "w", "--dry-run", check=False,
                     config=table_config({"mine": {"path": str(missing)}}))
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert f"config key 'data.tables.mine.path': {missing}: no such file" in out

    text = tmp_path / "text.csv"
    text.write_text("a,b\n" + "1,2\n" * 20 + "3,oops\n")
    work = tmp_path / "w2"
    proc = snakemake(work, "results/data/mine.h5", check=False,
                     config=table_config({"mine": {"path": str(text)}}))
    assert proc.returncode != 0
    last = (work / "logs/dataset/mine.log").read_text().strip().splitlines()[-1]
    assert last == f"error in step 'dataset': {text}: column 'b' is not numeric (row 22: 'oops')"
    assert not (work / "results/data/mine.h5").exists()
    assert not list((work / "results/data").glob(".*tmp*"))
