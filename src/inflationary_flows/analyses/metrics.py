"""Quality measures of a flow: invertibility, latent calibration, sample quality."""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats
from torch import Tensor

RADII = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5)
CHI2_LEVELS = (0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)


def chi2_radii(dim: int, levels=CHI2_LEVELS) -> tuple[float, ...]:
    """Mahalanobis radii whose balls hold ``levels`` of the N(0, I_dim) mass: in high
    dimensions fixed radii hold almost nothing (chi2_64 puts 1e-13 inside r = 3.5)."""
    return tuple(float(np.sqrt(stats.chi2.ppf(p, dim))) for p in levels)


def calibration_radii(dim: int) -> tuple[float, ...]:
    """The paper's fixed radii where the toys live (D <= 3); chi2 quantiles above, where fixed
    radii hold almost none of the mass (tables, embedded sets)."""
    return RADII if dim <= 3 else chi2_radii(dim)


def roundtrip_error(x: Tensor, x_back: Tensor) -> float:
    """Mean squared round-trip error relative to the mean per-coordinate data variance."""
    return float(((x - x_back) ** 2).mean() / x.var(0).mean())


def latent_calibration(z: Tensor, variance: Tensor, radii=RADII) -> dict:
    """Fraction of latents inside Mahalanobis balls of radius r vs the chi2_D mass.

    ``variance`` is the diagonal latent prior covariance. Also the KS statistic (and p-value)
    of the squared radii against chi2_D.
    """
    r2 = ((z**2) / variance).sum(-1).cpu().numpy()
    dim = z.shape[-1]
    inside = [float((r2 <= r * r).mean()) for r in radii]
    expected = [float(stats.chi2.cdf(r * r, dim)) for r in radii]
    ks = stats.kstest(r2, stats.chi2(dim).cdf)
    return {"radii": list(radii), "fraction_inside": inside, "chi2_mass": expected,
            "max_abs_error": float(np.max(np.abs(np.subtract(inside, expected)))),
            "ks_statistic": float(ks.statistic), "ks_pvalue": float(ks.pvalue)}


def flow_metrics(x: Tensor, z: Tensor, x_back: Tensor, generated: Tensor, pool: Tensor,
                 variance: Tensor, keep: int) -> dict:
    """The toy metrics of a flow: round trip of held-out ``x`` (via its latents ``z``), their
    calibration (and the kept dimensions' under PRR, ``keep`` < D, with the compressed
    latents' variance against the schedule's), and the energy distance of ``generated``
    samples to the held-out ``pool``."""
    result = {
        "n_eval": x.shape[0],
        "roundtrip_relative_mse": roundtrip_error(x, x_back),
        "latent_calibration": latent_calibration(z, variance, calibration_radii(x.shape[1])),
        "generation": generation_quality(generated, pool),
    }
    if keep < x.shape[1]:
        measured = z[:, keep:].var(0)
        result["compressed"] = {
            "latent_variance_measured": measured.tolist(),
            "latent_variance_schedule": variance[keep:].tolist(),
            "relative_error": ((measured / variance[keep:]) - 1).abs().max().item(),
        }
        result["latent_calibration_kept"] = latent_calibration(z[:, :keep], variance[:keep],
                                                               calibration_radii(keep))
    return result


def mean_pairwise_distance(a: Tensor, b: Tensor, chunk: int = 2048) -> Tensor:
    total = a.new_zeros(())
    for start in range(0, a.shape[0], chunk):
        total = total + torch.cdist(a[start:start + chunk], b).sum()
    return total / (a.shape[0] * b.shape[0])


def energy_distance(a: Tensor, b: Tensor) -> float:
    """Squared energy distance 2E|X-Y| - E|X-X'| - E|Y-Y'| (V-statistic, >= 0)."""
    return float(2 * mean_pairwise_distance(a, b) - mean_pairwise_distance(a, a)
                 - mean_pairwise_distance(b, b))


def generation_quality(generated: Tensor, pool: Tensor, splits: int = 5,
                       seed: int = 0) -> dict:
    """Energy distance of generated samples to held-out data, beside the noise floor.

    ``pool`` holds 2n held-out points. For each of ``splits`` random halvings (A, B) of it,
    ED(generated, A) is compared with ED(B, A): the distance two independent data samples of
    the same size have. Averaging over halvings steadies the floor, whose single-split value
    fluctuates by tens of percent at n = 5000.
    """
    n = generated.shape[0]
    if pool.shape[0] < 2 * n:
        raise ValueError(f"the noise floor needs {2 * n} held-out points, got {pool.shape[0]}")
    gen = torch.Generator().manual_seed(seed)
    within_generated = mean_pairwise_distance(generated, generated)  # the same every split
    eds, floors = [], []
    for _ in range(splits):
        perm = torch.randperm(pool.shape[0], generator=gen)
        a, b = pool[perm[:n]], pool[perm[n:2 * n]]
        within_a = mean_pairwise_distance(a, a)
        eds.append(float(2 * mean_pairwise_distance(generated, a) - within_generated - within_a))
        floors.append(float(2 * mean_pairwise_distance(b, a) - mean_pairwise_distance(b, b)
                            - within_a))
    ed, floor = float(np.mean(eds)), float(np.mean(floors))
    return {"energy_distance": ed, "energy_distance_floor": floor, "ratio": ed / floor,
            "floor_relative_sd": float(np.std(floors) / floor), "n": n, "splits": splits}


