"""Fixtures of the webhook client's tests (test_http_client.py, test_http_keepalive.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from dispatcher.http.client import WebhookClient
from tests.receiver import Receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """The scriptable loopback receiver (tests/receiver.py)."""
    async with Receiver() as r:
        yield r


@pytest.fixture
async def client() -> AsyncIterator[WebhookClient]:
    c = WebhookClient()
    yield c
    await c.aclose()
