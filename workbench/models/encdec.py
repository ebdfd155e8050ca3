"""What autoencoders and VAEs share: an encoder/decoder pair sized from the data and config.

A conditional model (`conditional = True`) feeds the one-hot label to both networks: beside the
input of the encoder (as extra channels for arch=conv) and beside the code of the decoder.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from workbench.core.config import param
from workbench.core.errors import ConfigError
from workbench.models.base import GenerativeModel
from workbench.models.nets import flat_decoder, flat_encoder, one_hot, reconstruction_nll


@dataclass(frozen=True)
class EncoderDecoderConfig:
    arch: Literal["mlp", "conv", "linear"] = param(
        "mlp", help="Network type: fully connected layers on the flattened image (mlp), "
                    "strided convolutions with transposed convolutions back (conv), or one linear "
                    "map each way (linear: no hidden layers and no nonlinearity; with "
                    "likelihood=mse the output is not squashed either, as in PCA).")
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
        if self.conditional and data.num_classes < 2:
            raise ConfigError("this model is conditional: it needs a dataset with labels")
        c, n = config, self.num_classes
        enc_shape = data.shape
        if n:
            enc_shape = ((data.shape[0] + n, *data.shape[1:]) if c.arch == "conv"
                         else (data.dim + n,))
        self.encoder = flat_encoder(c.arch, enc_shape, c.hidden, c.channels,
                                    c.latent_dim * self.code_dim_factor)
        self.decoder = flat_decoder(c.arch, c.latent_dim + n, data.shape, c.hidden, c.channels)

    def configure_optimizers(self):
        return {"model": torch.optim.Adam(self.parameters(), lr=self.config.lr,
                                          weight_decay=self.config.weight_decay)}

    # -- the networks, with the label where the model is conditional ---------------------------
    def _one_hot(self, y) -> torch.Tensor:
        if y is None:
            raise ValueError(f"{type(self).__name__} is conditional: pass the labels")
        return one_hot(torch.as_tensor(y, device=self.device), self.num_classes)

    def run_encoder(self, x: torch.Tensor, y=None) -> torch.Tensor:
        if self.conditional:
            y1 = self._one_hot(y)
            if self.config.arch == "conv":
                x = torch.cat([x, y1[:, :, None, None].expand(-1, -1, *x.shape[2:])], 1)
            else:
                x = torch.cat([x.flatten(1), y1], 1)
        return self.encoder(x)

    def run_decoder(self, z: torch.Tensor, y=None) -> torch.Tensor:
        """Code -> raw decoder output (logits for images under bce)."""
        if self.conditional:
            z = torch.cat([z, self._one_hot(y)], 1)
        return self.decoder(z)

    # -- output and likelihood ------------------------------------------------------------------
    @property
    def squashes(self) -> bool:
        """Whether images come out of a sigmoid (false only for a linear decoder under mse)."""
        return self.data.kind == "image" and not (
            self.config.arch == "linear" and self.config.likelihood == "mse")

    def to_data_space(self, out: torch.Tensor) -> torch.Tensor:
        if self.data.kind == "image" and not self.squashes:
            return out.view(out.shape[0], *self.data.shape).clamp(0.0, 1.0)
        return super().to_data_space(out)

    def recon_nll(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of each example under the decoder's output: shape (N,)."""
        return reconstruction_nll(out, x, self.config.likelihood, self.squashes)

    def decode(self, z: torch.Tensor, y=None) -> torch.Tensor:
        return self.to_data_space(self.run_decoder(z, y))

    def reconstruct(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.decode(self.encode(x, y), y)

    def _update(self, loss: torch.Tensor) -> None:
        opt = self.optimizers["model"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
