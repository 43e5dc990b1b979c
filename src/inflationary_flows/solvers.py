"""ODE solvers for the pfODE: Euler, Heun (fixed grids) and adaptive Dormand-Prince 5(4).

One calling convention: ``f(t, y)`` with ``t`` of shape (B,) and ``y`` of shape (B, D); the
same code integrates forward (inflation) and backward (generation). Every solve reports its
number of function evaluations (NFE) and records the state only at the requested times.

The adaptive solver keeps one time and one step size *per sample*: a sample's result depends
only on that sample, not on what else is in the batch, and easy samples stop early. The error
norm is the per-sample RMS of err / (atol + rtol max(|y|, |y_new|)).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

Drift = Callable[[Tensor, Tensor], Tensor]


class NonFiniteStateError(FloatingPointError):
    """A solver step produced NaN or infinity."""


@dataclass
class Solution:
    """Final state, recorded states ``ys`` (R, B, D) at ``ts`` (R,), and evaluation counts.

    ``nfe`` counts batched calls of f (of the costliest row block, when solved in blocks);
    ``nfe_per_sample`` counts, per sample, the evaluations its own trajectory needed (equal to
    ``nfe`` for fixed grids).
    """

    y: Tensor
    ts: Tensor
    ys: Tensor
    nfe: int
    nfe_per_sample: Tensor
    steps: int

    @staticmethod
    def concat(parts: Sequence[Solution]) -> Solution:
        """One solution of the rows of ``parts`` (solves of consecutive row blocks at the same
        record times); ``nfe`` and ``steps`` are those of the costliest block."""
        if len(parts) == 1:
            return parts[0]
        return Solution(torch.cat([p.y for p in parts]), parts[0].ts,
                        torch.cat([p.ys for p in parts], dim=1), max(p.nfe for p in parts),
                        torch.cat([p.nfe_per_sample for p in parts]),
                        max(p.steps for p in parts))


def _check_finite(y: Tensor, t: Tensor | float) -> None:
    bad = ~torch.isfinite(y).all(dim=-1)
    if bad.any():
        t_bad = float(t if not isinstance(t, Tensor) or t.ndim == 0 else t[bad][0])
        raise NonFiniteStateError(
            f"non-finite state at t = {t_bad:.6g} in {bad.float().mean().item():.1%} of samples "
            "(step too large for the score, or a broken network)"
        )


class FixedStepMethod:
    """A fixed-step Runge-Kutta method: ``order`` and evaluations per step."""

    order: int
    evals_per_step: int

    def step(self, f: Drift, t: Tensor, y: Tensor, h: Tensor) -> Tensor:
        raise NotImplementedError


class Euler(FixedStepMethod):
    order, evals_per_step = 1, 1

    def step(self, f, t, y, h):
        return y + h * f(t, y)


class Heun(FixedStepMethod):
    """Explicit trapezoidal rule (EDM's 2nd-order sampler)."""

    order, evals_per_step = 2, 2

    def step(self, f, t, y, h):
        k1 = f(t, y)
        k2 = f(t + h, y + h * k1)
        return y + 0.5 * h * (k1 + k2)


FIXED_METHODS: dict[str, FixedStepMethod] = {"euler": Euler(), "heun": Heun()}


def _with_record_times(grid: Tensor, record: Sequence[float]) -> tuple[Tensor, Tensor]:
    """Merge the record times into the grid; return the grid and the record indices."""
    rec = torch.as_tensor(list(record), dtype=grid.dtype, device=grid.device)
    lo, hi = torch.minimum(grid[0], grid[-1]), torch.maximum(grid[0], grid[-1])
    if rec.numel() and (rec.min() < lo - 1e-12 or rec.max() > hi + 1e-12):
        raise ValueError(f"record times must lie in [{lo.item()}, {hi.item()}]")
    merged = torch.unique(torch.cat([grid, rec]))
    merged = merged if grid[-1] >= grid[0] else merged.flip(0)
    index = torch.stack([torch.argmin((merged - r).abs()) for r in rec]) if rec.numel() \
        else torch.zeros(0, dtype=torch.long, device=grid.device)
    return merged, index


def integrate_fixed(f: Drift, y0: Tensor, grid: Tensor, method: str = "heun",
                    record: Sequence[float] = ()) -> Solution:
    """Integrate along ``grid`` (increasing or decreasing) with a fixed-step method."""
    if method not in FIXED_METHODS:
        allowed = ", ".join([*FIXED_METHODS, "dopri5"])
        raise ValueError(f"unknown fixed-step method '{method}' (allowed: {allowed})")
    solver = FIXED_METHODS[method]
    grid = grid.to(device=y0.device, dtype=y0.dtype)
    grid, rec_index = _with_record_times(grid, record)
    wanted = set(rec_index.tolist())
    ys, y = [], y0
    times = grid.tolist()
    if 0 in wanted:
        ys.append(y)
    for i in range(len(times) - 1):
        t = torch.full((y0.shape[0],), times[i], dtype=y0.dtype, device=y0.device)
        y = solver.step(f, t, y, times[i + 1] - times[i])
        _check_finite(y, times[i + 1])
        if i + 1 in wanted:
            ys.append(y)
    position = {g: k for k, g in enumerate(sorted(wanted))}  # ys is in grid order
    stacked = torch.stack([ys[position[i]] for i in rec_index.tolist()]) if ys \
        else y0.new_zeros((0, *y0.shape))
    nfe = solver.evals_per_step * (len(times) - 1)
    return Solution(y, grid[rec_index], stacked, nfe,
                    torch.full((y0.shape[0],), nfe, device=y0.device), len(times) - 1)


# Dormand-Prince 5(4) tableau (Dormand & Prince 1980): nodes, stages, 5th-order weights and
# the difference to the embedded 4th-order weights (the error estimate).
_DP_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_DP_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_DP_B = _DP_A[6] + (0.0,)
_DP_B4 = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)
_DP_E = tuple(b - b4 for b, b4 in zip(_DP_B, _DP_B4, strict=True))


