"""The tiny run's golden digest: a refactor changes no number (tests/golden.py records it)."""

from __future__ import annotations

import json
import shutil

import golden
import h5py
import numpy as np
import pytest
from conftest import REPO


@pytest.mark.workflow
def test_tiny_run_outputs_are_bitwise_those_recorded(tiny_run):
    """A refactor changes no number: every array, metric and table entry of the tiny run
    equals the recorded one (bit for bit on the recording machine's kernels)."""
    recorded = json.loads((REPO / "tests/golden/tiny.json").read_text())
    assert len(recorded["entries"]) > 3000
    assert golden.differences(recorded, tiny_run / "results") == []


@pytest.mark.workflow
def test_the_digest_sees_one_changed_bit(tiny_run, tmp_path):
    results = tmp_path / "results"
    shutil.copytree(tiny_run / "results/flows/toys", results / "flows")
    shutil.copytree(tiny_run / "results/metrics/toys", results / "metrics")
    recorded = {"machine": golden.machine(), "entries": golden.digest(results)}
    assert golden.differences(recorded, results) == []
    with h5py.File(results / "flows/circles_prp.h5", "r+") as h5:
        z = h5["inflation/z"]
        z[0, 0] = np.nextafter(z[0, 0], np.inf)
    changed = golden.differences(recorded, results)
    assert [d.split(": recorded")[0] for d in changed] == ["flows/circles_prp.h5:inflation/z"]
    # on another machine's kernels, one ulp is within tolerance, a real change is not
    recorded["machine"] = {**recorded["machine"], "cpu": "another"}
    assert golden.differences(recorded, results) == []
    metrics = results / "metrics/circles_prp.json"
    data = json.loads(metrics.read_text())
    data["generation"]["ratio"] *= 1.05
    metrics.write_text(json.dumps(data))
    assert [d.split(":")[0] for d in golden.differences(recorded, results)] == [
        "metrics/circles_prp.json/generation/ratio"]
