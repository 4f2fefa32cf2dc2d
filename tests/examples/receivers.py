"""The example receivers as processes: how to build and start each, and a handle that reads
the JSON lines they print. Shared by the receiver tests and the `cronhook dev` tests."""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

Command = tuple[list[str], Path, dict[str, str]]
"""argv, working directory, extra environment"""

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

    def __init__(
        self,
        name: str,
        command: Command,
        *,
        secret: str = SECRET,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        argv, cwd, command_env = command
        self._lines: queue.Queue[str] = queue.Queue()
        self._proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env={
                **os.environ,
                **command_env,
                **(env or {}),
                "CRONHOOK_SIGNING_SECRET": secret,
                "PORT": "0",
            },
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
