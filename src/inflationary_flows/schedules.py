"""Inflation schedules, diagonal in the data eigenbasis (paper sections 1.3-1.5).

A schedule fixes, per eigen-dimension i, the injected noise variance ``C_i(t)`` (the diagonal of
C(t) in eigen coordinates) and the rescaling ``A_i(t)`` of the state x~ = A(t) x, with their
analytic time derivatives. Everything the flow needs follows from these four functions:

- total variance  Sigma_i(t) = lambda_i + C_i(t);
- latent variance A_i(T)^2 Sigma_i(T), the covariance of the flow's output for *any* data
  (the marginal p_t = p_0 * N(0, C(t)) has covariance Sigma(t) exactly), so it is the
  Gaussian prior generation starts from.

Two families are provided, each for PRP and PRR through the rate vector ``g``:

- :class:`ProportionalSchedule`, the paper's main text (eqs. for 1.3/1.4): noise proportional
  to lambda, C_i = lambda_i (exp(rho g_i t) - 1), so Sigma_i = lambda_i exp(rho g_i t);
  PRP uses one scale per axis, A_i = A0 / sqrt(lambda_i) exp(-rho t / 2); PRR one global
  scale A = A0 / sqrt(lambda_1) exp(-rho g_* t / 2).
- :class:`ExponentialSchedule`, the form that produced the published numbers (section 1.5):
  C_i = gamma0 exp(rho g_i t), one global scale s(t) = A0 / sqrt(lambda_1 + gamma_*(t)).

``g`` follows the paper convention (PRP: all ones; PRR: 2 for kept dimensions, 2 - IG for
compressed ones); the official code's ``g - 1`` and ``IG - 1`` are never used here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

from .spec import require_positive


def g_prp(dim: int) -> Tensor:
    """PR-preserving rates: every dimension inflates at the same rate, g_i = 1."""
    return torch.ones(dim, dtype=torch.float64)


def g_prr_constant_gap(dim: int, dims_to_keep: int, inflation_gap: float) -> Tensor:
    """PR-reducing rates with a constant inflation gap IG: kept g = 2, compressed g = 2 - IG."""
    _check_keep(dim, dims_to_keep)
    if inflation_gap <= 0:
        raise ValueError(f"inflation_gap must be > 0, got {inflation_gap}")
    g = torch.full((dim,), 2.0 - inflation_gap, dtype=torch.float64)
    g[:dims_to_keep] = 2.0
    return g


def g_prr_orig(dim: int, dims_to_keep: int) -> Tensor:
    """The paper's "orig" PRR rates: compressed g = 1 - d/(D-d), hence IG = D/(D-d)."""
    _check_keep(dim, dims_to_keep)
    return g_prr_constant_gap(dim, dims_to_keep, dim / (dim - dims_to_keep))


def _check_keep(dim: int, dims_to_keep: int) -> None:
    if not 0 < dims_to_keep < dim:
        raise ValueError(f"dims_to_keep must satisfy 0 < d < D = {dim}, got {dims_to_keep}")


def skip_coefficient(eigenvalues: Tensor, C: Tensor) -> Tensor:
    """c_skip = lambda / (lambda + C): per eigen-axis, the gain of the exact denoiser of
    Gaussian data, D(u) = c_skip u; the one place this formula is written."""
    return eigenvalues / (eigenvalues + C)


