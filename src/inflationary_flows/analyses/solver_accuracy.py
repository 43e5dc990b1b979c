"""How numerical error depends on the solver and its budget (NFE): round trips and latent
calibration of inflated held-out data, for Euler, Heun and adaptive Dormand-Prince."""

from __future__ import annotations

import torch

from ..basis import EigenBasis
from ..denoisers import Denoiser, MixtureDenoiser, empirical_posterior_mean
from ..flow import InflationaryFlow, SolverConfig
from ..models import schedule_from_spec
from ..pca import fit_pca
from .metrics import latent_calibration


def solver_settings(t_span: float) -> list[dict]:
    """The reference's Euler with h = 1e-2 first, then budgets of each method."""
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


class KernelDensityDenoiser(Denoiser):
    """Exact denoiser of a Gaussian kernel density estimate: components N(m_k, h^2 I).

    Given y, component k has posterior weight r_k proportional to N(y; m_k, (h^2 + C) I) and
    E[u_0 | y, k] = m_k + h^2 / (h^2 + C) (y - m_k), so
    D(y) = C / (h^2 + C) * sum_k r_k m_k + h^2 / (h^2 + C) * y: one softmax over the points
    (two matrix products), where the general mixture needs a (B, K, D) tensor.
    """

    def __init__(self, schedule, points: torch.Tensor, bandwidth: float) -> None:
        super().__init__(schedule)
        self.register_buffer("points", points)
        self.h2 = bandwidth**2

    def forward(self, u: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        C = self.schedule.C(t)
        total = C + self.h2
        return C / total * empirical_posterior_mean(u, total, self.points) + self.h2 / total * u


def exact_score_flow(train: torch.Tensor, schedule_spec: dict,
                     bandwidth: float = 0.0) -> InflationaryFlow:
    """The flow of a Gaussian kernel density estimate of ``train`` (bandwidth 0: the
    empirical distribution itself), whose smoothed score is exact. The schedule is built on
    the estimate's own covariance, (1/N) data covariance + bandwidth^2 I."""
    pca = fit_pca(train.numpy())
    n = train.shape[0]
    lam = torch.as_tensor(pca.eigenvalues) * (n - 1) / n + bandwidth**2
    schedule = schedule_from_spec(schedule_spec, lam)
    basis = EigenBasis(torch.as_tensor(pca.eigenvectors), torch.as_tensor(pca.mean))
    points = basis.to_eigen(train)
    denoiser = MixtureDenoiser(schedule, points) if bandwidth == 0 else \
        KernelDensityDenoiser(schedule, points, bandwidth)
    return InflationaryFlow(denoiser, basis, SolverConfig(t_min=schedule_spec["t_min"],
                                                          t_max=schedule_spec["t_max"]))