def _rms(x: Tensor) -> Tensor:
    return x.pow(2).mean(-1).sqrt()


def _initial_step(f: Drift, t0: Tensor, y0: Tensor, f0: Tensor, sign: float, rtol: float,
                  atol: float, span: float) -> Tensor:
    """Hairer, Norsett & Wanner (II.4) starting step, per sample, at most ``span``; costs one
    evaluation (never outside the interval: the drift may be undefined beyond it)."""
    scale = atol + rtol * y0.abs()
    d0, d1 = _rms(y0 / scale), _rms(f0 / scale)
    h0 = torch.where((d0 < 1e-5) | (d1 < 1e-5), torch.full_like(d0, 1e-6), 0.01 * d0 / d1)
    h0 = h0.clamp_max(span)
    f1 = f(t0 + sign * h0, y0 + sign * h0.unsqueeze(-1) * f0)
    d2 = _rms((f1 - f0) / scale) / h0
    h1 = torch.where(torch.maximum(d1, d2) <= 1e-15, torch.maximum(h0 * 1e-3,
                     torch.full_like(h0, 1e-6)), (0.01 / torch.maximum(d1, d2)) ** 0.2)
    return torch.minimum(100 * h0, h1).clamp_max(span)


def integrate_adaptive(f: Drift, y0: Tensor, t0: float, t1: float, rtol: float = 1e-5,
                       atol: float = 1e-5, record: Sequence[float] = (),
                       max_steps: int = 100_000) -> Solution:
    """Dormand-Prince 5(4) with per-sample step-size control, from ``t0`` to ``t1``."""
    if rtol <= 0 or atol <= 0:
        raise ValueError(f"rtol and atol must be > 0, got {rtol}, {atol}")
    batch, dtype, device = y0.shape[0], y0.dtype, y0.device
    sign = 1.0 if t1 >= t0 else -1.0
    targets = sorted({float(r) for r in record} | {float(t1)}, key=lambda r: sign * r)
    if any(sign * (r - t0) < 0 or sign * (r - t1) > 0 for r in targets):
        raise ValueError(f"record times must lie between t0 = {t0} and t1 = {t1}")
    target_t = torch.tensor(targets, dtype=dtype, device=device)
    rec_pos = {r: i for i, r in enumerate(targets)}
    out = y0.new_zeros((len(targets), *y0.shape))

    t = torch.full((batch,), float(t0), dtype=dtype, device=device)
    y = y0.clone()
    idx = torch.zeros(batch, dtype=torch.long, device=device)
    k_first = f(t, y)
    h = _initial_step(f, t, y, k_first, sign, rtol, atol, abs(t1 - t0))
    nfe, steps = 2, 0
    nfe_each = torch.full((batch,), 2, dtype=torch.long, device=device)
    # a target equal to t0 is recorded before the first step
    at_start = target_t[idx] == t
    while at_start.any():
        out[idx[at_start], at_start.nonzero().squeeze(-1)] = y[at_start]
        idx = idx + at_start.long()
        at_start = (idx < len(targets)) & (target_t[idx.clamp_max(len(targets) - 1)] == t)

    while True:
        active = (idx < len(targets)).nonzero().squeeze(-1)
        if active.numel() == 0:
            break
        steps += 1
        if steps > max_steps:
            raise RuntimeError(f"adaptive solver exceeded {max_steps} steps (rtol={rtol})")
        ta, ya, ka = t[active], y[active], k_first[active]
        remaining = (target_t[idx[active]] - ta).abs()
        ha = torch.minimum(h[active], remaining)
        dt = (sign * ha).unsqueeze(-1)
        ks = [ka]
        for c, a in zip(_DP_C[1:], _DP_A[1:], strict=True):
            yi = ya + dt * sum(aij * kj for aij, kj in zip(a, ks, strict=False) if aij != 0.0)
            ks.append(f(ta + sign * c * ha, yi))
        y_new = yi  # the 7th stage point is the 5th-order solution (FSAL)
        err = dt * sum(e * k for e, k in zip(_DP_E, ks, strict=True) if e != 0.0)
        scale = atol + rtol * torch.maximum(ya.abs(), y_new.abs())
        norm = _rms(err / scale)
        norm = torch.where(torch.isfinite(norm), norm, torch.full_like(norm, torch.inf))
        nfe += 6
        nfe_each[active] += 6
        accept = norm <= 1.0
        reached = accept & (ha >= remaining)
        acc = active[accept]
        if acc.numel():
            _check_finite(y_new[accept], ta[accept] + sign * ha[accept])
        y[acc] = y_new[accept]
        k_first[acc] = ks[-1][accept]
        t_new = torch.where(reached, target_t[idx[active]], ta + sign * ha)
        t[acc] = t_new[accept]
        hit = active[reached]
        if hit.numel():
            out[idx[hit], hit] = y[hit]
            idx[hit] += 1
        factor = torch.clamp(0.9 * norm.clamp_min(1e-10) ** -0.2, 0.2, 10.0)
        factor = torch.where(accept, factor, factor.clamp_max(1.0))
        # a step shortened to land on a record time does not shrink the next one
        h[active] = torch.where(reached, torch.maximum(h[active], ha * factor), ha * factor)
    ts = torch.tensor(targets, dtype=dtype, device=device)
    keep = [rec_pos[float(r)] for r in record]
    return Solution(y, ts[keep], out[keep], nfe, nfe_each, steps)


def integrate(f: Drift, y0: Tensor, t0: float, t1: float, *, method: str = "dopri5",
              steps: int = 100, spacing: str = "uniform", rtol: float = 1e-5,
              atol: float = 1e-5, record: Sequence[float] = ()) -> Solution:
    """Integrate from ``t0`` to ``t1`` with a named method ("euler", "heun" or "dopri5")."""
    if method == "dopri5":
        return integrate_adaptive(f, y0, t0, t1, rtol, atol, record)
    from .schedules import time_grid

    return integrate_fixed(f, y0, time_grid(t0, t1, steps, spacing, dtype=y0.dtype), method,
                           record)
