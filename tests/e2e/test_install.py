"""`pip install .` in a fresh virtualenv: a working server and nothing of the tests or dev.

The package is built from a copy of the files it is made of (so the build leaves nothing
in the checkout), installed the way docs/deployment.md says, and then asked to run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from app.version import __version__

pytestmark = [pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_FILES = ["pyproject.toml", "README.md", "LICENSE", "openapi.yaml"]
PACKAGES = ["app", "dispatcher"]


def _name(requirement: str) -> str:
    """The normalized distribution name of a requirement string (PEP 503)."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip())
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match[0]).lower()


def extras_only() -> set[str]:
    """Every distribution named by the `test` or `dev` extra and not by the runtime list."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {_name(r) for r in project["dependencies"]}
    extras = {_name(r) for reqs in project["optional-dependencies"].values() for r in reqs}
    return extras - runtime - {_name(project["name"])}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with `pip install <a copy of the checkout>`; its bin directory."""
    tmp = tmp_path_factory.mktemp("install")
    source = tmp / "src"
    source.mkdir()
    for name in PACKAGE_FILES:
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PACKAGES:
        shutil.copytree(ROOT / name, source / name, ignore=ignore)  # symlinks followed
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    install = subprocess.run(
        [*pip, "install", "-q", str(source)], capture_output=True, text=True, timeout=900
    )
    assert install.returncode == 0, install.stdout + install.stderr
    return venv / "bin"


def test_a_plain_install_pulls_no_test_or_dev_package(installed: Path) -> None:
    listing = subprocess.run(
        [str(installed / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    names = {_name(p["name"]) for p in json.loads(listing.stdout)}
    forbidden = extras_only()
    assert {"pytest", "fakeredis", "lupa", "httpx", "croniter", "aiohttp"} <= forbidden
    assert "cronhook-server" in names
    assert not names & forbidden, sorted(names & forbidden)


def test_every_runtime_module_imports_from_a_plain_install(installed: Path, tmp_path: Path) -> None:
    probe = (
        "import importlib, pkgutil, app, dispatcher\n"
        "mods = [m.name for p in (app, dispatcher)"
        " for m in pkgutil.walk_packages(p.__path__, p.__name__ + '.')]\n"
        "for name in mods: importlib.import_module(name)\n"
        "assert 'site-packages' in app.__file__, app.__file__\n"
        "import importlib.metadata as md\n"
        "print(len(mods), md.version('cronhook-server'))\n"
    )
    run = subprocess.run(
        [str(installed / "python"), "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # not the checkout: its packages must not shadow the installed ones
    )
    assert run.returncode == 0, run.stderr
    count, version = run.stdout.split()
    assert int(count) > 50
    assert version == __version__


def test_the_command_reports_its_version_and_dev_names_the_missing_extra(
    installed: Path, tmp_path: Path
) -> None:
    cronhook = str(installed / "cronhook")
    version = subprocess.run(
        [cronhook, "--version"], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert version.stdout.strip() == f"cronhook {__version__}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRONHOOK_")}
    dev = subprocess.run(
        [cronhook, "dev", "--port", "9"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=env,
    )
    assert dev.returncode == 2, dev.stdout + dev.stderr
    assert "pip install 'cronhook-server[dev]'" in dev.stderr
    assert "CRONHOOK_REDIS_URL" in dev.stderr
