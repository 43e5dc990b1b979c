"""Scale-out: the tiny config through a real SLURM cluster, 2-process (DDP) training, conda envs.

Each run is compared with a local run of the same config and seeds.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import yaml
from conftest import REPO, TINY_CONFIG, job_counts, snakemake
from slurm_cluster import ClusterUnavailable, LocalSlurm

pytestmark = pytest.mark.workflow


# -- comparing two runs ------------------------------------------------------------------
def h5_arrays(path: Path) -> dict[str, np.ndarray]:
    found = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: found.__setitem__(name, obj[()])
                     if isinstance(obj, h5py.Dataset) else None)
    return found


def without_provenance(path: Path):
    if path.suffix == ".json":
        payload = json.loads(path.read_text())
        payload.pop("provenance", None)
        return payload
    return [line for line in path.read_text().splitlines() if not line.startswith("#")]


def assert_same_results(local: Path, other: Path, patterns=("**/*.h5", "**/*.pt",
                                                            "metrics/**/*.json", "tables/*.csv")):
    """Every array, weight and metric the other run made is bitwise equal to the local one's;
    returns how many files were compared."""
    compared = 0
    for pattern in patterns:
        for b in sorted((other / "results").glob(pattern)):
            # checkpoints and the provenance table record when and from which commit; the PR
            # and summary tables list every dataset / model a run builds, and the SLURM run
            # builds fewer (their rows come from the metrics files compared here)
            if "checkpoints" in b.parts or b.name in ("provenance.csv", "summary.csv",
                                                       "participation_ratio.csv"):
                continue
            a = local / b.relative_to(other)
            assert a.exists(), f"{a} is missing from the local run"
            if a.suffix == ".h5":
                x, y = h5_arrays(a), h5_arrays(b)
                assert x.keys() == y.keys(), a.name
                for key in x:
                    assert np.array_equal(x[key], y[key]), f"{a.name}:{key}"
            elif a.suffix == ".pt":
                x, y = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
                assert x.keys() == y.keys(), a.name
                for key in x:
                    assert torch.equal(x[key], y[key]), f"{a.name}:{key}"
            else:
                assert without_provenance(a) == without_provenance(b), a.name
            compared += 1
    return compared


# -- SLURM ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    cluster = LocalSlurm(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except ClusterUnavailable as reason:
        pytest.skip(str(reason))
    yield cluster
    cluster.stop()


def profile_without_conda(tmp_path: Path) -> Path:
    """profiles/slurm as shipped, less its conda deployment: no conda channel is reachable
    here, so the jobs use this test's Python (the rules put src/ on PYTHONPATH either way)."""
    spec = yaml.safe_load((REPO / "profiles/slurm/config.yaml").read_text())
    assert spec.pop("software-deployment-method") == "conda"
    folder = tmp_path / "profile"
    folder.mkdir()
    (folder / "config.yaml").write_text(yaml.safe_dump(spec))
    return folder


# The circles chain of the tiny config (13 jobs): dataset, PCA, PRP and PRR training,
# flows, metrics, figures, a GIF and the tables. Every other part of the tiny run is jobs of
# the same kinds of steps; each would add its scheduling latency to the test's time. Job
# seeds derive from (master seed, dataset, schedule), so these jobs reproduce the local
# run's files bit for bit.
CIRCLES_CHAIN = {
    "data": {"toys": ["circles"], "embedded": {}, "digits": False},
    "toys": {"models": {"prp": ["circles"], "prr": ["circles"]}, "animations": ["circles_prp"]},
    "calibration": {"posterior": {"models": []}, "pr_over_time": {"datasets": []},
                    "prr_generation": {"datasets": []},
                    "coverage": {"models": []}, "solvers": {"model": ""}, "density": {"models": []},
                    "cross_fit": {"models": []},
                    "residuals": {"enabled": False}, "embedded": {"base": ""}},
    "images": {"datasets": []},
}


