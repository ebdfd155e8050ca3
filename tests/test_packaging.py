"""Packaging: the desktop entry and icons agree with the app, and the wheel builds, installs
into a fresh virtual environment and runs from there (not from this source tree)."""

from __future__ import annotations

import configparser
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from workbench.ui.app import APP_ID, APP_NAME, ICON_NAME, ICON_SIZES  # no Qt at import time

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
ICONS = ROOT / "resources" / "icons"
DESKTOP = PACKAGING / f"{APP_ID}.desktop"


def _desktop_entry() -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(DESKTOP, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def _scripts() -> dict[str, str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


# -- desktop entry and icons ---------------------------------------------------------------------
def test_desktop_entry_matches_the_app():
    assert DESKTOP.exists(), f"the desktop entry must be named after the app id: {DESKTOP.name}"
    entry = _desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Icon"] == ICON_NAME
    exec_cmd = entry["Exec"].split()
    assert exec_cmd[0] in _scripts(), f"Exec= runs {exec_cmd[0]}, not a console script"
    assert exec_cmd[1:] == ["gui"]
    assert entry["TryExec"] == exec_cmd[0]
    assert entry["StartupWMClass"] == APP_NAME
    assert entry["Terminal"] == "false"


def test_desktop_entry_is_valid():
    tool = shutil.which("desktop-file-validate")
    if tool is None:
        pytest.skip("desktop-file-validate is not installed (Debian: desktop-file-utils)")
    res = subprocess.run([tool, str(DESKTOP)], capture_output=True, text=True)
    assert res.returncode == 0 and not res.stdout.strip(), res.stdout + res.stderr


def test_icons_exist_at_every_size_and_come_from_the_svg():
    from PIL import Image

    svg = ET.parse(ICONS / f"{ICON_NAME}.svg").getroot()
    assert svg.tag.endswith("svg")
    _, _, w, h = map(float, svg.get("viewBox").split())
    assert w == h, "an app icon is square"
    for size in ICON_SIZES:
        path = ICONS / f"{ICON_NAME}-{size}.png"
        with Image.open(path) as img:
            assert img.size == (size, size), path
            assert img.mode == "RGBA", f"{path}: the rounded corners need alpha"
            alpha = img.getchannel("A")
            assert alpha.getextrema() == (0, 255), f"{path}: blank or without transparency"
    # app.py's window icon and the README's install loop use these names
    assert (ICONS / f"{ICON_NAME}.png").read_bytes() == (ICONS / f"{ICON_NAME}-256.png").read_bytes()


def test_frozen_recipe_names_existing_files():
    spec = (PACKAGING / "pyinstaller.spec").read_text()
    compile(spec, "pyinstaller.spec", "exec")  # syntax only: PyInstaller is not a dependency
    assert "genworkbench_frozen.py" in spec and (PACKAGING / "genworkbench_frozen.py").exists()
    for folder in ("datasets", "icons"):
        assert f'"resources" / "{folder}"' in spec and (ROOT / "resources" / folder).is_dir()
        assert f"workbench/resources/{folder}" in spec  # where core/resources.py looks
    assert APP_ID in spec


# -- the wheel in a fresh virtual environment ------------------------------------------------------
def _missing_tools() -> str | None:
    for mod in ("venv", "build", "setuptools", "wheel"):
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not installed (pip install -e '.[test]' installs it)"
    return None


def _copy_source(dest: Path) -> Path:
    """Build from a copy, so the build leaves nothing in the tree and parallel runs don't clash."""
    skip = shutil.ignore_patterns(".git", "build", "dist", "*.egg-info", "__pycache__", ".*cache",
                                  "out", "screenshots", "tests", "bench")
    shutil.copytree(ROOT, dest, ignore=skip)
    return dest


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    missing = _missing_tools()
    if missing:
        pytest.skip(missing)
    tmp = tmp_path_factory.mktemp("packaging")
    src = _copy_source(tmp / "src")
    dist = tmp / "dist"
    # --no-isolation: offline, with the setuptools/wheel of this environment (the [test] extra)
    res = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation",
                          "--outdir", str(dist), str(src)], capture_output=True, text=True,
                         timeout=180)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    wheels = list(dist.glob("genworkbench-*-py3-none-any.whl"))
    assert len(wheels) == 1, wheels
    env_dir = tmp / "venv"
    # System site-packages: torch and PySide6 come from here, not from a download.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                    str(env_dir)], check=True, timeout=60)
    res = subprocess.run([sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"),
                          "install", "--no-deps", "--no-index", "--quiet",
                          "--disable-pip-version-check", str(wheels[0])],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    cwd = tmp / "elsewhere"  # not the repository: nothing may be found through the cwd
    cwd.mkdir()
    return {"bin": env_dir / "bin", "cwd": cwd, "wheel": wheels[0], "root": env_dir}


def _run(venv, *args, logs: Path | None = None):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GENWORKBENCH_RESOURCES", "PYTHONPATH")}
    if logs is not None:
        env["GENWORKBENCH_LOG_DIR"] = str(logs)
    return subprocess.run([str(a) for a in args], cwd=venv["cwd"], env=env, capture_output=True,
                          text=True, timeout=120)


def test_wheel_carries_the_runtime_resources(venv):
    import zipfile

    names = set(zipfile.ZipFile(venv["wheel"]).namelist())
    assert "workbench/resources/datasets/mnist5k.npz" in names
    assert "workbench/resources/datasets/README.md" in names  # the data's licence
    for size in ICON_SIZES:
        assert f"workbench/resources/icons/{ICON_NAME}-{size}.png" in names
    assert not any("screenshots" in n for n in names)


def test_installed_package_runs_from_the_venv(venv, tmp_path):
    res = _run(venv, venv["bin"] / "python", "-c",
               "import workbench, workbench.core.resources as r; "
               "print(workbench.__file__); print(r.resources_dir())")
    assert res.returncode == 0, res.stderr
    module, resources = res.stdout.split()
    assert Path(module).is_relative_to(venv["root"]), f"imported {module}, not the installed copy"
    assert Path(resources).is_relative_to(venv["root"]), resources

    res = _run(venv, venv["bin"] / "genworkbench", "--help")
    assert res.returncode == 0, res.stderr
    assert "usage: genworkbench" in res.stdout and "train" in res.stdout

    logs = tmp_path / "logs"
    res = _run(venv, venv["bin"] / "genworkbench", "models", logs=logs)
    assert res.returncode == 0, res.stderr
    assert "vae_mlp" in res.stdout and "dcgan" in res.stdout
    assert res.stderr == ""
    assert not logs.exists(), "the CLI must not write the GUI's log file"

    res = _run(venv, venv["bin"] / "genworkbench", "datasets", "--json")
    assert res.returncode == 0, res.stderr
    names = {d["name"] for d in json.loads(res.stdout)}
    assert {"mnist5k", "ring8", "grid25"} <= names


def test_installed_package_loads_the_embedded_digits(venv):
    res = _run(venv, venv["bin"] / "python", "-c",
               "from workbench.data.builtin import _mnist5k_path, load_mnist5k; "
               "d = load_mnist5k(); print(_mnist5k_path()); print(d.n_train + d.n_val)")
    assert res.returncode == 0, res.stderr
    path, n = res.stdout.split()
    assert Path(path).is_relative_to(venv["root"]), path
    assert int(n) == 5000
