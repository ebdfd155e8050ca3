"""Suite-wide settings: Qt renders offscreen; runs and settings go to temporary folders."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")
