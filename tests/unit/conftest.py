"""Fixtures of the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.bus.memory import MemoryBus
from app.settings import Settings
from app.store import open_store
from dispatcher.http.client import WebhookClient
from dispatcher.invoke.invoker import Invoker


@pytest.fixture
async def invoker() -> AsyncIterator[Invoker]:
    """An invoker on the embedded store and bus, not consuming: its parts called directly."""
    store = open_store("", prefix="unit", shards=4, retention_s=3600)
    client = WebhookClient()
    yield Invoker(store, MemoryBus(), client, Settings())
    await client.aclose()
    await store.aclose()
