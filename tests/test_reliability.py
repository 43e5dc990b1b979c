"""Faults: a killed training job resumes to bitwise-identical weights; bad data fails cleanly."""

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

from inflationary_flows.io import read_h5, write_h5

pytestmark = pytest.mark.workflow

KILL_CONFIG = {
    "seed": 11,
    "data": {"toys": ["circles"], "digits": False, "n_train": 400, "n_test": 100},
    "toys": {"models": {"prp": ["circles"], "prr": []}, "animations": [],
             "network": {"width": 16, "depth": 1, "time_features": 2},
             "training": {"steps": 1500, "batch_size": 32, "reference_size": 0,
                          "checkpoint_every": 100, "warmup_steps": 5},
             "n_eval": 50, "n_generate": 50},
}
MODEL = "results/models/toys/circles_prp.pt"


def test_killed_training_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path):
    straight = tmp_path / "straight"
    snakemake(straight, MODEL, config=KILL_CONFIG)

    work = tmp_path / "killed"
    work.mkdir()
    (work / "c.yaml").write_text(yaml.safe_dump(KILL_CONFIG))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
           "--directory", str(work), "--cores", "1", MODEL, "--configfile", str(work / "c.yaml")]
    proc = subprocess.Popen(cmd, cwd=work, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = work / "results/checkpoints/toys/circles_prp/last.pt"
    deadline = time.time() + 240
    while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert ckpt.exists(), "no checkpoint appeared before the deadline"
    os.killpg(proc.pid, signal.SIGKILL)  # the whole job tree, as a scheduler would
    proc.wait()
    assert not (work / MODEL).exists()
    step_at_kill = torch.load(ckpt, weights_only=True)["step"]
    assert 0 < step_at_kill < 1500

    snakemake(work, "--unlock", config=work / "c.yaml")
    snakemake(work, "--rerun-incomplete", MODEL, config=work / "c.yaml")
    log = (work / "logs/train_toy/circles_prp.log").read_text()
    assert "resumed from results/checkpoints/toys/circles_prp/last.pt at step" in log
    a = torch.load(straight / MODEL, weights_only=True)
    b = torch.load(work / MODEL, weights_only=True)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_non_finite_data_fail_the_pca_rule_cleanly(tmp_path):
    config = {"data": {"toys": ["moons"], "digits": False, "n_train": 100, "n_test": 10},
              "toys": {"models": {"prp": [], "prr": []}, "animations": [], "n_eval": 5}}
    snakemake(tmp_path, "results/data/moons.h5", config=config)
    path = tmp_path / "results/data/moons.h5"
    arrays, attrs = read_h5(path, "dataset")
    arrays["train/x"][5, 1] = np.nan
    write_h5(path, "dataset", arrays, {k: v for k, v in attrs.items()
                                       if k not in ("format_version", "kind", "provenance")},
             attrs["provenance"])
    proc = snakemake(tmp_path, "results/pca/moons.h5", config=config, check=False)
    assert proc.returncode != 0
    log = (tmp_path / "logs/pca/moons.log").read_text()
    assert "error in step 'pca'" in log and "non-finite values in train column(s) [1]" in log
    assert not (tmp_path / "results/pca/moons.h5").exists()
    assert not list((tmp_path / "results/pca").glob(".*tmp*"))
