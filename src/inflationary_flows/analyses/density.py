"""Held-out density of one train/test split under three models: an inflationary flow's
``log_prob`` (at its T and at 2T, which measures the finite-T Gaussian-latent assumption),
a masked autoregressive flow (zuko), and a full-covariance Gaussian.

Quantised data (images: integer levels) have no density; there every method sees the same
uniformly dequantised values (one level of noise per coordinate, the usual convention), so
the numbers compare.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..flow import InflationaryFlow, SolverConfig
from ..smoothing import add_noise, noise_at_t_min
from .metrics import calibration_radii, latent_calibration


@dataclass
class Density:
    """Per-row held-out log-likelihood (nats), latent calibration and fitting time."""

    method: str
    log_likelihood: np.ndarray
    calibration: dict[str, Any] | None
    fit_seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        ll, dim = self.log_likelihood, self.detail["dim"]
        cal = self.calibration
        setting = " ".join(f"{k}={v:g}" for k, v in self.detail.items() if k != "dim")
        return {"method": self.method, "dim": dim,
                "nats_per_dim": float(ll.mean() / dim),
                "nats_per_dim_se": float(ll.std(ddof=1) / math.sqrt(len(ll)) / dim),
                "calibration_max_gap_pp": 100 * cal["max_abs_error"] if cal else math.nan,
                "fit_seconds": self.fit_seconds, "setting": setting}


def dequantize(x: np.ndarray, step: float, seed: int) -> np.ndarray:
    """x + U(0, step) per coordinate (stored levels are the lower ends of their bins)."""
    return x + step * np.random.default_rng(seed).random(x.shape)


def gaussian(train: np.ndarray, test: np.ndarray) -> Density:
    """Full-covariance Gaussian with the training split's mean and (ML) covariance."""
    start = time.perf_counter()
    mean = train.mean(0)
    cov = np.cov(train, rowvar=False, bias=True).reshape(train.shape[1], train.shape[1])
    lam, vec = np.linalg.eigh(cov)
    z = (test - mean) @ vec / np.sqrt(lam)  # whitened: N(0, I) if the data were Gaussian
    dim = train.shape[1]
    ll = -0.5 * ((z**2).sum(1) + np.log(lam).sum() + dim * math.log(2 * math.pi))
    seconds = time.perf_counter() - start
    cal = latent_calibration(torch.as_tensor(z), torch.ones(dim), calibration_radii(dim))
    return Density("gaussian", ll, cal, seconds, {"dim": dim})


def masked_autoregressive_flow(train: np.ndarray, test: np.ndarray, seed: int, steps: int,
                               transforms: int, hidden: int, batch_size: int = 256,
                               lr: float = 1e-3, validate_every: int = 50,
                               patience: int = 10) -> Density:
    """zuko's MAF (affine autoregressive transforms, N(0, I) base) trained by maximum
    likelihood with Adam, keeping the weights of the best log-likelihood on a tenth of the
    training rows held back (a MAF overfits a table of a few hundred rows within a few hundred
    steps; training stops after ``patience`` checks without a gain); its held-out
    log-likelihood and the calibration of its latents."""
    import copy

    import zuko

    torch.manual_seed(seed)
    dim = train.shape[1]
    flow = zuko.flows.MAF(features=dim, transforms=transforms,
                          hidden_features=(hidden, hidden)).double()
    opt = torch.optim.Adam(flow.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(train), generator=gen)
    n_val = max(1, len(train) // 10)
    data, val = torch.as_tensor(train)[order[n_val:]], torch.as_tensor(train)[order[:n_val]]
    best, best_step, best_state = -math.inf, 0, copy.deepcopy(flow.state_dict())
    start = time.perf_counter()
    for step in range(1, steps + 1):
        batch = data[torch.randint(0, len(data), (batch_size,), generator=gen)]
        loss = -flow().log_prob(batch).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % validate_every == 0 or step == steps:
            with torch.no_grad():
                score = float(flow().log_prob(val).mean())
            if score > best:
                best, best_step, best_state = score, step, copy.deepcopy(flow.state_dict())
            elif step - best_step >= patience * validate_every:
                break
    seconds = time.perf_counter() - start
    flow.load_state_dict(best_state)
    with torch.no_grad():
        dist = flow()
        x = torch.as_tensor(test)
        ll, z = dist.log_prob(x).numpy(), dist.transform(x)
    cal = latent_calibration(z, torch.ones(dim), calibration_radii(dim))
    return Density("maf", ll, cal, seconds, {"dim": dim, "steps": step, "best_step": best_step,
                                              "transforms": transforms, "hidden": hidden})


def inflationary(flow: InflationaryFlow, test: np.ndarray, horizons: Sequence[float] = (1.0,),
                 fit_seconds: float = 0.0,
                 smoothing: torch.Generator | None = None) -> list[Density]:
    """``flow.log_prob`` with the latent taken as Gaussian at each of ``horizons`` times the
    flow's t_max (exact trace; one solve through them all), and the calibration of the
    latents reached there against N(0, A^2 Sigma). With a ``smoothing`` generator (a model
    of rows smoothed to its t_min, t_min chosen from the data), calibration is of the rows
    with that noise added, as the flow step checks it."""
    solver = flow.solver
    ends = [solver.t_min + h * (solver.t_max - solver.t_min) for h in horizons]
    longer = InflationaryFlow(flow.denoiser, flow.basis,
                              SolverConfig(**{**solver.__dict__, "t_max": max(ends)}))
    with torch.no_grad():
        found = longer.log_prob_at(torch.as_tensor(test), ends)
        if smoothing is not None:
            rows = add_noise(torch.as_tensor(test), noise_at_t_min(flow), flow.basis.eigenvectors,
                             smoothing)
            latents = longer.inflate(rows, record=ends).states
            found = [(ll, z) for (ll, _), z in zip(found, latents, strict=True)]
    dim, out = test.shape[1], []
    for horizon, t_max, (ll, z) in zip(horizons, ends, found, strict=True):
        cal = latent_calibration(z, flow.schedule.latent_variance(t_max), calibration_radii(dim))
        label = "inflationary_flow" if horizon == 1 else f"inflationary_flow_{horizon:g}T"
        out.append(Density(label, ll.numpy(), cal, fit_seconds, {"dim": dim, "t_max": t_max}))
    return out


def training_seconds(history: list[dict[str, Any]], batch_size: int) -> float:
    """Wall time of a training run from its logged throughput (samples/s per interval)."""
    total, last = 0.0, 0
    for entry in history:
        total += (entry["step"] - last) * batch_size / entry["samples_per_s"]
        last = entry["step"]
    return total
