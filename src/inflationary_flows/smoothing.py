"""A flow's starting time chosen from the data, and held-out points at that time.

A flow started at t_min models the data smoothed by the schedule's noise C(t_min). Trained on
a few hundred rows, a denoiser at small t learns the rows themselves (their empirical score),
and held-out rows fall between its bumps: on breast cancer (455 rows, 30 columns) held-out
calibration is off by 86 pp at t_min = 0. Starting where the noise reaches a row's neighbours
(RMS norm of the noise = median nearest-neighbour distance of the training rows) fills the gaps
between them, as a kernel density estimate's bandwidth does. The model is then a density of the
smoothed data, so held-out rows are checked with fresh noise of that size added.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.optimize import brentq
from scipy.spatial import cKDTree
from torch import Tensor

from .schedules import Schedule

AUTO = "auto"


def median_neighbour_distance(x: np.ndarray) -> float:
    """Median over rows of the Euclidean distance to the nearest other row."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[0] < 2:
        raise ValueError(f"nearest neighbours need at least 2 rows, got {x.shape[0]}")
    return float(np.median(cKDTree(x).query(x, k=2)[0][:, 1]))


def noise_norm(schedule: Schedule, t: float) -> float:
    """RMS norm sqrt(tr C(t)) of the noise the schedule has added at time t."""
    return float(schedule.C(t).sum().sqrt())


def time_at_noise_norm(schedule: Schedule, norm: float, t_max: float) -> float:
    """The t in [0, t_max] where the noise's RMS norm equals ``norm`` (C grows with t); 0 if
    it is already larger at t = 0."""
    if noise_norm(schedule, 0.0) >= norm:
        return 0.0
    if noise_norm(schedule, t_max) <= norm:
        raise ValueError(f"the schedule's noise stays below the data's neighbour distance "
                         f"{norm:.4g} up to t_max = {t_max}: raise t_max")
    return float(brentq(lambda t: noise_norm(schedule, t) - norm, 0.0, t_max, xtol=1e-10))


def resolve_t_min(spec: dict[str, Any], schedule: Schedule, x_train: np.ndarray,
                  source: str = "training rows") -> dict[str, Any]:
    """The model spec with a numeric schedule t_min: ``auto`` is replaced by the time at which
    the noise reaches the training rows' median neighbour distance, recorded under
    ``smoothing`` (which tells the flow step to check held-out rows at that time). Errors
    name ``source``, the file the rows come from."""
    sched = spec["schedule"]
    if sched["t_min"] != AUTO:
        return spec
    try:
        distance = median_neighbour_distance(x_train)
        t_min = time_at_noise_norm(schedule, distance, sched["t_max"])
    except ValueError as err:
        raise ValueError(f"{source}: t_min auto: {err}") from None
    return {**spec, "schedule": {**sched, "t_min": t_min},
            "smoothing": {"rule": "noise RMS norm = median nearest-neighbour distance",
                          "neighbour_distance": distance, "t_min": t_min}}


def add_noise(x: Tensor, std: Tensor, eigenvectors: Tensor,
              generator: torch.Generator) -> Tensor:
    """Rows ``x`` plus fresh Gaussian noise of standard deviation ``std`` along each eigen
    axis (the columns of ``eigenvectors``)."""
    noise = torch.randn(x.shape, generator=generator, dtype=x.dtype) * std.to(x.dtype)
    return x + noise @ eigenvectors.to(x.dtype).T


def noise_at_t_min(flow) -> Tensor:
    """Standard deviation per eigen axis of the noise a flow's starting time carries."""
    return flow.schedule.C(flow.solver.t_min).sqrt()


def held_out_rows(flow: dict, test: np.ndarray) -> np.ndarray:
    """The held-out rows a flow file's samples compare with: the test split as the flow step
    smoothed it (a model of smoothed rows), else the test split itself."""
    return flow["smoothing/test"] if "smoothing/test" in flow else test
