"""The toy chain of the tiny config, run for real: trajectories, metrics, figures, report."""


import numpy as np
import pytest
from conftest import snakemake
from PIL import Image

from inflationary_flows.io import read_csv, read_h5, read_json, read_provenance

pytestmark = pytest.mark.workflow
MODELS = ["circles_prp", "s_curve_prp", "circles_prr", "s_curve_prr"]


def test_models_and_flows(tiny_run):
    for model in MODELS:
        spec = read_json(tiny_run / f"results/models/toys/{model}.json", "model")
        assert spec["training"]["loss_by_time_band"][0]["ratio"] > 0
        flow, attrs = read_h5(tiny_run / f"results/flows/toys/{model}.h5", "flow")
        dim = 2 if model.startswith("circles") else 3
        assert flow["inflation/z"].shape == (150, dim)
        assert flow["trajectories/inflation"].shape == (11, 60, dim)
        assert flow["trajectories/generation"].shape == (11, 60, dim)
        np.testing.assert_allclose(flow["trajectories/times"][[0, -1]],
                                   [0.0, attrs["schedule"]["t_max"]])
        assert attrs["nfe"]["inflation"] > 0 and attrs["provenance"]["step"] == "flow"


def test_metrics_content(tiny_run):
    for model in MODELS:
        m = read_json(tiny_run / f"results/metrics/toys/{model}.json", "toy_metrics")
        assert m["roundtrip_relative_mse"] < 1e-4
        cal = m["latent_calibration"]
        assert len(cal["fraction_inside"]) == 7 and 0 <= cal["ks_statistic"] <= 1
        assert m["generation"]["ratio"] > 0
        if model.endswith("prr"):
            # the compressed dimension ends with (near-)zero variance, as the schedule says
            comp = m["compressed"]
            assert max(comp["latent_variance_schedule"]) < 0.01
            assert comp["relative_error"] < 0.5


def test_figures_have_one_row_per_dataset(tiny_run):
    for fig in ("fig2", "fig3"):
        meta = read_provenance(tiny_run / f"results/figures/{fig}.pdf")
        assert meta["params"]["labels"] == ["circles", "s_curve"]
        assert len(meta["params"]["flows"]) == 2
    for direction in ("inflation", "generation"):
        gif = tiny_run / f"results/figures/animations/circles_prp_{direction}.gif"
        assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
        assert read_provenance(gif)["params"]["label"] == "circles_prp"
        with Image.open(gif) as img:
            assert img.n_frames == 11  # the tiny config's recorded frames


def test_provenance_table_covers_every_output(tiny_run):
    rows = read_csv(tiny_run / "results/tables/provenance.csv")
    outputs = {row["output"] for row in rows}
    made = {str(p.relative_to(tiny_run)) for p in (tiny_run / "results").rglob("*")
            if p.suffix in (".h5", ".pdf", ".gif") or p.parent.name in ("metrics", "toys")
            and p.suffix == ".json"} - {"results/tables/provenance.csv"}
    assert made <= outputs, made - outputs
    for row in rows:
        record = read_provenance(tiny_run / row["output"])
        assert row["params_hash"] == record["params_hash"] and row["git_commit"]
    steps = {row["step"] for row in rows}
    assert {"dataset", "pca", "train", "flow", "toy-metrics", "toy-figure",
            "toy-animation"} <= steps


def test_single_target_builds_exactly_what_figure_3_needs(tmp_path):
    from conftest import TINY_CONFIG, job_counts

    proc = snakemake(tmp_path, "--dry-run", "results/figures/fig3.pdf", config=TINY_CONFIG)
    assert job_counts(proc) == {"dataset": 2, "pca": 2, "train": 2, "flow": 2,
                                "toy_figure": 1}


def test_report_builds(tiny_run):
    snakemake(tiny_run, "--report", "report.html", config=tiny_run / "tiny.yaml")
    assert (tiny_run / "report.html").stat().st_size > 10_000
