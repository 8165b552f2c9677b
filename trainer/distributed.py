"""Several processes (one per GPU) under torch's own launcher, ``torchrun``.

    torchrun --standalone --nproc_per_node 4 -m hybridsearch train DATA --out DIR --batch-size 256

Every process builds the same global batch (same seed, so the same X-X/X-Y draw and the same X-X
language) and encodes a contiguous slice of each list of texts in it; the slices' vectors are
gathered, in rank order, into the whole batch's vectors, and every process computes the same loss
over the whole batch. So the in-batch negatives are those of the global batch, exactly as in one
process, and ``--batch-size`` is the global batch. Gradients flow only into the process's own
slice; summing the parameter gradients over the processes (``all_reduce``) gives the gradient of
the one-process run. Rank 0 alone evaluates, writes checkpoints and the model, and reports progress.

Without the launcher's environment (``WORLD_SIZE`` unset or 1) :class:`Dist` is a pass-through and
nothing here touches ``torch.distributed``.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from datetime import timedelta

from hybridsearch.errors import HybridSearchError

#: rank 0 evaluates on its own while the others wait at their next collective
TIMEOUT = timedelta(minutes=60)


@dataclass
class Dist:
    world: int = 1
    rank: int = 0
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> "Dist":
        world = int(os.environ.get("WORLD_SIZE", "1") or 1)
        if world <= 1:
            return cls()
        return cls(world, int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0")))

    def start(self, device: str) -> str:
        """Join the process group; returns this process's device (``cuda:LOCAL_RANK`` on GPUs)."""
        if not self.enabled:
            return device
        import torch
        import torch.distributed as td

        if not td.is_available():
            raise HybridSearchError("this torch build has no torch.distributed: train in one process")
        if device.startswith("cuda"):
            if torch.cuda.device_count() <= self.local_rank:
                raise HybridSearchError(f"process {self.local_rank} has no GPU: start at most "
                                        f"{torch.cuda.device_count()} processes per machine (--nproc_per_node)")
            device = f"cuda:{self.local_rank}"
            torch.cuda.set_device(device)
            backend = "nccl"
        elif device == "cpu":
            backend = "gloo"  # CPU processes: for trying the launcher out, not for speed
        else:
            raise HybridSearchError(f"several processes need CUDA GPUs (or --device cpu), not {device}")
        if not td.is_initialized():
            td.init_process_group(backend, timeout=TIMEOUT)
        return device

    def stop(self) -> None:
        if self.enabled:
            import torch.distributed as td

            if td.is_initialized():
                td.destroy_process_group()

    def shard(self, items: list) -> list:
        """This process's contiguous slice of ``items`` (slices in rank order rebuild the list)."""
        if not self.enabled:
            return items
        n = len(items)
        lo, hi = n * self.rank // self.world, n * (self.rank + 1) // self.world
        return items[lo:hi]

    def gather(self, local, dim: int):
        """The slices' rows of every process, concatenated in rank order [n, dim]. The backward pass
        keeps only this process's rows: the others' gradients are computed by their own process."""
        if not self.enabled:
            return local
        return _gather_function().apply(local, dim)

    def sum_gradients(self, params) -> None:
        """Add up the parameter gradients of all processes (each holds its slices' share)."""
        if not self.enabled:
            return
        import torch
        import torch.distributed as td

        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        td.all_reduce(flat)
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def any(self, flag: bool) -> bool:
        """True on every process when ``flag`` is true on any (a Ctrl-C seen by one stops all)."""
        if not self.enabled:
            return flag
        import torch
        import torch.distributed as td

        t = torch.tensor([1.0 if flag else 0.0], device=self._comm_device())
        td.all_reduce(t, op=td.ReduceOp.MAX)
        return bool(t.item() > 0)

    def _comm_device(self) -> str:
        import torch
        import torch.distributed as td

        return f"cuda:{self.local_rank}" if td.get_backend() == "nccl" and torch.cuda.is_available() else "cpu"


@functools.cache
def _gather_function():
    """The autograd function, built on first use: importing this module needs no torch."""
    import torch
    import torch.distributed as td

    class Gather(torch.autograd.Function):
        @staticmethod
        def forward(ctx, local, dim):
            world, rank = td.get_world_size(), td.get_rank()
            rows = torch.tensor([local.shape[0]], device=local.device)
            counts = [torch.zeros_like(rows) for _ in range(world)]
            td.all_gather(counts, rows)
            counts = [int(c.item()) for c in counts]
            width = max(counts)
            padded = local.new_zeros((width, dim))
            padded[:local.shape[0]] = local
            parts = [torch.zeros_like(padded) for _ in range(world)]
            td.all_gather(parts, padded.contiguous())
            ctx.lo = sum(counts[:rank])
            ctx.n = counts[rank]
            return torch.cat([p[:c] for p, c in zip(parts, counts)])

        @staticmethod
        def backward(ctx, grad):
            return grad[ctx.lo:ctx.lo + ctx.n], None

    return Gather

