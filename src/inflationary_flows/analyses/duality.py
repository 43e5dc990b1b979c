"""The SDE / Fokker-Planck / pfODE duality of paper Figure 1, on a 1-D Gaussian mixture.

The forward SDE dx = sqrt(dC/dt) dW (no drift) and the probability-flow ODE share the
marginals p_t = p_0 * N(0, C(t)), which for a mixture are closed form. Everything is shown
in the scaled coordinate x~ = A(t) x, where the marginals stay bounded. The pfODE uses the
exact score of the smoothed mixture (:class:`MixtureDenoiser`), so nothing is trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats
from torch import Tensor

from ..basis import EigenBasis
from ..schedules import Schedule, make_schedule
from .exact import exact_flow


@dataclass(frozen=True)
class Mixture1D:
    weights: tuple[float, ...]
    means: tuple[float, ...]
    stds: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.dot(self.weights, self.means))

    @property
    def variance(self) -> float:
        w, m, s = map(np.asarray, (self.weights, self.means, self.stds))
        return float(np.dot(w, s**2 + m**2) - self.mean**2)

    def sample(self, n: int, gen: torch.Generator) -> Tensor:
        comp = torch.multinomial(torch.tensor(self.weights), n, replacement=True, generator=gen)
        z = torch.randn(n, generator=gen, dtype=torch.float64)
        return torch.tensor(self.means)[comp] + torch.tensor(self.stds)[comp] * z


FIGURE1_MIXTURE = Mixture1D(weights=(0.6, 0.4), means=(-1.0, 1.3), stds=(0.3, 0.45))


class Duality:
    """The schedule (reference-form PRP on the mixture's variance) and the three views."""

    def __init__(self, mixture: Mixture1D, t_max: float, solver: dict | None = None) -> None:
        self.mixture = mixture
        self.schedule: Schedule = make_schedule("prp", "exponential",
                                                torch.tensor([mixture.variance]))
        basis = EigenBasis(torch.eye(1, dtype=torch.float64), torch.tensor([mixture.mean]))
        self.flow = exact_flow(torch.tensor(mixture.means).unsqueeze(1), self.schedule, basis,
                               variances=torch.tensor(mixture.stds).unsqueeze(1) ** 2,
                               weights=torch.tensor(mixture.weights),
                               solver={"t_min": 0.0, "t_max": t_max, **(solver or {})})

    def scale(self, t: Tensor) -> Tensor:
        return self.schedule.A(t)[..., 0]

    def marginal_density(self, times: Tensor, grid: Tensor) -> Tensor:
        """p_t(x~) on ``grid`` (scaled, centred coordinates) at ``times``: (T, G)."""
        return self._marginal(times, grid, density=True)

    def marginal_cdf(self, t: float, x: Tensor) -> Tensor:
        return self._marginal(torch.tensor([t]), x, density=False)[0]

    def _marginal(self, times: Tensor, x: Tensor, density: bool) -> Tensor:
        s = self.scale(times).unsqueeze(-1)
        C = self.schedule.C(times)[..., :1]
        out = torch.zeros(len(times), len(x), dtype=torch.float64)
        for w, m, sd in zip(self.mixture.weights, self.mixture.means, self.mixture.stds,
                            strict=True):
            loc, scale = s * (m - self.mixture.mean), s * torch.sqrt(sd**2 + C)
            z = (x - loc) / scale
            out += w * (torch.exp(-0.5 * z**2) / (scale * np.sqrt(2 * np.pi)) if density
                        else torch.special.ndtr(z))
        return out

    def sde_paths(self, x0: Tensor, times: Tensor, gen: torch.Generator) -> Tensor:
        """Euler-Maruyama of dx = sqrt(dC/dt) dW, exact in law for this drift-free SDE:
        x(t_k+1) = x(t_k) + sqrt(C(t_k+1) - C(t_k)) xi. Scaled, centred: (T, n)."""
        C = self.schedule.C(times)[:, 0]
        steps = torch.sqrt(torch.diff(C)).unsqueeze(1) * torch.randn(
            len(times) - 1, len(x0), generator=gen, dtype=torch.float64)
        x = torch.cat([(x0 - self.mixture.mean).unsqueeze(0),
                       (x0 - self.mixture.mean) + torch.cumsum(steps, 0)])
        return x * self.scale(times).unsqueeze(1)

    def ode_paths(self, x0: Tensor, times: Tensor) -> tuple[Tensor, int]:
        """pfODE trajectories from data points x0 (n,), recorded at ``times``: (T, n)."""
        with torch.no_grad():
            result = self.flow.inflate(x0.unsqueeze(1), record=times.tolist())
        return result.states[..., 0], result.nfe

    def ks_distance(self, t: float, samples: Tensor) -> float:
        """Kolmogorov-Smirnov distance of scaled samples at time t to the closed form."""
        return float(stats.kstest(samples.numpy(),
                                  lambda v: self.marginal_cdf(t, torch.as_tensor(v)).numpy()
                                  ).statistic)
