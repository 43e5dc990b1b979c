"""Step ``flow``: inflation, round trip and generation with a trained denoiser (kind ``flow``).

Metrics use full solves without record times (their NFE is the cost a user pays); a
smaller set of trajectories, recorded at ``--frames`` times, serves the figures.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from ..datasets import read_dataset
from ..flow import compressed_from_latents
from ..io import write_h5
from ..provenance import step_provenance
from ..smoothing import add_noise, noise_at_t_min
from ..spec import resolve_dims_to_keep
from .common import load_flow
from .device import add_device_argument, pick_device


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True)
    parser.add_argument("--model-spec", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--solver", required=True, help="SolverConfig fields as JSON")
    parser.add_argument("--n-eval", type=int, default=5000,
                        help="held-out points to inflate, at most (0: the whole test split)")
    parser.add_argument("--n-generate", type=int, default=5000)
    parser.add_argument("--n-trajectories", type=int, default=1000,
                        help="points whose trajectories are recorded (0: none)")
    parser.add_argument("--frames", type=int, default=41, help="recorded times per trajectory")
    parser.add_argument("--training-latents", type=int, default=0,
                        help="PRR: training rows whose latents give the compressed coordinates "
                             "of a second generated set (0: none)")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    add_device_argument(parser)
    parser.add_argument("--output", required=True)


def host(t: torch.Tensor) -> np.ndarray:
    return t.cpu().numpy()


def trajectories(model, flow, x: torch.Tensor, prior: torch.Tensor, n_frames: int) -> dict:
    """Inflation of ``x`` and generation from ``prior``, recorded at ``n_frames`` times."""
    frames = np.linspace(flow.solver.t_min, flow.solver.t_max, n_frames).tolist()
    up = flow.inflate(x, record=frames)
    down = flow.generate(prior, record=frames[::-1])
    schedule = model.schedule
    return {
        "trajectories/times": np.asarray(frames),
        # share of the top eigen-direction's variance that is still data, per frame
        "trajectories/signal_fraction": host(schedule.eigenvalues[0] / schedule.total_variance(
            torch.tensor(frames))[:, 0]),
        "trajectories/inflation": host(up.states),
        "trajectories/generation": host(down.states)[::-1].copy(),
    }


def from_training_latents(flow, train, prior: torch.Tensor, keep: int, smoothed: bool,
                          gen: torch.Generator) -> dict:
    """PRR samples from the same ``prior`` draws with their compressed coordinates from the
    latents of training rows (:func:`compressed_from_latents`); the rows get t_min noise
    first where the model is of smoothed rows."""
    train = torch.as_tensor(train, dtype=torch.float64)
    if smoothed:  # drawn on the CPU, as every draw of the step
        train = add_noise(train, noise_at_t_min(flow).cpu(), flow.basis.eigenvectors.cpu(), gen)
    latents = flow.inflate(train.to(prior.device)).value
    samples = flow.generate(compressed_from_latents(prior, latents, keep))
    return {"generation/x_training_latents": host(samples.value)}


@torch.no_grad()
def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    model, meta, flow = load_flow(args, device)
    spec = meta["spec"]
    # training rows only where they are used (an image set's would be large)
    remedy_rows = args.training_latents if spec["schedule"]["kind"] == "prr" else 0
    data, data_attrs = read_dataset(args.data, ["train", "test"] if remedy_rows else ["test"])
    test = torch.as_tensor(data["test"], dtype=torch.float64)
    # a small table may hold fewer held-out rows than the family's n_eval: use them all
    n_eval = min(args.n_eval or test.shape[0], test.shape[0])
    x = test[:n_eval]
    gen = torch.Generator().manual_seed(args.seed)
    smoothing = {}
    if "smoothing" in spec:  # t_min chosen from the data: the model is of the smoothed rows
        std = noise_at_t_min(flow).cpu()
        smoothed = add_noise(test, std, model.basis.eigenvectors.cpu(), gen)
        x = smoothed[:n_eval]
        smoothing = {"smoothing/std": std.numpy(), "smoothing/test": smoothed.numpy()}

    # the draws above and the prior's below come from the CPU generator: the same draws on
    # every device (scaled by noise levels computed there, equal up to rounding)
    x = x.to(device)
    up = flow.inflate(x)
    back = flow.generate(up.value)
    prior = flow.sample_prior(args.n_generate, gen)
    samples = flow.generate(prior)
    print(f"NFE: inflation {up.nfe}, round-trip generation {back.nfe}, "
          f"generation {samples.nfe}", flush=True)

    dim = x.shape[1]
    keep = resolve_dims_to_keep(spec["schedule"], dim) or dim
    remedy = {}
    if remedy_rows:  # after every other draw from gen, which therefore stay as they were
        remedy = from_training_latents(flow, data["train"][:remedy_rows], prior, keep,
                                       "smoothing" in spec, gen)
    # generated images need no float64 (50K CIFAR-sized samples would be 1.2 GB)
    image = data_attrs["params"].get("encoding") is not None
    arrays = {
        "inflation/x": host(x), "inflation/z": host(up.value),
        "inflation/nfe_per_sample": host(up.nfe_per_sample),
        "roundtrip/x_back": host(back.value),
        "generation/z": host(prior),
        "generation/x": host(samples.value).astype(np.float32 if image else np.float64),
        "latent_variance": host(flow.latent_variance()),
        "eigenvectors": host(model.basis.eigenvectors),
        **smoothing, **remedy,
    }
    n_traj = min(args.n_trajectories, n_eval, args.n_generate)
    if n_traj:
        arrays |= trajectories(model, flow, x[:n_traj], prior[:n_traj], args.frames)
    attrs = {"dataset": meta["provenance"]["params"]["data"], "schedule": spec["schedule"],
             "dims_to_keep": keep, "solver": flow.solver.__dict__,
             "nfe": {"inflation": up.nfe, "roundtrip_generation": back.nfe,
                     "generation": samples.nfe}}
    write_h5(args.output, "flow", arrays, attrs, step_provenance("flow", args))
