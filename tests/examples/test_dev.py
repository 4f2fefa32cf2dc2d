"""Every example, run as its documentation says, against a real `cronhook dev` process:
the onboarding script, the curl quickstart, and the Python, Node.js and Go receivers
verifying real deliveries."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

import cronhook
from tests.e2e.procs import Fleet, base_env
from tests.examples.receivers import EXAMPLES, REPO, Command, ReceiverProcess

pytestmark = [pytest.mark.e2e]


@dataclass(frozen=True)
class Dev:
    url: str
    admin_token: str
    demo_key: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def dev() -> Iterator[Dev]:
    port, token = _free_port(), secrets.token_urlsafe(16)
    fleet = Fleet(base_env(CRONHOOK_ADMIN_TOKEN=token, CRONHOOK_LOG_FORMAT="console"))
    proc = fleet.start("dev", "--port", str(port))
    url = f"http://127.0.0.1:{port}"
    try:
        key = None
        for _ in range(300):
            key = re.search(r"API key\s+(chk_\S+)", proc.output())
            with contextlib.suppress(httpx.HTTPError):
                if key and httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            assert proc.popen.poll() is None, proc.output()
            time.sleep(0.1)
        assert key, proc.output()
        yield Dev(url, token, key[1])
    finally:
        proc.kill(signal.SIGTERM)
        try:
            proc.popen.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.popen.wait(5)


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_onboarding_example_runs_as_documented(dev: Dev) -> None:
    env = {"CRONHOOK_URL": dev.url, "CRONHOOK_ADMIN_TOKEN": dev.admin_token, "ONBOARDING_WAIT": "3"}

    result = run([sys.executable, str(EXAMPLES / "onboarding.py")], env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "operator: onboarded 'acme-corp'" in result.stdout
    delivered = re.search(r"(\d+) heartbeat\(s\) delivered", result.stdout)
    assert delivered and int(delivered[1]) >= 1, result.stdout
    assert "succeeded (HTTP 200)" in result.stdout  # the dev echo receiver verified them
    assert "removed my schedules" in result.stdout


def test_the_onboarding_example_needs_the_admin_token(dev: Dev) -> None:
    env = {"CRONHOOK_URL": dev.url, "CRONHOOK_ADMIN_TOKEN": ""}

    result = run([sys.executable, str(EXAMPLES / "onboarding.py")], env)

    assert result.returncode != 0 and "CRONHOOK_ADMIN_TOKEN" in result.stderr


def test_the_curl_quickstart_runs_as_documented(dev: Dev) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    env = {
        "CRONHOOK_URL": dev.url,
        "CRONHOOK_API_KEY": dev.demo_key,  # "export CRONHOOK_API_KEY=... (see cronhook dev)"
        "CRONHOOK_QUICKSTART_WAIT": "3",
    }

    result = run(["bash", str(EXAMPLES / "quickstart.sh")], env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert '"status": "succeeded"' in result.stdout, result.stdout
    assert result.stdout.rstrip().endswith("done")


@pytest.mark.parametrize("language", ["python", "node", "go"])
def test_each_example_receiver_verifies_real_deliveries(
    dev: Dev, language: str, request: pytest.FixtureRequest
) -> None:
    command: Command = request.getfixturevalue(f"{language}_command")
    with cronhook.AdminClient(dev.url, dev.admin_token) as admin:
        tenant = admin.tenants.create(f"receiver-{language}")
    receiver = ReceiverProcess(language, command, secret=tenant.signing_secret)
    try:
        with cronhook.Client(dev.url, tenant.api_key) as client:
            target = cronhook.Target(f"{receiver.url}/hooks/dev", body={"from": "dev"})
            schedule = client.schedules.create("to-receiver", "* * * * * *", target)
            record = _first_verified(receiver)
            client.schedules.delete(schedule.id)
            fire = _eventually_succeeded(client, record["webhook_id"])
    finally:
        receiver.stop()

    assert (record["schedule_id"], record["attempt"]) == (schedule.id, 1)
    assert record["body"] == '{"from":"dev"}'
    assert fire.schedule_id == schedule.id and fire.attempts[0].status_code == 200


def _first_verified(receiver: ReceiverProcess) -> dict[str, Any]:
    record = receiver.next_record()
    assert record["verified"] is True, record
    return record


def _eventually_succeeded(client: cronhook.Client, fire_id: str) -> cronhook.Fire:
    for _ in range(100):
        fire = client.fires.get(fire_id)
        if fire.status == "succeeded":
            return fire
        time.sleep(0.1)
    raise AssertionError(f"{fire_id} did not succeed: {fire}")


def _readme_sdk_blocks() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text.split("## The Python SDK", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


@pytest.mark.parametrize("block", [0, 1], ids=["sync", "async"])
def test_the_readme_sdk_snippets_run_against_cronhook_dev(dev: Dev, block: int) -> None:
    code = _readme_sdk_blocks()[block]
    code = code.replace('"chk_..."', repr(dev.demo_key)).replace("http://127.0.0.1:8080", dev.url)

    result = run([sys.executable, "-c", code], {})

    assert result.returncode == 0, result.stderr
    assert len(_readme_sdk_blocks()) == 2
