"""What autoencoders and VAEs share: an encoder/decoder pair sized from the data and config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from workbench.core.config import param
from workbench.core.errors import ConfigError
from workbench.models.base import GenerativeModel
from workbench.models.nets import flat_decoder, flat_encoder


@dataclass(frozen=True)
class EncoderDecoderConfig:
    arch: Literal["mlp", "conv"] = param(
        "mlp", help="Network type: fully connected layers on the flattened image (mlp) or "
                    "strided convolutions with transposed convolutions back (conv).")
    hidden: tuple[int, ...] = param(
        (512, 256), min=1, max=8192, label="hidden sizes",
        help="Widths of the MLP's hidden layers, encoder side (the decoder mirrors them).")
    channels: tuple[int, ...] = param(
        (32, 64), min=1, max=1024,
        help="Channels of the convolutional encoder's layers; each layer halves the image.")
    latent_dim: int = param(
        20, min=1, max=1024, label="latent dimension",
        help="Size of the code z. 2 lets you draw the latent space directly; more dimensions "
             "reconstruct better.")
    likelihood: Literal["bce", "mse"] = param(
        "bce", help="Reconstruction term: Bernoulli (binary cross-entropy, pixels in [0,1]) or "
                    "Gaussian (squared error).")
    lr: float = param(1e-3, min=1e-6, max=1.0, log=True, label="learning rate",
                      help="Adam's step size.")
    weight_decay: float = param(0.0, min=0.0, max=1.0, label="weight decay",
                                help="L2 penalty on the weights (Adam's weight_decay).")

    def check(self):
        if self.arch == "conv" and not self.channels:
            raise ConfigError("channels must name at least one layer for arch=conv, e.g. 32,64")


class EncoderDecoderModel(GenerativeModel):
    """Encoder → code of `code_dim` numbers → decoder; subclasses decide what the code means."""

    code_dim_factor = 1  # a VAE's encoder emits mean and log-variance: 2 × latent_dim

    def __init__(self, config: EncoderDecoderConfig, data):
        super().__init__(config, data)
        if config.likelihood == "bce" and data.kind != "image":
            raise ConfigError("likelihood=bce needs images in [0, 1]; use likelihood=mse")
        c = config
        self.encoder = flat_encoder(c.arch, data.shape, c.hidden, c.channels,
                                    c.latent_dim * self.code_dim_factor)
        self.decoder = flat_decoder(c.arch, c.latent_dim, data.shape, c.hidden, c.channels)

    def configure_optimizers(self):
        return {"model": torch.optim.Adam(self.parameters(), lr=self.config.lr,
                                          weight_decay=self.config.weight_decay)}

    def decode(self, z: torch.Tensor, y=None) -> torch.Tensor:
        return self.to_data_space(self.decoder(z))

    def reconstruct(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.decode(self.encode(x, y), y)

    def _update(self, loss: torch.Tensor) -> None:
        opt = self.optimizers["model"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
