"""PRR generation with the compressed coordinates from the training latents."""


import numpy as np
import pytest
import torch

from inflationary_flows.analyses.prr_generation import orig_gap, prr_point, prr_sweep
from inflationary_flows.datasets import make_toy
from inflationary_flows.flow import compressed_from_latents
from inflationary_flows.schedules import g_prr_constant_gap, g_prr_orig

SPEC = {"kind": "prr", "form": "exponential", "g_mode": "constant_gap", "inflation_gap": 2.0,
        "dims_to_keep": -1, "rho": 1.0, "gamma0": 5e-4, "A0": 1.0, "t_min": 0.0, "t_max": 7.0}
SOLVER = {"method": "dopri5", "rtol": 1e-5, "atol": 1e-5}


def test_compressed_coordinates_come_from_the_nearest_training_latent():
    gen = torch.Generator().manual_seed(0)
    prior = torch.randn(300, 4, generator=gen, dtype=torch.float64)
    latents = torch.randn(200, 4, generator=gen, dtype=torch.float64)
    out = compressed_from_latents(prior, latents, keep=2, chunk=64)  # several chunks
    p, z = prior.numpy(), latents.numpy()
    nearest = ((p[:, None, :2] - z[None, :, :2]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(out[:, :2].numpy(), p[:, :2])
    np.testing.assert_array_equal(out[:, 2:].numpy(), z[nearest, 2:])
    with pytest.raises(ValueError, match="0 < keep < D"):
        compressed_from_latents(prior, latents, keep=4)


@pytest.mark.parametrize(("dim", "keep"), [(2, 1), (3, 2), (10, 4)])
def test_orig_gap_gives_the_papers_orig_rates(dim, keep):
    # the paper's "orig" PRR: kept rate 2, compressed rate 1 - d / (D - d); a constant-gap
    # schedule's compressed rate is 2 - IG
    assert 2 - orig_gap(dim, keep) == pytest.approx(1 - keep / (dim - keep), abs=1e-15)
    g = g_prr_orig(dim, keep).numpy()
    np.testing.assert_allclose(g, [2.0] * keep + [1 - keep / (dim - keep)] * (dim - keep),
                               atol=1e-15)
    torch.testing.assert_close(g_prr_constant_gap(dim, keep, orig_gap(dim, keep)),
                               g_prr_orig(dim, keep))


def banana(n, seed):
    """A small curve for the grid checks."""
    u = torch.rand(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = 4 * u - 2
    return torch.stack([x, 0.4 * torch.cos(2 * x)], 1)


@pytest.mark.parametrize("seed", [1, 2])
def test_training_latents_beat_the_gaussian_prior_where_the_compressed_axis_is_structured(seed):
    # moons at IG 2: the compressed coordinate never grows, so at T it is still the data's
    # own, which a Gaussian misses (measured over seeds 1-3: ratio 2.7-4.2 with the Gaussian
    # prior, 1.3-1.6 with the training latents)
    moons = make_toy("moons", 1000, 2000, seed)
    row = prr_point(torch.as_tensor(moons.train), torch.as_tensor(moons.test), SPEC, 1000,
                    SOLVER, torch.Generator().manual_seed(3), bandwidth=0.05)
    assert row["keep"] == 1 and row["is_orig_gap"]
    assert row["ratio_empirical_compressed"] < 0.6 * row["ratio_gaussian_prior"]


def test_sweep_grid_and_its_checks():
    rows = prr_sweep(banana(60, 1), banana(40, 2), SPEC, [1.0, 2.0], [1.5, 3.0], 20, SOLVER,
                     seed=0, bandwidth=0.05)
    assert [(r["t_max"], r["inflation_gap"], r["is_orig_gap"]) for r in rows] == [
        (1.0, 1.5, False), (1.0, 3.0, False), (2.0, 1.5, False), (2.0, 3.0, False)]
    with pytest.raises(ValueError, match="PRR schedule"):
        prr_sweep(banana(60, 1), banana(40, 2), {**SPEC, "kind": "prp"}, [1.0], [2.0], 20,
                  SOLVER, seed=0)
    with pytest.raises(ValueError, match="2 x 30 held-out"):
        prr_point(banana(60, 1), banana(40, 2), SPEC, 30, SOLVER, torch.Generator())