def frechet_distance(mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray,
                     cov2: np.ndarray) -> float:
    """Frechet (2-Wasserstein) distance between N(mean1, cov1) and N(mean2, cov2):
    |m1 - m2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2), the symmetric form, whose
    eigenvalues are real and non-negative (round-off negatives are clipped)."""
    from scipy.linalg import eigh

    lam, vec = eigh(cov1)
    root1 = (vec * np.sqrt(np.clip(lam, 0, None))) @ vec.T
    cross = np.clip(eigh(root1 @ cov2 @ root1, eigvals_only=True), 0, None)
    diff = np.asarray(mean1) - np.asarray(mean2)
    return float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * np.sqrt(cross).sum())


def feature_frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two sets of feature rows (as FID does)."""
    return frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0),
                            np.cov(b, rowvar=False))


def mean_and_sd(values: list[float]) -> dict:
    """Mean and sample sd (None for one value) of ``values``."""
    return {"mean": float(np.mean(values)),
            "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None}


def _distance_to(b: np.ndarray):
    """The Frechet distance of rows to ``b``'s fitted Gaussian (its moments taken once)."""
    mean, cov = b.mean(0), np.cov(b, rowvar=False)
    return lambda a: frechet_distance(a.mean(0), np.cov(a, rowvar=False), mean, cov)


def frechet_batch_size(rows: int, at_most: int) -> int:
    """Rows per batch when ``rows`` are dealt into the fewest equal batches of at most
    ``at_most`` rows (5600 at most 1438: 4 of 1400; 1439: 2 of 719, one row left out)."""
    return rows // -(-rows // at_most)


def batch_frechet_distance(a: np.ndarray, b: np.ndarray, n: int) -> dict:
    """Frechet distance of ``a``'s rows to ``b``'s, ``a`` dealt into consecutive batches of
    ``n`` rows (a remainder is left out). The distance of n rows is biased up (for N(0, I_d)
    against its own law by d/n + d(d+1)/(4(n-1))), so only distances at equal n compare:
    mean and sd over the batches give the value at n and one batch's sampling noise."""
    if len(a) < n:
        raise ValueError(f"batches of {n} rows need at least {n}, got {len(a)}")
    to_b = _distance_to(b)
    values = [to_b(a[i * n:(i + 1) * n]) for i in range(len(a) // n)]
    return {**mean_and_sd(values), "batches": values, "n": n}


def resampled_frechet_distance(a: np.ndarray, b: np.ndarray, n: int, draws: int,
                               seed: int) -> dict:
    """Mean and sd of the Frechet distance to ``b`` of ``n`` rows of ``a`` drawn with
    replacement, over ``draws`` draws: a sampler that returns rows of ``a``, and the spread
    one batch of n has (the bootstrap of the batch's rows)."""
    rng, to_b = np.random.default_rng(seed), _distance_to(b)
    values = [to_b(a[rng.integers(0, len(a), n)]) for _ in range(draws)]
    return {**mean_and_sd(values), "draws": draws, "n": n}


# pixel values in [-1, 1] are 8-bit levels 0..255 scaled by 2/255 (paper section 2.3)
LEVELS_PER_UNIT = 127.5


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Images in [-1, 1] as 8-bit pixels (rounded, clipped)."""
    return np.clip(np.rint((np.asarray(x) + 1) * LEVELS_PER_UNIT), 0, 255).astype(np.uint8)


def pixel_mse(x: np.ndarray, x_back: np.ndarray) -> dict[str, float]:
    """Round-trip MSE in squared 8-bit pixel levels ([0, 255]^2 units).

    ``float``: the difference of the float images, scaled to 8-bit units (what we report).
    ``uint8``: both images quantised to 8 bits and differenced and squared in uint8
    arithmetic, the official code's convention: it wraps modulo 256, so it agrees with the
    quantised error only while every pixel is off by at most 15 levels.
    """
    diff = (np.asarray(x, np.float64) - np.asarray(x_back, np.float64)) * LEVELS_PER_UNIT
    d8 = to_uint8(x) - to_uint8(x_back)  # uint8: wraps
    return {"float": float(np.mean(diff**2)), "uint8": float(np.mean(d8 * d8))}
