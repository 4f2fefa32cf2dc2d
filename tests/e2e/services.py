"""Private Redis servers for process tests: one with AOF that a test may SIGKILL and start
again, and a three-master Redis Cluster. Loopback only, in temporary directories, stopped
and removed by their context managers."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tests.conftest import IN_CI


def redis_server_or_skip() -> str:
    path = shutil.which("redis-server")
    if path is None or shutil.which("redis-cli") is None:
        message = "redis-server and redis-cli are needed (scripts/services installs them)"
        if IN_CI:
            pytest.fail(f"{message} (CI: a missing service is a failure)")
        pytest.skip(message)
    return path


def free_ports(count: int, *, cluster_bus: bool = False) -> list[int]:
    """Free loopback ports; with ``cluster_bus`` each port + 10000 is free too."""
    found: list[int] = []
    while len(found) < count:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port in found or (cluster_bus and (port + 10000 > 65535 or not _free(port + 10000))):
            continue
        found.append(port)
    return found


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class RedisServer:
    """One redis-server on a loopback port; ``kill`` and ``start`` again keep its data dir."""

    port: int
    dir: Path
    args: list[str]
    proc: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.dir / "redis.log"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        self.spawn()
        await self.wait_ready()

    def spawn(self) -> None:
        cmd = [
            redis_server_or_skip(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.dir),
            "--logfile", str(self.log),
            "--save", "",
            *self.args,
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)

    async def wait_ready(self, within: float = 20.0) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            r = aioredis.Redis(port=self.port, socket_timeout=1)
            try:
                if await r.ping():
                    return
            except Exception:  # loading, or not listening yet: poll again
                pass
            finally:
                await r.aclose()
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"redis-server exited: {self.log.read_text()[-2000:]}")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"redis-server on {self.port} not ready within {within}s")
            await asyncio.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.asynccontextmanager
async def aof_redis() -> AsyncIterator[RedisServer]:
    """A Redis that fsyncs every write to its append-only file before answering."""
    tmp = Path(tempfile.mkdtemp(prefix="cronhook-aof-"))
    [port] = free_ports(1)
    server = RedisServer(port, tmp, ["--appendonly", "yes", "--appendfsync", "always"])
    try:
        await server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.asynccontextmanager
async def redis_cluster(
    masters: int = 3,
    *,
    replicas: int = 0,
    ports: list[int] | None = None,
    node_timeout_ms: int = 5000,
    extra: tuple[str, ...] = (),
) -> AsyncIterator[list[RedisServer]]:
    """``masters`` cluster-enabled servers, each with ``replicas`` replicas, joined with
    ``redis-cli --cluster create`` (on ``ports`` when given, else free ones)."""
    tmp = Path(tempfile.mkdtemp(prefix="cronhook-cluster-"))
    servers: list[RedisServer] = []
    count = masters * (1 + replicas)
    try:
        for port in ports or free_ports(count, cluster_bus=True):
            node_dir = tmp / str(port)
            node_dir.mkdir()
            args = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--appendonly", "no", "--cluster-node-timeout", str(node_timeout_ms),
                    *extra]  # fmt: skip
            server = RedisServer(port, node_dir, args)
            servers.append(server)
            await server.start()
        addresses = [f"127.0.0.1:{s.port}" for s in servers]
        create = await asyncio.create_subprocess_exec(
            "redis-cli", "--cluster", "create", *addresses,
            "--cluster-replicas", str(replicas), "--cluster-yes",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        out, _ = await asyncio.wait_for(create.communicate(), 60)
        assert create.returncode == 0, out.decode(errors="replace")
        await _cluster_ok(servers)
        if replicas:
            await _replicas_synced(servers)
        yield servers
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


async def _replicas_synced(servers: list[RedisServer], within: float = 30.0) -> None:
    """Every replica linked to its master (a replica that never synced cannot take over)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        pending = 0
        for s in servers:
            r = aioredis.Redis(port=s.port, decode_responses=True)
            try:
                info = await r.info("replication")
            finally:
                await r.aclose()
            if info.get("role") == "slave" and info.get("master_link_status") != "up":
                pending += 1
        if not pending:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{pending} replicas not in sync with their masters")
        await asyncio.sleep(0.2)


async def _cluster_ok(servers: list[RedisServer], within: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        states = []
        for s in servers:
            r = aioredis.Redis(port=s.port, decode_responses=True)
            try:
                info = await r.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
            finally:
                await r.aclose()
            text = info if isinstance(info, str) else info.decode()
            states.append("cluster_state:ok" in text)
        if all(states):
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the cluster did not reach cluster_state:ok")
        await asyncio.sleep(0.2)
