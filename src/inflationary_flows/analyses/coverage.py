"""Coverage of credible regions through the flow (paper appendix C.2.1).

A latent Mahalanobis ball of radius r holds chi2_D.cdf(r^2) of the prior mass. Its boundary
is sampled (an ordered polygon on the circle in 2-D; a triangulated Fibonacci sphere in 3-D),
the boundary points and 20K prior samples are generated into data space together, and the
share of generated samples inside the generated boundary is counted; then everything is
inflated back and counted again. The flow is a diffeomorphism, so the image of the ball is
bounded by the image of its boundary: the same polygon order or triangle list, carried by
the flow, is a closed curve or watertight mesh, and no alpha parameter has to be tuned.
shapely counts what lies inside the curve; the mesh's winding number counts what lies inside
the surface (+-1 inside, 0 outside: the flow is continuous in t from the identity, so it keeps
every triangle's orientation, and the eigenbasis may reflect them all at once). The
discretised boundary is inscribed in the ball, so the *initial* coverage sits slightly below
the chi2 mass; what must hold is that generation and the round trip keep the initial
coverage.
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
    (points in polygon order), triangles (F, 3) for the 2-sphere (Fibonacci lattice), each
    ordered counter-clockwise seen from outside (outward normals)."""
    if dim == 2:
        angle = 2 * np.pi * np.arange(n) / n
        return np.stack([np.cos(angle), np.sin(angle)], 1), None
    if dim == 3:
        k = np.arange(n) + 0.5
        polar = np.arccos(1 - 2 * k / n)
        azimuth = np.pi * (1 + 5**0.5) * k
        points = np.stack([np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar),
                           np.cos(polar)], 1)
        faces = ConvexHull(points).simplices
        a, b, c = (points[faces[:, i]] for i in range(3))
        inward = np.einsum("ij,ij->i", np.cross(b - a, c - a), a) < 0
        faces[inward] = faces[inward][:, ::-1]
        return points, faces
    raise ValueError(f"coverage regions are drawn in 2 or 3 dimensions, not {dim}")


def winding_number(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray,
                   block: int = 4096) -> np.ndarray:
    """How many times the closed, consistently oriented triangle mesh winds around each
    point: the solid angles of its triangles summed over 4 pi (0 outside; inside 1 where the
    triangles face outwards, -1 where they face inwards).

    A triangle with corners a, b, c relative to the point subtends
    Omega = 2 atan2(a.(b x c), |a||b||c| + (a.b)|c| + (b.c)|a| + (c.a)|b|)
    (Van Oosterom & Strackee 1983). Unlike a ray cast, the sum has no degenerate directions
    (a ray through an edge or a vertex) to retry, so the count is the same on every run.
    The triple and dot products are affine or quadratic in the point, so they come from
    matrix products with per-face constants (no (points, faces, 3) arrays).
    """
    v = torch.as_tensor(vertices, dtype=torch.float64)
    index = torch.as_tensor(faces, dtype=torch.long).T
    a, b, c = v[index]
    volume = (a * torch.linalg.cross(b, c)).sum(1)
    # a.(b x c) - p.(a x b + b x c + c x a) = (a - p).((b - p) x (c - p))
    normal = torch.linalg.cross(a, b) + torch.linalg.cross(b, c) + torch.linalg.cross(c, a)
    pairs = [(a, b), (b, c), (c, a)]
    out = []
    for p in torch.as_tensor(points, dtype=torch.float64).split(block):
        lengths = torch.linalg.vector_norm(v - p[:, None], dim=-1)
        la, lb, lc = (lengths[:, i] for i in index)
        pp = (p * p).sum(1, keepdim=True)
        ab, bc, ca = ((u * w).sum(1) - p @ (u + w).T + pp for u, w in pairs)
        triple = volume - p @ normal.T
        denominator = la * lb * lc + ab * lc + bc * la + ca * lb
        out.append(torch.atan2(triple, denominator).sum(1) / (2 * torch.pi))
    return torch.cat(out).numpy()


def inside(points: np.ndarray, boundary: np.ndarray, faces: np.ndarray | None) -> np.ndarray:
    """Which points lie inside the closed curve (2-D) or consistently oriented triangle
    mesh (3-D) ``boundary``."""
    if faces is None:
        import shapely

        polygon = shapely.Polygon(boundary)
        return shapely.contains_xy(polygon, points[:, 0], points[:, 1])
    return np.abs(winding_number(points, boundary, faces)) > 0.5


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
