"""A denoiser that is one denoiser for t in chosen bands and another elsewhere.

With the exact denoiser of a model's training set (:func:`.exact.exact_flow`) inside one band
and the trained network outside, the flow shows how much of a training gap that band makes:
the diagnosis of issue 14 (docs/results.md, "Where the training gap is").
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from ..denoisers import Denoiser


class HybridDenoiser(Denoiser):
    """``inside`` for t in any of ``bands`` (half-open [lo, hi)), ``outside`` elsewhere.

    Both denoisers must share the schedule (and so the eigen coordinates): e.g. the exact
    denoiser of a model's training set inside, the trained network outside. Each is
    evaluated only on the rows whose t it serves, so an expensive exact denoiser costs
    nothing outside its bands. The flow integrates :meth:`residual`, which is each
    denoiser's own (the Gaussian denoiser's zero is exact, not a round-off difference).
    """

    def __init__(self, inside: Denoiser, outside: Denoiser,
                 bands: Sequence[tuple[float, float]]) -> None:
        super().__init__(outside.schedule)
        if not torch.equal(inside.schedule.eigenvalues, outside.schedule.eigenvalues):
            raise ValueError("the two denoisers need the same schedule eigenvalues")
        for lo, hi in bands:
            if not lo < hi:
                raise ValueError(f"a band needs lo < hi, got [{lo}, {hi})")
        self.inside = inside
        self.outside = outside
        self.bands = [(float(lo), float(hi)) for lo, hi in bands]

    def in_bands(self, t: Tensor) -> Tensor:
        mask = torch.zeros(t.shape, dtype=torch.bool, device=t.device)
        for lo, hi in self.bands:
            mask |= (t >= lo) & (t < hi)
        return mask

    def _split(self, method: str, u: Tensor, t: Tensor) -> Tensor:
        t = t.expand(u.shape[0]) if t.ndim == 0 else t
        mask = self.in_bands(t)
        if bool(mask.all()):
            return getattr(self.inside, method)(u, t)
        if not bool(mask.any()):
            return getattr(self.outside, method)(u, t)
        out = torch.empty_like(u)
        out[mask] = getattr(self.inside, method)(u[mask], t[mask])
        out[~mask] = getattr(self.outside, method)(u[~mask], t[~mask])
        return out

    def forward(self, u: Tensor, t: Tensor) -> Tensor:
        return self._split("forward", u, t)

    def residual(self, u: Tensor, t: Tensor) -> Tensor:
        return self._split("residual", u, t)
