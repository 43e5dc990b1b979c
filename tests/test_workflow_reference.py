"""The exact-score references of the tiny run's toy models and the summary table."""

import json
import subprocess
import sys

import numpy as np
import pytest

from inflationary_flows.io import read_csv, read_json, write_json

TOY_MODELS = ["circles_prp", "s_curve_prp", "breast_cancer_prp", "circles_prr", "s_curve_prr",
              "breast_cancer_prr"]


@pytest.mark.workflow
def test_every_toy_model_has_its_exact_reference(tiny_run):
    for model in TOY_MODELS:
        exact = read_json(tiny_run / f"results/metrics/toys/{model}_exact.json",
                          "toy_metrics_exact")
        trained = read_json(tiny_run / f"results/metrics/toys/{model}.json", "toy_metrics")
        # tiny.yaml: reference n_train 300 atoms, n_eval 150 (breast_cancer: 114 held out)
        assert exact["n_train"] == 300
        assert exact["n_eval"] == trained["n_eval"] == (114 if "breast" in model else 150)
        assert exact["schedule"] == trained["schedule"]
        assert exact["dims_to_keep"] == trained["dims_to_keep"]
        assert ("latent_calibration_kept" in exact) == model.endswith("prr")
        # its inputs are the data and the PCA, never the trained model
        assert not any("models/" in str(v) for v in exact["provenance"]["params"].values())


@pytest.mark.workflow
def test_the_exact_reference_of_circles_is_calibrated_within_noise(tiny_run):
    """A perfect model's max gap over the 7 radii at n = 150 stays below ~9 pp (95th
    percentile, 1.5 pp at n = 5000 scaled by sqrt(5000 / 150))."""
    exact = read_json(tiny_run / "results/metrics/toys/circles_prp_exact.json")
    assert exact["n_eval"] == 150 and exact["latent_calibration"]["max_abs_error"] < 0.09


@pytest.mark.workflow
def test_summary_rows_are_the_metrics_side_by_side(tiny_run):
    rows = read_csv(tiny_run / "results/tables/summary.csv")
    assert [r["model"] for r in rows] == TOY_MODELS
    for row in rows:
        trained = json.loads((tiny_run / f"results/metrics/toys/{row['model']}.json")
                             .read_text())
        exact = json.loads((tiny_run / f"results/metrics/toys/{row['model']}_exact.json")
                           .read_text())
        for which, metrics in (("trained", trained), ("exact", exact)):
            assert float(row[f"calibration_max_gap_pp_{which}"]) == pytest.approx(
                100 * metrics["latent_calibration"]["max_abs_error"], abs=0.005)
            assert float(row[f"ratio_{which}"]) == pytest.approx(
                metrics["generation"]["ratio"], abs=5e-4)
            assert int(row[f"n_ratio_{which}"]) == metrics["generation"]["n"]
            kept = metrics.get("latent_calibration_kept")
            assert row[f"kept_dims_max_gap_pp_{which}"] == (
                "" if kept is None else f"{100 * kept['max_abs_error']:.2f}")
        # at equal n, the ratio measured again from the flow file is the metrics' own
        assert int(row["n_ratio_exact"]) == int(row["n_ratio_trained"])
        assert row["ratio_trained_at_n_exact"] == row["ratio_trained"]


@pytest.mark.workflow
def test_summary_aggregates_further_training_seeds(tiny_run, tmp_path):
    """Two further 'seeds' of every model (its metrics with the calibration gap and ratio
    scaled): the step's mean and sd columns are numpy's over the three."""
    metrics = tiny_run / "results/metrics/toys"
    replicates = []
    for model in TOY_MODELS:
        base = read_json(metrics / f"{model}.json", "toy_metrics")
        for k, scale in ((1, 1.5), (2, 0.5)):
            seed = json.loads(json.dumps(base))
            seed["model"] = f"{model}-r{k}"
            seed["latent_calibration"]["max_abs_error"] *= scale
            seed["generation"]["ratio"] *= scale
            write_json(tmp_path / f"{model}-r{k}.json", seed)
            replicates.append(str(tmp_path / f"{model}-r{k}.json"))
    args = [sys.executable, "-m", "inflationary_flows", "summary-table",
            "--trained", *(str(metrics / f"{m}.json") for m in TOY_MODELS),
            "--exact", *(str(metrics / f"{m}_exact.json") for m in TOY_MODELS),
            "--flows", *(str(tiny_run / f"results/flows/toys/{m}.h5") for m in TOY_MODELS),
            "--data", *(str(tiny_run / f"results/data/{m.rsplit('_', 1)[0]}.h5")
                        for m in TOY_MODELS)]
    out = tmp_path / "summary.csv"
    subprocess.run([*args, "--replicates", *replicates, "--output", str(out)], check=True,
                   cwd=tiny_run)
    for row, model in zip(read_csv(out), TOY_MODELS, strict=True):
        base = read_json(metrics / f"{model}.json", "toy_metrics")
        gaps = 100 * base["latent_calibration"]["max_abs_error"] * np.array([1, 1.5, 0.5])
        ratios = base["generation"]["ratio"] * np.array([1, 1.5, 0.5])
        assert row["replicates"] == "3"
        assert float(row["calibration_max_gap_pp_trained_mean"]) == pytest.approx(
            gaps.mean(), abs=5e-4)
        assert float(row["calibration_max_gap_pp_trained_sd"]) == pytest.approx(
            gaps.std(ddof=1), abs=5e-4)
        assert float(row["ratio_trained_sd"]) == pytest.approx(ratios.std(ddof=1), abs=5e-4)
        # unchanged over the seeds: sd 0
        assert row["kept_dims_max_gap_pp_trained_sd"] == ("" if model.endswith("prp")
                                                          else "0.000")
    # a file of another model, or a count that does not split over the models, is refused
    bad = subprocess.run([*args, "--replicates", *replicates[1:], replicates[0],
                          "--output", str(out)], capture_output=True, text=True, cwd=tiny_run)
    assert bad.returncode == 1 and "not a seed of circles_prp" in bad.stderr
    bad = subprocess.run([*args, "--replicates", *replicates[1:], "--output", str(out)],
                         capture_output=True, text=True, cwd=tiny_run)
    assert bad.returncode == 1 and "do not split evenly" in bad.stderr
