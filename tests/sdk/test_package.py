"""The SDK stands alone: a sorted public surface and no imports from the server packages."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import cronhook
import cronhook.asgi
import cronhook.errors
import cronhook.jobs
import cronhook.models
import cronhook.resources
import cronhook.webhooks

SDK_ROOT = Path(__file__).resolve().parents[2] / "sdk" / "cronhook"
MODULES = [
    cronhook,
    cronhook.asgi,
    cronhook.errors,
    cronhook.jobs,
    cronhook.models,
    cronhook.resources,
    cronhook.webhooks,
]


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


def test_pip_install_sdk_into_a_fresh_venv_gives_a_working_typed_package(tmp_path: Path) -> None:
    # given a virtualenv that has nothing of this repository
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    # when the SDK is installed the way its README says
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            str(SDK_ROOT.parent),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    # then, from outside the checkout, every module imports and the package is typed
    probe = (
        "import pathlib, sys, cronhook, cronhook.asgi, cronhook.resources, cronhook.webhooks\n"
        "root = pathlib.Path(cronhook.__file__).parent\n"
        "assert 'site-packages' in str(root), root\n"
        "assert (root / 'py.typed').exists()\n"
        "c = cronhook.Client('http://127.0.0.1:9', 'chk_x', max_retries=0)\n"
        "assert callable(c.schedules.create)\n"
        "c.close()\n"
        "w = cronhook.Webhook('whsec_' + 'QUJD' * 8)\n"
        "sig = w.sign('fire_1', 1700000000, b'{}')\n"
        "w2 = cronhook.Webhook('whsec_' + 'QUJD' * 8, clock=lambda: 1700000000)\n"
        "hdrs = {'webhook-id': 'fire_1', 'webhook-timestamp': '1700000000', "
        "'webhook-signature': sig}\n"
        "assert w2.verify(b'{}', hdrs).id == 'fire_1'\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('app', 'dispatcher'))\n"
        "assert not bad, bad\n"
        "print(cronhook.__version__)\n"
    )
    result = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == cronhook.__version__
