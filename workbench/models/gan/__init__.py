"""The GAN family, one idea per module:

    config.py     GANConfig: the objective, the networks and every stabiliser as fields
    losses.py     one record per objective (its values and their derivatives), the penalties
    nets.py       the players' networks, the layers stabilisers add to D, the replay buffer
    model.py      GAN and ConditionalGAN (train_step = Algorithm 1), then the registered variants
    by_hand.py    the same steps with the backward pass written out (plain MLP players)
    fused_adam.py the by-hand path's optimiser step: the fused Adam kernel called directly
    unrolled.py   G against D looked ahead (Metz et al. 2017), first and second order
    toy.py        ToyGAN for 2-D points, then its registered variants

Importing the package registers every variant.
"""

from workbench.models.gan.config import GANConfig
from workbench.models.gan.model import GAN, ConditionalGAN
from workbench.models.gan.toy import ToyGAN, ToyGANConfig

__all__ = ["GAN", "ConditionalGAN", "GANConfig", "ToyGAN", "ToyGANConfig"]
