"""Step ``toy-exact-metrics``: a toy model's metrics with the exact empirical score of its training
set in place of the network (the method's limit on that data; kind ``toy_metrics_exact``)."""

from __future__ import annotations

import argparse
import json

import torch

from ..analyses.reference import reference_flow, reference_metrics
from ..datasets import read_dataset
from ..io import read_h5, write_json
from ..models import schedule_from_spec
from ..provenance import step_provenance
from ..smoothing import resolve_t_min
from ..spec import resolve_dims_to_keep


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="dataset HDF5 (train: atoms, test: held out)")
    parser.add_argument("--pca", required=True, help="PCA HDF5 of the same dataset")
    parser.add_argument("--schedule", required=True, help="the model's schedule spec as JSON")
    parser.add_argument("--solver", required=True, help="SolverConfig fields as JSON")
    parser.add_argument("--n-eval", type=int, required=True,
                        help="held-out points inflated and round-tripped, and points generated "
                             "(at most the test split, and half of it for generation)")
    parser.add_argument("--n-train", type=int, required=True,
                        help="training points used as atoms (0: all); O(n_train) per score")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--name", required=True)
    parser.add_argument("--output", required=True)


def run(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    data, _ = read_dataset(args.data)
    pca, _ = read_h5(args.pca, "pca", required=["mean", "eigenvalues", "eigenvectors"])
    # t_min: auto resolves from the training rows exactly as the model's training step does
    spec = {"schedule": json.loads(args.schedule)}
    spec = resolve_t_min(spec, schedule_from_spec(spec["schedule"],
                                                  torch.as_tensor(pca["eigenvalues"])),
                         data["train"], args.data)
    schedule = spec["schedule"]
    train = torch.as_tensor(data["train"], dtype=torch.float64)
    atoms = train[: args.n_train or train.shape[0]]
    test = torch.as_tensor(data["test"], dtype=torch.float64)
    flow = reference_flow(atoms, pca, schedule, json.loads(args.solver))
    keep = resolve_dims_to_keep(schedule, test.shape[1]) or test.shape[1]
    metrics = reference_metrics(flow, test, args.n_eval, keep,
                                torch.Generator().manual_seed(args.seed),
                                smoothed="smoothing" in spec)
    result = {"kind": "toy_metrics_exact", "model": args.name, "score": "exact (empirical)",
              "schedule": schedule, "dims_to_keep": keep, "n_train": atoms.shape[0],
              **metrics, "provenance": step_provenance("toy-exact-metrics", args)}
    write_json(args.output, result)
    cal = result["latent_calibration"]
    print(f"{args.name} (exact score of {atoms.shape[0]} training points): round trip "
          f"{result['roundtrip_relative_mse']:.2e}, calibration max error "
          f"{cal['max_abs_error']:.3f} (n = {result['n_eval']}), ED ratio "
          f"{result['generation']['ratio']:.2f} (n = {result['generation']['n']}); NFE "
          f"{result['nfe']}")
