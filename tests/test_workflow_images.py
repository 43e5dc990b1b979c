"""The digits chain of the tiny config, run for real: models, metrics, Figure 5, tables."""

import numpy as np
import pytest
from conftest import TINY_CONFIG, job_counts, snakemake

from inflationary_flows.datasets import read_dataset
from inflationary_flows.io import read_csv, read_h5, read_json, read_provenance
from inflationary_flows.models import load_model
from inflationary_flows.smoothing import median_neighbour_distance

pytestmark = pytest.mark.workflow


def test_image_models_flows_and_metrics(tiny_run):
    floors = []
    for variant, keep in (("prp", 64), ("prr2", 2)):
        spec = read_json(tiny_run / f"results/models/images/digits_{variant}.json", "model")
        assert spec["spec"]["schedule"]["t_min"] == 0.01
        assert spec["training"]["history"][-1]["peak_memory_mb"] > 0
        flow, attrs = read_h5(tiny_run / f"results/flows/images/digits_{variant}.h5", "flow")
        assert flow["inflation/x"].shape == (40, 64) and attrs["dims_to_keep"] == keep
        assert flow["generation/x"].dtype == np.float32 and "trajectories/inflation" not in flow
        m = read_json(tiny_run / f"results/metrics/images/digits_{variant}.json",
                      "image_metrics")
        fr = m["frechet"]
        # 60 generated, fewer than the training digits: one batch of 60, no sd over batches
        assert fr["n_generated"] == fr["floor_resampled"]["n"] == 60
        assert fr["frechet_batches"] == [fr["frechet_distance"]] and fr["frechet_sd"] is None
        floors.append((fr["floor_train_vs_test"], fr["floor_resampled"]))
        assert abs(sum(m["frechet"]["class_shares"]) - 1) < 1e-9
        assert len(m["latent_calibration"]["radii"]) == 7
    # the floor compares the held-out split with the training split: no model enters it
    assert floors[0] == floors[1]
    prp = read_json(tiny_run / "results/metrics/images/digits_prp.json", "image_metrics")
    assert prp["roundtrip_mse_8bit"]["float"] < 0.05  # tiny run: tolerance 1e-4, 30 steps
    classifier = read_json(tiny_run / "results/models/classifier/digits.json", "classifier")
    assert classifier["accuracy"]["test"] > 0.8


def test_digits_calibration_checks_beside_the_exact_score(tiny_run):
    """Held-out and training digits with fresh noise of t_min and of the data's neighbour
    scale, through the trained flow and the exact empirical score of the training digits: at
    t_min the exact score puts its own training digits where the prior does and the held-out
    ones far out (it has memorised them)."""
    for variant, keep in (("prp", 64), ("prr2", 2)):
        m = read_json(tiny_run / f"results/metrics/images/digits_{variant}.json",
                      "image_metrics")
        checks = m["calibration_checks"]
        assert set(checks) == {f"{rows}_{start}" for rows in ("held_out", "training")
                               for start in ("noised", "smoothed")}
        for check in checks.values():
            assert check["n"] == 40  # as many rows as the flow's held-out check
        for check in checks.values():  # the balls of the held-out check beside them
            for flow in ("trained", "exact"):
                np.testing.assert_allclose(check[flow]["radii"],
                                           m["latent_calibration"]["radii"], rtol=1e-12)
        if keep == 64:
            held, train = checks["held_out_noised"]["exact"], checks["training_noised"]["exact"]
            assert held["fraction_inside"][-1] < 0.2  # outside the 99 % ball
            assert train["max_abs_error"] < held["max_abs_error"] - 0.5
        # the smoothed checks start where the noise's RMS norm is the training digits' median
        # neighbour distance; the noised ones at the flow's t_min
        model, meta = load_model(tiny_run / f"results/models/images/digits_{variant}.pt",
                                 tiny_run / f"results/models/images/digits_{variant}.json")
        start = checks["held_out_smoothed"]["t_start"]
        assert checks["training_smoothed"]["t_start"] == start
        assert checks["held_out_noised"]["t_start"] == meta["spec"]["schedule"]["t_min"] < start
        train = read_dataset(tiny_run / "results/data/digits.h5")[0]["train"]
        assert float(model.schedule.C(start).sum().sqrt()) == pytest.approx(
            median_neighbour_distance(train), rel=1e-8)


