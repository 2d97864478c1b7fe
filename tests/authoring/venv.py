"""A fresh virtual environment with only imagegate (installed from core/ with pip) and its
dependencies, offline: the dependencies (plus pytest and hatchling) are linked in from the
running environment instead of downloaded, so nothing reaches a package index."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]
ROOTS = ("imagegate", "pytest", "hatchling", "editables")
"""What the environment needs besides the package under test: the core's dependencies, a
test runner, and the build backend pip uses with --no-build-isolation."""


@dataclass
class Venv:
    root: Path
    home: Path

    @property
    def bin(self) -> Path:
        return self.root / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> str:
        return str(self.bin / "python")

    def env(self, **extra: str) -> dict[str, str]:
        """A clean environment: none of the developer's IMAGEGATE_* settings or PYTHONPATH."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("IMAGEGATE_", "PYTHON", "VIRTUAL_ENV", "PIP_")) and k != "HF_TOKEN"
        }
        env.update(
            PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
            VIRTUAL_ENV=str(self.root),
            IMAGEGATE_HOME=str(self.home),
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            PIP_NO_INPUT="1",
        )
        env.update(extra)
        return env

    def run(self, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
        """Run a command of the environment (`pip`, `imagegate`, `python`); fails loudly."""
        command = [str(self.bin / args[0]), *args[1:]]
        done = subprocess.run(
            command, cwd=cwd, env=self.env(**env), capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done

    def pip_install(self, *targets: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        """`pip install -e TARGET`, offline: no index, the build backend already here."""
        return self.run("pip", "install", "--no-index", "--no-build-isolation", *targets, cwd=cwd)


def create(where: Path) -> Venv:
    venv = Venv(root=where / "venv", home=where / "home")
    subprocess.run([sys.executable, "-m", "venv", str(venv.root)], check=True, timeout=120)
    site = subprocess.run(
        [venv.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    deps = where / "deps"
    link_distributions(dependency_closure(ROOTS, skip={"imagegate"}), deps)
    Path(site, "_imagegate_test_deps.pth").write_text(f"{deps}\n")
    venv.pip_install("--no-deps", "-e", str(REPO / "core"), cwd=where)
    return venv


def dependency_closure(roots: tuple[str, ...], skip: set[str]) -> list[metadata.Distribution]:
    """The installed distributions `roots` need (markers evaluated, no extras)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        dist = metadata.distribution(name)
        seen[key] = dist
        for line in dist.requires or ():
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return [d for k, d in seen.items() if k not in skip]


def link_distributions(dists: list[metadata.Distribution], target: Path) -> None:
    """Symlink each distribution's top-level modules and metadata into `target`."""
    target.mkdir(parents=True, exist_ok=True)
    for dist in dists:
        base = Path(dist.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in dist.files or () if not str(f).startswith("..")}
        for top in tops:
            source = base / top
            link = target / top
            if source.exists() and not link.exists() and not top.endswith(".pth"):
                link.symlink_to(source)
