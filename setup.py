"""Everything is declared in pyproject.toml; this file only adds the build step that puts the
repository's resources/ (embedded dataset, icons) into the wheel as workbench/resources/, where
workbench.core.resources looks when the package is installed rather than run from the source."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

# What the installed app reads at run time; the README's screenshots stay out of the wheel.
RUNTIME_RESOURCES = ("datasets", "icons")


class BuildPyWithResources(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads resources/ from the source tree
        src = Path(__file__).resolve().parent / "resources"
        dest = Path(self.build_lib) / "workbench" / "resources"
        for name in RUNTIME_RESOURCES:
            if not (src / name).is_dir():
                raise SystemExit(f"resources/{name} is missing: the wheel would not run")
            shutil.copytree(src / name, dest / name, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildPyWithResources})
