"""The workflow itself: lint, dry run of the default target, a real tiny run, code tracking."""

import re
import subprocess
import sys

import numpy as np
import pytest
import yaml
from conftest import REPO, job_counts, snakemake

from inflationary_flows.datasets import read_dataset
from inflationary_flows.io import read_csv, read_h5
from inflationary_flows.workflow.config import load_schema, validate_config

pytestmark = pytest.mark.workflow


def test_lint_is_clean(tmp_path):
    proc = snakemake(tmp_path, "--lint")
    assert "Congratulations" in proc.stdout + proc.stderr


@pytest.mark.parametrize("variant", [None, "replicates.yaml"])
def test_default_target_plans_a_job_per_configured_item(tmp_path, variant):
    """The default config's dry run: the per-item rules plan as many jobs as config.yaml (with
    the schema's defaults) names items, every other rule of the default target runs once;
    with configs/replicates.yaml each toy and Table 1 model is trained, integrated and
    measured once per seed (a toy's exact reference once)."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    if variant:
        extra = yaml.safe_load((REPO / "configs" / variant).read_text())
        config["toys"] |= extra["toys"]
        config["images"] = config.get("images", {}) | extra["images"]
    config = validate_config(config, load_schema(REPO / "workflow/schemas/config.schema.yaml"))
    data, toys, images, cal = (config[k] for k in ("data", "toys", "images", "calibration"))
    assert images["ig_sweep"]["inflation_gaps"] == []  # no sweep models, no sweep table
    embedded = 4 if cal["embedded"]["base"] else 0  # flat, curved and their noisy twins
    datasets = (len(data["toys"]) + len(data["tables"]) + len(data["embedded"])
                + int(data["digits"]) + embedded)
    toy_models = sum(len(sets) for sets in toys["models"].values())
    # prp and prr<d>, each with its further seeds
    image_models = (len(images["datasets"]) * (1 + len(images["dims_to_keep"]))
                    * images["replicates"])
    seeds = toy_models * (toys["replicates"] - 1)
    models = toy_models + seeds + image_models + embedded  # embedded: under one schedule
    once = ["participation_ratio_table", "duality", "posterior_report", "pr_over_time",
            "prr_generation",
            "solver_accuracy", "coverage_report", "embedded", "residuals", "classifier",
            "spectra_figure", "image_figure", "image_table", "density_benchmark",
            "provenance_table", "summary_table", "all"]
    expected = {"dataset": datasets, "pca": datasets, "train": models, "flow": models,
                "toy_metrics": toy_models + seeds, "toy_exact_metrics": toy_models,
                "image_metrics": image_models,
                "toy_figure": len(toys["figures"]), "toy_animation": len(toys["animations"]),
                "table_figure": len(data["tables"]), "posterior": len(cal["posterior"]["models"]),
                "coverage": len(cal["coverage"]["models"]),
                "cross_fit": len(cal["cross_fit"]["models"]), **dict.fromkeys(once, 1)}
    extra = {"config": REPO / "configs" / variant} if variant else {}
    assert job_counts(snakemake(tmp_path, "--dry-run", **extra)) == expected


def test_image_flows_run_on_a_gpu_where_images_train_on_gpus_and_toy_flows_never(tmp_path):
    """With toys.gpu and images.gpu set (as in configs/toys_paper.yaml and cifar10.yaml), only
    an image model's flow asks for a GPU and passes --device cuda; toy flows stay on the CPU."""
    gpus = tmp_path / "gpus.yaml"
    # two training processes: the trajectory penalty, solved by one, is off
    gpus.write_text("toys: {gpu: 1}\nimages: {gpu: 2, model_training: "
                    "{digits_prr2: {trajectory_penalty_weight: 0.0}}}\n")
    proc = snakemake(tmp_path / "run", "--dry-run", "--printshellcmds",
                     config=REPO / "tests" / "configs" / "tiny.yaml", extra_configs=[gpus])
    flows = [line for line in proc.stdout.splitlines() if "inflationary_flows flow " in line]
    devices = {(" --model results/models/images/" in line, line.split("--device ")[1].split()[0])
               for line in flows}
    assert devices == {(True, "cuda"), (False, "cpu")}, devices


