"""Dimensionality and residual analyses against their closed forms (float64)."""

import numpy as np
import pytest
import torch

from inflationary_flows.analyses.dimensionality import empirical_eigenbasis, pr_along_flow
from inflationary_flows.analyses.residuals import (
    gaussian_residual_correlation,
    residual_correlation,
)
from inflationary_flows.denoisers import GaussianDenoiser
from inflationary_flows.pca import participation_ratio
from inflationary_flows.schedules import make_schedule

SPECS = {
    "prpmain": {"kind": "prp", "form": "proportional", "rho": 1.0, "A0": 1.0, "t_min": 1e-3,
                "t_max": 8.0},
    "prrmain": {"kind": "prr", "form": "proportional", "g_mode": "constant_gap",
                "inflation_gap": 1.5, "dims_to_keep": 2, "rho": 1.0, "A0": 1.0, "t_min": 1e-3,
                "t_max": 8.0},
    "prp": {"kind": "prp", "form": "exponential", "rho": 1.0, "gamma0": 5e-4, "A0": 1.0,
            "t_min": 0.0, "t_max": 12.0},
}
SOLVER = {"method": "dopri5", "rtol": 1e-5, "atol": 1e-5}


@pytest.fixture(scope="module")
def atoms():
    g = torch.Generator().manual_seed(0)
    return torch.randn(300, 3, generator=g, dtype=torch.float64) * torch.tensor([2.0, 1.0, 0.5])


def test_empirical_eigenbasis_is_the_exact_covariance(atoms):
    lam, basis = empirical_eigenbasis(atoms)
    u = basis.to_eigen(atoms)
    np.testing.assert_allclose((u.T @ u / len(u)).numpy(), np.diag(lam.numpy()), atol=1e-12)


@pytest.mark.parametrize("name", ["prpmain", "prrmain", "prp"])
def test_pr_of_pushed_samples_follows_the_closed_form(atoms, name):
    track = pr_along_flow(atoms, SPECS[name], n_samples=4000, frames=9, solver=SOLVER, seed=1)
    lam = np.sort(np.linalg.eigvalsh(np.cov(atoms.numpy().T, bias=True)))[::-1]
    np.testing.assert_allclose(track.eigenvalues, lam, rtol=1e-10)
    # 4000 samples: the PR of their covariance is within sampling error of the closed form
    np.testing.assert_allclose(track.empirical, track.closed_form, rtol=0.03)
    if name == "prpmain":  # exactly constant in the population, and nearly so on samples
        np.testing.assert_allclose(track.closed_form, participation_ratio(lam), rtol=1e-10)
        assert np.abs(track.empirical / track.empirical[0] - 1).max() < 0.01
    elif name == "prrmain":  # to the PR of the two kept eigenvalues
        assert track.limit == pytest.approx(participation_ratio(lam[:2]), rel=1e-12)
        assert abs(track.empirical[-1] / track.limit - 1) < 0.03
    else:  # isotropic noise drives the PR to D
        assert track.limit == 3.0 and track.closed_form[-1] > 2.99


def test_residual_correlation_matches_the_gaussian_closed_form():
    lam = torch.tensor([3.0, 1.0], dtype=torch.float64)
    schedule = make_schedule("prp", "exponential", lam)
    g = torch.Generator().manual_seed(2)
    u0 = torch.randn(60000, 2, generator=g, dtype=torch.float64) * lam.sqrt()
    times = torch.tensor([0.5, 4.0, 8.0, 12.0], dtype=torch.float64)
    R, sd = residual_correlation(GaussianDenoiser(schedule), u0, times, g)
    expected = gaussian_residual_correlation(lam, schedule.C(times))
    np.testing.assert_allclose(R.numpy(), expected.numpy(), atol=0.015)
    np.testing.assert_allclose(R.diagonal().numpy(), 1.0, atol=1e-12)
    assert (R - R.T).abs().max() < 1e-12  # symmetric by construction


