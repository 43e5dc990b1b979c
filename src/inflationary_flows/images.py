"""Image datasets from the files users have: the CIFAR-10 python tarball, a folder of images.

Images are kept as uint8 rows in channel-major order (C, H, W flattened, CIFAR's own layout)
and decoded to [-1, 1] when read (:data:`PIXEL_ENCODING`), so a 50K x 3072 training set costs
150 MB on disk and in memory, not 1.2 GB. Every fault in the input (a truncated tarball,
a file that is not an image, images of different sizes) is one clear error naming the file.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np

from .datasets import Dataset
from .sources import folder_files

# value = uint8 * scale + offset: 0..255 -> [-1, 1], the paper's pixel scaling (section 2.3)
PIXEL_ENCODING = {"dtype": "uint8", "scale": 1 / 127.5, "offset": -1.0}
# md5 of the official cifar-10-python.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html)
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR10_TEST = ["test_batch"]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class _ArrayUnpickler(pickle.Unpickler):
    """CIFAR batches are pickles: allow the numpy array constructors (and the bytes codec
    that protocol-2 pickles use) and nothing else, so a tampered tarball cannot run code."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"),
                ("numpy._core.multiarray", "_reconstruct"),
                ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise _Refused(f"{module}.{name}")
        return super().find_class(module, name)


class _Refused(pickle.UnpicklingError):
    """A pickle asked for an object outside the allow-list."""


def _cifar_batch(archive: tarfile.TarFile, members: dict[str, tarfile.TarInfo], name: str,
                 where: Path) -> tuple[np.ndarray, np.ndarray]:
    if name not in members:
        raise ValueError(f"{where}: no batch '{name}' in the tarball (not CIFAR-10 python)")
    raw = archive.extractfile(members[name]).read()
    try:
        batch = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except _Refused as err:
        raise ValueError(f"{where}: batch '{name}' asks for {err}, which a CIFAR-10 batch never "
                         "holds; refused to unpickle it") from err
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise ValueError(f"{where}: batch '{name}' holds {data.shape} pixels for "
                         f"{len(labels)} labels (expected N x 3072 and N labels)")
    return data, labels


def load_cifar10(path: str | Path, md5: str | None = CIFAR10_MD5) -> Dataset:
    """The official train (50K) / test (10K) split from ``cifar-10-python.tar.gz``.

    ``md5`` (the official one by default) is checked first; pass None for other tarballs in
    the same format (the tests' tiny ones).
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"CIFAR-10 tarball {path} does not exist")
    if md5 and (found := md5sum(path)) != md5:
        raise ValueError(f"{path}: md5 {found} is not {md5}; the download is truncated or not "
                         "the official cifar-10-python.tar.gz")
    try:
        with tarfile.open(path, "r:*") as archive:
            members = {Path(m.name).name: m for m in archive.getmembers() if m.isfile()}
            train = [_cifar_batch(archive, members, n, path) for n in CIFAR10_TRAIN]
            test = [_cifar_batch(archive, members, n, path) for n in CIFAR10_TEST]
    except (tarfile.TarError, EOFError, OSError, pickle.UnpicklingError, KeyError,
            zlib.error) as err:
        raise ValueError(f"{path}: cannot read the CIFAR-10 tarball ({type(err).__name__}: "
                         f"{err}); it is truncated or corrupt") from err
    params = {"kind": "cifar10", "source": str(path), "md5_checked": md5 or None,
              "encoding": PIXEL_ENCODING, "layout": "CHW"}
    return Dataset("cifar10", np.concatenate([b[0] for b in train]),
                   np.concatenate([b[0] for b in test]), params,
                   np.concatenate([b[1] for b in train]), np.concatenate([b[1] for b in test]),
                   (3, 32, 32))


def load_image_folder(folder: str | Path, size: int, test_fraction: float, seed: int,
                      name: str = "images") -> Dataset:
    """Every image under ``folder`` (e.g. AFHQv2's train/{cat,dog,wild}), as RGB resized to
    ``size`` x ``size`` with a box filter, split by a seeded permutation.

    The label of an image is its top-level subfolder (sorted names -> 0, 1, ...). All images
    must share one size (a mixed folder is usually a mistake, e.g. thumbnails among originals).
    """
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"image folder {folder} does not exist")
    files = folder_files(folder)
    if not files:
        raise ValueError(f"image folder {folder} holds no files")
    classes = sorted({f.relative_to(folder).parts[0] for f in files if f.parent != folder})
    rows, labels, first_size = [], [], None
    for file in files:
        if file.suffix.lower() not in IMAGE_SUFFIXES:
            raise ValueError(f"{file}: not an image (suffix '{file.suffix}'; expected one of "
                             f"{', '.join(sorted(IMAGE_SUFFIXES))})")
        try:
            with Image.open(file) as img:
                img.load()
                if first_size is None:
                    first_size = (img.size, file)
                elif img.size != first_size[0]:
                    raise ValueError(
                        f"{file}: {img.size[0]}x{img.size[1]} pixels, but {first_size[1].name} "
                        f"has {first_size[0][0]}x{first_size[0][1]}; all images must share a size")
                small = img.convert("RGB").resize((size, size), Image.Resampling.BOX)
        except (UnidentifiedImageError, OSError) as err:
            raise ValueError(f"{file}: not a readable image ({err})") from err
        rows.append(np.asarray(small, dtype=np.uint8).transpose(2, 0, 1).reshape(-1))
        top = file.relative_to(folder).parts[0]
        labels.append(classes.index(top) if file.parent != folder else -1)
    x, y = np.stack(rows), np.asarray(labels, dtype=np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    test_idx, train_idx = order[:n_test], order[n_test:]
    params = {"kind": "image_folder", "source": str(folder), "size": size,
              "original_size": list(first_size[0]), "classes": classes,
              "test_fraction": test_fraction, "seed": seed, "encoding": PIXEL_ENCODING,
              "layout": "CHW", "resize": "box filter"}
    return Dataset(name, x[train_idx], x[test_idx], params, y[train_idx], y[test_idx],
                   (3, size, size))
