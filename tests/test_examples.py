"""The runnable example of the README's "Your own data" runs on a CSV end to end."""

import os
import re
import subprocess
import sys

import numpy as np
from conftest import REPO


def test_own_data_example_runs_on_a_csv(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)) @ rng.normal(size=(4, 4))
    csv = tmp_path / "mine.csv"
    np.savetxt(csv, x, delimiter=",", header="a,b,c,d", comments="")
    proc = subprocess.run([sys.executable, str(REPO / "examples" / "own_data.py"), str(csv)],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "IF_EXAMPLE_STEPS": "5"})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "mine.csv: 96 training rows, 24 held out, D = 4" in out
    assert re.search(r"held-out calibration: largest gap \d+\.\d pp", out)
    error = float(re.search(r"round trip: largest error ([\d.e+-]+)", out).group(1))
    assert error < 1e-2  # the map is invertible whatever the training
    assert "generated: (200, 4)" in out
