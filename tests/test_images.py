"""Image datasets: CIFAR-10 tarballs and image folders load to the right arrays, or fail
with one line naming what is wrong."""


import numpy as np
import pytest
from image_fixtures import cifar_batches, write_cifar_tarball, write_png_folder
from PIL import Image

from inflationary_flows.datasets import decode
from inflationary_flows.images import (
    CIFAR10_MD5,
    CIFAR10_TEST,
    CIFAR10_TRAIN,
    PIXEL_ENCODING,
    load_cifar10,
    load_image_folder,
    md5sum,
)


def test_cifar_tarball_loads_the_official_split_in_order(tmp_path):
    batches = cifar_batches(per_batch=4)
    path = write_cifar_tarball(tmp_path / "cifar.tar.gz", batches)
    data = load_cifar10(path, md5=md5sum(path))
    expected_train = np.concatenate([batches[n][b"data"] for n in CIFAR10_TRAIN])
    np.testing.assert_array_equal(data.train, expected_train)
    np.testing.assert_array_equal(data.test, batches[CIFAR10_TEST[0]][b"data"])
    np.testing.assert_array_equal(
        data.train_labels, np.concatenate([batches[n][b"labels"] for n in CIFAR10_TRAIN]))
    assert data.train.dtype == np.uint8 and data.image_shape == (3, 32, 32)
    values = decode(data.train, data.params["encoding"])
    assert values.min() >= -1 and values.max() <= 1
    np.testing.assert_allclose(decode(np.array([0, 255], np.uint8), PIXEL_ENCODING), [-1, 1])


def test_cifar_checksum_mismatch_names_both_sums(tmp_path):
    assert CIFAR10_MD5 == "c58f30108f718f92721af3b95e74349a"  # the published checksum
    path = write_cifar_tarball(tmp_path / "cifar.tar.gz", cifar_batches(2))
    with pytest.raises(ValueError, match=r"md5 [0-9a-f]{32} is not " + CIFAR10_MD5):
        load_cifar10(path)


def test_truncated_cifar_tarball_is_reported_as_such(tmp_path):
    path = write_cifar_tarball(tmp_path / "cifar.tar.gz", cifar_batches(50))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated or corrupt") as info:
        load_cifar10(path, md5=None)
    assert "\n" not in str(info.value)


def test_cifar_tarball_without_a_batch_or_with_foreign_objects_fails(tmp_path):
    batches = cifar_batches(2)
    del batches["data_batch_3"]
    path = write_cifar_tarball(tmp_path / "a.tar.gz", batches)
    with pytest.raises(ValueError, match="no batch 'data_batch_3'"):
        load_cifar10(path, md5=None)

    class Evil:  # unpickling this would call print; the loader must refuse it
        def __reduce__(self):
            return (print, ("pwned",))

    batches = cifar_batches(2)
    batches["test_batch"][b"labels"] = Evil()
    path = write_cifar_tarball(tmp_path / "b.tar.gz", batches)
    with pytest.raises(ValueError, match=r"asks for (__builtin__|builtins)\.print"):
        load_cifar10(path, md5=None)


def test_image_folder_resizes_in_channel_major_order_with_class_labels(tmp_path):
    colours = write_png_folder(tmp_path / "imgs", per_class=5, side=8)
    data = load_image_folder(tmp_path / "imgs", size=4, test_fraction=0.2, seed=1)
    assert data.train.shape == (8, 48) and data.test.shape == (2, 48)
    assert data.params["classes"] == ["cat", "dog"] and data.params["original_size"] == [8, 8]
    rows = np.concatenate([data.train, data.test])
    labels = np.concatenate([data.train_labels, data.test_labels])
    expected = {(rgb, int(path.parent.name == "dog")) for path, rgb in colours.items()}
    # flat colours survive the box filter exactly: 16 R values, then 16 G, then 16 B
    found = {(tuple(int(row[16 * c]) for c in range(3)), int(label))
             for row, label in zip(rows, labels, strict=True)}
    assert found == expected
    for row in rows:
        planes = row.reshape(3, 16)
        assert (planes == planes[:, :1]).all()


