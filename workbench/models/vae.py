"""Variational autoencoders (Kingma & Welling 2014), β-VAE (Higgins et al. 2017) and the
conditional VAE (Sohn et al. 2015).

The encoder gives q(z|x) = N(μ, diag σ²); z = μ + σ·ε is decoded; the loss is the negative ELBO
    recon + β · KL(q(z|x) ‖ N(0, I)),   KL = ½ Σ (μ² + σ² − log σ² − 1)
summed over pixels and latent dimensions, averaged over the batch. `loss_terms` trains on one
term alone to show what each does. Validation adds the importance-weighted bound (Burda et al.
2016) log p(x) ≥ E log (1/k) Σ_i p(x, z_i) / q(z_i|x), which tightens towards log p(x) as k grows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from workbench.core.config import param
from workbench.models.registry import register_model
from workbench.models.base import floats
from workbench.models.encdec import EncoderDecoderConfig, EncoderDecoderModel

IW_CHUNK = 4096  # decoder inputs per pass when drawing the importance samples


@dataclass(frozen=True)
class VAEConfig(EncoderDecoderConfig):
    beta: float = param(1.0, min=0.0, max=1000.0, label="β",
                        help="Weight of the KL term. 1 is the ELBO; β > 1 presses the code towards "
                             "the prior (disentangling, blurrier); β < 1 reconstructs sharper.")
    loss_terms: Literal["both", "recon", "kl"] = param(
        "both", label="loss terms",
        help="Terms of the loss that are trained (both are logged either way): both gives a "
             "smooth latent space; recon only spreads the codes out with holes between them; "
             "kl only collapses every code onto the prior.")
    iw_samples: int = param(
        50, min=1, max=5000, label="importance samples",
        help="Samples k per validation image for the importance-weighted estimate of log p(x) "
             "(iwae, in nats); more is tighter and k times slower. k = 1 is the ELBO.")


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(μ, σ²) ‖ N(0, 1)) per example and per latent dimension (closed form)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)


class VAE(EncoderDecoderModel):
    family = "vae"
    code_dim_factor = 2
    plot_groups = (("Loss", ("loss",)), ("Reconstruction", ("recon",)), ("KL", ("kl",)),
                   ("ELBO and log p(x) (nats)", ("elbo", "iwae")))

    def encode_dist(self, x: torch.Tensor, y=None) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.run_encoder(x, y).chunk(2, dim=1)
        return mu, logvar

    def encode(self, x: torch.Tensor, y=None) -> torch.Tensor:
        """The posterior mean: the code shown in scatters and sliders."""
        return self.encode_dist(x, y)[0]

    def sample(self, n: int, labels=None, generator: torch.Generator | None = None):
        if self.conditional and labels is None:
            labels = self.cycling_labels(n)
        return self.decode(self.prior_noise(n, self.config.latent_dim, generator), labels)

    @torch.no_grad()
    def kl_per_dim(self, x: torch.Tensor, y=None) -> torch.Tensor:
        """Mean KL(q(z_j|x) ‖ N(0, 1)) of each latent dimension j over the batch: (latent_dim,)."""
        return kl_to_standard_normal(*self.encode_dist(x, y)).mean(0)

    def _terms(self, x, y):
        mu, logvar = self.encode_dist(x, y)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = self.recon_nll(self.run_decoder(z, y), x).mean()
        kl = kl_to_standard_normal(mu, logvar).sum(1).mean()
        return recon, kl

    def _loss(self, recon, kl):
        terms = self.config.loss_terms
        if terms == "recon":
            return recon
        if terms == "kl":
            return self.config.beta * kl
        return recon + self.config.beta * kl

    def train_step(self, x, y=None):
        recon, kl = self._terms(x, y)
        loss = self._loss(recon, kl)
        self._update(loss)
        return floats(loss=loss, recon=recon, kl=kl, elbo=-(recon + kl))

    @torch.no_grad()
    def log_importance_weights(self, x: torch.Tensor, y=None, k: int = 1) -> torch.Tensor:
        """log p(x|z_i) + log p(z_i) − log q(z_i|x) for k draws z_i ~ q(z|x): shape (N, k).

        The log 2π terms of p(z) and q(z|x) cancel; under likelihood=mse, log p(x|z) leaves out
        the constant −½·D·log 2π (as the reported recon and ELBO do).
        """
        mu, logvar = self.encode_dist(x, y)
        n = x.shape[0]
        per_pass = max(1, IW_CHUNK // n)
        out = []
        for start in range(0, k, per_pass):
            m = min(per_pass, k - start)
            eps = torch.randn(m, *mu.shape, device=mu.device)
            z = mu + (0.5 * logvar).exp() * eps  # (m, N, d)
            xs = x.expand(m, *x.shape).reshape(m * n, *x.shape[1:])
            ys = None if y is None else torch.as_tensor(y).repeat(m)
            nll = self.recon_nll(self.run_decoder(z.reshape(m * n, -1), ys), xs).view(m, n)
            out.append(-nll - 0.5 * z.pow(2).sum(-1) + 0.5 * (eps.pow(2) + logvar).sum(-1))
        return torch.cat(out).T

    @torch.no_grad()
    def eval_step(self, x, y=None, full: bool = False):
        recon, kl = self._terms(x, y)
        terms = dict(loss=self._loss(recon, kl), recon=recon, kl=kl, elbo=-(recon + kl))
        if full:  # k decoder passes per example: only when asked (end of training, `eval`)
            k = self.config.iw_samples
            log_w = self.log_importance_weights(x, y, k)
            terms["iwae"] = (torch.logsumexp(log_w, dim=1) - math.log(k)).mean()
        return floats(**terms)


class CVAE(VAE):
    """A VAE whose encoder and decoder both see the one-hot label: sample(n, labels) draws them."""

    conditional = True


@register_model(VAE)
def vae_mlp() -> VAEConfig:
    """The classic 784-400-20 MLP VAE of Kingma & Welling (pytorch/examples: BCE + KL, Adam 1e-3)."""
    return VAEConfig(arch="mlp", hidden=(400,), latent_dim=20, likelihood="bce", lr=1e-3)


@register_model(VAE)
def vae_conv() -> VAEConfig:
    """Convolutional VAE: strided convolutions down, transposed convolutions up, 16-d code."""
    return VAEConfig(arch="conv", channels=(32, 64), latent_dim=16, likelihood="bce", lr=1e-3)


@register_model(VAE)
def beta_vae() -> VAEConfig:
    """β-VAE (β = 4, 10-d code): a stronger pull to the prior for disentangled factors."""
    return VAEConfig(arch="conv", channels=(32, 64), latent_dim=10, beta=4.0, likelihood="bce",
                     lr=1e-3)


@register_model(CVAE)
def cvae() -> VAEConfig:
    """Conditional VAE: encoder and decoder see the label, so you choose the digit to draw."""
    return VAEConfig(arch="mlp", hidden=(512,), latent_dim=8, likelihood="bce", lr=1e-3)
