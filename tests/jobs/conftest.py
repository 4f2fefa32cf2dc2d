"""Fixtures of the long-job tests: a delivery world (a dispatcher and an invoker on the real
Redis and RabbitMQ), the API in-process over that store (the job's reports go there), and
a loopback receiver whose endpoint answers 202."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from app.api import create_app
from tests.delivery.world import World, world
from tests.jobs.rig import JobRig
from tests.receiver import Receiver

pytestmark = pytest.mark.external_service


@pytest.fixture
async def w(redis_url: str, amqp_url: str, prefix: str, queue_name: str) -> AsyncIterator[World]:
    async with world(redis_url, amqp_url, prefix, queue_name) as running:
        running.start_dispatcher()
        await running.start_invoker()
        yield running


@pytest.fixture
async def rig(w: World) -> AsyncIterator[JobRig]:
    app = create_app(w.store, w.settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        Receiver() as receiver,
        httpx.AsyncClient(transport=transport, base_url="http://api.test") as api,
    ):
        yield JobRig(w, receiver, api)
