import numpy as np
import pytest

from inflationary_flows.pca import covariance, fit_pca, participation_ratio


def test_eigendecomposition_reconstructs_covariance():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 6)) @ rng.standard_normal((6, 6)) + 5.0
    pca = fit_pca(x, batch_size=512)
    np.testing.assert_allclose(pca.covariance(), np.cov(x, rowvar=False), rtol=0, atol=1e-10)
    np.testing.assert_allclose(pca.mean, x.mean(axis=0), atol=1e-12)
    assert np.all(np.diff(pca.eigenvalues) <= 0)
    np.testing.assert_allclose(pca.eigenvectors.T @ pca.eigenvectors, np.eye(6), atol=1e-12)


def test_batched_covariance_matches_numpy_far_from_origin():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1001, 3)) * [1e-3, 1.0, 2.0] + 1e4
    mean, cov = covariance(x, batch_size=100)
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-15)


def test_sign_convention_is_deterministic_under_sign_flips_of_the_data():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2000, 4)) * [3, 2, 1, 0.5]
    a, b = fit_pca(x), fit_pca(-x)
    np.testing.assert_allclose(a.eigenvectors, b.eigenvectors, atol=1e-12)
    pivots = np.abs(a.eigenvectors).argmax(axis=0)
    assert np.all(a.eigenvectors[pivots, np.arange(4)] > 0)


@pytest.mark.parametrize("dim", [2, 10, 50])
def test_pr_of_isotropic_gaussian_is_close_to_dimension(dim):
    x = np.random.default_rng(dim).standard_normal((200_000, dim))
    assert abs(fit_pca(x).participation_ratio - dim) < 0.01 * dim


def test_pr_of_rank_one_data_is_one():
    t = np.random.default_rng(3).standard_normal((500, 1))
    x = t @ np.array([[1.0, -2.0, 0.5, 3.0]])
    assert fit_pca(x).participation_ratio == pytest.approx(1.0, abs=1e-12)


def test_pr_is_scale_invariant_and_matches_formula():
    lam = np.array([4.0, 2.0, 1.0, 1.0])
    assert participation_ratio(lam) == pytest.approx(64 / 22)
    assert participation_ratio(7 * lam) == pytest.approx(64 / 22)
