"""Fixtures of the delivery tests: a world with a dispatcher and one invoker running, and a
hostile loopback receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.delivery.world import World, world
from tests.receiver import Receiver

pytestmark = pytest.mark.external_service


@pytest.fixture
async def w(redis_url: str, amqp_url: str, prefix: str, queue_name: str) -> AsyncIterator[World]:
    async with world(redis_url, amqp_url, prefix, queue_name) as running:
        running.start_dispatcher()
        await running.start_invoker()
        yield running


@pytest.fixture
async def rx() -> AsyncIterator[Receiver]:
    async with Receiver() as receiver:
        yield receiver
