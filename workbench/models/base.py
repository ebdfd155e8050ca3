"""The one interface every model offers the trainer, the CLI and the GUI.

A model owns its optimizers (a GAN has two) and does its own update in `train_step`, so the
trainer never needs to know the family. What a model can do beyond training is a capability,
checked with `model.can("encode")`, never with isinstance:

    train_step(x, y) -> dict[str, float]      one update; losses as plain floats
    eval_step(x, y, full=False) -> dict        validation losses, no update (full: costly extras)
    encode(x, y=None) -> codes                 (AEs, VAEs)
    decode(z, y=None) -> data                  (AEs, VAEs)
    sample(n, labels=None, generator=None)     (VAEs, GANs)
    reconstruct(x, y=None) -> data             (AEs, VAEs)
    latent_dim, conditional, num_classes
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from torch import nn

from workbench.data.spec import DataSpec

CAPABILITIES = ("encode", "decode", "sample", "reconstruct")


class GenerativeModel(nn.Module, ABC):
    family: ClassVar[str] = "model"
    conditional: ClassVar[bool] = False
    # (title, [metric names]) — one plot per group in the GUI; val curves use the same names.
    plot_groups: ClassVar[tuple[tuple[str, tuple[str, ...]], ...]] = (("Loss", ("loss",)),)

    def __init__(self, config, data: DataSpec):
        super().__init__()
        self.config = config
        self.data = data
        self.num_classes = data.num_classes if self.conditional else 0
        self.optimizers: dict[str, torch.optim.Optimizer] = {}

    # -- training -----------------------------------------------------------------------------
    @abstractmethod
    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The family's optimizers by name ({"model": Adam} for an AE, {"G": …, "D": …})."""

    def setup_optimizers(self) -> None:
        """Create the optimizers (after the model sits on its device)."""
        self.optimizers = self.configure_optimizers()

    @abstractmethod
    def train_step(self, x: torch.Tensor, y: torch.Tensor | None) -> dict[str, float]:
        """One update of every player on the batch; returns the losses as floats."""

    @abstractmethod
    def eval_step(self, x: torch.Tensor, y: torch.Tensor | None,
                  full: bool = False) -> dict[str, float]:
        """Validation losses on the batch (per-example means), without any update.

        `full` adds the expensive metrics (a VAE's importance-weighted log-likelihood): the
        trainer asks for them at the end of training and `genworkbench eval` always; the
        per-epoch validation passes stay cheap."""

    # -- capabilities ---------------------------------------------------------------------------
    def can(self, capability: str) -> bool:
        return callable(getattr(self, capability, None))

    @classmethod
    def class_capabilities(cls) -> tuple[str, ...]:
        return tuple(c for c in CAPABILITIES if callable(getattr(cls, c, None)))

    @property
    def capabilities(self) -> tuple[str, ...]:
        return tuple(c for c in CAPABILITIES if self.can(c))

    @property
    def latent_dim(self) -> int | None:
        return getattr(self.config, "latent_dim", None)

    @property
    def decode_dim(self) -> int | None:
        """Size of the code `decode` takes (a GAN adds InfoGAN codes to z)."""
        return self.latent_dim

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def to_data_space(self, out: torch.Tensor) -> torch.Tensor:
        """Network output (logits for images) -> data space: [0, 1] images or raw points."""
        out = out.view(out.shape[0], *self.data.shape)
        return torch.sigmoid(out) if self.data.kind == "image" else out

    def cycling_labels(self, n: int) -> torch.Tensor | None:
        """Labels 0, 1, …, K−1, 0, … for a conditional model's sample grid; None otherwise."""
        if not self.conditional:
            return None
        return (torch.arange(n) % self.num_classes).to(self.device)

    def prior_noise(self, n: int, dim: int, generator: torch.Generator | None = None):
        # Draw on the CPU so a seeded CPU generator gives the same codes on every device.
        return torch.randn(n, dim, generator=generator).to(self.device)


def floats(**terms: torch.Tensor) -> dict[str, float]:
    """Turn scalar loss tensors into floats with a single device sync."""
    names = list(terms)
    values = torch.stack([terms[k].detach().float() for k in names]).tolist()
    return dict(zip(names, values))
