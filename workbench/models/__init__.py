"""Model families. Importing this package registers every variant with the registry."""

from workbench.models import autoencoder, vae  # noqa: F401
from workbench.models import gan  # noqa: F401  (the GAN package, its 2-D toy GANs included)
