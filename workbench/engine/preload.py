"""Imported once by the training fork server (ui/training_run.py), so every training child starts
with torch already imported, including torch._dynamo, which the first optimizer step would
otherwise import lazily (about 1.5 s). Imports only: computing anything here would start
OpenMP's thread pool in the server, and children forked after that deadlock in their first
parallel op. Nothing else imports this module."""

import torch  # noqa: F401
import torch._dynamo  # noqa: F401

import workbench.data  # noqa: F401
import workbench.engine.remote  # noqa: F401
import workbench.engine.trainer  # noqa: F401
import workbench.models  # noqa: F401
