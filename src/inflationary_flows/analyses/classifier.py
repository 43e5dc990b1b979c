"""A small digits classifier whose penultimate layer is the feature space of the digits
Frechet distance (the role Inception-v3 plays in FID for 32x32 images).

Trained by the workflow on the training split only, so held-out digits measure its accuracy
and the train-vs-test Frechet distance is an honest floor.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class DigitsClassifier(nn.Module):
    """MLP 64 -> hidden -> features -> 10 classes; ``features(x)`` is the embedding."""

    def __init__(self, dim: int = 64, hidden: int = 128, features: int = 32,
                 classes: int = 10) -> None:
        super().__init__()
        self.config = {"dim": dim, "hidden": hidden, "features": features, "classes": classes}
        self.body = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, features),
                                  nn.SiLU())
        self.head = nn.Linear(features, classes)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x.to(self.head.weight.dtype))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def train_classifier(x: Tensor, labels: Tensor, steps: int = 2000, lr: float = 3e-3,
                     weight_decay: float = 1e-3, noise: float = 0.1,
                     seed: int = 0) -> DigitsClassifier:
    """Full-batch AdamW on (x, labels), with Gaussian input noise of std ``noise`` so that
    the features vary smoothly between training images (generated digits lie between them)."""
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = DigitsClassifier(x.shape[1], classes=int(labels.max()) + 1).float()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    x = x.float()
    for _ in range(steps):
        noisy = x + noise * torch.randn(x.shape, generator=gen)
        loss = nn.functional.cross_entropy(model(noisy), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval().requires_grad_(False)


def accuracy(model: DigitsClassifier, x: Tensor, labels: Tensor) -> float:
    return float((model(x).argmax(-1) == labels).float().mean())


def load_classifier(weights_path, spec_path) -> DigitsClassifier:
    """The classifier a ``classifier`` step wrote (state_dict loaded with weights_only)."""
    from ..io import FormatError, read_json
    from ..state_files import read_torch_state, state_mismatch

    meta = read_json(spec_path, "classifier")
    model = DigitsClassifier(**meta["config"]).float()
    state = read_torch_state(weights_path)
    mismatch = state_mismatch(model, state)
    if mismatch:
        raise FormatError(f"{weights_path}: does not fit the classifier of {spec_path} "
                          f"({mismatch})")
    model.load_state_dict(state)
    return model.eval().requires_grad_(False)
