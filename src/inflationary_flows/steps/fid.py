"""Step ``fid``: Frechet Inception distance of a model's generated images to its training
images, computed by torch-fidelity from a local Inception-v3 weights file (kind ``fid``).

Nothing is downloaded: without a weights file the step stops with one line saying which
config key to set. torch-fidelity is the optional extra ``.[fid]`` (its env: envs/fid.yaml).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
import torch

from ..analyses.metrics import to_uint8
from ..datasets import read_dataset
from ..io import read_h5, write_json
from ..provenance import step_provenance
from .device import add_device_argument, pick_device


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--flow", required=True, help="flow HDF5 of an image model")
    parser.add_argument("--data", required=True, help="its dataset HDF5 (training images)")
    parser.add_argument("--weights", default="",
                        help="torch-fidelity's Inception-v3 weights (pt_inception-2015-12-05)")
    parser.add_argument("--n-reference", type=int, default=0,
                        help="training images in the reference statistics (0: all)")
    parser.add_argument("--batch-size", type=int, default=200)
    add_device_argument(parser)
    parser.add_argument("--output", required=True)


class _Images(torch.utils.data.Dataset):
    """uint8 (3, H, W) tensors, the input torch-fidelity's Inception extractor expects."""

    def __init__(self, rows: np.ndarray, shape: list[int]) -> None:
        self.images = torch.as_tensor(to_uint8(rows)).reshape(-1, *shape)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


# torch-fidelity's own file (its v0.2.0 release); its SHA-256 begins with the name's suffix
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_SHA256_PREFIX = "6726825d"


def check_weights(path: str) -> Path:
    if not path:
        raise ValueError("FID needs a local Inception-v3 weights file: set images.fid.weights "
                         "to torch-fidelity's weights-inception-2015-12-05-6726825d.pth "
                         "(nothing is downloaded)")
    if not Path(path).is_file():
        raise ValueError(f"images.fid.weights: no file {path}")
    path = Path(path)
    if path.name == INCEPTION_FILE:  # torch.hub's convention: the name carries the hash
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if not digest.startswith(INCEPTION_SHA256_PREFIX):
            # a warning, not an error: this project has not hashed the published file itself
            print(f"warning: images.fid.weights: {path} has SHA-256 {digest[:8]}..., not "
                  f"{INCEPTION_SHA256_PREFIX}... as its name says: truncated or a different "
                  "file? FIDs would not compare with published ones", file=sys.stderr)
    return path


def frechet_inception_distance(generated: np.ndarray, reference: np.ndarray, shape: list[int],
                               weights: Path, batch_size: int = 200, cuda: bool = False,
                               **fidelity_options) -> float:
    """FID between two sets of image rows in [-1, 1] (channel-major), by torch-fidelity's
    Inception-v3 from the local ``weights`` (``fidelity_options``: e.g. its feature cache)."""
    try:
        import torch_fidelity
    except ImportError as err:
        raise RuntimeError("FID needs torch-fidelity: pip install -e '.[fid]'") from err
    scores = torch_fidelity.calculate_metrics(
        input1=_Images(generated, shape), input2=_Images(reference, shape), fid=True,
        cuda=cuda, batch_size=batch_size, verbose=False,
        feature_extractor_weights_path=str(weights), **fidelity_options)
    return float(scores["frechet_inception_distance"])


def run(args: argparse.Namespace) -> None:
    weights = check_weights(args.weights)
    flow, _ = read_h5(args.flow, "flow", required=["generation/x"])
    data, attrs = read_dataset(args.data, ["train"])
    shape = attrs["image_shape"]
    if shape is None or shape[0] != 3:
        raise ValueError(f"{args.data}: FID needs RGB images, found shape {shape}")
    reference = data["train"][:args.n_reference or None]
    cuda = pick_device(args.device).type == "cuda"
    # on a CPU, data-loader worker processes only compete with the Inception network
    fid = frechet_inception_distance(flow["generation/x"], reference, shape, weights,
                                     args.batch_size, cuda, save_cpu_ram=not cuda)
    result = {"kind": "fid", "fid": fid, "n_generated": len(flow["generation/x"]),
              "n_reference": len(reference), "provenance": step_provenance("fid", args)}
    write_json(args.output, result)
    print(f"FID {result['fid']:.3f} ({result['n_generated']} generated vs "
          f"{result['n_reference']} training images)")
