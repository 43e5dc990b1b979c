"""How numerical error depends on the solver and its budget (NFE): round trips and latent
calibration of inflated held-out data, for Euler, Heun and adaptive Dormand-Prince."""

from __future__ import annotations

import torch

from ..flow import InflationaryFlow
from .metrics import latent_calibration


def solver_settings(t_span: float) -> list[dict]:
    """The official code's Euler with h = 1e-2 first, then budgets of each method."""
    settings = [{"method": "euler", "steps": int(round(t_span / 1e-2))}]
    settings += [{"method": "euler", "steps": n} for n in (250, 500, 3000)]
    settings += [{"method": "heun", "steps": n} for n in (32, 64, 128, 256, 512)]
    settings += [{"method": "dopri5", "rtol": r, "atol": r}
                 for r in (1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)]
    return settings


@torch.no_grad()
def accuracy_sweep(flow: InflationaryFlow, x: torch.Tensor, settings: list[dict],
                   calibration: bool = False) -> list[dict]:
    """Per setting: NFE of inflation + generation, and the round-trip MSE relative to the
    data variance. With ``calibration``, also the share of inflated points in each
    Mahalanobis ball: its largest gap to the chi2 mass, and its largest change against the
    most accurate setting (the last), which isolates what the solver adds (pp)."""
    rows, shares = [], []
    variance = flow.latent_variance()
    for s in settings:
        up = flow.inflate(x, **s)
        down = flow.generate(up.value, **s)
        row = {**s, "nfe": up.nfe + down.nfe,
               "roundtrip_relative_mse": float(((down.value - x) ** 2).mean() / x.var(0).mean())}
        if calibration:
            cal = latent_calibration(up.value, variance)
            row["calibration_max_error_pp"] = 100 * cal["max_abs_error"]
            shares.append(cal["fraction_inside"])
        rows.append(row)
    for row, share in zip(rows, shares, strict=False):
        row["calibration_change_vs_most_accurate_pp"] = 100 * max(
            abs(a - b) for a, b in zip(share, shares[-1], strict=True))
    return rows