class Schedule(nn.Module, ABC):
    """Base class: eigenvalues and rates as buffers, C, dC/dt, A, dA/dt as functions of t.

    ``t`` may be a Python float or a tensor of any shape; results have shape ``t.shape + (D,)``.
    Eigenvalues are floored at ``eigenvalue_floor * lambda_1`` so that constant directions
    (e.g. always-black digit pixels) keep finite preconditioning coefficients.
    """

    def __init__(self, eigenvalues: Tensor, g: Tensor, rho: float, A0: float,
                 eigenvalue_floor: float = 1e-6) -> None:
        super().__init__()
        lam = torch.as_tensor(eigenvalues, dtype=torch.float64)
        g = torch.as_tensor(g, dtype=torch.float64)
        if lam.ndim != 1 or g.shape != lam.shape:
            raise ValueError(f"eigenvalues {tuple(lam.shape)} and g {tuple(g.shape)} must be "
                             "1-D of equal length")
        if rho <= 0 or A0 <= 0:
            raise ValueError(f"rho and A0 must be > 0, got rho={rho}, A0={A0}")
        if not torch.all(lam[:-1] >= lam[1:]):
            raise ValueError("eigenvalues must be sorted in descending order")
        self.register_buffer("eigenvalues", lam.clamp_min(eigenvalue_floor * lam[0]))
        self.register_buffer("g", g)
        self.rho = float(rho)
        self.A0 = float(A0)

    @property
    def dim(self) -> int:
        return self.eigenvalues.shape[0]

    @property
    def g_max(self) -> float:
        return float(self.g.max())

    @property
    def kept(self) -> Tensor:
        """Mask of the directions that inflate at the top rate: PRR's d kept ones, all under PRP."""
        return self.g == self.g.max()

    def _t(self, t: float | Tensor) -> Tensor:
        return torch.as_tensor(t, dtype=self.eigenvalues.dtype,
                               device=self.eigenvalues.device).unsqueeze(-1)

    @abstractmethod
    def C(self, t: float | Tensor) -> Tensor:
        """Injected noise variance per eigen-dimension (the diagonal of C(t))."""

    @abstractmethod
    def dC_dt(self, t: float | Tensor) -> Tensor:
        """Time derivative of :meth:`C`."""

    @abstractmethod
    def A(self, t: float | Tensor) -> Tensor:
        """Scale per eigen-dimension (the diagonal of A(t)); x~ = A(t) x."""

    @abstractmethod
    def dA_dt(self, t: float | Tensor) -> Tensor:
        """Time derivative of :meth:`A`."""

    def total_variance(self, t: float | Tensor) -> Tensor:
        """Sigma(t) = Sigma_0 + C(t), diagonal in the eigenbasis."""
        return self.eigenvalues + self.C(t)

    def latent_variance(self, t: float | Tensor) -> Tensor:
        """Covariance A Sigma A^T of the scaled state at time t (exact for any data)."""
        return self.A(t) ** 2 * self.total_variance(t)

    def participation_ratio(self, t: float | Tensor) -> Tensor:
        """PR of Sigma(t) (section 1.2)."""
        sigma = self.total_variance(t)
        return sigma.sum(-1) ** 2 / (sigma**2).sum(-1)

    def drift_coefficients(self, t: float | Tensor) -> tuple[Tensor, Tensor]:
        """(linear, score) coefficients of the pfODE in scaled eigen coordinates.

        With the denoiser written as D(u) = c_skip u + R(u) and c_skip = lambda/(lambda + C),
        the pfODE  dx~/dt = A(-1/2 dC/dt grad log p) + (dA/dt / A) x~  (seed eq. 1; section 1.7)
        becomes  dx~/dt = linear * x~ + score * A * R(x~ / A)  with
        linear = dA/dt / A + 1/2 (dC/dt) / (lambda + C)   and   score = -1/2 (dC/dt) / C.
        The linear part is the exact flow of Gaussian data; ``score`` is 0 where C is constant.
        """
        C, dC = self.C(t), self.dC_dt(t)
        linear = self.dA_dt(t) / self.A(t) + 0.5 * dC / (self.eigenvalues + C)
        score = torch.where(dC == 0, torch.zeros_like(C), -0.5 * dC / C)
        return linear, score


class ProportionalSchedule(Schedule):
    """Main-text schedule: Sigma_i(t) = lambda_i exp(rho g_i t), i.e. C_i = lambda_i expm1(...).

    ``per_axis_scale=True`` (PRP) uses A_i = A0/sqrt(lambda_i) exp(-rho g_i t/2), which makes
    A Sigma A^T = A0^2 I constant in time. ``False`` (PRR) uses one global scale
    A0/sqrt(lambda_1) exp(-rho g_* t/2); per-axis scaling would undo the compression.
    Requires g >= 0 (negative rates would make C negative: no longer a smoothing).
    """

    def __init__(self, eigenvalues: Tensor, g: Tensor, rho: float = 1.0, A0: float = 1.0,
                 per_axis_scale: bool | None = None, eigenvalue_floor: float = 1e-6) -> None:
        super().__init__(eigenvalues, g, rho, A0, eigenvalue_floor)
        if torch.any(self.g < 0):
            raise ValueError("the proportional (main-text) schedule needs g >= 0 in every "
                             "dimension; use inflation_gap <= 2")
        self.per_axis_scale = bool(torch.all(self.g == self.g[0])) if per_axis_scale is None \
            else per_axis_scale

    def C(self, t):
        return self.eigenvalues * torch.expm1(self.rho * self.g * self._t(t))

    def dC_dt(self, t):
        rate = self.rho * self.g
        return self.eigenvalues * rate * torch.exp(rate * self._t(t))

    def _rate(self) -> Tensor:
        return self.rho * (self.g if self.per_axis_scale else self.g.max().expand_as(self.g))

    def A(self, t):
        base = self.eigenvalues if self.per_axis_scale else self.eigenvalues[0]
        return self.A0 / torch.sqrt(base) * torch.exp(-0.5 * self._rate() * self._t(t))

    def dA_dt(self, t):
        return -0.5 * self._rate() * self.A(t)


