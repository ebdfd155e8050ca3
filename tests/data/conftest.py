"""Tests of the Qt-free core run tiny models on a 2-core machine: one intra-op thread is both
faster (no OpenMP threads fighting over the cores) and the same for everyone."""

import torch

torch.set_num_threads(1)
