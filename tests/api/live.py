"""A live ``cronhook api`` process on the real Redis and RabbitMQ, seeded with two tenants
and a few resources, for tests that speak HTTP to a real server (schemathesis, SSE)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.conftest import AMQP_URL, REDIS_URL, delete_prefix, need_service
from tests.e2e.procs import Fleet, base_env

REPORTS: list[str] = []  # lines for the end of the pytest run (see tests/api/conftest.py)
UNLIMITED = {"api_rate_limit": {"per_second": 100000, "burst": 1000000}}


@dataclass
class Live:
    base: str
    admin_token: str
    fleet: Fleet
    key: str = ""
    prefix: str = ""
    ids: dict[str, list[str]] = field(default_factory=dict)

    def auth_for(self, path: str) -> dict[str, str]:
        if path.startswith(("/v1/tenants", "/v1/admin")):
            return {"Authorization": f"Bearer {self.admin_token}"}
        if path.startswith("/v1/"):
            return {"Authorization": f"Bearer {self.key}"}
        return {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait(url: str, fleet: Fleet, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        for p in fleet.procs:
            if p.popen.poll() is not None:
                raise AssertionError(f"{p.role} exited:\n{p.output()[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(f"{url} not up within {within}s")


def _seed(c: httpx.Client, live: Live) -> None:
    admin = {"Authorization": f"Bearer {live.admin_token}"}

    def ok(r: httpx.Response) -> dict[str, Any]:
        assert r.status_code < 300, r.text
        body: dict[str, Any] = r.json()
        return body

    main = ok(c.post("/v1/tenants", json={"name": "main", "limits": UNLIMITED}, headers=admin))
    spare = ok(c.post("/v1/tenants", json={"name": "spare"}, headers=admin))
    extra = ok(c.post(f"/v1/tenants/{spare['id']}/api-keys", json={}, headers=admin))
    live.key = main["api_key"]
    auth = {"Authorization": f"Bearer {live.key}"}
    target = {"url": "http://127.0.0.1:9/hook", "body": {"hello": "world"}}
    sids = [
        ok(
            c.post(
                "/v1/schedules",
                json={"name": f"s{i}", "cron": "0 * * * *", "target": target},
                headers=auth,
            )
        )["id"]
        for i in range(3)
    ]
    fires = [ok(c.post(f"/v1/schedules/{sids[0]}/trigger", headers=auth))["id"]]
    fires.append(
        ok(c.post("/v1/messages", json={"target": target, "delay_seconds": 3600}, headers=auth))[
            "id"
        ]
    )
    live.ids = {
        "tenant_id": [spare["id"]],
        "key_id": [extra["id"]],
        "schedule_id": sids,
        "fire_id": fires,
    }


@contextlib.contextmanager
def live_api(**settings: str) -> Iterator[Live]:
    """Start ``cronhook api`` (and whatever roles the caller starts on ``live.fleet``)."""
    need_service("Redis", REDIS_URL, 6379)
    need_service("RabbitMQ", AMQP_URL, 5672)
    prefix, queue = f"cht{uuid.uuid4().hex[:10]}", f"cronhook.test.{uuid.uuid4().hex[:10]}"
    port = _free_port()
    env = base_env(
        CRONHOOK_REDIS_URL=REDIS_URL,
        CRONHOOK_AMQP_URL=AMQP_URL,
        CRONHOOK_PREFIX=prefix,
        CRONHOOK_QUEUE=queue,
        CRONHOOK_ADMIN_TOKEN=secrets.token_urlsafe(16),
        CRONHOOK_PORT=str(port),
        CRONHOOK_ALLOW_PRIVATE_TARGETS="true",
        CRONHOOK_LOG_LEVEL="WARNING",
        **settings,
    )
    fleet = Fleet(env)
    live = Live(f"http://127.0.0.1:{port}", env["CRONHOOK_ADMIN_TOKEN"], fleet, prefix=prefix)
    try:
        fleet.start("api")
        _wait(f"{live.base}/healthz", fleet)
        with httpx.Client(base_url=live.base, timeout=10) as c:
            _seed(c, live)
        yield live
    finally:
        for p in fleet.procs:
            p.kill(signal.SIGTERM)
        for p in fleet.procs:
            try:
                p.popen.wait(15)
            except Exception:
                p.kill()
        # a thread of its own, so this also works inside a running event loop
        cleaner = threading.Thread(target=asyncio.run, args=(_cleanup(prefix, queue),))
        cleaner.start()
        cleaner.join(30)


async def _cleanup(prefix: str, queue: str) -> None:
    await delete_prefix(REDIS_URL, prefix)
    await delete_queues(queue)


async def delete_queues(queue: str) -> None:
    import aio_pika

    conn = await aio_pika.connect(AMQP_URL)
    async with conn:
        ch = await conn.channel()
        for name in (queue, f"{queue}.dlq"):
            await ch.queue_delete(name)
