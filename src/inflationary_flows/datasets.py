"""The paper's datasets (section 2.1): seven toy sets, their embeddings, and sklearn digits.

Every generator is a pure function of its arguments and a seed. Toy sets are z-scored per
coordinate with statistics of the training split (applied unchanged to the test split).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

TOY_DIMS = {
    "circles": 2, "sine": 2, "moons": 2,
    "s_curve": 3, "swirl": 3, "alt_s_curve": 3, "alt_swirl": 3,
}
IMAGE_KINDS = ("digits", "cifar10", "image_folder")


@dataclass
class Dataset:
    """Train/test arrays (rows are samples) and the parameters that generated them."""

    name: str
    train: np.ndarray
    test: np.ndarray
    params: dict = field(default_factory=dict)
    train_labels: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    image_shape: tuple[int, ...] | None = None
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # more arrays, e.g. "test/..."

    @property
    def dim(self) -> int:
        return self.train.shape[1]


def _circles(n: int, rng: np.random.Generator) -> np.ndarray:
    from sklearn.datasets import make_circles

    return make_circles(n, factor=0.5, noise=0.08, random_state=_sk_seed(rng))[0]


def _sine(n: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.uniform(-1.0, 1.0, n)
    y = np.sin(4 * np.pi * x) / 4 + rng.normal(0.0, 0.15, n)
    return np.stack([x, y], axis=1)


def _moons(n: int, rng: np.random.Generator) -> np.ndarray:
    from sklearn.datasets import make_moons

    return make_moons(n, noise=0.08, random_state=_sk_seed(rng))[0]


def _s_curve(n: int, rng: np.random.Generator) -> np.ndarray:
    from sklearn.datasets import make_s_curve

    return make_s_curve(n, noise=0.2, random_state=_sk_seed(rng))[0]


def _swirl(n: int, rng: np.random.Generator) -> np.ndarray:
    from sklearn.datasets import make_swiss_roll

    return make_swiss_roll(n, noise=1.25, random_state=_sk_seed(rng))[0]


def _thin_y(make: Callable[[int, np.random.Generator], np.ndarray]):
    """The paper's alt_ variants: y replaced by N(0, 0.5^2), the direction PRR compresses."""

    def generate(n: int, rng: np.random.Generator) -> np.ndarray:
        x = make(n, rng)
        x[:, 1] = rng.normal(0.0, 0.5, n)
        return x

    return generate


_TOYS: dict[str, Callable[[int, np.random.Generator], np.ndarray]] = {
    "circles": _circles, "sine": _sine, "moons": _moons,
    "s_curve": _s_curve, "swirl": _swirl,
    "alt_s_curve": _thin_y(_s_curve), "alt_swirl": _thin_y(_swirl),
}


def _sk_seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def random_orthonormal(dim_out: int, dim_in: int, seed: int) -> np.ndarray:
    """A (dim_out, dim_in) matrix with orthonormal columns, Haar-distributed, from a seed."""
    if dim_out < dim_in:
        raise ValueError(f"embedding dimension {dim_out} is smaller than the data's {dim_in}")
    gaussian = np.random.default_rng(seed).standard_normal((dim_out, dim_in))
    q, r = np.linalg.qr(gaussian)
    return q * np.sign(np.diag(r))  # sign fix makes the distribution Haar


def bend(x: np.ndarray, curvature: float) -> np.ndarray:
    """(u, v) -> (sin(k u) / k, v, (1 - cos(k u)) / k): the plane rolled onto a cylinder of
    radius 1/k, an isometry (distances along the surface are kept); k = 0 is flat."""
    if curvature == 0:
        return np.column_stack([x, np.zeros(len(x))])
    u, v = x[:, 0], x[:, 1]
    return np.column_stack([np.sin(curvature * u) / curvature, v,
                            (1 - np.cos(curvature * u)) / curvature])


