"""Data-parallel training under `torchrun` (RANK / WORLD_SIZE / LOCAL_RANK in the environment).

Models own their optimizers and do their own update in `train_step` (a GAN steps D, then G, and
may unroll D or add gradient penalties through `autograd.grad`). Wrapping submodules in
DistributedDataParallel fits that badly: DDP's reducer fires on every backward that reaches a
wrapped module's parameters (G's backward reaches D's), needs one forward per backward, and
double backward for penalties is outside what it supports well. So the gradients are averaged
where the update happens instead: a pre-step hook on every optimizer all-reduces the gradients
of exactly the parameters that optimizer is about to step. Every rank starts from rank 0's
weights and applies the same averaged gradients, so the replicas stay identical and the
optimizer states on every rank equal rank 0's, which is what a checkpoint saves.

Batch-norm running statistics are averaged after every step (their update is linear, so the mean
of the ranks' statistics is the statistics of the mean batch statistics); the normalisation
itself uses each rank's shard, as DDP without SyncBatchNorm does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta

from workbench.core.device import resolve_device
from workbench.core.errors import ConfigError
from workbench.core.seeding import get_rng_state

# Long enough for rank 0 to validate or write a checkpoint while the others wait at the next
# collective; a rank that dies is noticed by torchrun long before this.
TIMEOUT = timedelta(minutes=30)


@dataclass
class Distributed:
    rank: int
    world_size: int
    local_rank: int
    backend: str = ""
    _hooks: list = field(default_factory=list)

    @classmethod
    def from_env(cls, environ=None) -> Distributed | None:
        """The launch torchrun (or srun with the same variables) describes; None outside one or
        for a world of one process, which is plain single-process training."""
        env = os.environ if environ is None else environ
        if "WORLD_SIZE" not in env or "RANK" not in env:
            return None
        try:
            world, rank = int(env["WORLD_SIZE"]), int(env["RANK"])
            local = int(env.get("LOCAL_RANK", rank))
        except ValueError:
            raise ConfigError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (set by torchrun)"
                              ) from None
        if world <= 1:
            return None
        if not 0 <= rank < world:
            raise ConfigError(f"RANK {rank} is outside WORLD_SIZE {world}")
        return cls(rank, world, local)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # -- lifetime --------------------------------------------------------------------------------
    def device(self, name: str):
        """The rank's device: cuda:LOCAL_RANK on a GPU node (one GPU per process), else as named."""
        import torch

        dev = resolve_device(name)
        if dev.type == "cuda":
            if self.local_rank >= torch.cuda.device_count():
                raise ConfigError(f"local rank {self.local_rank} has no GPU: this node has "
                                  f"{torch.cuda.device_count()}; start at most that many "
                                  "processes per node (--nproc_per_node)")
            dev = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(dev)
        elif dev.type == "mps":
            raise ConfigError("distributed training runs on CUDA (NCCL) or the CPU (gloo), "
                              "not on MPS: pass --device cpu")
        return dev

    def start(self, device) -> None:
        import torch.distributed as dist

        if not dist.is_available():
            raise ConfigError("this PyTorch build has no torch.distributed")
        self.backend = "nccl" if device.type == "cuda" else "gloo"
        if self.backend == "gloo" and not dist.is_gloo_available():
            raise ConfigError("this PyTorch build has no gloo backend for CPU training")
        if not dist.is_initialized():
            kw = {"device_id": device} if device.type == "cuda" else {}
            dist.init_process_group(self.backend, rank=self.rank, world_size=self.world_size,
                                    timeout=TIMEOUT, **kw)

    def close(self) -> None:
        import torch.distributed as dist

        for h in self._hooks:
            h.remove()
        self._hooks.clear()
        if dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()

    def barrier(self) -> None:
        import torch.distributed as dist

        dist.barrier()

    # -- the model ------------------------------------------------------------------------------
    def prepare(self, model) -> None:
        """Give every rank rank 0's weights and average gradients before each optimizer step."""
        import torch
        import torch.distributed as dist

        with torch.no_grad():
            for t in [*model.parameters(), *model.buffers()]:
                dist.broadcast(t.data, src=0)
        for opt in model.optimizers.values():
            self._hooks.append(opt.register_step_pre_hook(self._average_grads))

    def _average_grads(self, optimizer, args, kwargs) -> None:
        import torch
        import torch.distributed as dist

        grads = [p.grad for g in optimizer.param_groups for p in g["params"]
                 if p.grad is not None]
        if not grads:
            return
        # One collective for all of them: flatten, sum, divide, copy back.
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            n = g.numel()
            g.copy_(flat[offset:offset + n].view_as(g))
            offset += n

    def average_running_stats(self, model) -> None:
        import torch
        import torch.distributed as dist
        from torch.nn.modules.batchnorm import _NormBase

        stats = [b for m in model.modules() if isinstance(m, _NormBase)
                 and m.track_running_stats and m.running_mean is not None
                 for b in (m.running_mean, m.running_var)]
        if not stats:
            return
        with torch.no_grad():
            flat = torch.cat([s.reshape(-1) for s in stats])
            dist.all_reduce(flat)
            flat /= self.world_size
            offset = 0
            for s in stats:
                s.copy_(flat[offset:offset + s.numel()].view_as(s))
                offset += s.numel()

    # -- the loop -------------------------------------------------------------------------------
    def shard(self, batch_size: int) -> tuple[int, int]:
        """This rank's slice [a, b) of a global batch of `batch_size` examples."""
        if batch_size % self.world_size:
            raise ConfigError(f"the batch size {batch_size} is the global batch and must split "
                              f"evenly over the {self.world_size} processes")
        per = batch_size // self.world_size
        return self.rank * per, (self.rank + 1) * per

    def mean_metrics(self, values: dict[str, float], stop: bool, device
                     ) -> tuple[dict[str, float], bool]:
        """The ranks' mean of each loss term, and whether any rank asked to stop (one
        collective; a NaN on any rank makes the mean NaN, so every rank sees the divergence)."""
        import torch
        import torch.distributed as dist

        keys = list(values)  # the same order on every rank: the same model made them
        t = torch.tensor([values[k] for k in keys] + [1.0 if stop else 0.0],
                         dtype=torch.float64 if device.type == "cpu" else torch.float32,
                         device=device)
        dist.all_reduce(t)
        out = (t / self.world_size).tolist()
        return {k: out[i] for i, k in enumerate(keys)}, out[-1] > 0

    def gather_rng(self) -> list:
        """Every rank's RNG state (for the checkpoint: a distributed resume continues each
        rank's noise exactly)."""
        import torch.distributed as dist

        states = [None] * self.world_size
        dist.all_gather_object(states, get_rng_state())
        return states

    def rank_seed(self, seed: int, step: int = 0) -> int:
        """Rank r > 0 draws its own noise (a GAN's ranks would otherwise all generate the same
        fakes); rank 0 keeps the single-process stream."""
        return (seed * 1_000_003 + self.rank * 7919 + step * 104_729) % (2**63 - 1)
