"""Qt-free analysis: sample sheets now; latent, modes, metrics with their issues."""
