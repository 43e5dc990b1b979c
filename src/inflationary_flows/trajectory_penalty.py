"""A training penalty on the kept directions' variance drift at the flow's own states.

Along the pfODE, direction i keeps its variance ratio rho_i = E[y_i^2] / (lambda_i + C_i)
only where E[y_i (y_i - D_i(y))] = rho_i C_i over the states the flow passes through (for
the exact denoiser of Gaussian-smoothed data this is Stein's identity). The denoising loss
sees noised training data, not those states: on PRR d = 2's digits the network meets the
identity on noised digits and breaks it along the flow for t in [3, 7.5], shrinking the kept
latents (docs/results.md, "where PRR d = 2's shrink sits"). The penalty measures the
identity's error at states of the model's own flow from training rows, refreshed as the
model trains.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from .flow import InflationaryFlow, SolverConfig
from .preconditioning import IFPreconditioner

TIMES = 23  # recorded times, evenly spaced over the penalised band of t
SOLVER_STEPS = 48  # Heun steps of the flow that makes the states (t_min to t_max)
STATE_ROWS = 2048  # training rows whose states are kept: memory TIMES x rows x D
# per training step: DRAWS recorded times, BATCH states at each (2 x 256 calibrates the digits
# PRR models as 4 x 256 did, in 75 % of the training time: docs/results.md)
DRAWS, BATCH = 2, 256


@torch.no_grad()
def flow_states(model: IFPreconditioner, u: Tensor, t_min: float, t_max: float,
                times: Sequence[float]) -> Tensor:
    """States (len(times), rows, D), in eigen coordinates of the noised data (y / A), of the
    model's flow inflating the eigen-coordinate rows ``u`` from t_min."""
    flow = InflationaryFlow(model, model.basis, SolverConfig(
        t_min=t_min, t_max=t_max, method="heun", steps=SOLVER_STEPS))
    states = flow.inflate(model.basis.to_data(u), record=times).states
    t = torch.as_tensor(times, dtype=states.dtype, device=states.device)
    return states / model.schedule.A(t)[:, None, :]


def variance_drift(denoiser: torch.nn.Module, schedule, y: Tensor, t: Tensor) -> Tensor:
    """Per group and direction, (E[y (y - D(y))] - rho C) / (lambda + C) with
    rho = E[y^2] / (lambda + C), means over the rows of each group: y (G, B, D) at times
    t (G,). Exactly 0 for the Gaussian denoiser D = lambda / (lambda + C) y on any rows;
    -delta rho for one whose slope is off by delta."""
    groups, rows, dim = y.shape
    C = schedule.C(t)  # (G, D)
    spread = schedule.eigenvalues + C
    D = denoiser(y.reshape(-1, dim), t.repeat_interleave(rows)).reshape(y.shape)
    rho = (y * y).mean(1) / spread
    return ((y * (y - D)).mean(1) - rho * C) / spread


def trajectory_penalty(denoiser: torch.nn.Module, schedule, states: Tensor, times: Tensor,
                       generator: torch.Generator) -> Tensor:
    """Mean over DRAWS recorded times of the kept directions' squared variance drift, each
    from BATCH of the states there (indices drawn on the device: no host sync)."""
    dev = states.device
    k = torch.randint(0, len(times), (DRAWS,), generator=generator, device=dev)
    rows = torch.randint(0, states.shape[1], (DRAWS, BATCH), generator=generator, device=dev)
    drift = variance_drift(denoiser, schedule, states[k[:, None], rows], times[k])
    return ((drift * schedule.kept) ** 2).sum(1).mean()