def test_digits_samples_beside_the_exact_scores_from_the_same_prior_draws(tiny_run):
    """The exact empirical score generates from the trained flow's own prior draws: its
    images are training digits up to the noise left at t_min (it has memorised them), the
    held-out digits are farther out, and the Frechet excess is paired batch by batch."""
    for variant in ("prp", "prr2"):
        m = read_json(tiny_run / f"results/metrics/images/digits_{variant}.json",
                      "image_metrics")
        model, meta = load_model(tiny_run / f"results/models/images/digits_{variant}.pt",
                                 tiny_run / f"results/models/images/digits_{variant}.json")
        # RMS norm of the noise left at t_min
        noise_left = float(model.schedule.C(meta["spec"]["schedule"]["t_min"]).sum().sqrt())
        nearest = m["nearest_training_distance"]
        assert nearest["exact"] < 1.5 * noise_left < nearest["held_out"]
        fr = m["frechet"]
        np.testing.assert_allclose(fr["minus_exact"]["batches"], np.subtract(
            fr["frechet_batches"], fr["exact"]["frechet_batches"]), rtol=1e-12)
        assert fr["minus_exact"]["mean"] == pytest.approx(
            fr["frechet_distance"] - fr["exact"]["frechet_distance"], rel=1e-12)
        assert m["nfe_exact_generation"] > 0


