"""The exact-score flow builder and the hybrid denoiser against closed forms (float64)."""

import numpy as np
import pytest
import torch
from torch import nn

from inflationary_flows.analyses.exact import eigenbasis_of, exact_flow
from inflationary_flows.analyses.hybrid import HybridDenoiser
from inflationary_flows.basis import EigenBasis
from inflationary_flows.denoisers import GaussianDenoiser
from inflationary_flows.flow import InflationaryFlow, SolverConfig
from inflationary_flows.preconditioning import IFPreconditioner
from inflationary_flows.schedules import make_schedule

SPEC = {"kind": "prp", "form": "exponential", "rho": 1.0, "gamma0": 5e-4, "A0": 1.0,
        "t_min": 0.0, "t_max": 12.0}


@pytest.fixture(scope="module")
def points():
    g = torch.Generator().manual_seed(0)
    rot = torch.tensor([[0.8, -0.6], [0.6, 0.8]], dtype=torch.float64)
    x = torch.randn(80, 2, generator=g, dtype=torch.float64)
    return (x * torch.tensor([2.0, 0.5], dtype=torch.float64)) @ rot.T + 1.5


def loop_mixture_mean(u, C, means, variances, weights):
    """E[u_0 | u] for sum_k w_k N(m_k, diag s_k) smoothed by diag C: a per-point numpy loop."""
    u, C = np.asarray(u), np.asarray(C)
    out = np.zeros_like(u)
    for i in range(u.shape[0]):
        logs, posts = [], []
        for m, s, w in zip(means, variances, weights, strict=True):
            total = s + C[i]
            logs.append(np.log(w) - 0.5 * np.sum((u[i] - m) ** 2 / total + np.log(total)))
            posts.append(m + s / total * (u[i] - m))
        p = np.exp(np.array(logs) - max(logs))
        out[i] = (p / p.sum()) @ np.array(posts)
    return out


@pytest.mark.parametrize("covariance, divisor", [("sample", 79), ("empirical", 80)])
@pytest.mark.parametrize("eigensolver", ["numpy", "torch"])
def test_the_eigenbasis_is_the_points_covariance(points, covariance, divisor, eigensolver):
    lam, basis = eigenbasis_of(points, covariance, eigensolver)
    centred = points.numpy() - points.numpy().mean(0)
    cov = centred.T @ centred / divisor
    np.testing.assert_allclose(lam.numpy(), np.sort(np.linalg.eigvalsh(cov))[::-1], rtol=1e-12)
    u = basis.to_eigen(points).numpy()  # uncorrelated coordinates with those variances
    np.testing.assert_allclose(u.T @ u / divisor, np.diag(lam.numpy()), atol=1e-12)


def test_the_exact_flow_of_points_denoises_as_the_per_point_loop(points):
    flow = exact_flow(points, SPEC)
    means = flow.basis.to_eigen(points).numpy()
    g = torch.Generator().manual_seed(1)
    u = 2 * torch.randn(30, 2, generator=g)
    for t in (0.0, 2.0, 6.0, 11.0):
        tt = torch.full((30,), t)
        C = flow.schedule.C(tt)
        expected = loop_mixture_mean(u, C, means, np.zeros_like(means), np.ones(len(means)))
        np.testing.assert_allclose(flow.denoiser(u, tt).numpy(), expected, rtol=1e-10,
                                   atol=1e-12)
    assert (flow.solver.t_min, flow.solver.t_max) == (0.0, 12.0)


def test_the_exact_flow_of_a_gaussian_mixture_is_its_closed_form():
    lam = torch.tensor([2.0, 0.7])
    schedule = make_schedule("prp", "exponential", lam)
    basis = EigenBasis(torch.tensor([[0.0, 1.0], [1.0, 0.0]]), torch.tensor([0.3, -0.2]))
    means = torch.tensor([[1.0, 0.5], [-1.2, 0.1], [0.2, -0.9]])  # data space
    variances = torch.tensor([[0.1, 0.3], [0.2, 0.05], [0.4, 0.4]])  # eigen coordinates
    weights = torch.tensor([0.5, 0.2, 0.3])
    flow = exact_flow(means, schedule, basis, variances=variances, weights=weights,
                      solver={"t_min": 0.0, "t_max": 9.0})
    assert flow.schedule is schedule and flow.basis is basis and flow.solver.t_max == 9.0
    m = (means - basis.mean) @ basis.eigenvectors
    u = 2 * torch.randn(25, 2, generator=torch.Generator().manual_seed(2))
    for t in (0.0, 3.0, 8.0):
        tt = torch.full((25,), t)
        expected = loop_mixture_mean(u, schedule.C(tt), m.numpy(), variances.numpy(),
                                     weights.numpy())
        np.testing.assert_allclose(flow.denoiser(u, tt).numpy(), expected, rtol=1e-10,
                                   atol=1e-12)


def test_a_kernel_bandwidth_widens_every_eigenvalue(points):
    flow = exact_flow(points, SPEC, covariance="empirical", bandwidth=0.3)
    cov = np.cov(points.numpy().T, bias=True) + 0.09 * np.eye(2)
    np.testing.assert_allclose(flow.schedule.eigenvalues.numpy(),
                               np.sort(np.linalg.eigvalsh(cov))[::-1], rtol=1e-12)