def make_toy(
    kind: str, n_train: int, n_test: int, seed: int, embed_dim: int | None = None,
    curvature: float = 0.0, noise: float = 0.0,
) -> Dataset:
    """A z-scored toy set; optionally embedded in ``embed_dim`` dimensions.

    The embedding is a seeded random orthonormal map, of the data itself (flat) or, with
    ``curvature`` > 0 (2-D sets only), of the data bent onto a cylinder (:func:`bend`); then
    isotropic Gaussian noise of std ``noise`` is added in all ``embed_dim`` directions (its
    off-manifold part makes the set full-dimensional). The pre-embedding coordinates are
    kept as ``train/intrinsic`` and ``test/intrinsic``.
    """
    if kind not in _TOYS:
        raise ValueError(f"unknown toy dataset '{kind}'; known: {', '.join(_TOYS)}")
    if curvature and TOY_DIMS[kind] != 2:
        raise ValueError(f"curved embeddings bend 2-D sets; '{kind}' is {TOY_DIMS[kind]}-D")
    rng = np.random.default_rng(seed)
    x = _TOYS[kind](n_train + n_test, rng)
    train, test = x[:n_train], x[n_train:]
    mean, std = train.mean(axis=0), train.std(axis=0)
    train, test = (train - mean) / std, (test - mean) / std
    params = {"kind": kind, "n_train": n_train, "n_test": n_test, "seed": seed,
              "zscore_mean": mean.tolist(), "zscore_std": std.tolist(), "embed_dim": embed_dim}
    if not embed_dim:
        return Dataset(kind, train, test, params)
    extra = {"train/intrinsic": train, "test/intrinsic": test}
    if curvature:
        train, test = bend(train, curvature), bend(test, curvature)
    q = random_orthonormal(embed_dim, train.shape[1], seed + 1)
    train, test = train @ q.T, test @ q.T
    if noise:
        noise_rng = np.random.default_rng(seed + 2)
        train = train + noise * noise_rng.standard_normal(train.shape)
        test = test + noise * noise_rng.standard_normal(test.shape)
    params |= {"embedding": q.tolist(), "curvature": curvature, "noise": noise}
    return Dataset(kind, train, test, params, extra=extra)


# digits are integers 0..16: stored as uint8, decoded to [-1, 1] like every image set
DIGITS_ENCODING = {"dtype": "uint8", "scale": 1 / 8, "offset": -1.0}


def make_digits(test_fraction: float, seed: int) -> Dataset:
    """sklearn's 8x8 digits (1797 images, values 0..16) as uint8, seeded split; decoded to
    [-1, 1] by :data:`DIGITS_ENCODING` when read."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = digits.data.astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test_idx, train_idx = order[:n_test], order[n_test:]
    params = {"kind": "digits", "test_fraction": test_fraction, "seed": seed,
              "encoding": DIGITS_ENCODING}
    return Dataset("digits", x[train_idx], x[test_idx], params,
                   digits.target[train_idx], digits.target[test_idx], (1, 8, 8))


def nonfinite_columns(x: np.ndarray, limit: int = 5) -> list[int]:
    """The first ``limit`` columns holding NaN or infinity (empty if all finite)."""
    return sorted(set(np.nonzero(~np.isfinite(x))[1].tolist()))[:limit]


def check_usable(dataset: Dataset) -> None:
    """Reject empty splits and non-finite values with a one-line reason. Constant columns
    are legitimate (always-black digit pixels; the schedules floor their eigenvalues), but
    data that are constant in every column leave nothing to learn."""
    for split, x in (("train", dataset.train), ("test", dataset.test)):
        if x.shape[0] == 0:
            raise ValueError(f"dataset '{dataset.name}': the {split} split is empty")
        cols = nonfinite_columns(x)
        if cols:
            raise ValueError(
                f"dataset '{dataset.name}': non-finite values in {split} column(s) {cols}"
            )
    if len(dataset.train) > 1 and not np.ptp(dataset.train, axis=0).any():
        raise ValueError(f"dataset '{dataset.name}': every training column is constant "
                         "(zero covariance: nothing to learn)")


def decode(x: np.ndarray, encoding: dict | None) -> np.ndarray:
    """Stored values as float64: uint8 pixels through their encoding, other data unchanged."""
    if encoding is None:
        return np.asarray(x, dtype=np.float64)
    return x.astype(np.float64) * encoding["scale"] + encoding["offset"]


def read_dataset(path, splits=("train", "test")) -> tuple[dict[str, np.ndarray], dict]:
    """The decoded float64 rows of each split of a dataset file (``{split: array}``)."""
    from .io import read_h5

    arrays, attrs = read_h5(path, "dataset", required=[f"{s}/x" for s in splits])
    encoding = attrs["params"].get("encoding")
    return {s: decode(arrays[f"{s}/x"], encoding) for s in splits}, attrs
