"""A trained denoiser as files: ``model.pt`` (a state_dict) and ``model.json`` (how to build it).

The spec is plain JSON: the schedule (paper-convention parameters), the backbone config, the
network's input space and, optionally, ``low_t``: a second network for small t (its backbone
config, space, ramp and training steps; :class:`~.preconditioning.LowTimeNetwork`).
Loading rebuilds the modules from the spec and then loads the state_dict with
``torch.load(weights_only=True)``: no pickled code is ever executed.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from .backbones import build_backbone
from .basis import EigenBasis
from .io import FormatError, atomic_path, read_json, write_json
from .preconditioning import IFPreconditioner, LowTimeNetwork
from .schedules import Schedule, make_schedule
from .spec import resolve_dims_to_keep
from .state_files import read_torch_state, state_mismatch


def schedule_from_spec(spec: dict[str, Any], eigenvalues: torch.Tensor) -> Schedule:
    dim = len(eigenvalues)
    return make_schedule(
        spec["kind"], spec["form"], eigenvalues,
        dims_to_keep=resolve_dims_to_keep(spec, dim), g_mode=spec.get("g_mode", "constant_gap"),
        inflation_gap=spec.get("inflation_gap", 2.0), rho=spec["rho"],
        gamma0=spec.get("gamma0", 5e-4), A0=spec.get("A0", 1.0),
    )


def build_model(spec: dict[str, Any], eigenvalues: torch.Tensor, eigenvectors: torch.Tensor,
                mean: torch.Tensor) -> IFPreconditioner:
    """The preconditioned denoiser described by ``spec`` for a dataset's PCA."""
    schedule = schedule_from_spec(spec["schedule"], torch.as_tensor(eigenvalues))
    basis = EigenBasis(torch.as_tensor(eigenvectors), torch.as_tensor(mean))
    backbone = build_backbone(spec["backbone"])
    low, low_t = spec.get("low_t"), None
    if low is not None:
        # its initialisation leaves torch's generator where the main network's left it: a
        # main network that draws from it in training (CPU dropout) trains as it would alone
        with torch.random.fork_rng(devices=[]):
            low_t = LowTimeNetwork(build_backbone(low["backbone"]), low["space"], low["ramp"])
    return IFPreconditioner(backbone, schedule, basis, spec.get("space", "eigen"), low_t)


def save_model(weights_path: str | os.PathLike, spec_path: str | os.PathLike,
               model: IFPreconditioner, spec: dict[str, Any], extra: dict[str, Any]) -> None:
    with atomic_path(weights_path) as tmp:
        torch.save(model.state_dict(), tmp)
    write_json(spec_path, {"kind": "model", "spec": spec, **extra})


def load_model(weights_path: str | os.PathLike, spec_path: str | os.PathLike,
               device: str | torch.device = "cpu") -> tuple[IFPreconditioner, dict[str, Any]]:
    meta = read_json(spec_path, "model")
    state = read_torch_state(weights_path, device)
    if "basis.eigenvectors" not in state:
        raise FormatError(f"{weights_path}: not a model's weights (no basis.eigenvectors)")
    dim = state["basis.eigenvectors"].shape[0]
    placeholder = torch.ones(dim, dtype=torch.float64)
    model = build_model(meta["spec"], placeholder, torch.eye(dim, dtype=torch.float64),
                        torch.zeros(dim, dtype=torch.float64))
    mismatch = state_mismatch(model, state)
    if mismatch:
        raise FormatError(f"{weights_path}: does not fit the network of {spec_path} ({mismatch})")
    model.load_state_dict(state)
    # loaded for inference: no autograd graph across thousands of solver steps
    return model.to(device).eval().requires_grad_(False), meta

