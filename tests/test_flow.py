"""The flow map against closed forms: Gaussian data (linear flow) and exact mixture scores."""

import math

import numpy as np
import pytest
import torch
from test_denoisers import Zero

from inflationary_flows.basis import EigenBasis
from inflationary_flows.denoisers import MixtureDenoiser
from inflationary_flows.flow import InflationaryFlow, SolverConfig
from inflationary_flows.preconditioning import IFPreconditioner
from inflationary_flows.schedules import make_schedule

LAM = torch.tensor([2.0, 0.6, 0.05], dtype=torch.float64)


def rotated_basis(seed=0):
    rng = np.random.default_rng(seed)
    w, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    return EigenBasis(torch.tensor(w), torch.tensor([0.3, -1.0, 2.0]))


SCHEDULES = {
    "main-prp": (lambda: make_schedule("prp", "proportional", LAM, rho=1.0), 1e-3, 8.0),
    "main-prr": (lambda: make_schedule("prr", "proportional", LAM, dims_to_keep=2,
                                       inflation_gap=1.0), 1e-3, 8.0),
    "ref-prp": (lambda: make_schedule("prp", "exponential", LAM), 0.0, 15.0),
    "ref-prr-orig": (lambda: make_schedule("prr", "exponential", LAM, dims_to_keep=1,
                                           g_mode="orig"), 0.0, 7.0),
}


def gaussian_flow(name, method="dopri5", **solver):
    make, t0, T = SCHEDULES[name]
    sched = make()
    cfg = SolverConfig(t_min=t0, t_max=T, method=method, rtol=1e-10, atol=1e-10, **solver)
    return InflationaryFlow(IFPreconditioner(Zero(), sched), rotated_basis(), cfg)


@pytest.mark.parametrize("name", list(SCHEDULES))
@pytest.mark.parametrize("method", ["dopri5", "heun"])
def test_zero_network_inflation_is_the_closed_form_linear_map(name, method):
    flow = gaussian_flow(name, method, steps=400)
    sched, t0, T = flow.schedule, flow.solver.t_min, flow.solver.t_max
    x = torch.randn(64, 3)
    u = flow.basis.to_eigen(x)
    expected = u * sched.A(T) * torch.sqrt(sched.total_variance(T) / sched.total_variance(t0))
    z = flow.inflate(x).value
    tol = 1e-8 if method == "dopri5" else 1e-4
    torch.testing.assert_close(z, expected, rtol=tol, atol=tol * expected.abs().max().item())


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_gaussian_data_ends_at_the_latent_prior_and_round_trips(name):
    flow = gaussian_flow(name)
    sched, t0 = flow.schedule, flow.solver.t_min
    g = torch.Generator().manual_seed(0)
    # data ~ N(mean, W diag(lam + C(t0)) W^T): the law p_{t0} the flow starts from
    u = torch.randn(20000, 3, generator=g) * sched.total_variance(t0).sqrt()
    x = flow.basis.to_data(u)
    z = flow.inflate(x).value
    var = flow.latent_variance()
    rel = z.var(0) / var - 1
    assert torch.all(rel.abs() < 4 * math.sqrt(2 / 20000)), rel
    back = flow.generate(z).value
    torch.testing.assert_close(back, x, rtol=0, atol=1e-7)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_log_prob_of_gaussian_data_is_analytic(name):
    flow = gaussian_flow(name)
    sched, t0 = flow.schedule, flow.solver.t_min
    x = flow.basis.to_data(torch.randn(10, 3) * 2)
    u = flow.basis.to_eigen(x)
    var = sched.total_variance(t0)
    analytic = -0.5 * ((u**2 / var).sum(-1) + torch.log(2 * math.pi * var).sum(-1))
    torch.testing.assert_close(flow.log_prob(x), analytic, rtol=1e-8, atol=1e-8)


