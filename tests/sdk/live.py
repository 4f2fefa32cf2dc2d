"""A live cronhook for the SDK's tests: `cronhook api`, `dispatcher` and `invoker` as OS
processes on the real Redis and RabbitMQ (own key prefix and queue, removed afterwards),
and a webhook receiver built from the SDK's own `WebhookApp`.

`CRONHOOK_TEST_SERVER_ROOT=/path/to/another/checkout` runs the server roles from that
checkout instead (to try the SDK against a branch's server before it is merged).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx
import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config

from cronhook import VerifiedWebhook, Webhook
from cronhook.asgi import HandlerResult, Receive, Scope, Send, WebhookApp
from tests.conftest import AMQP_URL, REDIS_URL, delete_prefix, need_service
from tests.e2e.procs import ROOT, Fleet, Proc, base_env

SERVER_ROOT = os.environ.get("CRONHOOK_TEST_SERVER_ROOT") or str(ROOT)


@dataclass
class LiveServer:
    url: str
    admin_token: str
    fleet: Fleet
    _served: dict[tuple[str, str], bool] = field(default_factory=dict)

    def served(self, method: str, path: str) -> bool:
        """Whether the server has this route: unauthenticated, a route answers 401 (or 200
        when public); a route that is not there answers 404 or 405."""
        if (method, path) not in self._served:
            r = httpx.request(method, self.url + path, timeout=10)
            self._served[method, path] = r.status_code not in (404, 405)
        return self._served[method, path]

    def require(self, operation: str, method: str, path: str) -> None:
        """Skip, naming the operation, when its server side is not merged yet."""
        if not self.served(method, path):
            pytest.skip(f"server side of {operation} ({method} {path}) is not merged yet")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(url: str, fleet: Fleet, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        for proc in fleet.procs:
            if proc.popen.poll() is not None:
                raise AssertionError(f"{proc.role} exited:\n{proc.output()[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(f"{url} not up within {within}s\n{fleet.dump()}")


def _start(fleet: Fleet, role: str) -> None:
    log = fleet.logdir / f"{role}-{len(fleet.procs)}.log"
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "app.cli", role],
            env=fleet.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=SERVER_ROOT,
            start_new_session=True,
        )
    fleet.procs.append(Proc(role, popen, log))


def _stop(fleet: Fleet) -> None:
    for proc in fleet.procs:
        proc.kill(signal.SIGTERM)
    for proc in fleet.procs:
        try:
            proc.popen.wait(15)
        except Exception:
            proc.kill(signal.SIGKILL)
            proc.popen.wait(5)


async def _cleanup(prefix: str, queue: str) -> None:
    import aio_pika

    await delete_prefix(REDIS_URL, prefix)
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for name in (queue, f"{queue}.dlq"):
            await channel.queue_delete(name)


@contextlib.contextmanager
def live_fleet() -> Iterator[LiveServer]:
    """api + dispatcher + invoker on the real services, for one test module."""
    need_service("Redis", REDIS_URL, 6379)
    need_service("RabbitMQ", AMQP_URL, 5672)
    prefix, queue = f"chsdk{uuid.uuid4().hex[:8]}", f"cronhook.sdk.{uuid.uuid4().hex[:8]}"
    port, token = _free_port(), secrets.token_urlsafe(16)
    env = base_env(
        CRONHOOK_REDIS_URL=REDIS_URL,
        CRONHOOK_AMQP_URL=AMQP_URL,
        CRONHOOK_PREFIX=prefix,
        CRONHOOK_QUEUE=queue,
        CRONHOOK_ADMIN_TOKEN=token,
        CRONHOOK_PORT=str(port),
        CRONHOOK_ALLOW_PRIVATE_TARGETS="true",
        CRONHOOK_LEASE_SECONDS="10",
    )
    fleet = Fleet(env)
    try:
        for role in ("api", "dispatcher", "invoker"):
            _start(fleet, role)
        url = f"http://127.0.0.1:{port}"
        _wait_up(f"{url}/healthz", fleet)
        yield LiveServer(url, token, fleet)
    finally:
        _stop(fleet)
        asyncio.run(_cleanup(prefix, queue))


# -- a receiver made of the SDK's WebhookApp ---------------------------------------------------


async def _fail(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 500, "headers": []})
    await send({"type": "http.response.body", "body": b"failing on purpose"})


class VerifyingReceiver:
    """`cronhook.asgi.WebhookApp(Webhook(secret), handler)` under hypercorn on loopback.

    Records every verified delivery. The delivered JSON body steers it: `{"mode": "fail"}`
    answers 500, `{"mode": "slow", "seconds": s}` waits first, anything else answers 204.
    `rejected` counts requests WebhookApp refused (they never reach the handler).
    """

    def __init__(self, secret: str | list[str]) -> None:
        self.events: list[VerifiedWebhook] = []
        self._app = WebhookApp(Webhook(secret), self._handle)
        self._requests = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.url = ""

    async def _handle(self, event: VerifiedWebhook) -> HandlerResult:
        self.events.append(event)
        body: Any = event.json() if event.body else None
        mode = body.get("mode") if isinstance(body, dict) else None
        if mode == "fail":
            return _fail
        if mode == "slow":
            await asyncio.sleep(float(body.get("seconds", 1)))
        return None

    async def _count(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self._requests += 1
        await self._app(scope, receive, send)

    @property
    def rejected(self) -> int:
        return self._requests - len(self.events)

    async def __aenter__(self) -> VerifyingReceiver:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        config = Config()
        config.bind = [f"fd://{listener.detach()}"]
        config.graceful_timeout = 1.0
        self._task = asyncio.create_task(
            serve(self._count, config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]
        )
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                async with httpx.AsyncClient() as probe:
                    await probe.get(self.url, timeout=1)
                    self._requests -= 1  # the probe itself (answered 400: no headers)
                    return self
            await asyncio.sleep(0.05)
        raise AssertionError("receiver did not start")

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 10)

    def hook(self, path: str = "/hook") -> str:
        return self.url + path

    async def wait_for(
        self, count: int, *, fire_id: str | None = None, within: float = 20.0
    ) -> list[VerifiedWebhook]:
        """The verified deliveries (of `fire_id`, if given) once there are `count`."""
        deadline = time.monotonic() + within
        while True:
            got = [e for e in self.events if fire_id is None or e.id == fire_id]
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                ids = [e.id for e in self.events]
                raise AssertionError(f"{len(got)} of {count} deliveries after {within}s: {ids}")
            await asyncio.sleep(0.05)


async def eventually(check: Any, *, within: float = 20.0, every: float = 0.1) -> Any:
    """Await `check()` until it returns something truthy; return it."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s (last: {result!r})")
        await asyncio.sleep(every)
