"""Covariance, principal components and the participation ratio (paper section 1.2).

Everything is accumulated in float64 in batches, so the same code serves toys (thousands of
2-D points) and images (tens of thousands of 3072-D vectors) with bounded memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .datasets import decode, nonfinite_columns


@dataclass(frozen=True)
class PCA:
    """Mean, eigenvalues (descending) and eigenvectors (columns) of a data covariance."""

    mean: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    n_samples: int

    @property
    def dim(self) -> int:
        return self.mean.shape[0]

    @property
    def participation_ratio(self) -> float:
        return participation_ratio(self.eigenvalues)

    def covariance(self) -> np.ndarray:
        w = self.eigenvectors
        return (w * self.eigenvalues) @ w.T


def participation_ratio(eigenvalues: np.ndarray) -> float:
    """PR = (sum lambda)^2 / sum lambda^2: 1 for rank one, D for an isotropic spectrum."""
    lam = np.asarray(eigenvalues, dtype=np.float64)
    return float(lam.sum() ** 2 / np.square(lam).sum())


def covariance(x: np.ndarray, batch_size: int = 4096, encoding: dict | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """Mean and unbiased covariance of the rows of ``x``, accumulated in float64 by batch.

    The second moment is accumulated around a shift (the first batch's mean) so that data
    far from the origin do not lose precision to cancellation. Stored pixels are decoded
    batch by batch (``encoding``), so images never exist in memory as float64 all at once.
    """
    n, dim = x.shape
    if n < 2:
        raise ValueError(f"need at least 2 samples to estimate a covariance, got {n}")
    shift = decode(x[: min(n, batch_size)], encoding).mean(axis=0)
    total = np.zeros(dim)
    outer = np.zeros((dim, dim))
    for start in range(0, n, batch_size):
        batch = decode(x[start : start + batch_size], encoding) - shift
        total += batch.sum(axis=0)
        outer += batch.T @ batch
    centred_mean = total / n
    cov = (outer - n * np.outer(centred_mean, centred_mean)) / (n - 1)
    return centred_mean + shift, (cov + cov.T) / 2


def fit_pca(x: np.ndarray, batch_size: int = 4096, encoding: dict | None = None) -> PCA:
    """Eigendecomposition of the covariance, descending, with a deterministic sign.

    Sign convention: the entry of largest magnitude of every eigenvector is positive (the
    first such entry on ties), so reruns and other machines give identical bases.
    """
    cols = nonfinite_columns(x)
    if cols:
        raise ValueError(f"non-finite values in train column(s) {cols}")
    mean, cov = covariance(x, batch_size, encoding)
    eigenvalues, eigenvectors = np.linalg.eigh(cov)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues = np.clip(eigenvalues[order], 0.0, None)  # round-off can give -1e-17
    eigenvectors = eigenvectors[:, order]
    pivot = np.argmax(np.abs(eigenvectors), axis=0)
    signs = np.sign(eigenvectors[pivot, np.arange(eigenvectors.shape[1])])
    eigenvectors = eigenvectors * np.where(signs == 0, 1.0, signs)
    return PCA(mean, eigenvalues, eigenvectors, x.shape[0])
