"""genworkbench: train and take apart generative models, and watch them learn."""

__version__ = "0.1.0"

import logging as _logging

# A library stays quiet unless the app asks: the GUI adds a file handler (core/applog.py); the
# CLI adds none, so nothing reaches Python's last-resort stderr handler.
_logging.getLogger("workbench").addHandler(_logging.NullHandler())
