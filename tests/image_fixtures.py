"""Tiny image datasets in the real formats: a CIFAR-10 python tarball, a folder of PNGs."""

from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np

BATCHES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def cifar_batches(per_batch: int = 6, seed: int = 0) -> dict[str, dict]:
    """Random CIFAR-style batches: uint8 (N, 3072) rows in R, G, B planes, integer labels."""
    rng = np.random.default_rng(seed)
    return {name: {b"batch_label": name.encode(),
                   b"labels": rng.integers(0, 10, per_batch).tolist(),
                   b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                   b"filenames": [f"{name}_{i}.png".encode() for i in range(per_batch)]}
            for name in BATCHES}


def write_cifar_tarball(path: Path, batches: dict[str, dict]) -> Path:
    """``cifar-10-python.tar.gz`` layout: cifar-10-batches-py/<batch> pickles, gzipped."""
    with tarfile.open(path, "w:gz") as archive:
        for name, batch in batches.items():
            blob = pickle.dumps(batch, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            archive.addfile(info, io.BytesIO(blob))
    return path


def write_png_folder(folder: Path, classes=("cat", "dog"), per_class: int = 3, side: int = 8,
                     seed: int = 0) -> dict[Path, tuple[int, int, int]]:
    """Flat-colour PNGs in one subfolder per class; returns each file's (R, G, B)."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    colours = {}
    for label in classes:
        (folder / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            rgb = tuple(int(v) for v in rng.integers(0, 256, 3))
            path = folder / label / f"{i:03d}.png"
            Image.new("RGB", (side, side), rgb).save(path)
            colours[path] = rgb
    return colours