def test_no_job_outranks_a_job_it_waits_for(tmp_path):
    """Snakemake starts the ready job of highest priority, and a job's priority does not pass
    to the jobs it waits for: a producer below its consumer would hold the consumer back
    behind unrelated work (the toys' datasets once waited behind every flow). In the default
    dry run, every input made by another job comes from one of at least the same priority,
    and training outranks the analyses."""
    proc = snakemake(tmp_path, "--dry-run")
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", proc.stdout + proc.stderr):
        head = re.match(r"(?:local)?rule (\w+):", block)
        if head:
            field = dict(re.findall(r"^    (input|output|priority): (.*)$", block, re.M))
            jobs.append((head.group(1), int(field.get("priority", 0)),
                         field.get("input", "").split(", "), field.get("output", "").split(", ")))
    made_by = {out: (rule, prio) for rule, prio, _, outputs in jobs for out in outputs if out}
    checked = 0
    for rule, prio, inputs, _ in jobs:
        for path in inputs:
            if path in made_by:
                producer, made = made_by[path]
                assert made >= prio, f"{rule} ({prio}) waits for {producer} ({made}): {path}"
                checked += 1
    assert checked > 300
    ranks = {}
    for rule, prio, _, _ in jobs:
        ranks.setdefault(rule, set()).add(prio)
    assert min(ranks["train"]) > max(ranks["coverage"] | ranks["flow"] | ranks["cross_fit"])


def test_cli_lists_every_step():
    out = subprocess.run([sys.executable, "-m", "inflationary_flows", "--help"],
                         capture_output=True, text=True, check=True).stdout
    from inflationary_flows.cli import STEPS

    for step in STEPS:
        assert step in out


def test_tiny_run_outputs(tiny_run):
    data, attrs = read_h5(tiny_run / "results/data/circles.h5", "dataset",
                          required=["train/x", "test/x"])
    assert data["train/x"].shape == (600, 2) and data["test/x"].shape == (300, 2)
    np.testing.assert_allclose(data["train/x"].mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(data["train/x"].std(0), 1, atol=1e-12)
    assert attrs["params"]["seed"] == 7 and attrs["provenance"]["step"] == "dataset"

    emb, _ = read_h5(tiny_run / "results/data/circles_5d.h5", "dataset")
    assert emb["train/x"].shape == (600, 5)

    for name, dim in [("circles", 2), ("s_curve", 3), ("circles_5d", 5), ("digits", 64),
                      ("breast_cancer", 30)]:
        pca, pattrs = read_h5(tiny_run / f"results/pca/{name}.h5", "pca",
                              required=["mean", "eigenvalues", "eigenvectors"])
        x, _ = read_dataset(tiny_run / f"results/data/{name}.h5")  # digits: decoded pixels
        w, lam = pca["eigenvectors"], pca["eigenvalues"]
        np.testing.assert_allclose((w * lam) @ w.T, np.cov(x["train"], rowvar=False),
                                   atol=1e-10)
        assert w.shape == (dim, dim) and pattrs["dim"] == dim

    rows = {r["dataset"]: r for r in read_csv(tiny_run / "results/tables/participation_ratio.csv")}
    embedded = {f"circles_{kind}" for kind in ("flat", "curved", "flat_noisy", "curved_noisy")}
    assert set(rows) == {"circles", "s_curve", "circles_5d", "digits", "breast_cancer"} | embedded
    # an orthonormal embedding keeps the spectrum, hence the PR, up to float round-off
    assert float(rows["circles_5d"]["participation_ratio"]) == pytest.approx(
        float(rows["circles"]["participation_ratio"]), abs=1e-6)
    assert int(rows["digits"]["D"]) == 64
    assert 1 < float(rows["digits"]["participation_ratio"]) < 64
