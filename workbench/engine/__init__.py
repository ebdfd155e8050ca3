"""Qt-free training engine: the generator trainer, its events, checkpoints and run directories."""
