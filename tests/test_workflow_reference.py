"""The exact-score references of the tiny run's toy models and the summary table."""

import json

import pytest

from inflationary_flows.io import read_csv, read_json

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
