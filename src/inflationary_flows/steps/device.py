"""``--device`` of the steps that run a network (train, flow, fid): one spelling, one rule.
Apart from :mod:`.common`, whose imports (the flow, the models) would join the code that
reruns fid and train jobs when edited; like it, plumbing that reruns nothing itself."""

from __future__ import annotations

import argparse

import torch


def add_device_argument(parser: argparse.ArgumentParser,
                        help: str = "where the network runs (auto: CUDA if present)") -> None:
    parser.add_argument("--device", default="auto", choices=["cpu", "cuda", "auto"], help=help)


def pick_device(name: str) -> torch.device:
    """``--device``: cpu, cuda, or auto (CUDA if present)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)
