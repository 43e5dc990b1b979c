"""Arguments and loading shared by the steps that integrate a trained model's flow."""

from __future__ import annotations

import argparse
import json

import torch

from ..flow import InflationaryFlow, flow_for
from ..models import load_model
from ..preconditioning import IFPreconditioner


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="weights (.pt) of a trained denoiser")
    parser.add_argument("--model-spec", required=True, help="its spec JSON")
    parser.add_argument("--solver", required=True, help="SolverConfig fields as JSON")


def load_flow(args: argparse.Namespace, device: str | torch.device = "cpu"
              ) -> tuple[IFPreconditioner, dict, InflationaryFlow]:
    """The model, its metadata and its flow under ``--solver``, on ``device``."""
    model, meta = load_model(args.model, args.model_spec, device)
    return model, meta, flow_for(model, meta["spec"], json.loads(args.solver))
