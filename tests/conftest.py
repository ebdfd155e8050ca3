"""Suite-wide settings: Qt renders offscreen; runs and settings go to temporary folders."""

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models on a 2-core machine: one intra-op thread is faster (no OpenMP threads
    fighting over the cores) and the same for everyone. Modules opt in with
    `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def user_lessons_dir(tmp_path, monkeypatch):
    """A teacher's own lessons folder, empty per test (never the real user's)."""
    path = tmp_path / "user-lessons"
    monkeypatch.setenv("GENWORKBENCH_LESSONS", str(path))
    return path
