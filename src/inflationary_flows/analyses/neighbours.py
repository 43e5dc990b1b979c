"""Local structure through a flow: how many of each point's k nearest neighbours stay its
neighbours (the embedded-toys analysis: a smooth invertible flow keeps neighbourhoods)."""

from __future__ import annotations

import numpy as np


def neighbour_sets(x: np.ndarray, k: int) -> np.ndarray:
    """Indices (n, k) of each row's k nearest other rows (Euclidean)."""
    from sklearn.neighbors import NearestNeighbors

    if k >= len(x):
        raise ValueError(f"k = {k} neighbours need more than {len(x)} points")
    found = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x, return_distance=False)
    return found[:, 1:]  # drop each point itself (ties at distance 0 aside)


def knn_overlap(reference: np.ndarray, states: np.ndarray, k: int) -> float:
    """Mean share of each point's k nearest neighbours in ``reference`` that are also among
    its k nearest in ``states``: 1 when local structure is kept, about k / (n - 1) by chance."""
    a, b = neighbour_sets(reference, k), neighbour_sets(states, k)
    shared = [len(np.intersect1d(ra, rb, assume_unique=True)) for ra, rb in zip(a, b,
                                                                                  strict=True)]
    return float(np.mean(shared) / k)


def overlap_along(reference: np.ndarray, trajectory: np.ndarray, k: int) -> np.ndarray:
    """:func:`knn_overlap` of ``reference`` with every frame of ``trajectory`` (R, n, D)."""
    return np.array([knn_overlap(reference, frame, k) for frame in trajectory])
