"""t_min chosen from the data: closed forms in float64."""

import math

import numpy as np
import pytest
import torch

from inflationary_flows.basis import EigenBasis
from inflationary_flows.flow import InflationaryFlow, SolverConfig
from inflationary_flows.schedules import make_schedule
from inflationary_flows.smoothing import (
    add_noise,
    median_neighbour_distance,
    noise_at_t_min,
    noise_norm,
    resolve_t_min,
    time_at_noise_norm,
)

EIGENVALUES = torch.tensor([4.0, 1.0, 0.25], dtype=torch.float64)


def test_median_neighbour_distance_of_points_on_a_line():
    x = np.array([[0.0], [1.0], [3.0], [6.0], [10.0]])  # nearest: 1, 1, 2, 3, 4
    assert median_neighbour_distance(x) == 2.0
    with pytest.raises(ValueError, match="at least 2 rows"):
        median_neighbour_distance(x[:1])


def test_time_at_noise_norm_inverts_the_exponential_prp_noise():
    # PRP: every g_i = 1, so tr C(t) = D gamma0 exp(rho t) and t = log(norm^2 / (D gamma0)) / rho
    sched = make_schedule("prp", "exponential", EIGENVALUES, rho=0.7, gamma0=1e-3)
    for norm in (0.1, 0.5, 2.0):
        expected = math.log(norm**2 / (3 * 1e-3)) / 0.7
        assert abs(time_at_noise_norm(sched, norm, 30.0) - expected) < 1e-8
        assert abs(noise_norm(sched, expected) - norm) < 1e-12
    assert time_at_noise_norm(sched, 1e-3, 30.0) == 0.0  # C(0) already larger
    with pytest.raises(ValueError, match="raise t_max"):
        time_at_noise_norm(sched, 100.0, 5.0)


def test_auto_t_min_resolves_to_the_neighbour_distance_and_a_number_stays():
    sched = make_schedule("prp", "exponential", EIGENVALUES)
    x = np.random.default_rng(0).normal(size=(200, 3)) * [2.0, 1.0, 0.5]
    spec = {"schedule": {"t_min": 0.3, "t_max": 15.0}}
    assert resolve_t_min(spec, sched, x) is spec
    resolved = resolve_t_min({"schedule": {"t_min": "auto", "t_max": 15.0}}, sched, x)
    t_min = resolved["schedule"]["t_min"]
    assert resolved["smoothing"]["t_min"] == t_min > 0
    assert abs(noise_norm(sched, t_min) - median_neighbour_distance(x)) < 1e-9
    with pytest.raises(ValueError, match=r"^rows\.csv: t_min auto: .*raise t_max"):
        resolve_t_min({"schedule": {"t_min": "auto", "t_max": 0.5}}, sched, x * 100, "rows.csv")


def test_added_noise_is_the_flows_t_min_noise_along_its_eigen_axes():
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(1),
                                       dtype=torch.float64))
    sched = make_schedule("prp", "exponential", EIGENVALUES)
    flow = InflationaryFlow(type("D", (), {"schedule": sched})(), EigenBasis(q, torch.zeros(3)),
                            SolverConfig(t_min=2.0, t_max=15.0))
    std = noise_at_t_min(flow)
    assert torch.allclose(std, (5e-4 * torch.exp(torch.tensor(2.0, dtype=torch.float64)))
                          ** 0.5 * torch.ones(3), rtol=1e-14)
    x = torch.randn(50, 3, dtype=torch.float64)
    noisy = add_noise(x, std, q, torch.Generator().manual_seed(3))
    drawn = torch.randn(50, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assert torch.allclose((noisy - x) @ q, drawn * std, rtol=0, atol=1e-14)
