"""Solvers on ODEs with known solutions: orders, tolerances, NFE, recording, batch independence."""

import math

import numpy as np
import pytest
import torch

from inflationary_flows.schedules import time_grid
from inflationary_flows.solvers import (
    NonFiniteStateError,
    integrate,
    integrate_adaptive,
    integrate_fixed,
)


def f_sin(t, y):
    """dy/dt = y cos t  ->  y = y0 exp(sin t - sin t0)."""
    return y * torch.cos(t).unsqueeze(-1)


def exact_sin(y0, t0, t1):
    return y0 * math.exp(math.sin(t1) - math.sin(t0))


Y0 = torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=torch.float64)


@pytest.mark.parametrize(("method", "order"), [("euler", 1), ("heun", 2)])
def test_fixed_methods_show_their_order(method, order):
    errors = []
    for steps in (50, 100, 200):
        sol = integrate_fixed(f_sin, Y0, time_grid(0.0, 3.0, steps), method)
        errors.append((sol.y - exact_sin(Y0, 0.0, 3.0)).abs().max().item())
        assert sol.nfe == steps * (1 if method == "euler" else 2)
    rates = [math.log2(errors[i] / errors[i + 1]) for i in range(2)]
    assert all(abs(r - order) < 0.15 for r in rates), rates


def test_backward_integration_and_recording():
    grid = time_grid(3.0, 0.0, 300)
    sol = integrate_fixed(f_sin, Y0, grid, "heun", record=[2.0, 0.0, 2.555])
    torch.testing.assert_close(sol.ts, torch.tensor([2.0, 0.0, 2.555]))
    for k, t in enumerate([2.0, 0.0, 2.555]):
        torch.testing.assert_close(sol.ys[k], exact_sin(Y0, 3.0, t), rtol=1e-4, atol=0)


def test_adaptive_meets_tolerance_and_looser_tolerance_costs_less():
    exact = exact_sin(Y0, 0.0, 10.0)
    nfes = []
    for tol in (1e-4, 1e-7, 1e-10):
        sol = integrate_adaptive(f_sin, Y0, 0.0, 10.0, rtol=tol, atol=tol)
        rel = ((sol.y - exact).abs() / exact.abs()).max().item()
        assert rel < 20 * tol, (tol, rel)
        nfes.append(sol.nfe)
    assert nfes[0] < nfes[1] < nfes[2]


def test_dopri5_steps_are_fifth_order():
    """Dormand-Prince's 5th-order weights, on a forced uniform grid: the record times end
    every step, and a tolerance of 1e3 accepts each. Global error ~ h^5: the slope of
    log error against log h, over h = 3/16 .. 3/128 (errors 1e-7 .. 4e-12, far above
    float64 round-off), is 4.96-4.98 measured forward and backward; a 4th-order update
    (the embedded weights, or a wrong tableau entry) gives 4 or less."""
    for t0, t1 in ((0.0, 3.0), (3.0, 0.0)):
        hs, errors = [], []
        for n in (16, 32, 64, 128):
            record = [t0 + (t1 - t0) * k / n for k in range(1, n)]
            sol = integrate_adaptive(f_sin, Y0, t0, t1, rtol=1e3, atol=1e3, record=record)
            assert sol.steps == n and sol.nfe == 2 + 6 * n  # FSAL: 6 new stages per step
            hs.append(3.0 / n)
            errors.append((sol.y - exact_sin(Y0, t0, t1)).abs().max().item())
        slope = np.polyfit(np.log(hs), np.log(errors), 1)[0]
        assert abs(slope - 5) < 0.2, (slope, errors)


def test_adaptive_per_sample_steps_make_samples_independent_of_the_batch():
    def f(t, y):  # stiffness grows with |y0|, stored as a second component that stays fixed
        return torch.stack([-y[:, 1] * y[:, 0] * torch.cos(t * y[:, 1]), torch.zeros_like(t)], -1)

    batch = torch.tensor([[1.0, 1.0], [1.0, 20.0], [2.0, 5.0]], dtype=torch.float64)
    together = integrate_adaptive(f, batch, 0.0, 5.0, rtol=1e-8, atol=1e-8)
    alone = integrate_adaptive(f, batch[:1], 0.0, 5.0, rtol=1e-8, atol=1e-8)
    assert torch.equal(together.y[0], alone.y[0])
    assert together.nfe_per_sample[0] < together.nfe_per_sample[1]
    assert together.nfe == together.nfe_per_sample.max()


def test_adaptive_records_exact_times_both_directions():
    record = [1.0, 0.25]
    sol = integrate_adaptive(f_sin, Y0, 4.0, 0.0, rtol=1e-10, atol=1e-10, record=record)
    torch.testing.assert_close(sol.ts, torch.tensor(record))
    for k, t in enumerate(record):
        torch.testing.assert_close(sol.ys[k], exact_sin(Y0, 4.0, t), rtol=1e-8, atol=0)
    torch.testing.assert_close(sol.y, exact_sin(Y0, 4.0, 0.0), rtol=1e-8, atol=0)


def test_non_finite_states_raise_with_time_and_fraction():
    def blowup(t, y):
        return torch.where(t.unsqueeze(-1) > 0.5, torch.full_like(y, math.nan), y)

    with pytest.raises(NonFiniteStateError, match="in 100.0% of samples"):
        integrate(blowup, Y0, 0.0, 1.0, method="euler", steps=10)
    with pytest.raises(NonFiniteStateError, match="t = 0.7 "):
        integrate_fixed(blowup, Y0, time_grid(0.0, 1.0, 10), "euler")


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="unknown fixed-step method 'rk9'"):
        integrate(f_sin, Y0, 0.0, 1.0, method="rk9")
