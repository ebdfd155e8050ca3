"""Variational autoencoders (Kingma & Welling 2014).

The encoder gives q(z|x) = N(μ, diag σ²); z = μ + σ·ε is decoded; the loss is the negative ELBO
    recon + β · KL(q(z|x) ‖ N(0, I)),   KL = ½ Σ (μ² + σ² − log σ² − 1)
summed over pixels and latent dimensions, averaged over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from workbench.core.config import param
from workbench.core.registry import register_model
from workbench.models.base import floats
from workbench.models.encdec import EncoderDecoderConfig, EncoderDecoderModel
from workbench.models.nets import reconstruction_loss


@dataclass(frozen=True)
class VAEConfig(EncoderDecoderConfig):
    beta: float = param(1.0, min=0.0, max=1000.0, label="β",
                        help="Weight of the KL term. 1 is the ELBO; β > 1 presses the code towards "
                             "the prior (disentangling, blurrier); β < 1 reconstructs sharper.")


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) per example and per latent dimension (closed form)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)


class VAE(EncoderDecoderModel):
    family = "vae"
    code_dim_factor = 2
    plot_groups = (("Loss (−ELBO)", ("loss",)), ("Reconstruction", ("recon",)),
                   ("KL", ("kl",)))

    def encode_dist(self, x: torch.Tensor, y=None) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def encode(self, x: torch.Tensor, y=None) -> torch.Tensor:
        """The posterior mean: the code shown in scatters and sliders."""
        return self.encode_dist(x, y)[0]

    def sample(self, n: int, labels=None, generator: torch.Generator | None = None):
        return self.decode(self.prior_noise(n, self.config.latent_dim, generator), labels)

    def _terms(self, x):
        mu, logvar = self.encode_dist(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = reconstruction_loss(self.decoder(z), x, self.config.likelihood, self.data.kind)
        kl = kl_to_standard_normal(mu, logvar).sum(1).mean()
        return recon, kl

    def train_step(self, x, y=None):
        recon, kl = self._terms(x)
        loss = recon + self.config.beta * kl
        self._update(loss)
        return floats(loss=loss, recon=recon, kl=kl)

    @torch.no_grad()
    def eval_step(self, x, y=None):
        recon, kl = self._terms(x)
        return floats(loss=recon + self.config.beta * kl, recon=recon, kl=kl)


@register_model(VAE)
def vae_mlp() -> VAEConfig:
    """The classic 784-400-20 MLP VAE of Kingma & Welling (pytorch/examples: BCE + KL, Adam 1e-3)."""
    return VAEConfig(arch="mlp", hidden=(400,), latent_dim=20, likelihood="bce", lr=1e-3)


@register_model(VAE)
def vae_conv() -> VAEConfig:
    """Convolutional VAE: strided convolutions down, transposed convolutions up, 16-d code."""
    return VAEConfig(arch="conv", channels=(32, 64), latent_dim=16, likelihood="bce", lr=1e-3)