def test_the_frechet_excess_over_the_exact_score_is_paired_batch_by_batch(tiny_run):
    """Two batches: the same images as reference give no excess in either, and the
    reference's batches swapped give equal and opposite excesses (their distances apart)."""
    import argparse

    from inflationary_flows.steps.image_metrics import frechet_report

    data = read_dataset(tiny_run / "results/data/digits.h5")[0]
    n = len(data["train"])
    rng = np.random.default_rng(0)
    # two batches of n images: training digits with two different noises
    images = np.concatenate([data["train"] + 0.1 * rng.standard_normal(data["train"].shape),
                             data["train"] + 0.5 * rng.standard_normal(data["train"].shape)])
    swapped = np.concatenate([images[n:], images[:n]])
    classifier = tiny_run / "results/models/classifier/digits"
    args = argparse.Namespace(classifier=f"{classifier}.pt", classifier_spec=f"{classifier}.json",
                              floor_seed=0)
    same = frechet_report(args, images, data, images)
    assert same["n_generated"] == n and len(same["frechet_batches"]) == 2
    assert same["minus_exact"]["batches"] == [0.0, 0.0]
    report = frechet_report(args, images, data, swapped)
    first, second = report["frechet_batches"]
    assert abs(first - second) > 1  # the noisier batch is farther from the test digits
    np.testing.assert_allclose(report["minus_exact"]["batches"], [first - second,
                                                                  second - first], rtol=1e-12)
    assert report["minus_exact"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert report["minus_exact"]["sd"] == pytest.approx(abs(first - second) * 2 ** 0.5)


def test_the_exact_scores_flows_take_their_own_solver(tiny_run, tmp_path):
    """`--exact-solver` reaches the exact score's flows (reference samples and checks) and
    nothing of the trained model's: rerun with Euler at 8 steps for the exact score, every
    trained number is the tiny run's (up to the rounding of another thread count)."""
    from inflationary_flows.cli import main

    ran = read_json(tiny_run / "results/metrics/images/digits_prp.json", "image_metrics")
    given = ran["provenance"]["params"]
    paths = {key: str(tiny_run / given[key]) for key in
             ("flow", "data", "classifier", "classifier_spec", "model", "model_spec", "pca")}
    out = tmp_path / "prp.json"
    assert main(["image-metrics", *[f"--{key.replace('_', '-')}={value}"
                                    for key, value in paths.items()],
                 "--name", "digits_prp", "--floor-seed", str(given["floor_seed"]),
                 "--solver", given["solver"], "--seed", str(given["seed"]),
                 "--exact-solver", '{"method": "euler", "steps": 8}',
                 "--output", str(out)]) == 0
    m = read_json(out, "image_metrics")
    assert m["nfe_exact_generation"] == 8 != ran["nfe_exact_generation"]
    np.testing.assert_allclose(m["frechet"]["frechet_batches"], ran["frechet"]["frechet_batches"],
                               rtol=1e-6)
    assert m["frechet"]["exact"] != ran["frechet"]["exact"]
    moved = []
    for name, check in m["calibration_checks"].items():
        before = ran["calibration_checks"][name]
        for key in ("fraction_inside", "max_abs_error"):
            np.testing.assert_allclose(check["trained"][key], before["trained"][key],
                                       rtol=1e-6)
        moved.append(check["exact"]["ks_statistic"] != before["exact"]["ks_statistic"])
    assert any(moved)  # held-out digits land outside every ball at any solver setting


def test_figure5_and_table1(tiny_run):
    fig = tiny_run / "results/figures/fig5.pdf"
    assert fig.read_bytes()[:4] == b"%PDF"
    meta = read_provenance(fig)
    assert meta["step"] == "image-figure" and len(meta["params"]["flows"]) == 2
    rows = read_csv(tiny_run / "results/tables/table1.csv")
    assert [r["model"] for r in rows] == ["digits_prp", "digits_prr2"]
    assert rows[1]["dims_kept"] == "2" and rows[1]["inflation_gap"] == "1.02"
    assert rows[0]["paper_fid"] == ""
    for row in rows:  # the table shows each model's metrics to 4 digits
        frechet = read_json(tiny_run / f"results/metrics/images/{row['model']}.json",
                            "image_metrics")["frechet"]
        assert float(row["classifier_frechet"]) == pytest.approx(frechet["frechet_distance"],
                                                                 rel=1e-3)
        assert float(row["classifier_frechet_floor"]) == pytest.approx(
            frechet["floor_train_vs_test"], rel=1e-3)
        resampled = frechet["floor_resampled"]
        assert resampled["draws"] == 200
        assert float(row["classifier_frechet_floor_resampled"]) == pytest.approx(
            resampled["mean"], rel=1e-3)
        assert float(row["classifier_frechet_floor_resampled_sd"]) == pytest.approx(
            resampled["sd"], rel=1e-2)
        assert (row["classifier_frechet_batches"], row["classifier_frechet_batch_sd"],
                row["classifier_frechet_n"]) == ("1", "", "60")
        assert float(row["classifier_frechet_exact"]) == pytest.approx(
            frechet["exact"]["frechet_distance"], rel=1e-3)
        assert float(row["classifier_frechet_minus_exact"]) == pytest.approx(
            frechet["minus_exact"]["mean"], rel=1e-3, abs=1e-3)
        assert row["classifier_frechet_minus_exact_batch_sd"] == ""  # one batch
        nearest = read_json(tiny_run / f"results/metrics/images/{row['model']}.json",
                            "image_metrics")["nearest_training_distance"]
        for rows in ("generated", "exact", "held_out"):
            assert float(row[f"nearest_training_{rows}"]) == pytest.approx(nearest[rows],
                                                                           rel=1e-2)
    spectra = tiny_run / "results/figures/supp_spectra.pdf"
    assert read_provenance(spectra)["step"] == "spectra-figure"


def test_paper_configs_plan_their_image_models(tmp_path):
    """configs/cifar10.yaml and afhqv2.yaml resolve to the paper's models (dry run on tiny
    stand-in files: the plan only needs the paths to exist)."""
    from conftest import REPO

    tarball = tmp_path / "cifar-10-python.tar.gz"
    tarball.write_bytes(b"")
    weights = tmp_path / "inception.pth"
    weights.write_bytes(b"")
    override = tmp_path / "paths.yaml"
    override.write_text(f"data: {{cifar10: {{tarball: {tarball}}}}}\n"
                        f"images: {{fid: {{weights: {weights}}}}}\n")
    proc = snakemake(tmp_path / "w", "--dry-run", config=REPO / "configs/cifar10.yaml",
                     extra_configs=[override])
    counts = job_counts(proc)
    assert counts["train"] == 9 and counts["fid"] == 9 and counts["image_table"] == 1
    folder = tmp_path / "afhq"
    folder.mkdir()
    override.write_text(f"data: {{image_folders: {{afhqv2: {{folder: {folder}}}}}}}\n"
                        f"images: {{fid: {{weights: {weights}}}}}\n")
    counts = job_counts(snakemake(tmp_path / "w2", "--dry-run",
                                  config=REPO / "configs/afhqv2.yaml", extra_configs=[override]))
    # 9 of Table 1 and 4 more gaps of the sweep at d = 2 (IG 1.02 is Table 1's prr2)
    assert counts["train"] == 13 and counts["image_table"] == 2


def test_fid_without_weights_stops_with_one_line(tmp_path, capsys):
    from inflationary_flows.cli import main

    for weights, reason in (([], "set images.fid.weights"),
                            (["--weights", str(tmp_path / "none.pth")], "no file")):
        assert main(["fid", "--flow", "x.h5", "--data", "d.h5", *weights, "--output",
                     str(tmp_path / "f.json")]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and reason in err, err
    assert not (tmp_path / "f.json").exists()


def test_single_target_builds_only_what_figure5_needs(tmp_path):
    proc = snakemake(tmp_path, "--dry-run", "results/figures/fig5.pdf", config=TINY_CONFIG)
    assert job_counts(proc) == {"dataset": 1, "pca": 1, "train": 2, "flow": 2,
                                "image_figure": 1}


@pytest.fixture(scope="module")
def cifar_run(tmp_path_factory):
    """tests/configs/tiny_cifar.yaml run for real on a CIFAR-format tarball of 200 training
    and 40 test images, with FID from a locally built Inception weights file."""
    from conftest import REPO
    from fid_fixtures import fidelity_env, write_inception_weights
    from image_fixtures import cifar_batches, write_cifar_tarball

    env = fidelity_env()
    root = tmp_path_factory.mktemp("cifar")
    tarball = write_cifar_tarball(root / "cifar-10-python.tar.gz", cifar_batches(40, seed=3))
    weights = write_inception_weights(root / "inception.pth")
    override = root / "paths.yaml"
    override.write_text(f"data: {{cifar10: {{tarball: {tarball}, md5: ''}}}}\n"
                        f"images: {{fid: {{weights: {weights}}}}}\n")
    # the image targets only (the default target adds Figure 1's duality analysis)
    snakemake(root / "w", "results/figures/fig5.pdf", "results/tables/table1.csv",
              config=REPO / "tests/configs/tiny_cifar.yaml", extra_configs=[override], env=env)
    return root / "w"


def test_cifar_chain_trains_a_unet_on_pixels_and_integrates_with_heun(cifar_run):
    data, attrs = read_h5(cifar_run / "results/data/cifar10.h5", "dataset")
    assert data["train/x"].shape == (200, 3072) and data["train/x"].dtype == np.uint8
    assert list(attrs["image_shape"]) == [3, 32, 32]
    test = data["test/x"].astype(float)
    between_images = np.mean((test[:8] - test[8:16]) ** 2)  # 8-bit units, ~10900 here
    for variant, keep in (("prp", 3072), ("prr2", 2)):
        spec = read_json(cifar_run / f"results/models/images/cifar10_{variant}.json", "model")
        backbone = spec["spec"]["backbone"]
        assert (backbone["kind"], backbone["multipliers"], backbone["attention"],
                backbone["image_shape"]) == ("unet", [1, 2], [16], [3, 32, 32])
        assert spec["spec"]["space"] == "data" and spec["training"]["history"][-1]["step"] == 4
        flow, flow_attrs = read_h5(cifar_run / f"results/flows/images/cifar10_{variant}.h5",
                                   "flow")
        assert flow["generation/x"].shape == (4, 3072) and flow_attrs["dims_to_keep"] == keep
        m = read_json(cifar_run / f"results/metrics/images/cifar10_{variant}.json",
                      "image_metrics")
        assert m["nfe"]["generation"] == 24  # Heun: two evaluations per step, 12 steps
        # 24 NFE and 4 training steps: far from the paper's 1e-2, but each image comes back
        # much closer to itself than to another image
        assert m["roundtrip_mse_8bit"]["float"] < 0.25 * between_images
        fid = read_json(cifar_run / f"results/metrics/images/cifar10_{variant}_fid.json",
                        "fid")
        assert (fid["n_generated"], fid["n_reference"]) == (4, 4) and np.isfinite(fid["fid"])


def test_cifar_chain_fills_figure5_and_table1_with_fid(cifar_run):
    meta = read_provenance(cifar_run / "results/figures/fig5.pdf")
    assert meta["step"] == "image-figure" and len(meta["params"]["flows"]) == 2
    rows = read_csv(cifar_run / "results/tables/table1.csv")
    assert [r["model"] for r in rows] == ["cifar10_prp", "cifar10_prr2"]
    for row in rows:
        fid = read_json(cifar_run / f"results/metrics/images/{row['model']}_fid.json", "fid")
        assert float(row["fid"]) == pytest.approx(fid["fid"], rel=1e-3)  # 4 digits
    assert rows[1]["dims_kept"] == "2" and rows[1]["paper_fid"] != ""
