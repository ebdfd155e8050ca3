"""Pick the compute device: CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

from workbench.core.errors import ConfigError

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def resolve_device(name: str = "auto"):
    import torch

    name = (name or "auto").lower()
    if name not in DEVICE_CHOICES:
        raise ConfigError(f"unknown device {name!r}: choose one of {', '.join(DEVICE_CHOICES)}")
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps and mps.is_available())
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps" if mps_ok else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available")
    if name == "mps" and not mps_ok:
        raise ConfigError("device 'mps' was asked for but Apple's MPS backend is not available")
    return torch.device(name)