def test_image_folder_split_is_seeded(tmp_path):
    write_png_folder(tmp_path / "imgs", per_class=5)
    a, b, c = (load_image_folder(tmp_path / "imgs", 4, 0.3, seed) for seed in (1, 1, 2))
    np.testing.assert_array_equal(a.train, b.train)
    assert not np.array_equal(a.train, c.train)


@pytest.mark.parametrize("fault", ["text file", "corrupt png", "mixed sizes", "empty"])
def test_bad_image_folders_fail_naming_the_file(tmp_path, fault):
    folder = tmp_path / "imgs"
    if fault == "empty":
        folder.mkdir()
        message = "holds no files"
    else:
        write_png_folder(folder, per_class=2, side=8)
    if fault == "text file":
        (folder / "cat" / "notes.txt").write_text("not a picture")
        message = r"notes.txt: not an image \(suffix '.txt'"
    elif fault == "corrupt png":
        (folder / "dog" / "broken.png").write_bytes(b"\x89PNG garbage")
        message = "broken.png: not a readable image"
    elif fault == "mixed sizes":
        Image.new("RGB", (16, 12)).save(folder / "dog" / "big.png")
        message = "big.png: 16x12 pixels, but 000.png has 8x8"
    with pytest.raises(ValueError, match=message) as info:
        load_image_folder(folder, 4, 0.5, 0)
    assert "\n" not in str(info.value)


@pytest.mark.workflow
def test_image_datasets_through_dataset_pca_and_table_rules(tmp_path):
    """A CIFAR-format tarball and a PNG folder, by config keys, to PCA and the PR table; the
    batched float64 PCA equals numpy's eigendecomposition of the full decoded covariance."""
    from conftest import snakemake

    from inflationary_flows.datasets import read_dataset
    from inflationary_flows.io import read_csv, read_h5

    tarball = write_cifar_tarball(tmp_path / "cifar-10-python.tar.gz", cifar_batches(30))
    write_png_folder(tmp_path / "afhq", per_class=4, side=8)
    config = {"data": {"toys": [], "digits": False,
                       "cifar10": {"tarball": str(tarball), "md5": md5sum(tarball)},
                       "image_folders": {"afhq": {"folder": str(tmp_path / "afhq"), "size": 4,
                                                  "test_fraction": 0.25}}},
              "pca": {"batch_size": 7},
              "toys": {"models": {"prp": [], "prr": []}, "animations": []},
              "calibration": {"posterior": {"models": []}, "pr_over_time": {"datasets": []},
                              "prr_generation": {"datasets": []},
                              "coverage": {"models": []}, "solvers": {"model": ""},
                              "density": {"models": []}, "cross_fit": {"models": []},
                              "embedded": {"base": ""}}, "images": {"datasets": []}}
    work = tmp_path / "w"
    snakemake(work, config=config)
    data, attrs = read_dataset(work / "results/data/cifar10.h5")
    assert data["train"].shape == (150, 3072) and attrs["image_shape"] == [3, 32, 32]
    raw, _ = read_h5(work / "results/data/cifar10.h5", "dataset")
    assert raw["train/x"].dtype == np.uint8  # stored as pixels, decoded on reading
    pca, _ = read_h5(work / "results/pca/cifar10.h5", "pca")
    lam, vec = np.linalg.eigh(np.cov(data["train"].T))
    # 150 samples in 3072-D: rank 149; compare the non-zero spectrum and its subspace
    np.testing.assert_allclose(pca["eigenvalues"][:149], lam[::-1][:149], rtol=1e-10)
    top = pca["eigenvectors"][:, :20]
    np.testing.assert_allclose(np.abs(top.T @ vec[:, ::-1][:, :20]), np.eye(20), atol=1e-8)
    rows = {r["dataset"]: r for r in read_csv(work / "results/tables/participation_ratio.csv")}
    assert set(rows) == {"cifar10", "afhq"} and rows["afhq"]["D"] == "48"
