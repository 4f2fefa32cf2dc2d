"""Session fixtures: the command that starts each example receiver, built once (`npm ci` for
Node, `go build` into a temporary directory for Go). A missing toolchain skips locally and
fails in CI."""

from __future__ import annotations

import os
import sys

import pytest

from tests.examples.receivers import EXAMPLES, REPO, Command, require_tool, run_step


@pytest.fixture(scope="session")
def python_command() -> Command:
    argv = [sys.executable, str(EXAMPLES / "python_receiver.py")]
    return argv, REPO, {"PYTHONPATH": str(REPO / "sdk")}


@pytest.fixture(scope="session")
def node_command() -> Command:
    node, npm = require_tool("node"), require_tool("npm")
    run_step([npm, "ci", "--no-audit", "--no-fund"], EXAMPLES / "node")
    return [node, "receiver.js"], EXAMPLES / "node", {}


@pytest.fixture(scope="session")
def go_command(tmp_path_factory: pytest.TempPathFactory) -> Command:
    go = require_tool("go")
    build_dir = tmp_path_factory.mktemp("go-receiver")
    env = {"GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod"}
    if "GOCACHE" not in os.environ and "HOME" not in os.environ:
        env["GOCACHE"] = str(build_dir / "cache")
    binary = build_dir / "receiver"
    run_step([go, "build", "-o", str(binary), "."], EXAMPLES / "go" / "receiver", env)
    return [str(binary)], build_dir, {}