def mixture_flow():
    """A symmetric 6-component mixture whose covariance is diagonal: the schedule's lambda
    is the data's exact spectrum, so the latent prior is the exact latent covariance."""
    s, a = 0.05, torch.tensor([1.5, 0.8, 0.3])
    w = torch.tensor([0.25, 0.15, 0.1])
    means = torch.cat([torch.diag(a), -torch.diag(a)])
    weights = torch.cat([w, w])
    lam = s + 2 * w * a**2
    sched = make_schedule("prp", "exponential", lam)
    mix = MixtureDenoiser(sched, means, torch.full((6, 3), s), weights)
    return InflationaryFlow(mix, EigenBasis.identity(3),
                            SolverConfig(t_min=0.0, t_max=15.0, rtol=1e-9, atol=1e-9)), mix


def test_mixture_flow_round_trips_and_its_log_prob_is_the_mixture_density():
    flow, mix = mixture_flow()
    x = torch.randn(12, 3, generator=torch.Generator().manual_seed(6))
    res = flow.roundtrip(x)
    torch.testing.assert_close(res.value, x, rtol=0, atol=1e-6)
    t0 = torch.zeros(12)
    # at T = 15 the smoothed mixture is Gaussian up to its 4th cumulant, O((lambda/C(T))^2)
    torch.testing.assert_close(flow.log_prob(x), mix.log_prob(x, t0), rtol=0, atol=1e-4)


def test_hutchinson_agrees_with_exact_trace_within_standard_error():
    flow, _ = mixture_flow()
    flow.solver.rtol = flow.solver.atol = 1e-6
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(7))
    exact = flow.log_prob(x)
    g = torch.Generator().manual_seed(8)
    draws = torch.stack([flow.log_prob(x, probes=2, generator=g) for _ in range(24)])
    mean, se = draws.mean(0), draws.std(0) / math.sqrt(draws.shape[0])
    assert torch.all(se > 0)
    assert torch.all((mean - exact).abs() < 4 * se + 1e-6), (mean - exact, se)


def test_trajectories_are_recorded_and_convert_to_data_space():
    flow = gaussian_flow("ref-prp")
    x = torch.randn(5, 3)
    res = flow.inflate(x, record=[0.0, 5.0, 15.0])
    assert res.states.shape == (3, 5, 3)
    torch.testing.assert_close(flow.state_to_data(0.0, res.states[0]), x)
    torch.testing.assert_close(res.states[-1], res.value)
    # per-sample step control: the batch costs what its costliest sample does
    assert res.nfe_per_sample.shape == (5,) and res.nfe == res.nfe_per_sample.max()


def test_flow_modules_move_with_the_module():
    flow = gaussian_flow("ref-prp")
    names = {n for n, _ in flow.named_buffers()}
    assert {"denoiser.schedule.eigenvalues", "denoiser.schedule.g",
            "basis.eigenvectors", "basis.mean"} <= names
    flow32 = flow.to(torch.float32)
    assert flow32.basis.eigenvectors.dtype == torch.float32


@pytest.mark.parametrize("solver", [{"method": "dopri5"}, {"method": "heun", "steps": 40}])
def test_solving_in_row_batches_gives_each_rows_own_solution(solver):
    """solver.batch_size (a GPU's memory bound) changes nothing: every row's solve is its
    own, adaptive steps included; the blocks' costs and recorded states join in row order."""
    flow, _ = mixture_flow()
    x = torch.randn(23, 3, generator=torch.Generator().manual_seed(2))
    rows = []  # the rows of every evaluation of the denoiser
    flow.denoiser.register_forward_hook(lambda module, args, out: rows.append(len(args[0])))
    whole = flow.inflate(x, record=[2.0, 9.0], **solver)
    assert max(rows) == 23
    rows.clear()
    blocks = flow.inflate(x, record=[2.0, 9.0], batch_size=5, **solver)
    assert max(rows) == 5  # solved in blocks, not at once
    torch.testing.assert_close(blocks.value, whole.value, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(blocks.states, whole.states, rtol=1e-12, atol=1e-12)
    assert torch.equal(blocks.nfe_per_sample, whole.nfe_per_sample)
    assert blocks.states.shape == (2, 23, 3) and torch.equal(blocks.times, whole.times)
    # batched calls: the slowest row's count, in one solve as over blocks
    assert blocks.nfe == whole.nfe == int(whole.nfe_per_sample.max())
    with pytest.raises(ValueError, match="batch_size must be >= 0"):
        SolverConfig(batch_size=-1)
