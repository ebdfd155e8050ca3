"""genworkbench: train and take apart generative models, and watch them learn."""

__version__ = "0.1.0"
