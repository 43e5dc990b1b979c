"""Step ``density-benchmark``: held-out log-likelihood (nats per dimension) and latent
calibration of PRP inflationary flows beside a masked autoregressive flow and a Gaussian,
each pair on one model's own split (a CSV table, one row per model and method)."""

from __future__ import annotations

import argparse
import json

import torch

from ..analyses.density import (
    dequantize,
    gaussian,
    inflationary,
    masked_autoregressive_flow,
    training_seconds,
)
from ..datasets import read_dataset
from ..flow import flow_for
from ..io import write_csv
from ..models import load_model
from ..provenance import step_provenance


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--models", nargs="+", required=True, help="PRP model weights (.pt)")
    parser.add_argument("--data", nargs="+", required=True, help="their datasets, in order")
    parser.add_argument("--solver", required=True, help="SolverConfig fields as JSON")
    parser.add_argument("--n-eval", type=int, default=1000, help="held-out rows, at most")
    parser.add_argument("--maf", required=True,
                        help='MAF as JSON: {"steps": N, "transforms": K, "hidden": H}')
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", required=True)


def run(args: argparse.Namespace) -> None:
    if len(args.models) != len(args.data):
        raise ValueError(f"{len(args.models)} models but {len(args.data)} datasets")
    torch.set_num_threads(args.threads)
    maf = json.loads(args.maf)
    rows = []
    for weights, data_path in zip(args.models, args.data, strict=True):
        model, meta = load_model(weights, weights.removesuffix(".pt") + ".json")
        if meta["spec"]["schedule"]["kind"] != "prp":
            raise ValueError(f"{weights}: log_prob needs a PRP model (PRR loses a dimension)")
        flow = flow_for(model, meta["spec"], json.loads(args.solver))
        data, attrs = read_dataset(data_path)
        train, test = data["train"], data["test"][: args.n_eval]
        encoding = attrs["params"].get("encoding")
        if encoding:  # integer levels: dequantise once, the same values for every method
            train = dequantize(train, encoding["scale"], args.seed)
            test = dequantize(test, encoding["scale"], args.seed + 1)
        trained = meta["training"]
        fit = sum(training_seconds(part["history"], part["config"]["batch_size"])
                  for part in (trained, trained.get("low_t")) if part)  # both networks
        smoothed = "smoothing" in meta["spec"]  # a model of rows with its t_min noise
        found = inflationary(flow, test, (1.0, 2.0), fit,
                             torch.Generator().manual_seed(args.seed + 2) if smoothed else None)
        found += [masked_autoregressive_flow(train, test, args.seed, **maf),
                  gaussian(train, test)]
        name = weights.rsplit("/", 1)[-1].removesuffix(".pt")
        for d in found:
            rows.append({"model": name, "n_train": len(train), "n_eval": len(test),
                         "dequantized": bool(encoding), **d.row()})
            print(f"{name} {d.method}: {rows[-1]['nats_per_dim']:.4f} nats/dim, calibration "
                  f"gap {rows[-1]['calibration_max_gap_pp']:.1f} pp", flush=True)
    write_csv(args.output, rows, step_provenance("density-benchmark", args))
