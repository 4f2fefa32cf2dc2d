"""The runtime dependencies are exactly what the runtime code imports.

Every third-party import under ``app/`` and ``dispatcher/`` names a distribution of the
``dependencies`` list, and every distribution of that list is imported somewhere; the one
exception is the embedded store's fakeredis, imported only by ``app/store/store.py`` and
declared by the ``dev`` extra. (``tests/e2e/test_install.py`` installs the package into a
fresh virtualenv and imports every module.)"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ("app", "dispatcher")
FIRST_PARTY = {"app", "dispatcher"}
DEV_ONLY_IMPORTS = {"fakeredis": {"app/store/store.py"}}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return _norm(match[0])


def _project() -> dict[str, object]:
    project: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project


def imports_by_module() -> dict[str, set[str]]:
    """Top-level third-party module name -> the files (relative) that import it."""
    found: dict[str, set[str]] = {}
    for package in RUNTIME:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Import):
                    roots = {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    roots = {node.module.split(".")[0]}
                else:
                    continue
                for root in roots - FIRST_PARTY - set(sys.stdlib_module_names):
                    found.setdefault(root, set()).add(str(path.relative_to(ROOT)))
    return found


def _distribution(module: str) -> str:
    dists = importlib.metadata.packages_distributions().get(module)
    assert dists, f"{module} is imported but no installed distribution provides it"
    return _norm(dists[0])


def test_every_runtime_import_is_declared_and_every_declared_package_imported() -> None:
    declared = {_requirement_name(r) for r in _project()["dependencies"]}  # type: ignore[attr-defined]
    imported = {
        _distribution(module) for module in imports_by_module() if module not in DEV_ONLY_IMPORTS
    }
    assert sorted(imported - declared) == [], "imported but not in dependencies"
    assert sorted(declared - imported) == [], "in dependencies but never imported"


def test_dev_only_imports_stay_where_the_dev_extra_is_checked() -> None:
    found = imports_by_module()
    extras = _project()["optional-dependencies"]
    dev = {_requirement_name(r) for r in extras["dev"]}  # type: ignore[index]
    for module, allowed in DEV_ONLY_IMPORTS.items():
        assert found.get(module, set()) <= allowed, (module, found.get(module))
        assert _distribution(module) in dev


def test_test_tools_are_not_runtime_dependencies() -> None:
    declared = {_requirement_name(r) for r in _project()["dependencies"]}  # type: ignore[attr-defined]
    for tool in ("pytest", "httpx", "croniter", "fakeredis", "lupa", "aiohttp", "sniffio"):
        assert tool not in declared, tool