def test_sde_and_pfode_share_the_closed_form_marginals():
    from inflationary_flows.analyses.duality import FIGURE1_MIXTURE, Duality

    duality = Duality(FIGURE1_MIXTURE, 9.0, {"rtol": 1e-7, "atol": 1e-7})
    gen = torch.Generator().manual_seed(3)
    x0 = FIGURE1_MIXTURE.sample(8000, gen)
    times = torch.tensor([0.0, 4.0, 7.0, 9.0], dtype=torch.float64)
    sde = duality.sde_paths(x0, times, gen)
    ode, _ = duality.ode_paths(x0, times)
    s = duality.scale(times)
    C = duality.schedule.C(times)[:, 0]
    for k in range(len(times)):
        expected_var = s[k] ** 2 * (FIGURE1_MIXTURE.variance + C[k])
        for paths in (sde, ode):  # both carry Var = A^2 (lambda + C(t))
            assert paths[k].var() == pytest.approx(float(expected_var), rel=0.05)
        # KS distances of 8000 exact samples: below 0.03 with overwhelming probability
        assert duality.ks_distance(float(times[k]), sde[k]) < 0.03
        assert duality.ks_distance(float(times[k]), ode[k]) < 0.03
    grid = torch.linspace(-8, 8, 3201, dtype=torch.float64)
    mass = duality.marginal_density(times, grid).sum(1) * (grid[1] - grid[0])
    np.testing.assert_allclose(mass.numpy(), 1.0, atol=1e-6)
    assert not torch.equal(sde[-1], ode[-1])  # same law, different paths


@pytest.mark.parametrize(("dim", "n_boundary"), [(2, 400), (3, 500)])
def test_coverage_of_a_known_gaussian_is_the_chi2_mass(dim, n_boundary):
    from inflationary_flows.analyses.coverage import chi2_mass, inside, nested_coverage, unit_sphere
    from inflationary_flows.analyses.metrics import RADII

    n = 6000
    points = np.random.default_rng(dim).standard_normal((n, dim))
    sphere, faces = unit_sphere(dim, n_boundary)
    found = nested_coverage(points, [r * sphere for r in RADII], faces)
    exact = np.array([(np.square(points).sum(1) <= r * r).mean() for r in RADII])
    # the inscribed boundary loses a sliver of each ball (about 1 % of its mass here)
    np.testing.assert_allclose(found, exact, atol=0.012)
    np.testing.assert_allclose(exact, chi2_mass(RADII, dim), atol=4 * (0.25 / n) ** 0.5)
    # bisection over nested regions gives what testing every region gives
    direct = [inside(points[:600], r * sphere, faces).mean() for r in RADII]
    np.testing.assert_allclose(nested_coverage(points[:600], [r * sphere for r in RADII],
                                               faces), direct, atol=0)


def test_winding_number_is_the_solid_angle_over_4pi():
    from inflationary_flows.analyses.coverage import winding_number

    # an octant's triangle seen from the origin: 4 pi / 8; outward (normal away) counts +
    octant = np.eye(3)
    np.testing.assert_allclose(winding_number(np.zeros((1, 3)), octant, np.array([[0, 1, 2]])),
                               1 / 8, rtol=1e-14)
    np.testing.assert_allclose(winding_number(np.zeros((1, 3)), octant, np.array([[0, 2, 1]])),
                               -1 / 8, rtol=1e-14)
    # a 2a x 2b rectangle (two triangles) seen from distance d on its axis:
    # Omega = 4 arcsin(ab / sqrt((a^2 + d^2)(b^2 + d^2)))
    a, b = 0.7, 1.9
    corners = np.array([[-a, -b, 0], [a, -b, 0], [a, b, 0], [-a, b, 0]]) + [0.3, -1.2, 2.0]
    faces = np.array([[0, 1, 2], [0, 2, 3]])  # normal +z: away from the points below
    d = np.array([0.01, 0.5, 3.0, 40.0])
    points = np.stack([np.full(4, 0.3), np.full(4, -1.2), 2.0 - d], 1)
    omega = 4 * np.arcsin(a * b / np.sqrt((a * a + d * d) * (b * b + d * d)))
    np.testing.assert_allclose(winding_number(points, corners, faces), omega / (4 * np.pi),
                               rtol=1e-12)


def test_winding_number_counts_the_inside_of_a_bent_sphere_mesh():
    """The coverage mesh, carried by a shear x -> x + 0.6 sin(2y) (non-convex image, known
    inverse): points off the surface are inside exactly when their pre-image is inside the
    convex polytope (every face's plane has it on the inner side); a reflection (the
    eigenbasis may have determinant -1) turns the triangles inwards, which counts alike."""
    from inflationary_flows.analyses.coverage import inside, unit_sphere, winding_number

    sphere, faces = unit_sphere(3, 200)
    a, b, c = (sphere[faces[:, i]] for i in range(3))
    normal = np.cross(b - a, c - a)
    np.testing.assert_array_less(0, np.einsum("fi,fi->f", normal, a))  # outward triangles
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)

    def bend(x, sign=1.0):
        return x + sign * 0.6 * np.stack([np.sin(2 * x[:, 1]), 0 * x[:, 1], 0 * x[:, 1]], 1)

    radius = 2.5
    points = np.random.default_rng(3).uniform(-3.5, 3.5, (4000, 3))
    pre = bend(points, -1.0) / radius
    depth = np.min(np.einsum("fi,pfi->pf", normal, a[None] - pre[:, None]), axis=1)
    # flat triangles bend off the curved image by < 0.02 (edges of about 0.25 radius)
    clear = np.abs(depth) * radius > 0.05
    w = winding_number(points[clear], bend(radius * sphere), faces)
    assert clear.sum() > 3500 and 0.1 < (depth > 0).mean() < 0.9
    np.testing.assert_array_equal(w > 0.5, depth[clear] > 0)
    np.testing.assert_allclose(w, np.round(w), atol=1e-9)  # 0 or 1, nothing in between
    mirror = np.array([-1.0, 1.0, 1.0])
    reflected = winding_number(points[clear] * mirror, bend(radius * sphere) * mirror, faces)
    np.testing.assert_allclose(reflected, -w, atol=1e-9)
    np.testing.assert_array_equal(inside(points[clear] * mirror,
                                         bend(radius * sphere) * mirror, faces), depth[clear] > 0)


