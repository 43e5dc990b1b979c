"""The toy chain of the tiny config, run for real: trajectories, metrics, figures, report."""


import re
import zlib

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, snakemake
from PIL import Image
from scipy import stats
from scipy.spatial.distance import cdist
from test_io import checkout_commit

from inflationary_flows.datasets import read_dataset
from inflationary_flows.io import read_csv, read_h5, read_json, read_provenance
from inflationary_flows.models import load_model
from inflationary_flows.training import loss_by_time_band

pytestmark = pytest.mark.workflow
MODELS = ["circles_prp", "s_curve_prp", "circles_prr", "s_curve_prr"]


def test_models_and_flows(tiny_run):
    for model in MODELS:
        stem = tiny_run / f"results/models/toys/{model}"
        spec = read_json(f"{stem}.json", "model")
        # the stored diagnostic is that of the saved (EMA) weights on the held-out split
        weights, meta = load_model(f"{stem}.pt", f"{stem}.json")
        dataset = model.rsplit("_", 1)[0]
        test = read_dataset(tiny_run / f"results/data/{dataset}.h5", ["test"])[0]["test"]
        sched, config = meta["spec"]["schedule"], spec["training"]["config"]
        again = loss_by_time_band(weights, weights.basis.to_eigen(torch.as_tensor(test)),
                                  np.linspace(sched["t_min"], sched["t_max"], 7).tolist(),
                                  per_band=config["band_points"], seed=config["seed"])
        stored = spec["training"]["loss_by_time_band"]
        assert len(stored) == 6
        for row, ref in zip(stored, again, strict=True):
            assert row["ratio"] == pytest.approx(row["loss"] / row["linear_loss"], rel=1e-12)
            for key in ("loss", "linear_loss"):  # float32 network: round-off only
                assert row[key] == pytest.approx(ref[key], rel=1e-8), (model, key)
        flow, attrs = read_h5(tiny_run / f"results/flows/toys/{model}.h5", "flow")
        dim = 2 if model.startswith("circles") else 3
        assert flow["inflation/z"].shape == (150, dim)
        assert flow["trajectories/inflation"].shape == (11, 60, dim)
        assert flow["trajectories/generation"].shape == (11, 60, dim)
        np.testing.assert_allclose(flow["trajectories/times"][[0, -1]],
                                   [0.0, attrs["schedule"]["t_max"]])
        # a batch's NFE is that of its costliest sample (per-sample step control)
        assert attrs["nfe"]["inflation"] == flow["inflation/nfe_per_sample"].max()
        assert attrs["provenance"]["step"] == "flow"


def energy_distance(a, b):
    """Squared energy distance (V-statistic), in scipy: 2E|X-Y| - E|X-X'| - E|Y-Y'|."""
    return 2 * cdist(a, b).mean() - cdist(a, a).mean() - cdist(b, b).mean()


