"""FID without downloads: torch-fidelity importable on a CPU-only torch, and an Inception-v3
weights file in torch-fidelity's format with random weights (the plumbing, not the value)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

SHIM = Path(__file__).parent / "torchvision_shim"


def fidelity_env() -> dict[str, str]:
    """Make ``import torch_fidelity`` work in this process and return the environment that
    does the same for subprocesses (the workflow's fid rule). Skips without torch-fidelity."""
    try:
        import torchvision
        shimmed = getattr(torchvision, "SHIM", False)  # an earlier call put the shim in place
    except (ImportError, RuntimeError):  # PyPI's CUDA torchvision beside a CPU torch
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
        sys.path.insert(0, str(SHIM))
        shimmed = True
    pytest.importorskip("torch_fidelity", reason="FID needs the .[fid] extra")
    if not shimmed:
        return {}
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(SHIM), os.environ.get("PYTHONPATH")]))}


def write_inception_weights(path: Path, seed: int = 0) -> Path:
    """torch-fidelity's Inception-v3 state_dict (same keys and shapes as
    weights-inception-2015-12-05-6726825d.pth) with seeded He-normal weights, so features
    keep their scale through the 94 convolutions instead of vanishing."""
    import torch
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    class Unloaded(FeatureExtractorInceptionV3):
        def load_state_dict(self, state_dict, *args, **kwargs):
            return None  # build the layers only

    empty = path.with_suffix(".empty")
    torch.save({}, empty)
    torch.manual_seed(seed)
    net = Unloaded("inception-v3-compat", ["2048"], feature_extractor_weights_path=str(empty))
    empty.unlink()
    for module in net.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    torch.save({k: v.float() for k, v in net.state_dict().items()}, path)
    return path
