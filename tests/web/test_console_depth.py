"""The console shows real depth: a dispatcher and an invoker in process fail fires for good
(each tenant's dead letters) and dead-letter a poison message (the queue's dead letters);
then a dispatcher alone publishes due fires nobody consumes (the queue's depth) while
schedules and a delayed message wait in the time index. The fleet page (whole and its
live part) and the tenant list show exactly those numbers, on both stores and on the
in-process bus and the real RabbitMQ."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.api import create_app
from app.bus.base import Bus
from app.bus.memory import MemoryBus
from app.bus.rabbitmq import RabbitBus
from app.errors import BusUnavailable
from app.settings import Settings
from app.store import Store
from dispatcher.dispatch.dispatcher import Dispatcher
from dispatcher.http.client import WebhookClient
from dispatcher.invoke.invoker import Invoker
from tests.conftest import AMQP_URL, eventually, started_rabbit
from tests.web.conftest import ADMIN, ADMIN_TOKEN, Browser, Tenant, onboard

CLOSED = "http://127.0.0.1:9/closed"  # nothing listens: every attempt fails
WORKERS = Settings(allow_private_targets=True, poll_seconds=0.02)


@pytest.fixture(params=["memory", pytest.param("rabbitmq", marks=pytest.mark.external_service)])
async def work_bus(request: pytest.FixtureRequest, queue_name: str) -> AsyncIterator[Bus]:
    if request.param == "memory":
        memory = MemoryBus()
        yield memory
        await memory.aclose()
        return
    url: str = request.getfixturevalue("amqp_url")
    async with started_rabbit(url, queue_name) as rabbit:
        yield rabbit


async def _poison(bus: Bus) -> None:
    """A body no invoker can read: the bus dead-letters it."""
    if isinstance(bus, MemoryBus):
        bus.put_raw(b"not a fire message")
        return
    import aio_pika

    assert isinstance(bus, RabbitBus)
    async with await aio_pika.connect(AMQP_URL) as conn:
        channel = await conn.channel()
        message = aio_pika.Message(b"not a fire message")
        await channel.default_exchange.publish(message, routing_key=bus.queue_names[0])


async def _messages(api: httpx.AsyncClient, t: Tenant, count: int, **extra: Any) -> list[str]:
    body = {"target": {"url": CLOSED}, "retry": {"max_attempts": 1}, **extra}
    ids = []
    for _ in range(count):
        r = await api.post("/v1/messages", json=body, headers=t.auth)
        assert r.status_code == 202, r.text
        ids.append(r.json()["id"])
    return ids


async def _running(store: Store, bus: Bus, *, invoker: bool) -> tuple[asyncio.Event, Any]:
    stop, client = asyncio.Event(), WebhookClient()
    if invoker:
        await Invoker(store, bus, client, WORKERS).start()
    dispatcher = Dispatcher(store, bus, WORKERS)

    async def run() -> None:
        try:
            await dispatcher.run(stop)
        finally:
            await bus.drain(2)
            await client.aclose()

    return stop, asyncio.create_task(run())


async def _failed(api: httpx.AsyncClient, t: Tenant, fire: str) -> bool:
    return bool((await api.get(f"/v1/fires/{fire}", headers=t.auth)).json()["status"] == "failed")


def _dd(html: str, label: str) -> int:
    found = re.search(rf"<dt>{label}</dt><dd[^>]*>(\d+)</dd>", html)
    assert found is not None, f"no {label} on the page"
    return int(found.group(1))


def _dead_letters_of(html: str, tenant_id: str) -> int:
    rows = [r for r in re.findall(r"<tr>(.*?)</tr>", html, re.S) if tenant_id in r]
    assert len(rows) == 1, f"{tenant_id} is not listed once"
    found = re.search(r'data-label="Dead letters">(\d+)<', rows[0])
    assert found is not None
    return int(found.group(1))


async def test_the_console_shows_queue_and_time_index_depth_and_dead_letters(
    store: Store, work_bus: Bus
) -> None:
    settings = Settings(admin_token=ADMIN_TOKEN, allow_private_targets=True)
    app = create_app(store, settings, bus=work_bus)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://api") as api,
        httpx.AsyncClient(transport=transport, base_url="http://api") as console,
    ):
        a, b, c = [await onboard(api, name) for name in ("a", "b", "c")]
        # fires fail for good: two of a's, one of b's; and a poison message
        stop, task = await _running(store, work_bus, invoker=True)
        failing = [(a, f) for f in await _messages(api, a, 2)]
        failing += [(b, f) for f in await _messages(api, b, 1)]
        await _poison(work_bus)
        for t, fire in failing:
            await eventually(lambda t=t, fire=fire: _failed(api, t, fire), within=15)
        await eventually(lambda: _equals(work_bus.dead_letter_depth(), 1), within=10)
        stop.set()
        await task
        # a dispatcher alone: three due fires of c published, nobody consumes them
        stop, task = await _running(store, work_bus, invoker=False)
        await _messages(api, c, 3)
        await eventually(lambda: _equals(work_bus.depth(), 3), within=10)
        stop.set()
        await task
        # four items wait in the time index: three schedules and a delayed message
        for n in range(3):
            body = {"name": f"s{n}", "cron": "0 0 1 1 *", "target": {"url": CLOSED}}
            assert (await api.post("/v1/schedules", json=body, headers=c.auth)).status_code == 201
        await _messages(api, c, 1, delay_seconds=3600)

        page = Browser(console)
        link = (await api.post("/v1/admin/console-links", headers=ADMIN)).json()["url"]
        assert (await page.open(link)).status_code == 303
        fleet = (await page.get("/console/fleet")).text
        part = (await page.get("/console/fleet?partial=1")).text
        tenants = (await page.get("/console")).text
        summary = (await api.get("/v1/admin/fleet", headers=ADMIN)).json()["summary"]

    for html in (fleet, part):
        assert _dd(html, "Time index depth") == 4
        assert _dd(html, "Queue depth") == 3
        assert _dd(html, "Queue dead letters") == 1
    assert summary["time_index_depth"] == 4
    assert [_dead_letters_of(tenants, t.id) for t in (a, b, c)] == [2, 1, 0]


async def _equals(depth: Any, want: int) -> bool:
    return bool(await depth == want)


async def test_the_fleet_page_says_the_queue_is_unreachable_instead_of_failing(
    store: Store,
) -> None:
    down = RabbitBus("amqp://guest:guest@127.0.0.1:9/", "cronhook.test.down")
    with pytest.raises(BusUnavailable):
        await down.start()  # nothing listens there: the broker is down
    settings = Settings(admin_token=ADMIN_TOKEN, allow_private_targets=True)
    app = create_app(store, settings, bus=down)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
        t = await onboard(api, "a")
        body = {"name": "s", "cron": "0 0 1 1 *", "target": {"url": CLOSED}}
        assert (await api.post("/v1/schedules", json=body, headers=t.auth)).status_code == 201
        page = Browser(api)
        link = (await api.post("/v1/admin/console-links", headers=ADMIN)).json()["url"]
        assert (await page.open(link)).status_code == 303
        answers = [await page.get("/console/fleet"), await page.get("/console/fleet?partial=1")]

    for r in answers:
        assert r.status_code == 200, r.text
        assert _dd(r.text, "Time index depth") == 1
        assert "<dt>Queue depth</dt><dd>unreachable</dd>" in r.text
        assert "<dt>Queue dead letters</dt><dd>unreachable</dd>" in r.text