class ExponentialSchedule(Schedule):
    """Reference-implementation schedule: C_i = gamma0 exp(rho g_i t), global scale s(t).

    s(t) = A0 / sqrt(lambda_1 + gamma_*(t)) with gamma_* = gamma0 exp(rho g_* t), and
    ds/dt = -1/2 A0 rho g_* gamma_* (lambda_1 + gamma_*)^(-3/2)  (paper section 1.5).
    """

    def __init__(self, eigenvalues: Tensor, g: Tensor, rho: float = 1.0, A0: float = 1.0,
                 gamma0: float = 5e-4, eigenvalue_floor: float = 1e-6) -> None:
        super().__init__(eigenvalues, g, rho, A0, eigenvalue_floor)
        if gamma0 <= 0:
            raise ValueError(f"gamma0 must be > 0, got {gamma0}")
        self.gamma0 = float(gamma0)

    def C(self, t):
        return self.gamma0 * torch.exp(self.rho * self.g * self._t(t))

    def dC_dt(self, t):
        return self.rho * self.g * self.C(t)

    def _gamma_max(self, t) -> Tensor:
        return self.gamma0 * torch.exp(self.rho * self.g_max * self._t(t))

    def A(self, t):
        s = self.A0 / torch.sqrt(self.eigenvalues[0] + self._gamma_max(t))
        return s.expand(*s.shape[:-1], self.dim)

    def dA_dt(self, t):
        gamma = self._gamma_max(t)
        ds = -0.5 * self.A0 * self.rho * self.g_max * gamma * (self.eigenvalues[0] + gamma) ** -1.5
        return ds.expand(*ds.shape[:-1], self.dim)


def make_schedule(kind: str, form: str, eigenvalues: Tensor, *, dims_to_keep: int | None = None,
                  g_mode: str = "constant_gap", inflation_gap: float = 2.0, rho: float = 1.0,
                  gamma0: float = 5e-4, A0: float = 1.0) -> Schedule:
    """Build a schedule by name: kind "prp"/"prr", form "proportional"
    (:class:`ProportionalSchedule`, the main text's) or "exponential"
    (:class:`ExponentialSchedule`, the form of the published numbers)."""
    require_positive("schedule", rho=rho, A0=A0, gamma0=gamma0, inflation_gap=inflation_gap)
    dim = len(eigenvalues)
    if kind == "prp":
        g = g_prp(dim)
    elif kind == "prr":
        if dims_to_keep is None:
            raise ValueError("a PRR schedule needs dims_to_keep")
        if g_mode == "orig":
            g = g_prr_orig(dim, dims_to_keep)
        elif g_mode == "constant_gap":
            g = g_prr_constant_gap(dim, dims_to_keep, inflation_gap)
        else:
            raise ValueError(f"unknown g_mode '{g_mode}' (allowed: orig, constant_gap)")
    else:
        raise ValueError(f"unknown schedule kind '{kind}' (allowed: prp, prr)")
    if form == "proportional":
        return ProportionalSchedule(eigenvalues, g, rho, A0)
    if form == "exponential":
        return ExponentialSchedule(eigenvalues, g, rho, A0, gamma0)
    raise ValueError(f"unknown schedule form '{form}' (allowed: proportional, exponential)")


def time_grid(t_start: float, t_end: float, steps: int, spacing: str = "uniform",
              power: float = 3.0, dtype: torch.dtype = torch.float64) -> Tensor:
    """``steps + 1`` times from ``t_start`` to ``t_end`` (either direction).

    "uniform": equal steps (the paper's toys: h = 1e-2 from 0; images: 256 points from
    0.01 to 15.01). "power": t = t_lo + (t_hi - t_lo) s^power for uniform s, denser near
    the smaller end, where the score changes fastest.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    s = torch.linspace(0.0, 1.0, steps + 1, dtype=dtype)
    if spacing == "power":
        lo, hi = min(t_start, t_end), max(t_start, t_end)
        grid = lo + (hi - lo) * s**power
        return grid if t_start <= t_end else grid.flip(0)
    if spacing != "uniform":
        raise ValueError(f"unknown grid spacing '{spacing}' (allowed: uniform, power)")
    return t_start + (t_end - t_start) * s

