"""examples/quickstart.sh against a stand-in for `cronhook dev` on loopback: it sends the
documented request shapes with the API key, lists the fires, cleans up, and fails loudly on
an API error. With and without jq."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "quickstart.sh"
API_KEY = "chk_test_quickstart"
IN_CI = os.environ.get("CI") == "true"


@dataclass
class FakeAPI:
    url: str = ""
    requests: list[tuple[str, str, str | None, Any]] = field(default_factory=list)


def make_handler(api: FakeAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any = None, ctype: str = "application/json") -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            if body is not None:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            payload = json.loads(raw) if raw else None
            api.requests.append(
                (self.command, self.path, self.headers.get("Authorization"), payload)
            )
            if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                problem = {"type": "about:blank", "status": 401, "title": "Unauthorized"}
                self._answer(401, problem, "application/problem+json")
            elif (self.command, self.path) == ("POST", "/v1/schedules"):
                self._answer(201, {"id": "sch_q1", "next_fire_at": "2026-01-01T00:00:02.000Z"})
            elif (self.command, self.path) == ("GET", "/v1/schedules/sch_q1/fires"):
                fire = {"id": "fire_q1", "schedule_id": "sch_q1", "status": "succeeded"}
                self._answer(200, {"items": [fire], "next_cursor": None})
            elif (self.command, self.path) == ("DELETE", "/v1/schedules/sch_q1"):
                self._answer(204)
            else:
                self._answer(404, {"status": 404}, "application/problem+json")

        do_GET = do_POST = do_DELETE = _handle

    return Handler


@pytest.fixture
def fake_api() -> Iterator[FakeAPI]:
    api = FakeAPI()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(api))
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield api
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if IN_CI:
            pytest.fail(f"{name} is required in CI")
        pytest.skip(f"{name} is not installed")
    return path


def run_quickstart(
    api: FakeAPI, *, key: str = API_KEY, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": path or os.environ.get("PATH", ""),
        "CRONHOOK_URL": api.url,
        "CRONHOOK_API_KEY": key,
        "CRONHOOK_QUICKSTART_WAIT": "0",
    }
    return subprocess.run(
        [tool("bash"), str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )


def path_without_jq(tmp_path: Path) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("curl", "date", "sleep", "cat"):
        (bin_dir / name).symlink_to(tool(name))
    # the real interpreter, not a shim script: `python3 -m json.tool` needs only the stdlib
    (bin_dir / "python3").symlink_to(Path(sys.executable).resolve())
    return str(bin_dir)


@pytest.mark.parametrize("with_jq", [True, False], ids=["jq", "python json.tool"])
def test_quickstart_creates_lists_and_deletes(
    fake_api: FakeAPI, tmp_path: Path, with_jq: bool
) -> None:
    path = None
    if with_jq:
        tool("jq")
    else:
        path = path_without_jq(tmp_path)

    result = run_quickstart(fake_api, path=path)

    assert result.returncode == 0, result.stderr
    assert '"fire_q1"' in result.stdout
    assert [(m, p) for m, p, _, _ in fake_api.requests] == [
        ("POST", "/v1/schedules"),
        ("GET", "/v1/schedules/sch_q1/fires"),
        ("DELETE", "/v1/schedules/sch_q1"),
    ]
    assert {auth for _, _, auth, _ in fake_api.requests} == {f"Bearer {API_KEY}"}
    created = fake_api.requests[0][3]
    assert created["cron"] == "*/2 * * * * *"
    assert created["timezone"] == "UTC"
    assert created["name"].startswith("quickstart-")
    assert created["target"] == {
        "url": f"{fake_api.url}/_echo/quickstart",
        "method": "POST",
        "headers": {},
        "body": {"hello": "from the cronhook quickstart"},
    }


def test_quickstart_stops_at_an_api_error_and_shows_it(fake_api: FakeAPI) -> None:
    result = run_quickstart(fake_api, key="wrong")

    assert result.returncode != 0
    assert "Unauthorized" in result.stdout + result.stderr
    assert len(fake_api.requests) == 1


def test_quickstart_requires_an_api_key(fake_api: FakeAPI) -> None:
    result = run_quickstart(fake_api, key="")

    assert result.returncode != 0
    assert "CRONHOOK_API_KEY" in result.stderr
    assert fake_api.requests == []
