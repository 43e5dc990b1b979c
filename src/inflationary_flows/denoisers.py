"""Denoisers D(u, t) = E[u_0 | u_t = u] in eigen coordinates, and the scores they imply.

The score of the smoothed density p_t = p_0 * N(0, C(t)) is C^{-1} (D - u) (Tweedie; paper
section 1.6). Three denoisers share one interface:

- :class:`GaussianDenoiser`: exact for Gaussian data (closed form);
- :class:`MixtureDenoiser`: exact for a Gaussian mixture with diagonal covariances in the
  eigenbasis, and for the empirical distribution of a data set (zero covariances), via a
  chunked, numerically stable log-sum-exp;
- :class:`~inflationary_flows.preconditioning.IFPreconditioner`: a trained network.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .schedules import Schedule, skip_coefficient


def point_logits(u: Tensor, C: Tensor, points: Tensor) -> Tensor:
    """log N(u; m_n, diag C) over points m_n (N, D), up to a per-row constant: (B, N).

    -1/2 |u - m|^2_C = (u/C).m - 1/2 (1/C).m^2 + const(u), computed as ONE matrix product
    [u/C, -1/(2C)] [m, m^2]^T (no cancellation of the large |u|^2 term far from the data).
    """
    return torch.cat([u / C, -0.5 / C], -1) @ torch.cat([points, points * points], -1).T


def empirical_posterior_mean(u: Tensor, C: Tensor, points: Tensor) -> Tensor:
    """E[u_0 | u_t = u] for u_0 uniform on ``points``: the exact denoiser of an empirical
    distribution (softmax over points, so no weight is clipped)."""
    return torch.softmax(point_logits(u, C, points), dim=-1) @ points


# Query rows per block of the point-mixture softmax: a (rows, N) float64 block of about 4 MB
# stays in cache through the logits, softmax and weighted-mean passes, which are bound by
# memory traffic and exp, not by the matrix products (docs/performance.md).
BLOCK_ELEMENTS = 2**19


class Denoiser(nn.Module):
    """Base class. Subclasses implement ``forward(u, t)``; ``t`` is a tensor of shape (B,)."""

    def __init__(self, schedule: Schedule) -> None:
        super().__init__()
        self.schedule = schedule

    def c_skip(self, t: Tensor) -> Tensor:
        return skip_coefficient(self.schedule.eigenvalues, self.schedule.C(t))

    def residual(self, u: Tensor, t: Tensor) -> Tensor:
        """R = D(u) - c_skip u: the part of the denoiser beyond the Gaussian (linear) one."""
        return self(u, t) - self.c_skip(t) * u

    def score(self, u: Tensor, t: Tensor) -> Tensor:
        """grad_u log p_t(u) = (D(u, t) - u) / C(t)."""
        return (self(u, t) - u) / self.schedule.C(t)


class GaussianDenoiser(Denoiser):
    """Exact denoiser of N(mean, diag(variance)) data: mean + v/(v + C) (u - mean).

    By default ``variance`` is the schedule's eigenvalues, which makes the residual zero: the
    flow of Gaussian data is the linear part of the pfODE.
    """

    def __init__(self, schedule: Schedule, variance: Tensor | None = None,
                 mean: Tensor | None = None) -> None:
        super().__init__(schedule)
        self.matches_schedule = variance is None and mean is None
        var = schedule.eigenvalues if variance is None else torch.as_tensor(variance)
        self.register_buffer("variance", var.to(schedule.eigenvalues.dtype))
        mean = torch.zeros_like(self.variance) if mean is None else torch.as_tensor(mean)
        self.register_buffer("mean", mean.to(self.variance.dtype))

    def forward(self, u: Tensor, t: Tensor) -> Tensor:
        C = self.schedule.C(t)
        return self.mean + self.variance / (self.variance + C) * (u - self.mean)

    def residual(self, u: Tensor, t: Tensor) -> Tensor:
        if self.matches_schedule:
            return torch.zeros_like(u)  # exactly, not up to round-off
        return super().residual(u, t)


class MixtureDenoiser(Denoiser):
    """Exact denoiser of sum_k w_k N(m_k, diag(s_k)) smoothed by C(t), in eigen coordinates.

    With ``variances=None`` the components are points (the empirical distribution of
    ``means``, the paper's "discrete" check): the logits of a block of queries are then one
    matrix product and one softmax over all N points, blocks sized to stay in cache. With
    variances, components are processed in chunks of ``chunk_size`` with a running (online)
    log-sum-exp (memory O(B * chunk_size * D)). Either way there is no Python loop over
    points and no weight is clipped, so scores far from the data are exact.
    """

    def __init__(self, schedule: Schedule, means: Tensor, variances: Tensor | None = None,
                 weights: Tensor | None = None, chunk_size: int = 4096) -> None:
        super().__init__(schedule)
        dtype = schedule.eigenvalues.dtype
        means = torch.as_tensor(means, dtype=dtype)
        k = means.shape[0]
        weights = torch.full((k,), 1.0 / k, dtype=dtype) if weights is None \
            else torch.as_tensor(weights, dtype=dtype)
        if weights.shape != (k,) or torch.any(weights <= 0):
            raise ValueError("weights must be positive, one per component")
        self.register_buffer("means", means)
        self.register_buffer("log_weights", torch.log(weights / weights.sum()))
        self.register_buffer("variances", None if variances is None
                             else torch.as_tensor(variances, dtype=dtype).expand_as(means))
        # point components: [m, m^2] once, so the logits are one product (point_logits)
        self.register_buffer("augmented", None if variances is not None
                             else torch.cat([means, means * means], -1))
        self.chunk_size = chunk_size

    def _chunk_terms(self, u: Tensor, C: Tensor, sl: slice) -> tuple[Tensor, Tensor]:
        """Logits (B, K) of Gaussian components, and their posterior means (B, K, D)."""
        m, logw, s = self.means[sl], self.log_weights[sl], self.variances[sl]
        total = C.unsqueeze(1) + s  # (B, K, D)
        diff = u.unsqueeze(1) - m
        logits = logw - 0.5 * ((diff**2 / total) + torch.log(total)).sum(-1)
        return logits, m + s / total * diff

    def _point_blocks(self, u: Tensor, C: Tensor):
        """(rows, logits) of query blocks over all point components, each block in cache."""
        queries = torch.cat([u / C, -0.5 / C], -1)
        rows = max(8, BLOCK_ELEMENTS // self.means.shape[0])
        for start in range(0, u.shape[0], rows):
            sl = slice(start, start + rows)
            yield sl, torch.addmm(self.log_weights, queries[sl], self.augmented.T)

    def _reduce(self, u: Tensor, t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Gaussian components: running log-sum-exp over chunks (max, sum of exp, mean)."""
        C = self.schedule.C(t).expand_as(u)
        run_max = torch.full(u.shape[:1], -torch.inf, dtype=u.dtype, device=u.device)
        run_sum = torch.zeros_like(run_max)
        run_mean = torch.zeros_like(u)
        for start in range(0, self.means.shape[0], self.chunk_size):
            logits, post = self._chunk_terms(u, C, slice(start, start + self.chunk_size))
            new_max = torch.maximum(run_max, logits.max(-1).values)
            rescale = torch.exp(run_max - new_max)
            p = torch.exp(logits - new_max.unsqueeze(-1))
            weighted = (p.unsqueeze(-1) * post).sum(1)
            run_sum = run_sum * rescale + p.sum(-1)
            run_mean = run_mean * rescale.unsqueeze(-1) + weighted
            run_max = new_max
        return run_max, run_sum, run_mean / run_sum.unsqueeze(-1)

    def forward(self, u: Tensor, t: Tensor) -> Tensor:
        if self.variances is not None:
            return self._reduce(u, t)[2]
        out = torch.empty_like(u)
        for sl, logits in self._point_blocks(u, self.schedule.C(t).expand_as(u)):
            out[sl] = torch.softmax(logits, -1) @ self.means
        return out

    def log_prob(self, u: Tensor, t: Tensor) -> Tensor:
        """log p_t(u) of the smoothed mixture (exact; used to check the flow's log-density)."""
        C = self.schedule.C(t).expand_as(u)
        log_norm = -0.5 * u.shape[-1] * torch.log(torch.tensor(2 * torch.pi, dtype=u.dtype))
        if self.variances is None:
            lse = torch.cat([torch.logsumexp(logits, -1)
                             for _, logits in self._point_blocks(u, C)])
            const = -0.5 * ((u * u) / C).sum(-1) - 0.5 * torch.log(C).sum(-1)
            return lse + const + log_norm
        run_max, run_sum, _ = self._reduce(u, t)
        return run_max + torch.log(run_sum) + log_norm
