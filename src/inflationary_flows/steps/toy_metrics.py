"""Step ``metrics``: round-trip error, latent calibration and sample quality of one model."""

from __future__ import annotations

import argparse

import torch

from ..analyses.metrics import flow_metrics, generation_quality
from ..datasets import read_dataset
from ..io import read_h5, write_json
from ..provenance import step_provenance
from ..smoothing import held_out_rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--flow", required=True, help="flow HDF5 from the flow step")
    parser.add_argument("--data", required=True, help="dataset HDF5 (test split: reference "
                        "and an independent noise-floor sample)")
    parser.add_argument("--name", required=True)
    parser.add_argument("--output", required=True)


def run(args: argparse.Namespace) -> None:
    flow, attrs = read_h5(args.flow, "flow", required=[
        "inflation/x", "inflation/z", "roundtrip/x_back", "generation/x", "latent_variance"])
    data, _ = read_dataset(args.data, ["test"])
    t = {k: torch.as_tensor(v) for k, v in flow.items()}
    x = t["inflation/x"]
    test = torch.as_tensor(held_out_rows(flow, data["test"]))
    var = t["latent_variance"]
    keep = int(attrs["dims_to_keep"])
    z = t["inflation/z"]
    # the energy-distance floor needs two held-out halves as large as the generated set
    generated = t["generation/x"][: test.shape[0] // 2]
    result = {
        "kind": "toy_metrics", "model": args.name,
        "schedule": attrs["schedule"], "dims_to_keep": keep, "nfe": attrs["nfe"],
        **flow_metrics(x, z, t["roundtrip/x_back"], generated, test, var, keep),
    }
    if "generation/x_training_latents" in t:  # PRR: compressed coordinates from training
        result["generation_training_latents"] = generation_quality(
            t["generation/x_training_latents"][: test.shape[0] // 2], test)
    result["provenance"] = step_provenance("toy-metrics", args)
    write_json(args.output, result)
    cal = result["latent_calibration"]
    print(f"{args.name}: round trip {result['roundtrip_relative_mse']:.2e}, calibration max "
          f"error {cal['max_abs_error']:.3f}, ED ratio {result['generation']['ratio']:.2f}")
