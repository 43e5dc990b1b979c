"""Torch state dicts on disk, read with checks: the one place that calls ``torch.load``.

Kept out of :mod:`.io` so that the steps that never touch torch (datasets, tables) do not
import it. Errors are :class:`.io.FormatError` lines naming the file and the fault.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import torch

from .io import FormatError


def read_torch_state(path: str | os.PathLike, device: Any = "cpu") -> dict[str, Any]:
    """A dict saved by ``torch.save``, loaded with ``weights_only`` (no pickled code runs);
    a truncated or foreign file and non-finite tensors fail naming the file."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # torch raises many kinds; the first line says which
        lines = str(err).strip().splitlines() or [type(err).__name__]
        raise FormatError(f"{path}: not a readable torch file ({lines[0]})") from err
    if not isinstance(state, dict):
        raise FormatError(f"{path}: holds a {type(state).__name__}, not a state dict")
    for name, value in _tensors(state):
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise FormatError(f"{path}: tensor '{name}' holds non-finite values")
    return state


def state_mismatch(module: Any, state: dict[str, Any]) -> str | None:
    """The first tensor where ``state`` does not fit ``module`` (name and both shapes), in
    one line instead of load_state_dict's list of every mismatch; None if it fits."""
    expected = module.state_dict()
    for name in sorted(expected.keys() | state.keys()):
        have, want = state.get(name), expected.get(name)
        if have is None or want is None or have.shape != want.shape:
            shape = lambda t: "absent" if t is None else tuple(t.shape)  # noqa: E731
            return f"{name}: {shape(have)} in the file, {shape(want)} expected"
    return None


def _tensors(state: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            yield prefix + str(key), value
        elif isinstance(value, Mapping):
            yield from _tensors(value, f"{prefix}{key}.")