def test_given_eigenvalues_and_basis_build_the_spec_on_them(points):
    lam, basis = eigenbasis_of(points)
    flow = exact_flow(points, SPEC, basis, eigenvalues=lam * 2)
    torch.testing.assert_close(flow.schedule.eigenvalues, lam * 2, rtol=0, atol=0)
    assert flow.basis is basis
    with pytest.raises(ValueError, match="both a basis and its eigenvalues"):
        exact_flow(points, SPEC, basis)
    with pytest.raises(ValueError, match="bandwidth or component variances"):
        exact_flow(points, SPEC, bandwidth=0.1, variances=torch.ones(80, 2))


class Zero(nn.Module):
    """A backbone that outputs zero: through the preconditioner, the Gaussian denoiser."""

    def forward(self, x, t):
        return torch.zeros_like(x)


def test_the_hybrid_uses_each_denoiser_on_its_own_times():
    schedule = make_schedule("prp", "exponential", torch.tensor([3.0, 1.0]))
    inside = GaussianDenoiser(schedule, variance=torch.tensor([0.5, 0.2]), mean=torch.ones(2))
    outside = GaussianDenoiser(schedule, variance=torch.tensor([2.0, 4.0]))
    hybrid = HybridDenoiser(inside, outside, [(1.0, 2.0), (5.0, 6.0)])
    t = torch.tensor([0.5, 1.0, 1.5, 2.0, 4.0, 5.5, 6.0, 9.0])
    u = torch.randn(8, 2, generator=torch.Generator().manual_seed(3))
    use_inside = torch.tensor([False, True, True, False, False, True, False, False])
    expected = torch.where(use_inside.unsqueeze(-1), inside(u, t), outside(u, t))
    torch.testing.assert_close(hybrid(u, t), expected, rtol=0, atol=0)
    torch.testing.assert_close(hybrid.residual(u, t), torch.where(
        use_inside.unsqueeze(-1), inside.residual(u, t), outside.residual(u, t)), rtol=0, atol=0)
    with pytest.raises(ValueError, match="lo < hi"):
        HybridDenoiser(inside, outside, [(2.0, 1.0)])


@pytest.mark.parametrize("bands", [[(0.0, 2.0)], [(2.0, 5.0)], [(5.0, 13.0)],
                                   [(0.0, 1.0), (4.0, 8.0)], [(0.0, 13.0)]])
def test_on_gaussian_data_the_exact_denoiser_in_any_band_changes_nothing(bands):
    """The zero network is the exact Gaussian denoiser through the preconditioner; swapping
    the exact Gaussian denoiser into a band leaves the flow the closed-form linear map."""
    lam = torch.tensor([2.5, 1.0, 0.2])
    schedule = make_schedule("prp", "exponential", lam)
    basis = EigenBasis(torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator()
                                                   .manual_seed(4)))[0], torch.tensor([1., 0, 2]))
    network = IFPreconditioner(Zero(), schedule, basis)
    exact = GaussianDenoiser(schedule, variance=lam.clone(), mean=torch.zeros(3))
    solver = SolverConfig(t_min=0.0, t_max=12.0, rtol=1e-10, atol=1e-10)
    x = basis.to_data(torch.randn(40, 3, generator=torch.Generator().manual_seed(5))
                      * lam.sqrt())
    trained = InflationaryFlow(network, basis, solver).inflate(x).value
    hybrid_flow = InflationaryFlow(HybridDenoiser(exact, network, bands), basis, solver)
    z = hybrid_flow.inflate(x).value
    # the linear map of Gaussian data: u(t) = sqrt((lam + C(t)) / (lam + C(0))) u(0), scaled
    u0 = basis.to_eigen(x)
    closed = schedule.A(12.0) * u0 * torch.sqrt((lam + schedule.C(12.0)) / (lam + schedule.C(0.0)))
    torch.testing.assert_close(z, closed, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(z, trained, rtol=1e-8, atol=1e-10)
    back = hybrid_flow.generate(z).value
    torch.testing.assert_close(back, x, rtol=1e-8, atol=1e-9)


def test_the_band_diagnosis_of_a_gaussian_model_is_the_same_in_every_row():
    from inflationary_flows.analyses.hybrid import band_diagnosis

    lam = torch.tensor([2.0, 0.5])
    schedule = make_schedule("prp", "exponential", lam)
    basis = EigenBasis.identity(2)
    network = IFPreconditioner(Zero(), schedule, basis)
    exact = GaussianDenoiser(schedule, variance=lam.clone(), mean=torch.zeros(2))
    flow = InflationaryFlow(network, basis, SolverConfig(t_min=0.0, t_max=12.0, rtol=1e-9,
                                                         atol=1e-9))
    g = torch.Generator().manual_seed(6)
    x, pool = (torch.randn(n, 2, generator=g) * lam.sqrt() for n in (200, 200))
    rows = band_diagnosis(network, exact, flow, [(0.0, 3.0), (3.0, 12.0)], x, pool, 100, 0)
    assert [r["exact_in"] for r in rows] == ["network", "[0, 3)", "[3, 12)", "exact"]
    for row in rows[1:]:
        assert row["fraction_inside"] == rows[0]["fraction_inside"]
        assert row["ratio"] == pytest.approx(rows[0]["ratio"], rel=1e-6)
