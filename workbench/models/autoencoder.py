"""Deterministic autoencoders: x → z = f(x) → x̂ = g(z), trained to reconstruct.

Variants: linear (PCA-like), stacked MLP, convolutional, denoising (Vincent et al. 2008: corrupt
the input, reproduce the clean one) and sparse (an L1 or KL penalty on the code, Ng's notes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from workbench.core.config import param
from workbench.core.errors import ConfigError
from workbench.models.registry import register_model
from workbench.models.base import floats
from workbench.models.encdec import EncoderDecoderConfig, EncoderDecoderModel


@dataclass(frozen=True)
class AEConfig(EncoderDecoderConfig):
    pass


class AutoEncoder(EncoderDecoderModel):
    family = "autoencoder"
    plot_groups = (("Reconstruction loss", ("loss",)),)

    def encode(self, x: torch.Tensor, y=None) -> torch.Tensor:
        return self.run_encoder(x, y)

    def _terms(self, x, y) -> dict[str, torch.Tensor]:
        """The loss (and what else is logged) as scalar tensors."""
        out = self.run_decoder(self.encode(x, y), y)
        return {"loss": self.recon_nll(out, x).mean()}

    def train_step(self, x, y=None):
        terms = self._terms(x, y)
        self._update(terms["loss"])
        return floats(**terms)

    @torch.no_grad()
    def eval_step(self, x, y=None, full: bool = False):
        return floats(**self._terms(x, y))


# -- denoising ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DenoisingAEConfig(AEConfig):
    corruption: Literal["gaussian", "mask"] = param(
        "gaussian", help="How training inputs are corrupted: additive Gaussian noise (images are "
                         "clipped back to [0, 1]) or masking noise (random inputs set to 0).")
    noise_level: float = param(
        0.5, min=0.0, max=5.0, label="noise level",
        help="Standard deviation of the Gaussian noise, or the fraction of inputs masked "
             "(below 1) for corruption=mask.")

    def check(self):
        super().check()
        if self.corruption == "mask" and self.noise_level >= 1.0:
            raise ConfigError("noise_level is the fraction of inputs masked for corruption=mask: "
                              f"it must be below 1, got {self.noise_level}")


class DenoisingAutoEncoder(AutoEncoder):
    """Reconstructs the clean input from a corrupted one; validation reports that same loss."""

    plot_groups = (("Denoising loss", ("loss",)),)

    def corrupt(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """A corrupted copy of x (the noise is drawn on `generator`'s device, then moved)."""
        c = self.config
        dev = generator.device if generator is not None else x.device
        if c.corruption == "mask":
            keep = torch.rand(x.shape, generator=generator, device=dev).to(x.device)
            return x * (keep >= c.noise_level)
        noise = torch.randn(x.shape, generator=generator, device=dev).to(x.device)
        noisy = x + c.noise_level * noise
        return noisy.clamp(0.0, 1.0) if self.data.kind == "image" else noisy

    def _terms(self, x, y):
        out = self.run_decoder(self.encode(self.corrupt(x), y), y)
        return {"loss": self.recon_nll(out, x).mean()}


# -- sparse ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SparseAEConfig(AEConfig):
    sparsity: Literal["l1", "kl"] = param(
        "kl", help="Penalty on the code: l1 adds λ·Σ|z_j|; kl squashes the code through a "
                   "sigmoid and adds λ·Σ KL(ρ ‖ ρ̂_j), ρ̂_j being unit j's mean activation over "
                   "the batch.")
    sparsity_weight: float = param(
        1.0, min=0.0, max=1000.0, label="sparsity weight λ",
        help="Weight of the sparsity penalty; 0 turns it off (a plain autoencoder).")
    target_activation: float = param(
        0.05, min=0.001, max=0.999, label="target activation ρ",
        help="Mean activation each code unit should have (sparsity=kl only).")


def bernoulli_kl(rho: float, rho_hat: torch.Tensor) -> torch.Tensor:
    """KL(Bernoulli(ρ) ‖ Bernoulli(ρ̂)) elementwise."""
    rho_hat = rho_hat.clamp(1e-6, 1 - 1e-6)
    return rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))


class SparseAutoEncoder(AutoEncoder):
    """An autoencoder with a sparsity penalty on its code; logs the code's mean activation."""

    plot_groups = (("Loss", ("loss", "recon")), ("Sparsity penalty", ("sparsity",)),
                   ("Mean activation", ("activation",)))

    def encode(self, x, y=None):
        z = self.run_encoder(x, y)
        return z.sigmoid() if self.config.sparsity == "kl" else z

    def _terms(self, x, y):
        c = self.config
        z = self.encode(x, y)
        recon = self.recon_nll(self.run_decoder(z, y), x).mean()
        if c.sparsity == "kl":
            penalty = bernoulli_kl(c.target_activation, z.mean(0)).sum()
            activation = z.mean()
        else:
            penalty = z.abs().sum(1).mean()
            activation = z.abs().mean()
        return {"loss": recon + c.sparsity_weight * penalty, "recon": recon,
                "sparsity": penalty, "activation": activation}


# -- variants -------------------------------------------------------------------------------------
@register_model(AutoEncoder)
def ae_linear() -> AEConfig:
    """Linear autoencoder with squared error: learns the top principal subspace, like PCA."""
    return AEConfig(arch="linear", latent_dim=16, likelihood="mse", lr=3e-3)


@register_model(AutoEncoder)
def ae_mlp() -> AEConfig:
    """Stacked, symmetric MLP autoencoder (784-512-256-32 and back)."""
    return AEConfig(arch="mlp", hidden=(512, 256), latent_dim=32)


@register_model(AutoEncoder)
def ae_conv() -> AEConfig:
    """Convolutional autoencoder: strided convolutions down, transposed convolutions up."""
    return AEConfig(arch="conv", channels=(32, 64), latent_dim=16)


@register_model(DenoisingAutoEncoder)
def ae_denoising() -> DenoisingAEConfig:
    """Denoising autoencoder: reconstructs clean digits from noisy ones (Gaussian σ = 0.5)."""
    return DenoisingAEConfig(arch="mlp", hidden=(512, 256), latent_dim=32,
                             corruption="gaussian", noise_level=0.5)


@register_model(SparseAutoEncoder)
def ae_sparse() -> SparseAEConfig:
    """Sparse autoencoder: sigmoid code of 64 units pressed to a mean activation ρ = 0.05."""
    return SparseAEConfig(arch="mlp", hidden=(512,), latent_dim=64, sparsity="kl",
                          sparsity_weight=1.0, target_activation=0.05)
