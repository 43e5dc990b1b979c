"""Step ``fid``: Frechet Inception distance of a model's generated images to its training
images, computed by torch-fidelity from a local Inception-v3 weights file (kind ``fid``).

Nothing is downloaded: without a weights file the step stops with one line saying which
config key to set. torch-fidelity is the optional extra ``.[fid]`` (its env: envs/fid.yaml).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from ..datasets import read_dataset
from ..io import read_h5, write_json
from ..metrics import to_uint8
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--flow", required=True, help="flow HDF5 of an image model")
    parser.add_argument("--data", required=True, help="its dataset HDF5 (training images)")
    parser.add_argument("--weights", default="",
                        help="torch-fidelity's Inception-v3 weights (pt_inception-2015-12-05)")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--device", default="auto", help="cpu, cuda, or auto")
    parser.add_argument("--output", required=True)


class _Images(torch.utils.data.Dataset):
    """uint8 (3, H, W) tensors, the input torch-fidelity's Inception extractor expects."""

    def __init__(self, rows: np.ndarray, shape: list[int]) -> None:
        self.images = torch.as_tensor(to_uint8(rows)).reshape(-1, *shape)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


def check_weights(path: str) -> Path:
    if not path:
        raise ValueError("FID needs a local Inception-v3 weights file: set images.fid.weights "
                         "to torch-fidelity's weights-inception-2015-12-05-6726825d.pth "
                         "(nothing is downloaded)")
    if not Path(path).is_file():
        raise ValueError(f"images.fid.weights: no file {path}")
    return Path(path)


def run(args: argparse.Namespace) -> None:
    weights = check_weights(args.weights)
    try:
        import torch_fidelity
    except ImportError as err:
        raise RuntimeError("FID needs torch-fidelity: pip install -e '.[fid]'") from err
    flow, _ = read_h5(args.flow, "flow", required=["generation/x"])
    data, attrs = read_dataset(args.data, ["train"])
    shape = attrs["image_shape"]
    if shape is None or shape[0] != 3:
        raise ValueError(f"{args.data}: FID needs RGB images, found shape {shape}")
    cuda = torch.cuda.is_available() if args.device == "auto" else args.device == "cuda"
    scores = torch_fidelity.calculate_metrics(
        input1=_Images(flow["generation/x"], shape), input2=_Images(data["train"], shape),
        fid=True, cuda=cuda, batch_size=args.batch_size, verbose=False,
        feature_extractor_weights_path=str(weights))
    result = {"kind": "fid", "fid": float(scores["frechet_inception_distance"]),
              "n_generated": len(flow["generation/x"]), "n_reference": len(data["train"]),
              "provenance": step_provenance("fid", args)}
    write_json(args.output, result)
    print(f"FID {result['fid']:.3f} ({result['n_generated']} generated vs "
          f"{result['n_reference']} training images)")
