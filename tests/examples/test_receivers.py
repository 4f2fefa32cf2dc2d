"""The example receivers (Python, Node.js, Go) run as real processes on loopback and judge
deliveries signed by the SDK: accepted, rotated, tampered, stale, incomplete, duplicated.

Node needs `node` + `npm` (the fixture runs `npm ci`), Go needs `go` (the fixture builds into a
temporary directory). Locally a missing tool skips that receiver; with CI=true it fails.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cronhook import Webhook

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
IN_CI = os.environ.get("CI") == "true"

SECRET = "whsec_" + base64.b64encode(b"receiver-example-secret-0123456").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"the-previous-secret-before-rota").decode()
STARTUP_SECONDS = 30
LINE_SECONDS = 10
BUILD_SECONDS = 300


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is required in CI to run the example receivers")
        pytest.skip(f"{name} is not installed (with CI=true this is a failure)")
    return path


class ReceiverProcess:
    """A receiver on an ephemeral loopback port; its stdout lines are collected in a queue."""

    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.name = name
        self._lines: queue.Queue[str] = queue.Queue()
        self._proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**os.environ, **env, "CRONHOOK_SIGNING_SECRET": SECRET, "PORT": "0"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        first = self.next_line(STARTUP_SECONDS)
        host, _, port = first.removeprefix("listening ").rpartition(":")
        assert first.startswith("listening ") and host == "127.0.0.1", first
        self.url = f"http://127.0.0.1:{int(port)}"

    def _pump(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line.rstrip("\n"))

    def next_line(self, timeout: float = LINE_SECONDS) -> str:
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            stderr = self._proc.stderr.read() if self._proc.stderr else ""
            raise AssertionError(f"{self.name} printed nothing in {timeout}s; {stderr}") from None

    def next_record(self) -> dict[str, Any]:
        record: dict[str, Any] = json.loads(self.next_line())
        return record

    def drain(self) -> None:
        while not self._lines.empty():
            self._lines.get_nowait()

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()


def run_step(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        argv,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=BUILD_SECONDS,
    )
    assert result.returncode == 0, f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="session")
def python_receiver() -> Iterator[ReceiverProcess]:
    env = {"PYTHONPATH": str(REPO / "sdk")}
    receiver = ReceiverProcess(
        "python", [sys.executable, str(EXAMPLES / "python_receiver.py")], REPO, env
    )
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def node_receiver() -> Iterator[ReceiverProcess]:
    node, npm = require_tool("node"), require_tool("npm")
    run_step([npm, "ci", "--no-audit", "--no-fund"], EXAMPLES / "node")
    receiver = ReceiverProcess("node", [node, "receiver.js"], EXAMPLES / "node", {})
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def go_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReceiverProcess]:
    go = require_tool("go")
    build_dir = tmp_path_factory.mktemp("go-receiver")
    env = {"GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
    if "GOCACHE" not in os.environ and "HOME" not in os.environ:
        env["GOCACHE"] = str(build_dir / "cache")
    binary = build_dir / "receiver"
    run_step([go, "build", "-o", str(binary), "."], EXAMPLES / "go" / "receiver", env)
    receiver = ReceiverProcess("go", [str(binary)], build_dir, {})
    yield receiver
    receiver.stop()


@pytest.fixture(params=["python", "node", "go"])
def receiver(request: pytest.FixtureRequest) -> ReceiverProcess:
    process: ReceiverProcess = request.getfixturevalue(f"{request.param}_receiver")
    process.drain()
    return process


def fire_id() -> str:
    return f"fire_{uuid.uuid4().hex}"


def delivery_headers(
    msg_id: str, body: bytes, *, secrets: tuple[str, ...] = (SECRET,), ts: int | None = None
) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(Webhook(s).sign(msg_id, ts, body) for s in secrets),
        "idempotency-key": msg_id,
        "cronhook-schedule-id": "sch_example",
        "cronhook-scheduled-at": "2026-01-01T00:00:00.000Z",
        "cronhook-attempt": "1",
        "user-agent": "cronhook-tests",
    }


def deliver(receiver: ReceiverProcess, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{receiver.url}/hooks/nightly", content=body, headers=headers, timeout=10)


def test_signed_delivery_is_accepted_and_printed(receiver: ReceiverProcess) -> None:
    msg_id, body = fire_id(), b'{"job": "nightly", "n": 1}'

    response = deliver(receiver, body, delivery_headers(msg_id, body))

    assert response.status_code == 200
    assert response.json() == {"received": msg_id, "duplicate": False}
    record = receiver.next_record()
    assert record["verified"] is True
    assert (record["webhook_id"], record["duplicate"]) == (msg_id, False)
    assert (record["schedule_id"], record["attempt"], record["body"]) == (
        "sch_example",
        1,
        body.decode(),
    )


@pytest.mark.parametrize(
    "secrets", [(OLD_SECRET, SECRET), (SECRET, OLD_SECRET)], ids=["new last", "new first"]
)
def test_rotation_double_signature_is_accepted(
    receiver: ReceiverProcess, secrets: tuple[str, ...]
) -> None:
    msg_id, body = fire_id(), b'{"rotating": true}'

    response = deliver(receiver, body, delivery_headers(msg_id, body, secrets=secrets))

    assert response.status_code == 200
    assert receiver.next_record()["webhook_id"] == msg_id


def test_duplicate_webhook_id_is_accepted_and_flagged(receiver: ReceiverProcess) -> None:
    msg_id, body = fire_id(), b'{"job": "once"}'
    first = deliver(receiver, body, delivery_headers(msg_id, body))
    first_record = receiver.next_record()

    retry = deliver(receiver, body, delivery_headers(msg_id, body))  # a retry: new timestamp

    assert (first.status_code, first_record["duplicate"]) == (200, False)
    assert retry.status_code == 200
    assert retry.json() == {"received": msg_id, "duplicate": True}
    record = receiver.next_record()
    assert (record["webhook_id"], record["duplicate"]) == (msg_id, True)


@pytest.mark.parametrize(
    ("sent_body", "secrets"),
    [
        pytest.param(b'{"amount": 1000}', (SECRET,), id="tampered body"),
        pytest.param(b'{"amount": 1}', (OLD_SECRET,), id="wrong secret"),
    ],
)
def test_bad_signature_is_rejected_with_401(
    receiver: ReceiverProcess, sent_body: bytes, secrets: tuple[str, ...]
) -> None:
    msg_id, signed_body = fire_id(), b'{"amount": 1}'
    headers = delivery_headers(msg_id, signed_body, secrets=secrets)

    response = deliver(receiver, sent_body, headers)

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["header"] == "webhook-signature"
    assert receiver.next_record()["verified"] is False


def test_stale_delivery_is_rejected_with_401(receiver: ReceiverProcess) -> None:
    msg_id, body = fire_id(), b"{}"
    headers = delivery_headers(msg_id, body, ts=int(time.time()) - 3600)

    response = deliver(receiver, body, headers)

    assert response.status_code == 401
    assert response.json()["header"] == "webhook-timestamp"
    assert receiver.next_record()["verified"] is False


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_rejected_with_400_naming_it(
    receiver: ReceiverProcess, missing: str
) -> None:
    body = b"{}"
    headers = delivery_headers(fire_id(), body)
    del headers[missing]

    response = deliver(receiver, body, headers)

    assert response.status_code == 400
    assert response.json()["header"] == missing
    assert receiver.next_record()["verified"] is False