def test_a_linear_flow_keeps_coverage_exactly():
    """Gaussian data: the flow is linear, so the images of the balls are ellipsoids that hold
    exactly the generated images of the points that were inside."""
    from inflationary_flows.analyses.coverage import coverage_through_flow
    from inflationary_flows.basis import EigenBasis
    from inflationary_flows.flow import InflationaryFlow, SolverConfig

    lam = torch.tensor([2.0, 0.5, 0.1], dtype=torch.float64)
    schedule = make_schedule("prr", "exponential", lam, dims_to_keep=2)
    flow = InflationaryFlow(GaussianDenoiser(schedule), EigenBasis.identity(3),
                            SolverConfig(t_min=0.0, t_max=7.0, rtol=1e-8, atol=1e-8))
    result = coverage_through_flow(flow, n_test=1000, n_boundary=100, seed=0)
    np.testing.assert_allclose(result["generated"], result["initial"], atol=1e-3)
    np.testing.assert_allclose(result["roundtrip"], result["initial"], atol=1e-3)
    assert result["boundary_roundtrip_max_error"] < 1e-5


def test_solver_sweep_errors_shrink_with_budget_on_an_exact_mixture_score():
    from inflationary_flows.analyses.exact import exact_flow
    from inflationary_flows.analyses.solver_accuracy import accuracy_sweep

    g = torch.Generator().manual_seed(4)
    train = torch.randn(200, 2, generator=g, dtype=torch.float64) * torch.tensor([1.5, 0.7])
    spec = {"kind": "prp", "form": "exponential", "rho": 1.0, "t_min": 0.0, "t_max": 10.0}
    flow = exact_flow(train, spec, covariance="empirical", bandwidth=0.3)
    # the estimate's covariance: (1/N) sample covariance + bandwidth^2 on every axis
    cov = np.cov(train.numpy().T, bias=True) + 0.09 * np.eye(2)
    np.testing.assert_allclose(flow.schedule.eigenvalues.numpy(),
                               np.sort(np.linalg.eigvalsh(cov))[::-1], rtol=1e-10)
    x = torch.randn(100, 2, generator=g, dtype=torch.float64)
    settings = [{"method": "heun", "steps": n} for n in (16, 32, 64)]
    settings += [{"method": "dopri5", "rtol": 1e-9, "atol": 1e-9}]
    rows = accuracy_sweep(flow, x, settings, calibration=True)
    errors = [r["roundtrip_relative_mse"] for r in rows[:3]]
    assert errors[0] > errors[1] > errors[2] and rows[3]["roundtrip_relative_mse"] < 1e-12
    assert [r["nfe"] for r in rows[:3]] == [4 * 16, 4 * 32, 4 * 64]  # Heun: 2 per step, 2 ways
    assert rows[3]["calibration_change_vs_most_accurate_pp"] == 0


def test_kernel_density_denoiser_equals_the_general_mixture():
    from inflationary_flows.analyses.exact import KernelDensityDenoiser
    from inflationary_flows.denoisers import MixtureDenoiser

    schedule = make_schedule("prp", "exponential", torch.tensor([2.0, 0.5], dtype=torch.float64))
    g = torch.Generator().manual_seed(5)
    points = torch.randn(50, 2, generator=g, dtype=torch.float64)
    general = MixtureDenoiser(schedule, points, torch.full_like(points, 0.09))
    fast = KernelDensityDenoiser(schedule, points, 0.3)
    u = 3 * torch.randn(40, 2, generator=g, dtype=torch.float64)
    for t in (0.0, 3.0, 9.0):
        tt = torch.full((40,), t, dtype=torch.float64)
        torch.testing.assert_close(fast(u, tt), general(u, tt), rtol=1e-10, atol=1e-12)