def test_tiny_config_through_slurm_equals_the_local_run(slurm, tmp_path):
    # its own local run of the chain, not the shared tiny run: most of this test is waiting
    # on SLURM, which overlaps the shared run on another pytest-xdist worker
    work, local = tmp_path / "work", tmp_path / "local"
    config = yaml.safe_load(TINY_CONFIG.read_text())
    for section, values in CIRCLES_CHAIN.items():
        config[section] = {**config.get(section, {}), **values}
    snakemake(local, config=config)
    work.mkdir()
    (work / "tiny.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(work, "--profile", str(profile_without_conda(tmp_path)),
                     "--slurm-no-account", "--slurm-status-command", "squeue",
                     "--slurm-init-seconds-before-status-checks", "1", "--latency-wait", "5",
                     config=work / "tiny.yaml")
    out = proc.stdout + proc.stderr
    job_ids = re.findall(r"has been submitted with SLURM jobid (\d+)", out)
    counts = job_counts(proc)
    submitted = sum(counts.values()) - counts.get("all", 0)
    assert len(set(job_ids)) == submitted >= 12, out[-3000:]
    # the controller's own record: every one of those jobs was allocated and completed there
    ctld = slurm.ctld_log.read_text()
    for job in job_ids:
        # the main scheduler logs "Allocate", the backfill scheduler "Started"
        started = re.search(rf"(Allocate|Started) JobId={job} ", ctld)
        assert started, f"job {job} never got a node"
        assert f"_job_complete: JobId={job} WEXITSTATUS 0" in ctld, f"job {job} did not finish"
    assert assert_same_results(local, work) >= 9  # the circles chain's arrays, metrics


# -- data-parallel training ------------------------------------------------------------------
def test_two_training_processes_match_one(tmp_path):
    """The rule's torchrun path on the CPU (gloo): 2 processes, same weights as 1 up to float32
    rounding (the gradient average of two half-batches is the full-batch gradient). Both
    trained here (not read from the shared tiny run: this file then runs while that is made)."""
    config = yaml.safe_load(TINY_CONFIG.read_text())
    model = "results/models/toys/circles_prp"
    snakemake(tmp_path / "one", f"{model}.pt", config=config)
    config["toys"]["processes"] = 2
    snakemake(tmp_path / "two", f"{model}.pt", config=config)
    log = (tmp_path / "two/logs/train/toys/circles_prp.log").read_text()
    assert "in 2 process(es)" in log
    spec = json.loads((tmp_path / f"two/{model}.json").read_text())
    assert spec["training"]["processes"] == 2
    one = torch.load(tmp_path / f"one/{model}.pt", weights_only=True)
    two = torch.load(tmp_path / f"two/{model}.pt", weights_only=True)
    worst = 0.0
    for key, a in one.items():
        if a.is_floating_point():
            scale = a.abs().max().clamp_min(1e-30)
            worst = max(worst, ((two[key] - a).abs().max() / scale).item())
        else:
            assert torch.equal(a, two[key]), key
    # float32 weights after 40 Adam steps: rounding differences only (measured 6e-7)
    assert 0 <= worst < 1e-5, worst
    losses_one = json.loads((tmp_path / f"one/{model}.json").read_text())["training"]["history"]
    np.testing.assert_allclose([h["loss"] for h in spec["training"]["history"]],
                               [h["loss"] for h in losses_one], rtol=1e-5)


# -- conda ----------------------------------------------------------------------------------
CONDA_SHIM = """#!/bin/sh
# answers what Snakemake asks conda during a dry run; anything else fails loudly
case "$1 $2" in
  "--version "*) echo "conda 24.11.0";;
  "info --json") echo '{{"conda_prefix": "{root}", "root_prefix": "{root}",'\
    '"envs_dirs": ["{root}/envs"], "pkgs_dirs": ["{root}/pkgs"], "platform": "linux-64"}}';;
  "config --get") echo '{{"get": {{"channel_priority": "strict"}}, "rc_path": null}}';;
  *) echo "conda shim: '$*' needs a real conda" >&2; exit 1;;
esac
"""


def test_use_conda_dry_run_resolves_every_rules_env(tmp_path):
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "conda").write_text(CONDA_SHIM.format(root=tmp_path / "conda"))
    (shim / "conda").chmod(0o755)
    work = tmp_path / "work"
    env = {"PATH": f"{shim}:{os.environ['PATH']}"}
    dry = snakemake(work, "--dry-run", "--use-conda", env=env, config=TINY_CONFIG)
    listed = snakemake(work, "--list-conda-envs", "--use-conda", env=env, config=TINY_CONFIG)
    # every env file a rule of the tiny run names was read and hashed (missing: an error)
    used = set(re.findall(r"envs/(\w+)\.yaml\s+\S*\.snakemake/conda/[0-9a-f]+",
                          listed.stdout + listed.stderr))
    # every env but FID's (the tiny config computes no FID; test_envs checks that file)
    assert used == {p.stem for p in (REPO / "envs").glob("*.yaml")} - {"fid"}
    # conda decides where each job's software comes from, not which jobs run
    plain = snakemake(tmp_path / "plain", "--dry-run", config=TINY_CONFIG)
    assert job_counts(dry) == job_counts(plain)
