"""The SDK stands alone: a sorted public surface and no imports from the server packages."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import cronhook
import cronhook.asgi
import cronhook.errors
import cronhook.webhooks

SDK_ROOT = Path(__file__).resolve().parents[2] / "sdk" / "cronhook"
MODULES = [cronhook, cronhook.asgi, cronhook.errors, cronhook.webhooks]


def test_every_public_all_is_sorted_and_resolvable() -> None:
    for module in MODULES:
        assert module.__all__ == sorted(module.__all__), module.__name__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"


def test_sdk_source_never_imports_app_or_dispatcher() -> None:
    for path in SDK_ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not roots & {"app", "dispatcher", "tests", "bench"}, path


def test_importing_the_sdk_loads_no_server_package() -> None:
    probe = (
        "import sys, cronhook, cronhook.asgi, cronhook.webhooks; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('app', 'dispatcher', "
        "'starlette')); print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=True
    )

    assert result.stdout.strip() == ""
