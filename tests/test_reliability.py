"""Faults: a killed training job resumes to bitwise-identical weights; bad data fails cleanly."""

import copy
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, snakemake
from image_fixtures import cifar_batches, write_cifar_tarball, write_png_folder

from inflationary_flows.io import read_h5, write_h5

pytestmark = pytest.mark.workflow

KILL_CONFIG = {
    "seed": 11,
    "data": {"toys": ["circles"], "digits": False, "n_train": 400, "n_test": 100},
    "toys": {"models": {"prp": ["circles"], "prr": []}, "animations": [],
             # input: 2 coordinates, 2 x 4 Fourier features, 2 x 2 + 1 time features
             "network": {"width": 16, "depth": 1, "time_features": 2, "fourier_features": 4},
             "training": {"steps": 1500, "batch_size": 32, "stable_target_size": 0,
                          "checkpoint_every": 100, "warmup_steps": 5},
             "n_eval": 50, "n_generate": 50},
    "calibration": {"posterior": {"models": []}, "pr_over_time": {"datasets": []},
                    "prr_generation": {"datasets": []},
                              "coverage": {"models": []}, "solvers": {"model": ""},
                              "density": {"models": []}, "cross_fit": {"models": []},
                              "embedded": {"base": ""}}, "images": {"datasets": []},
}
MODEL = "results/models/toys/circles_prp.pt"


# Loaded by every Python process of the killed run (sitecustomize, via PYTHONPATH): in the
# training step, once the checkpoint of step STOP_AT is on disk, it writes a marker and stops
# itself (SIGSTOP). The test kills the job tree only then, so the kill falls at that step
# whatever the machine's speed, and the job can neither finish nor write a later checkpoint.
STOP_HOOK = """
import os, signal, sys
if "--checkpoint-dir" in sys.argv:
    from inflationary_flows import training
    save = training.Trainer.save_checkpoint

    def save_then_stop(self):
        save(self)
        if self.step == int(os.environ["IF_TEST_STOP_AT"]):
            marker = os.environ["IF_TEST_STOPPED"]
            with open(marker + ".tmp", "w") as out:
                out.write(str(self.step))
            os.replace(marker + ".tmp", marker)  # whole when it appears
            os.kill(os.getpid(), signal.SIGSTOP)

    training.Trainer.save_checkpoint = save_then_stop
"""
STOP_AT = 200


