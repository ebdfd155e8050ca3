"""Layering (DESIGN.md): only workbench.ui imports PySide6 / pyqtgraph / qasync, the core never
imports the UI, and `workbench.cli` loads neither Qt nor torch when it is imported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT = ("import sys; from importlinter.cli import lint_imports; "
        "sys.exit(lint_imports(no_cache=True, no_logo=True))")
GUI_MODULES = ("PySide6", "pyqtgraph", "qasync", "shiboken6")


def lint(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", LINT], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def fresh_python(code: str) -> dict:
    """Run `code` in a new interpreter; it must print one JSON line last."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                       timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_import_linter_contracts_hold():
    p = lint(REPO)
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "Contracts: 3 kept, 0 broken." in out, out


def test_import_linter_catches_a_leak(tmp_path):
    """The contracts are live: a core module that imports Qt or the UI breaks them, and so does an
    import up the floors, even one hidden inside a function."""
    shutil.copytree(REPO / "workbench", tmp_path / "workbench",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "workbench" / "engine" / "_leak.py").write_text("import PySide6.QtCore\n")
    (tmp_path / "workbench" / "models" / "_leak.py").write_text(
        "def f():\n    from workbench.ui import main_window\n")
    (tmp_path / "workbench" / "analysis" / "_leak.py").write_text(
        "def f():\n    from workbench.engine import trainer\n")
    p = lint(tmp_path)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert "Contracts: 0 kept, 3 broken." in out, out
    assert "workbench.engine._leak -> PySide6" in out
    assert "workbench.models._leak -> workbench.ui.main_window" in out
    assert "workbench.analysis._leak -> workbench.engine.trainer" in out


def test_core_imports_load_no_gui_toolkit():
    loaded = fresh_python(
        "import json, sys\n"
        "import workbench.cli, workbench.models.registry, workbench.engine.trainer\n"
        "import workbench.data, workbench.analysis.sheets, workbench.engine.runs\n"
        "import workbench.experiments.lab, workbench.analysis.modes\n"
        "from workbench.models.registry import create_model, get_model_info, list_models\n"
        "from workbench.data.spec import DataSpec\n"
        "pts = DataSpec(shape=(2,), kind='points')\n"  # for the models made for 2-D points
        "models = [create_model(n, None if 'image' in get_model_info(n).data_kinds else pts)\n"
        "          for n in list_models()]\n"  # every model family imported
        "print(json.dumps({'mods': sorted(sys.modules), 'n': len(models)}))\n")
    assert loaded["n"] >= 3
    mods = set(loaded["mods"])
    assert "torch" in mods and "workbench.models.vae" in mods  # the check saw the real imports
    gui = sorted(m for m in mods if m.split(".")[0] in GUI_MODULES)
    assert gui == [], gui
    assert not any(m == "workbench.ui" or m.startswith("workbench.ui.") for m in mods)


def test_cli_import_loads_neither_torch_nor_qt():
    loaded = fresh_python(
        "import json, sys\n"
        "import workbench.cli\n"
        "workbench.cli.build_parser()\n"
        "print(json.dumps(sorted(sys.modules)))\n")
    mods = set(loaded)
    assert "workbench.cli" in mods
    heavy = sorted(m for m in mods if m.split(".")[0] in ("torch", "numpy", *GUI_MODULES))
    assert heavy == [], heavy


def test_the_window_module_loads_without_torch():
    """The window paints before torch loads (ui/main_window.py's docstring): importing it, and so
    every module it imports at start, must not import torch; the backend loads in a worker."""
    loaded = fresh_python(
        "import json, sys\n"
        "import workbench.ui.app, workbench.ui.main_window\n"
        "print(json.dumps(sorted(sys.modules)))\n")
    mods = set(loaded)
    assert "workbench.ui.main_window" in mods
    assert sorted(m for m in mods if m.split(".")[0] == "torch") == []
