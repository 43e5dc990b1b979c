import numpy as np
import pytest

from inflationary_flows.datasets import (
    TOY_DIMS,
    check_usable,
    decode,
    make_digits,
    make_toy,
    random_orthonormal,
)


@pytest.mark.parametrize("kind", sorted(TOY_DIMS))
def test_toys_are_zscored_with_training_statistics(kind):
    data = make_toy(kind, 4000, 1000, seed=3)
    assert data.train.shape == (4000, TOY_DIMS[kind]) and data.test.shape == (1000, TOY_DIMS[kind])
    np.testing.assert_allclose(data.train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(data.train.std(axis=0), 1, atol=1e-12)
    assert np.all(np.abs(data.test.mean(axis=0)) < 0.15)  # same transform, other points


def test_toys_are_reproducible_and_seed_dependent():
    a, b, c = (make_toy("moons", 100, 10, s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a.train, b.train)
    assert not np.allclose(a.train, c.train)


def test_alt_variants_replace_y_with_thin_gaussian():
    raw = make_toy("alt_s_curve", 20000, 10, seed=0)
    # z-scoring hides the scale; the y column is Gaussian, independent of x
    y = raw.train[:, 1]
    assert abs(np.corrcoef(y, raw.train[:, 0])[0, 1]) < 0.03
    assert abs(raw.params["zscore_std"][1] - 0.5) < 0.02


def test_sine_follows_its_definition():
    data = make_toy("sine", 20000, 10, seed=4)
    mean, std = np.array(data.params["zscore_mean"]), np.array(data.params["zscore_std"])
    x, y = (data.train * std + mean).T
    assert x.min() >= -1 and x.max() <= 1
    resid = y - np.sin(4 * np.pi * x) / 4
    assert abs(resid.std() - 0.15) < 0.005


def test_embedding_is_orthonormal_and_preserves_distances():
    q = random_orthonormal(7, 2, seed=5)
    np.testing.assert_allclose(q.T @ q, np.eye(2), atol=1e-12)
    flat = make_toy("circles", 300, 50, seed=5)
    emb = make_toy("circles", 300, 50, seed=5, embed_dim=7)
    assert emb.train.shape == (300, 7)
    d_flat = np.linalg.norm(flat.train[:, None] - flat.train[None], axis=-1)
    d_emb = np.linalg.norm(emb.train[:, None] - emb.train[None], axis=-1)
    np.testing.assert_allclose(d_flat, d_emb, atol=1e-10)


def test_digits_are_stored_as_uint8_decoding_to_unit_interval_and_split_by_seed():
    data = make_digits(0.2, seed=0)
    assert data.train.shape[1] == 64 and len(data.train) + len(data.test) == 1797
    assert data.train.dtype == np.uint8 and data.image_shape == (1, 8, 8)
    decoded = decode(data.train, data.params["encoding"])
    assert decoded.min() == -1.0 and decoded.max() == 1.0
    np.testing.assert_array_equal(np.unique(decoded), np.arange(17) / 8 - 1)
    assert len(data.test) == round(0.2 * 1797)
    assert set(data.train_labels) == set(range(10))
    np.testing.assert_array_equal(make_digits(0.2, 0).test, data.test)


def test_bad_data_is_rejected_with_a_reason():
    data = make_toy("circles", 50, 10, seed=0)
    data.train[3, 1] = np.nan
    with pytest.raises(ValueError, match="non-finite values in train column\\(s\\) \\[1\\]"):
        check_usable(data)
    data = make_toy("circles", 50, 10, seed=0)
    data.test = data.test[:0]
    with pytest.raises(ValueError, match="test split is empty"):
        check_usable(data)