def test_killed_training_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path):
    config = copy.deepcopy(KILL_CONFIG)
    config["toys"]["training"] |= {"steps": 400}  # checkpoints every 100: killed at 200
    straight = tmp_path / "straight"
    snakemake(straight, MODEL, config=config)

    work = tmp_path / "killed"
    work.mkdir()
    (work / "c.yaml").write_text(yaml.safe_dump(config))
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(STOP_HOOK)
    stopped = tmp_path / "stopped"
    env = {**os.environ, "IF_TEST_STOP_AT": str(STOP_AT), "IF_TEST_STOPPED": str(stopped),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(hook),
                                                       os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(work), "--cores", "1", MODEL, "--configfile", str(work / "c.yaml")]
    proc = subprocess.Popen(cmd, cwd=work, start_new_session=True, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hung = time.monotonic() + 1800  # a guard against a hung job, not a speed assumption
    try:
        while not stopped.exists() and proc.poll() is None and time.monotonic() < hung:
            time.sleep(0.05)
        assert stopped.exists(), f"the run ended ({proc.returncode}) before step {STOP_AT}"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole job tree, as a scheduler would
        proc.wait()
    assert stopped.read_text() == str(STOP_AT)
    assert not (work / MODEL).exists()
    ckpt = work / "results/checkpoints/toys/circles_prp/last.pt"
    assert torch.load(ckpt, weights_only=True)["step"] == STOP_AT

    snakemake(work, "--unlock", config=work / "c.yaml")
    snakemake(work, "--rerun-incomplete", MODEL, config=work / "c.yaml")
    log = (work / "logs/train/toys/circles_prp.log").read_text()
    assert (f"resumed from results/checkpoints/toys/circles_prp/last.pt at step {STOP_AT}"
            in log)
    assert_same_weights(straight / MODEL, work / MODEL)


def assert_same_weights(path_a, path_b):
    a, b = torch.load(path_a, weights_only=True), torch.load(path_b, weights_only=True)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_a_changed_input_retrains_from_scratch_not_from_the_old_checkpoint(tmp_path):
    config = copy.deepcopy(KILL_CONFIG)
    config["toys"]["training"] |= {"steps": 60, "checkpoint_every": 20}
    work = tmp_path / "work"
    snakemake(work, MODEL, config=config)
    old = torch.load(work / MODEL, weights_only=True)
    config["data"]["n_train"] = 300  # new data, hence a new PCA; the spec is unchanged
    snakemake(work, MODEL, config=config)
    log = (work / "logs/train/toys/circles_prp.log").read_text()
    assert ("not resuming from results/checkpoints/toys/circles_prp/last.pt: it was made from "
            "other inputs (data, pca differ); training from scratch") in log
    assert "resumed from" not in log
    snakemake(tmp_path / "fresh", MODEL, config=config)
    assert_same_weights(work / MODEL, tmp_path / "fresh" / MODEL)
    assert not torch.equal(old["schedule.eigenvalues"],
                           torch.load(work / MODEL, weights_only=True)["schedule.eigenvalues"])


def test_corrupt_or_non_finite_intermediates_fail_naming_file_and_dataset(tmp_path):
    config = copy.deepcopy(KILL_CONFIG)
    config["toys"]["training"] |= {"steps": 20, "checkpoint_every": 20}
    flows, metrics = "results/flows/toys/circles_prp.h5", "results/metrics/toys/circles_prp.json"
    snakemake(tmp_path, flows, config=config)
    arrays, attrs = read_h5(tmp_path / flows, "flow")
    arrays["inflation/z"][3, 1] = np.nan
    write_h5(tmp_path / flows, "flow", arrays, {k: v for k, v in attrs.items() if k not in
                                                 ("format_version", "kind", "provenance")},
             attrs["provenance"])
    proc = snakemake(tmp_path, metrics, config=config, check=False)
    assert_failed_cleanly(proc, tmp_path, "logs/toy_metrics/circles_prp.log", metrics,
                          f"{flows}: dataset 'inflation/z' holds non-finite values (first nan "
                          "at index [3, 1])")

    weights = tmp_path / MODEL
    state = torch.load(weights, weights_only=True)
    weights.write_bytes(weights.read_bytes()[:3000])  # a copy cut short
    proc = snakemake(tmp_path, flows, config=config, check=False)
    assert_failed_cleanly(proc, tmp_path, "logs/flow/toys/circles_prp.log", flows,
                          f"{MODEL}: not a readable torch file (")
    state["backbone.inp.weight"] = torch.zeros(16, 9)  # weights of another network
    torch.save(state, weights)
    proc = snakemake(tmp_path, flows, config=config, check=False)
    assert_failed_cleanly(proc, tmp_path, "logs/flow/toys/circles_prp.log", flows,
                          f"{MODEL}: does not fit the network of results/models/toys/"
                          "circles_prp.json (backbone.inp.weight: (16, 9) in the file, "
                          "(16, 15) expected)")


NO_TOYS = {"data": {"toys": ["moons"], "digits": False, "n_train": 100, "n_test": 10},
           "toys": {"models": {"prp": [], "prr": []}, "animations": [], "n_eval": 5},
           "calibration": {"posterior": {"models": []}, "pr_over_time": {"datasets": []},
                           "prr_generation": {"datasets": []},
                              "coverage": {"models": []}, "solvers": {"model": ""},
                              "density": {"models": []}, "cross_fit": {"models": []},
                              "embedded": {"base": ""}}, "images": {"datasets": []}}


def assert_failed_cleanly(proc, workdir, log, output, message):
    """The rule failed, its log's last line says why, and nothing is left at the output."""
    assert proc.returncode != 0
    last = (workdir / log).read_text().strip().splitlines()[-1]
    assert "error in step" in last and message in last, last
    assert not (workdir / output).exists()
    assert not list((workdir / output).parent.glob(".*tmp*"))


def rewrite(path, **changes):
    arrays, attrs = read_h5(path, "dataset")
    for key, change in changes.items():
        change(arrays[key.replace("__", "/")])
    write_h5(path, "dataset", arrays, {k: v for k, v in attrs.items()
                                       if k not in ("format_version", "kind", "provenance")},
             attrs["provenance"])


def test_non_finite_data_fail_the_pca_rule_cleanly(tmp_path):
    snakemake(tmp_path, "results/data/moons.h5", config=NO_TOYS)
    rewrite(tmp_path / "results/data/moons.h5", train__x=lambda x: x.__setitem__((5, 1), np.nan))
    proc = snakemake(tmp_path, "results/pca/moons.h5", config=NO_TOYS, check=False)
    assert_failed_cleanly(proc, tmp_path, "logs/pca/moons.log", "results/pca/moons.h5",
                          "results/data/moons.h5: dataset 'train/x' holds non-finite values "
                          "(first nan at index [5, 1])")


def test_constant_data_fail_the_pca_rule_cleanly(tmp_path):
    snakemake(tmp_path, "results/data/moons.h5", config=NO_TOYS)
    rewrite(tmp_path / "results/data/moons.h5", train__x=lambda x: x.__setitem__(..., 0.25))
    proc = snakemake(tmp_path, "results/pca/moons.h5", config=NO_TOYS, check=False)
    assert_failed_cleanly(proc, tmp_path, "logs/pca/moons.log", "results/pca/moons.h5",
                          "every training column is constant")


def image_config(**data):
    return {"data": {"toys": [], "digits": False, **data},
            "toys": {"models": {"prp": [], "prr": []}, "animations": []},
              "calibration": {"posterior": {"models": []}, "pr_over_time": {"datasets": []},
                              "prr_generation": {"datasets": []},
                              "coverage": {"models": []}, "solvers": {"model": ""},
                              "density": {"models": []}, "cross_fit": {"models": []},
                              "embedded": {"base": ""}}, "images": {"datasets": []}}


def test_truncated_cifar_tarball_fails_the_dataset_rule_cleanly(tmp_path):
    tarball = write_cifar_tarball(tmp_path / "cifar-10-python.tar.gz", cifar_batches(40))
    tarball.write_bytes(tarball.read_bytes()[:-2000])
    config = image_config(cifar10={"tarball": str(tarball), "md5": ""})
    proc = snakemake(tmp_path / "w", "results/data/cifar10.h5", config=config, check=False)
    assert_failed_cleanly(proc, tmp_path / "w", "logs/dataset/cifar10.log",
                          "results/data/cifar10.h5", "it is truncated or corrupt")
    # with the official checksum (the default), the same file fails before it is unpacked
    config = image_config(cifar10={"tarball": str(tarball)})
    proc = snakemake(tmp_path / "w", "results/data/cifar10.h5", config=config, check=False)
    assert_failed_cleanly(proc, tmp_path / "w", "logs/dataset/cifar10.log",
                          "results/data/cifar10.h5", "is not c58f30108f718f92721af3b95e74349a")


@pytest.mark.parametrize("fault", ["non-image", "empty test split"])
def test_bad_image_folder_fails_the_dataset_rule_cleanly(tmp_path, fault):
    folder = tmp_path / "afhq"
    write_png_folder(folder, per_class=1 if fault == "empty test split" else 2)
    if fault == "non-image":
        (folder / "dog" / "README").write_text("not an image")
    config = image_config(image_folders={"afhq": {"folder": str(folder), "size": 4}})
    proc = snakemake(tmp_path / "w", "results/data/afhq.h5", config=config, check=False)
    message = "README: not an image" if fault == "non-image" else "the test split is empty"
    assert_failed_cleanly(proc, tmp_path / "w", "logs/dataset/afhq.log",
                          "results/data/afhq.h5", message)