def test_metrics_are_those_of_the_stored_arrays(tiny_run):
    """Every toy metric recomputed here in numpy/scipy from the flow file and the dataset."""
    for model in MODELS:
        m = read_json(tiny_run / f"results/metrics/toys/{model}.json", "toy_metrics")
        flow, _ = read_h5(tiny_run / f"results/flows/toys/{model}.h5", "flow")
        x, z, var = flow["inflation/x"], flow["inflation/z"], flow["latent_variance"]
        roundtrip = ((x - flow["roundtrip/x_back"]) ** 2).mean() / x.var(0, ddof=1).mean()
        assert m["roundtrip_relative_mse"] == pytest.approx(roundtrip, rel=1e-12)
        assert m["roundtrip_relative_mse"] < 1e-4
        cal = m["latent_calibration"]
        r2 = (z**2 / var).sum(1)
        assert cal["fraction_inside"] == [(r2 <= r * r).mean() for r in cal["radii"]]
        chi2 = stats.chi2(z.shape[1])
        assert cal["chi2_mass"] == pytest.approx(chi2.cdf(np.square(cal["radii"])), rel=1e-12)
        assert cal["ks_statistic"] == pytest.approx(stats.kstest(r2, chi2.cdf).statistic,
                                                    rel=1e-12)
        # energy distance to held-out halves against the floor of two held-out halves, on
        # the halvings the step draws (torch.randperm, seed 0, 5 splits)
        test = read_dataset(tiny_run / f"results/data/{model.rsplit('_', 1)[0]}.h5",
                            ["test"])[0]["test"]
        generated = flow["generation/x"][: len(test) // 2]
        n, perms = len(generated), torch.Generator().manual_seed(0)
        eds, floors = [], []
        for _ in range(5):
            perm = torch.randperm(len(test), generator=perms).numpy()
            a, b = test[perm[:n]], test[perm[n:2 * n]]
            eds.append(energy_distance(generated, a))
            floors.append(energy_distance(b, a))
        gen = m["generation"]
        assert gen["n"] == n == 150  # half the 300 held-out points
        # torch.cdist's matrix-product distances: round-off ~1e-9 relative
        assert gen["energy_distance"] == pytest.approx(np.mean(eds), rel=1e-6)
        assert gen["energy_distance_floor"] == pytest.approx(np.mean(floors), rel=1e-6)
        assert gen["ratio"] == pytest.approx(np.mean(eds) / np.mean(floors), rel=1e-6)
        if model.endswith("prr"):
            # the compressed dimension ends with (near-)zero variance, as the schedule says
            comp = m["compressed"]
            keep = m["dims_to_keep"]
            np.testing.assert_allclose(comp["latent_variance_measured"],
                                       z[:, keep:].var(0, ddof=1), rtol=1e-12)
            assert max(comp["latent_variance_schedule"]) < 0.01
            assert comp["relative_error"] < 0.5


def pdf_contents(path):
    """The decompressed streams of a PDF (matplotlib writes every stream with zlib)."""
    contents = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", path.read_bytes(), re.S):
        try:
            contents.append(zlib.decompress(stream))
        except zlib.error:  # none here; skipped rather than misread
            continue
    return contents


def pdf_texts(path):
    """The strings a matplotlib PDF draws, in drawing order: each BT ... ET block's
    TJ / Tj string pieces joined (kerning splits a word into several)."""
    texts = []
    for content in pdf_contents(path):
        for block in re.findall(rb"\bBT\b(.*?)\bET\b", content, re.S):
            pieces = re.findall(rb"\(((?:[^()\\]|\\.)*)\)", block)
            texts.append(re.sub(rb"\\(.)", rb"\1", b"".join(pieces)).decode("latin-1"))
    return texts


def test_figures_have_one_row_per_dataset(tiny_run):
    """The PDFs themselves: a row label per dataset of the figure's schedule, top to bottom,
    the schedule's title, and a column title per snapshot; the 2-D row's panels hold the
    recorded trajectories' points."""
    config = yaml.safe_load((tiny_run / "tiny.yaml").read_text())
    toys, snapshots = config["toys"], config["toys"]["snapshots"]
    for fig, schedule in toys["figures"].items():
        datasets = [d for d in toys["models"][schedule] if d in config["data"]["toys"]]
        assert datasets == ["circles", "s_curve"]
        texts = pdf_texts(tiny_run / f"results/figures/{fig}.pdf")
        assert [t for t in texts if t in config["data"]["toys"]] == datasets
        assert sum(t.startswith(f"{schedule.upper()} (") for t in texts) == 1
        assert sum(t.startswith("t = ") for t in texts) == 2 * snapshots  # first row only
        # each point of the 2-D circles row is one marker: 2 x snapshots panels of 60
        content = b"".join(pdf_contents(tiny_run / f"results/figures/{fig}.pdf"))
        assert len(re.findall(rb"/P\d+ Do", content)) == 2 * snapshots * toys["n_trajectories"]
    for direction in ("inflation", "generation"):
        gif = tiny_run / f"results/figures/animations/circles_prp_{direction}.gif"
        assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
        with Image.open(gif) as img:
            assert img.n_frames == toys["frames"]  # one per recorded time


def test_provenance_table_covers_every_output(tiny_run):
    rows = read_csv(tiny_run / "results/tables/provenance.csv")
    commit = checkout_commit(REPO / "src/inflationary_flows")
    outputs = {row["output"] for row in rows}
    made = {str(p.relative_to(tiny_run)) for p in (tiny_run / "results").rglob("*")
            if p.suffix in (".h5", ".pdf", ".gif") or p.parent.name in ("metrics", "toys")
            and p.suffix == ".json"} - {"results/tables/provenance.csv"}
    assert made <= outputs, made - outputs
    for row in rows:
        record = read_provenance(tiny_run / row["output"])
        assert row["params_hash"] == record["params_hash"]
        # the commit of the code the jobs ran: the checkout's (tests do not edit src/)
        assert row["git_commit"] == record["git_commit"] == commit, row
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


@torch.no_grad()
def test_prr_samples_from_training_latents(tiny_run):
    """A PRR model's second generated set: the kept latents are the prior draws of the
    first, the compressed ones those of the training row nearest in the kept coordinates."""
    from inflationary_flows.flow import flow_for

    config = yaml.safe_load((tiny_run / "tiny.yaml").read_text())
    stem = tiny_run / "results/models/toys/circles_prr"
    model, meta = load_model(f"{stem}.pt", f"{stem}.json")
    flow = flow_for(model, meta["spec"], {**config["toys"]["solver"], "rtol": 1e-8,
                                          "atol": 1e-8})
    arrays, attrs = read_h5(tiny_run / "results/flows/toys/circles_prr.h5", "flow")
    keep = attrs["dims_to_keep"]
    train = read_dataset(tiny_run / "results/data/circles.h5", ["train"])[0]["train"]
    rows = train[: config["toys"]["prr_training_latents"]]
    latents = flow.inflate(torch.as_tensor(rows)).value.numpy()
    z = flow.inflate(torch.as_tensor(arrays["generation/x_training_latents"])).value.numpy()
    prior = arrays["generation/z"]
    # the stored samples were generated at the tiny config's rtol 1e-4 (measured 1.3e-3)
    np.testing.assert_allclose(z[:, :keep], prior[:, :keep], atol=5e-3)
    nearest = cdist(prior[:, :keep], latents[:, :keep]).argmin(1)
    error = np.abs(z[:, keep:] - latents[nearest, keep:]) / latents[:, keep:].std()
    # median 1e-3 of the spread (a shuffled assignment: about 1); a few points whose two
    # nearest kept latents are closer than the solver error may pick the other one
    assert np.median(error) < 0.01 and np.mean(error > 0.1) < 0.2
    m = read_json(tiny_run / "results/metrics/toys/circles_prr.json", "toy_metrics")
    assert m["generation_training_latents"]["n"] == m["generation"]["n"]
