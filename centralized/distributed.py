"""torch.distributed set-up for `torchrun`: NCCL on GPUs, gloo on CPU (so the path is testable here).

Gradients are averaged explicitly after each backward instead of wrapping the model in DDP:
each batch trains only its sources' encoders and its targets' discriminators, and ranks see
different conditions, so DDP's reducer would wait for gradients that never come. A missing
gradient counts as zero in the average.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable

import torch
import torch.distributed as dist


@dataclass
class DistributedContext:
    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")
    launched: bool = False  # started by torchrun: a process group exists, even for one process

    @property
    def backend(self) -> str | None:
        return dist.get_backend() if self.launched and dist.is_initialized() else None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        """True under torchrun, also with one process: the collectives run (NCCL with one GPU
        is how a one-GPU machine checks the multi-GPU path), and they cost nothing worth saving."""
        return self.launched

    def average_gradients(self, parameters: Iterable[torch.nn.Parameter]) -> None:
        if not self.active:
            return
        params = [p for p in parameters if p.requires_grad]
        for parameter in params:
            if parameter.grad is None:
                parameter.grad = torch.zeros_like(parameter)
        flat = torch.cat([p.grad.reshape(-1) for p in params])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for parameter in params:
            count = parameter.numel()
            parameter.grad.copy_(flat[offset:offset + count].view_as(parameter))
            offset += count

    def gather(self, value: Any) -> list[Any]:
        """Every rank's `value`, on every rank."""
        if not self.active:
            return [value]
        values: list[Any] = [None] * self.world_size
        dist.all_gather_object(values, value)
        return values

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def close(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()


def init_distributed(prefer_cuda: bool = True) -> DistributedContext:
    """From torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); a single process otherwise."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    cuda = prefer_cuda and torch.cuda.is_available()
    if "RANK" not in os.environ:
        return DistributedContext(device=torch.device("cuda" if cuda else "cpu"))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    return DistributedContext(rank=rank, world_size=world_size,
                              device=torch.device(f"cuda:{local_rank}" if cuda else "cpu"), launched=True)
