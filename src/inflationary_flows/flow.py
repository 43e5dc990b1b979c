"""The inflationary flow: inflate data to a Gaussian latent, generate back, and log-densities.

State: the scaled eigen coordinates x~ = A(t) u with u = W^T (x - mean) (paper section 1.7);
the basis is applied once at each end, never inside the solver. Given a denoiser D = c_skip u
+ R(u), the pfODE is  dx~/dt = linear(t) x~ + score(t) A(t) R(x~ / A(t))  (see
:meth:`Schedule.drift_coefficients`), whose first term is the exact flow of Gaussian data.

Log-density by the instantaneous change of variables (Chen et al. 2018):
    log p_{t0}(x) = log N(z; 0, A Sigma(T) A^T) + int_{t0}^{T} div f dt + sum_i log A_i(t0),
with div f = sum_i linear_i + div(nonlinear part), the latter exact (D autograd passes) or
by Hutchinson's estimator with fixed probes. ``p_{t0}`` is the data density smoothed by
C(t0), which is zero for the main-text schedules at t0 = 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .basis import EigenBasis
from .denoisers import Denoiser
from .solvers import Solution, integrate
from .spec import require_positive


@dataclass
class SolverConfig:
    """How to integrate: method ("euler", "heun", "dopri5"), grid or tolerances, time span."""

    t_min: float = 0.0
    t_max: float = 15.0
    method: str = "dopri5"
    steps: int = 256
    spacing: str = "uniform"
    rtol: float = 1e-6
    atol: float = 1e-6
    # rows integrated at once (0: all): bounds a GPU's memory for large sets. Each row's
    # solution is its own (fixed grids; dopri5 steps per sample): the same up to rounding.
    batch_size: int = 0

    def __post_init__(self) -> None:
        require_positive("SolverConfig", rtol=self.rtol, atol=self.atol,
                         span=self.t_max - self.t_min)
        if self.batch_size < 0:
            raise ValueError(f"SolverConfig: batch_size must be >= 0, got {self.batch_size}")


@dataclass
class FlowResult:
    """End state (data or scaled-eigen latent), recorded scaled-eigen states, and cost."""

    value: Tensor
    times: Tensor
    states: Tensor
    nfe: int
    nfe_per_sample: Tensor


class InflationaryFlow(nn.Module):
    """inflate(x) -> z, generate(z) -> x, roundtrip(x), log_prob(x), sample_prior(n)."""

    def __init__(self, denoiser: Denoiser, basis: EigenBasis,
                 solver: SolverConfig | None = None) -> None:
        super().__init__()
        self.denoiser = denoiser
        self.basis = basis
        self.solver = solver or SolverConfig()

    @property
    def schedule(self):
        return self.denoiser.schedule

    # -- the ODE -------------------------------------------------------------------------
    def _drift_parts(self, t: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        """(linear coefficient, nonlinear term): drift = linear * y + nonlinear."""
        linear, score = self.schedule.drift_coefficients(t)
        A = self.schedule.A(t)
        return linear, score * A * self.denoiser.residual(y / A, t)

    def drift(self, t: Tensor, y: Tensor) -> Tensor:
        linear, nonlinear = self._drift_parts(t, y)
        return linear * y + nonlinear

    def _solve(self, y0: Tensor, t0: float, t1: float, record: Sequence[float], f=None,
               **overrides) -> Solution:
        cfg = {**self.solver.__dict__, **overrides}
        rows = cfg["batch_size"] or max(1, y0.shape[0])
        return Solution.concat([
            integrate(f or self.drift, part, t0, t1, method=cfg["method"], steps=cfg["steps"],
                      spacing=cfg["spacing"], rtol=cfg["rtol"], atol=cfg["atol"], record=record)
            for part in y0.split(rows)])

    # -- maps ----------------------------------------------------------------------------
    def latent_variance(self) -> Tensor:
        """Diagonal of the latent prior N(0, A(T) Sigma(T) A(T)^T), in eigen coordinates."""
        return self.schedule.latent_variance(self.solver.t_max)

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Draws of the latent prior, made on ``generator``'s device (a seeded CPU generator
        gives the same draws whichever device the flow runs on)."""
        std = self.latent_variance().sqrt()
        eps = torch.randn((n, std.shape[0]), generator=generator, dtype=std.dtype,
                          device=std.device if generator is None else generator.device)
        return eps.to(std.device) * std

    def inflate(self, x: Tensor, record: Sequence[float] = (), **solver) -> FlowResult:
        """Data (B, D) -> scaled-eigen latent z at t_max."""
        t0, t1 = self.solver.t_min, self.solver.t_max
        y0 = self.basis.to_eigen(x) * self.schedule.A(t0)
        sol = self._solve(y0, t0, t1, record, **solver)
        return FlowResult(sol.y, sol.ts, sol.ys, sol.nfe, sol.nfe_per_sample)

    def generate(self, z: Tensor, record: Sequence[float] = (), **solver) -> FlowResult:
        """Scaled-eigen latent (B, D) at t_max -> data at t_min."""
        t0, t1 = self.solver.t_max, self.solver.t_min
        sol = self._solve(z, t0, t1, record, **solver)
        return FlowResult(self.state_to_data(t1, sol.y), sol.ts, sol.ys, sol.nfe,
                          sol.nfe_per_sample)

    def roundtrip(self, x: Tensor, **solver) -> FlowResult:
        """Inflate, then generate from that exact latent; ``nfe`` is the total of both."""
        up = self.inflate(x, **solver)
        down = self.generate(up.value, **solver)
        return FlowResult(down.value, down.times, down.states, up.nfe + down.nfe,
                          up.nfe_per_sample + down.nfe_per_sample)

    def state_to_data(self, t: float | Tensor, y: Tensor) -> Tensor:
        """Data-space coordinates of scaled-eigen states y at time(s) t."""
        return self.basis.to_data(y / self.schedule.A(t))

    # -- density -------------------------------------------------------------------------
    def _augmented_drift(self, probes: int | None):
        """Drift of [y, log-det integral, probes]: probes ride in the state (constant), so the
        adaptive solver's per-sample sub-batches keep each sample's own probe vectors."""
        def f(t: Tensor, state: Tensor) -> Tensor:
            dim = self.schedule.dim
            y = state[:, :dim]
            v = None if probes is None else state[:, dim + 1:].unflatten(-1, (probes, dim))
            with torch.enable_grad():
                y = y.detach().requires_grad_(True)
                linear, nonlinear = self._drift_parts(t, y)
                div = linear.sum(-1) + self._divergence(nonlinear, y, v)
            out = linear * y.detach() + nonlinear.detach()
            return torch.cat([out, div.detach().unsqueeze(-1),
                              torch.zeros_like(state[:, dim + 1:])], dim=-1)

        return f

    @staticmethod
    def _divergence(g: Tensor, y: Tensor, probes: Tensor | None) -> Tensor:
        if not g.requires_grad:  # residual independent of the state (e.g. Gaussian data)
            return torch.zeros(y.shape[0], dtype=y.dtype, device=y.device)
        if probes is None:  # exact trace: one backward pass per dimension
            return sum(torch.autograd.grad(g[:, i].sum(), y, retain_graph=True)[0][:, i]
                       for i in range(y.shape[1]))
        total = 0.0
        for k in range(probes.shape[1]):  # Hutchinson: E[v^T J v], probes (B, K, D)
            v = probes[:, k]
            vjp = torch.autograd.grad((g * v).sum(), y, retain_graph=True)[0]
            total = total + (vjp * v).sum(-1)
        return total / probes.shape[1]

    def log_prob(self, x: Tensor, probes: int | None = None,
                 generator: torch.Generator | None = None, **solver) -> Tensor:
        """log p_{t_min}(x) per sample: exact trace if ``probes`` is None, else Hutchinson.

        Hutchinson uses ``probes`` Rademacher vectors per sample, fixed for the whole solve
        so that the augmented ODE stays smooth.
        """
        return self.log_prob_and_latent(x, probes, generator, **solver)[0]

    def log_prob_and_latent(self, x: Tensor, probes: int | None = None,
                            generator: torch.Generator | None = None,
                            **solver) -> tuple[Tensor, Tensor]:
        """:meth:`log_prob` and the latent it reached (the state at t_max), from one solve."""
        return self.log_prob_at(x, [self.solver.t_max], probes, generator, **solver)[0]

    def log_prob_at(self, x: Tensor, ends: Sequence[float], probes: int | None = None,
                    generator: torch.Generator | None = None,
                    **solver) -> list[tuple[Tensor, Tensor]]:
        """(log p_{t_min}(x), latent) with the latent taken as Gaussian at each end time in
        ``ends`` (the estimate is exact as the end time grows), all from one solve: the
        augmented state is recorded at each end on the way to the last."""
        t0 = self.solver.t_min
        A0 = self.schedule.A(t0)
        y0 = self.basis.to_eigen(x) * A0
        parts = [y0, y0.new_zeros(y0.shape[0], 1)]
        if probes is not None:
            v = torch.randint(0, 2, (y0.shape[0], probes * y0.shape[1]), generator=generator)
            parts.append(v.to(device=y0.device, dtype=y0.dtype) * 2 - 1)
        sol = self._solve(torch.cat(parts, -1), t0, max(ends), ends,
                          f=self._augmented_drift(probes), **solver)
        dim, found = y0.shape[1], []
        for t1, state in zip(ends, sol.ys, strict=True):
            z, integral = state[:, :dim], state[:, dim]
            var = self.schedule.latent_variance(t1)
            log_latent = -0.5 * ((z**2 / var).sum(-1) + torch.log(var).sum(-1)
                                 + z.shape[-1] * math.log(2 * math.pi))
            found.append((log_latent + integral + torch.log(A0).sum(-1), z))
        return found


def flow_for(model: Denoiser, spec: dict[str, Any],
             solver: dict[str, Any]) -> InflationaryFlow:
    """The flow of a trained denoiser over the schedule's time span, with a solver setting."""
    sched = spec["schedule"]
    config = SolverConfig(t_min=sched["t_min"], t_max=sched["t_max"], **solver)
    return InflationaryFlow(model, model.basis, config)


def compressed_from_latents(prior: Tensor, latents: Tensor, keep: int,
                            chunk: int = 4096) -> Tensor:
    """PRR latents to generate from: ``prior`` (n, D) with its compressed coordinates
    (``keep``:) replaced by those of the row of ``latents`` (e.g. inflated training points)
    nearest to it in the kept coordinates (:``keep``; Euclidean). Under IG >= 2 the
    compressed coordinates are never mixed, so the prior's Gaussian misses them."""
    if not 0 < keep < prior.shape[1]:
        raise ValueError(f"keep must satisfy 0 < keep < D = {prior.shape[1]}, got {keep}")
    nearest = torch.cat([torch.cdist(block[:, :keep], latents[:, :keep]).argmin(1)
                         for block in prior.split(chunk)])
    return torch.cat([prior[:, :keep], latents[nearest, keep:]], 1)
