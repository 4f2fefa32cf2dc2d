"""A three-node RabbitMQ cluster on loopback for tests: nodes ``chc<i>@localhost`` on AMQP
ports 5701-5703 and distribution ports 25701-25703, each with its own configuration,
environment file, data and log folders and an Erlang cookie of their own (HOME) in a
temporary folder, so the machine's own node (``rabbit@localhost`` on 5672) and its cookie
are never involved. No plugin is enabled. A node is started as a process group of its own:
``kill`` is SIGKILL to the group, ``start`` again keeps its data, so it rejoins."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import IN_CI

BIN = Path("/usr/lib/rabbitmq/bin")  # the scripts themselves, not Debian's su wrappers
AMQP_PORTS = (5701, 5702, 5703)
DIST_PORTS = (25701, 25702, 25703)
COOKIE = "CRONHOOKCLUSTERTESTS"
START_S = 120.0


def need_rabbitmq() -> None:
    if not (BIN / "rabbitmq-server").exists() or shutil.which("erl") is None:
        message = "rabbitmq-server is not installed (scripts/services installs it)"
        if IN_CI:
            pytest.fail(f"{message} (CI: a missing service is a failure)")
        pytest.skip(message)
    busy = [p for p in AMQP_PORTS + DIST_PORTS if not _port_free(p)]
    if busy:
        pytest.fail(f"ports of the test cluster are taken: {busy}")


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@dataclass
class Node:
    index: int
    home: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def name(self) -> str:
        return f"chc{self.index + 1}@localhost"

    @property
    def port(self) -> int:
        return AMQP_PORTS[self.index]

    @property
    def dir(self) -> Path:
        return self.home / f"n{self.index + 1}"

    def env(self) -> dict[str, str]:
        d = self.dir
        return {
            **os.environ,
            "HOME": str(self.home),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_CONF_ENV_FILE": str(d / "env.conf"),
            "RABBITMQ_CONFIG_FILE": str(d / "rabbitmq.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(d / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(d / "enabled_plugins"),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_DIST_PORT": str(DIST_PORTS[self.index]),
            "RABBITMQ_MNESIA_BASE": str(d / "mnesia"),
            "RABBITMQ_LOG_BASE": str(d / "log"),
            "RABBITMQ_PID_FILE": str(d / "pid"),
        }

    def configure(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "env.conf").write_text(f"NODENAME={self.name}\n")
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
            "cluster_partition_handling = pause_minority\n"
        )
        (self.dir / "advanced.config").write_text("[].\n")
        (self.dir / "enabled_plugins").write_text("[].\n")

    def start(self) -> None:
        out = (self.dir / "out.log").open("ab")
        self.proc = subprocess.Popen(
            [str(BIN / "rabbitmq-server")],
            env=self.env(),
            cwd=self.dir,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()

    def kill(self) -> None:
        """SIGKILL to the node and everything it started."""
        if self.proc is not None:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
            self.proc = None

    async def ready(self, within: float = START_S) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not await self.answers():
            if loop.time() > deadline:
                raise AssertionError(f"{self.name} did not open {self.port} within {within}s")
            await asyncio.sleep(0.5)

    async def answers(self) -> bool:
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        w.close()
        return True

    async def ctl(self, *args: str, within: float = 60) -> str:
        proc = await asyncio.create_subprocess_exec(
            str(BIN / "rabbitmqctl"),
            "-n",
            self.name,
            *args,
            env=self.env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), within)
        if proc.returncode != 0:
            raise AssertionError(f"rabbitmqctl {' '.join(args)} on {self.name}: {out.decode()}")
        return out.decode()


@dataclass
class RabbitCluster:
    nodes: list[Node]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)
        return f"amqp://guest:guest@{hosts}/"

    def url_from(self, first: int) -> str:
        """The same nodes, listed from node ``first`` on (where a client connects first)."""
        order = self.nodes[first:] + self.nodes[:first]
        hosts = ",".join(f"127.0.0.1:{n.port}" for n in order)
        return f"amqp://guest:guest@{hosts}/"


@asynccontextmanager
async def rabbit_cluster() -> AsyncIterator[RabbitCluster]:
    """Three nodes started together, the second and third joined to the first."""
    need_rabbitmq()
    home = Path(tempfile.mkdtemp(prefix="cronhook-rabbit-"))
    cookie = home / ".erlang.cookie"
    cookie.write_text(COOKIE)
    cookie.chmod(0o400)
    nodes = [Node(i, home) for i in range(3)]
    try:
        for n in nodes:
            n.configure()
            n.start()
        await asyncio.gather(*(n.ready() for n in nodes))
        for n in nodes[1:]:
            await n.ctl("stop_app")
            await n.ctl("join_cluster", nodes[0].name)
            await n.ctl("start_app")
        yield RabbitCluster(nodes)
    finally:
        for n in nodes:
            n.kill()
        shutil.rmtree(home, ignore_errors=True)
