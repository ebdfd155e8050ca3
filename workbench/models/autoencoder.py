"""Deterministic autoencoders: x → z = f(x) → x̂ = g(z), trained to reconstruct."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from workbench.core.registry import register_model
from workbench.models.base import floats
from workbench.models.encdec import EncoderDecoderConfig, EncoderDecoderModel
from workbench.models.nets import reconstruction_loss


@dataclass(frozen=True)
class AEConfig(EncoderDecoderConfig):
    pass


class AutoEncoder(EncoderDecoderModel):
    family = "autoencoder"
    plot_groups = (("Reconstruction loss", ("loss",)),)

    def encode(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.encoder(x)

    def _loss(self, x):
        out = self.decoder(self.encoder(x))
        return reconstruction_loss(out, x, self.config.likelihood, self.data.kind)

    def train_step(self, x, y=None):
        loss = self._loss(x)
        self._update(loss)
        return floats(loss=loss)

    @torch.no_grad()
    def eval_step(self, x, y=None):
        return floats(loss=self._loss(x))


@register_model(AutoEncoder)
def ae_mlp() -> AEConfig:
    """Stacked, symmetric MLP autoencoder (784-512-256-32 and back)."""
    return AEConfig(arch="mlp", hidden=(512, 256), latent_dim=32)
