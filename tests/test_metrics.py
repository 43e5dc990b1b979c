import numpy as np
import pytest
import torch
from scipy import stats

from inflationary_flows.analyses.metrics import energy_distance, latent_calibration, roundtrip_error


def test_calibration_of_a_known_gaussian_is_the_chi2_mass():
    var = torch.tensor([1.0, 4.0, 0.01])
    z = torch.randn(200_000, 3, generator=torch.Generator().manual_seed(0)) * var.sqrt()
    cal = latent_calibration(z, var)
    assert cal["max_abs_error"] < 0.005
    assert cal["chi2_mass"][1] == pytest.approx(stats.chi2.cdf(1.0, 3))
    assert cal["ks_pvalue"] > 1e-3
    wrong = latent_calibration(z * 1.2, var)
    assert wrong["max_abs_error"] > 0.05 and wrong["ks_pvalue"] < 1e-6


def test_energy_distance_is_zero_for_same_sample_and_grows_with_shift():
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(2000, 2, generator=g), torch.randn(2000, 2, generator=g)
    assert energy_distance(a, a) == pytest.approx(0.0, abs=1e-12)
    same, shifted = energy_distance(a, b), energy_distance(a, b + 0.5)
    assert 0 < same < 0.01 < shifted
    # closed form for 1D point masses: 2|x - y| - 0 - 0
    assert energy_distance(torch.zeros(3, 1), torch.full((4, 1), 2.0)) == pytest.approx(4.0)


def test_roundtrip_error_is_relative_to_data_variance():
    x = torch.tensor(np.random.default_rng(2).standard_normal((1000, 2)) * 3)
    assert roundtrip_error(x, x + 0.03) == pytest.approx(0.0009 / x.var(0).mean().item())


def test_generation_quality_averages_energy_distances_over_halvings():
    from inflationary_flows.analyses.metrics import generation_quality

    g = torch.Generator().manual_seed(3)
    gen, pool = torch.randn(100, 2, generator=g) + 0.3, torch.randn(200, 2, generator=g)
    q = generation_quality(gen, pool, splits=3, seed=5)
    perm_gen = torch.Generator().manual_seed(5)
    eds, floors = [], []
    for _ in range(3):
        perm = torch.randperm(200, generator=perm_gen)
        a, b = pool[perm[:100]], pool[perm[100:]]
        eds.append(energy_distance(gen, a))
        floors.append(energy_distance(b, a))
    assert q["energy_distance"] == pytest.approx(np.mean(eds), rel=1e-12)
    assert q["energy_distance_floor"] == pytest.approx(np.mean(floors), rel=1e-12)
    assert q["ratio"] > 1.5  # a shift of 0.3 is far above the floor at n = 100
