"""Data-parallel training across processes (``torchrun``), one process per GPU or CPU share.

Every process draws the *same* global batch from the same seeded generator and trains on its
own contiguous slice; DistributedDataParallel averages the gradients. With equal slices that
average is the full-batch gradient, so N processes follow the single-process run up to the
order of floating-point sums, and the checkpointed generator state stays valid for any N.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Processes:
    """Where this process sits among the training processes."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def batch_slice(self, batch_size: int) -> slice:
        """This process's contiguous share of a global batch."""
        if batch_size % self.world_size:
            raise ValueError(f"batch_size {batch_size} is not divisible by the "
                             f"{self.world_size} training processes")
        share = batch_size // self.world_size
        return slice(self.rank * share, (self.rank + 1) * share)

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of ``value`` over processes (itself when there is one)."""
        if self.world_size == 1:
            return value
        value = value.clone()
        dist.all_reduce(value)
        return value / self.world_size


def start(device: str) -> tuple[Processes, torch.device]:
    """Join the process group torchrun set up (if any); return it and this process's device.

    ``device`` is "cpu" or "cuda": under torchrun each process takes GPU ``LOCAL_RANK`` of
    those it can see, so nothing assumes CUDA_VISIBLE_DEVICES is set.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    procs = Processes(int(os.environ.get("RANK", "0")), world_size,
                      int(os.environ.get("LOCAL_RANK", "0")))
    if device == "cuda":
        visible = torch.cuda.device_count()
        if visible <= procs.local_rank:
            raise RuntimeError(f"training process {procs.local_rank} needs a GPU but torch "
                               f"sees {visible}; request GPUs with the rule's gpu resource")
        torch.cuda.set_device(procs.local_rank)
        where = torch.device("cuda", procs.local_rank)
    elif device == "cpu":
        where = torch.device("cpu")
    else:
        raise ValueError(f"device must be 'cpu' or 'cuda', got '{device}'")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if where.type == "cuda" else "gloo")
    return procs, where


def stop() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
