"""Coverage of credible regions through the flow (paper appendix C.2.1).

A latent Mahalanobis ball of radius r holds chi2_D.cdf(r^2) of the prior mass. Its boundary
is sampled (an ordered polygon on the circle in 2-D; a triangulated Fibonacci sphere in 3-D),
the boundary points and 20K prior samples are generated into data space together, and the
share of generated samples inside the generated boundary is counted; then everything is
inflated back and counted again. The flow is a diffeomorphism, so the image of the ball is
bounded by the image of its boundary: the same polygon order or triangle list, carried by
the flow, is a closed curve or watertight mesh (shapely / trimesh count what is inside), and
no alpha parameter has to be tuned. The discretised boundary is inscribed in the ball, so
the *initial* coverage sits slightly below the chi2 mass; what must hold is that generation
and the round trip keep the initial coverage.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import stats
from scipy.spatial import ConvexHull

from ..flow import InflationaryFlow
from .metrics import RADII


def chi2_mass(radii, dim: int) -> np.ndarray:
    return stats.chi2.cdf(np.square(radii), dim)


def unit_sphere(dim: int, n: int) -> tuple[np.ndarray, np.ndarray | None]:
    """n boundary points of the unit sphere and how they connect: None for the circle
    (points in polygon order), triangles (F, 3) for the 2-sphere (Fibonacci lattice)."""
    if dim == 2:
        angle = 2 * np.pi * np.arange(n) / n
        return np.stack([np.cos(angle), np.sin(angle)], 1), None
    if dim == 3:
        k = np.arange(n) + 0.5
        polar = np.arccos(1 - 2 * k / n)
        azimuth = np.pi * (1 + 5**0.5) * k
        points = np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar),
                           np.cos(polar)], 1)
        return points, ConvexHull(points).simplices
    raise ValueError(f"coverage regions are drawn in 2 or 3 dimensions, not {dim}")


def inside(points: np.ndarray, boundary: np.ndarray, faces: np.ndarray | None) -> np.ndarray:
    """Which points lie inside the closed curve (2-D) or triangle mesh (3-D) ``boundary``."""
    if faces is None:
        import shapely

        polygon = shapely.Polygon(boundary)
        return shapely.contains_xy(polygon, points[:, 0], points[:, 1])
    import trimesh

    mesh = trimesh.Trimesh(vertices=boundary, faces=faces, process=False)
    trimesh.repair.fix_normals(mesh)
    return mesh.contains(points)


def nested_coverage(points: np.ndarray, boundaries: list[np.ndarray],
                    faces: np.ndarray | None) -> np.ndarray:
    """Share of points inside each of nested regions (smallest first).

    The flow keeps the balls nested, so each point needs only a bisection over the regions
    (about log2 of their number of tests, not one per region): the index of the smallest
    region holding it is found, and a point inside region i is inside every larger one.
    """
    lo = np.zeros(len(points), dtype=int)  # smallest region index the point may be in
    hi = np.full(len(points), len(boundaries))  # len(boundaries): in none
    while np.any(lo < hi):
        mid = (lo + hi) // 2
        for region in np.unique(mid[lo < hi]):
            ask = (mid == region) & (lo < hi)
            hit = inside(points[ask], boundaries[region], faces)
            idx = np.nonzero(ask)[0]
            hi[idx[hit]] = region
            lo[idx[~hit]] = region + 1
    return np.array([(lo <= i).mean() for i in range(len(boundaries))])


def coverage_through_flow(flow: InflationaryFlow, n_test: int, n_boundary: int, seed: int,
                          radii=RADII) -> dict[str, np.ndarray]:
    """Coverage per radius initially, after generation and after the return inflation."""
    std = flow.latent_variance().sqrt()
    dim = std.shape[0]
    gen = torch.Generator().manual_seed(seed)
    test = torch.randn(n_test, dim, generator=gen, dtype=torch.float64)
    sphere, faces = unit_sphere(dim, n_boundary)
    rings = torch.as_tensor(np.concatenate([r * sphere for r in radii]))
    standard = torch.cat([test, rings])  # in units of the latent std
    with torch.no_grad():
        generated = flow.generate(standard * std).value
        back = flow.inflate(generated).value / std

    def count(states: torch.Tensor) -> np.ndarray:
        pts, bnd = states[:n_test].numpy(), states[n_test:].numpy()
        return nested_coverage(pts, np.split(bnd, len(radii)), faces)

    return {"radii": np.asarray(radii), "chi2_mass": chi2_mass(radii, dim),
            "initial": count(standard), "generated": count(generated),
            "roundtrip": count(back),
            "boundary_roundtrip_max_error": float((back[n_test:] - rings).abs().max())}
