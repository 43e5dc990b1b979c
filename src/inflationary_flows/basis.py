"""The data eigenbasis as a module: eigenvectors and mean travel with ``.to(device)``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn


class EigenBasis(nn.Module):
    """u = W^T (x - mean) and back; W has the eigenvectors as columns (orthonormal)."""

    def __init__(self, eigenvectors: Tensor, mean: Tensor | None = None) -> None:
        super().__init__()
        w = torch.as_tensor(eigenvectors, dtype=torch.float64)
        if w.ndim != 2 or w.shape[0] != w.shape[1]:
            raise ValueError(f"eigenvectors must be a square matrix, got {tuple(w.shape)}")
        self.register_buffer("eigenvectors", w)
        mean = torch.zeros(w.shape[0], dtype=w.dtype) if mean is None else mean
        self.register_buffer("mean", torch.as_tensor(mean, dtype=w.dtype))

    @classmethod
    def from_pca(cls, pca: Any) -> EigenBasis:
        """The eigenbasis of a :class:`~inflationary_flows.pca.PCA`, or of a PCA file's arrays
        (a mapping with ``eigenvectors`` and ``mean``)."""
        if isinstance(pca, Mapping):
            return cls(pca["eigenvectors"], pca["mean"])
        return cls(pca.eigenvectors, pca.mean)

    @classmethod
    def identity(cls, dim: int) -> EigenBasis:
        return cls(torch.eye(dim, dtype=torch.float64))

    @property
    def dim(self) -> int:
        return self.eigenvectors.shape[0]

    def to_eigen(self, x: Tensor) -> Tensor:
        return (x - self.mean.to(x.dtype)) @ self.eigenvectors.to(x.dtype)

    def to_data(self, u: Tensor) -> Tensor:
        return u @ self.eigenvectors.to(u.dtype).T + self.mean.to(u.dtype)

    def rotate_to_data(self, u: Tensor) -> Tensor:
        """Rotation only (no mean): for network inputs and outputs in data space."""
        return u @ self.eigenvectors.to(u.dtype).T

    def rotate_to_eigen(self, x: Tensor) -> Tensor:
        return x @ self.eigenvectors.to(x.dtype)
