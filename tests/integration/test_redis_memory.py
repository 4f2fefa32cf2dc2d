"""A Redis that may evict keys is refused at start (or run with a loud error when the
operator allows it), and the memory headroom is a gauge. On a private redis-server
(port 7201) with maxmemory set."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.errors import ConfigError
from app.metrics import SystemMetrics
from app.observe import refresh_gauges
from app.runtime import check_eviction
from app.settings import Settings
from app.store import Store, open_store
from app.store.memory import Memory, check_policy
from tests.e2e.services import RedisServer

PORT = 7201


@pytest.fixture
async def evicting() -> AsyncIterator[Store]:
    """A store on a Redis with maxmemory 64 MB and allkeys-lru."""
    tmp = Path(tempfile.mkdtemp(prefix="cronhook-evict-"))
    server = RedisServer(PORT, tmp, ["--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"])
    await server.start()
    store = open_store(server.url, prefix="mem", shards=4, retention_s=60)
    try:
        yield store
    finally:
        await store.aclose()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


async def test_a_redis_that_may_evict_is_refused(evicting: Store) -> None:
    with pytest.raises(ConfigError, match="maxmemory-policy allkeys-lru"):
        await check_eviction(evicting, Settings(redis_url="redis://x"))


async def test_allowed_eviction_runs_with_an_error_in_the_log(
    evicting: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="cronhook.store"):
        await check_eviction(evicting, Settings(redis_url="redis://x", allow_eviction=True))
    assert "Redis may evict" in caplog.text and "CRONHOOK_ALLOW_EVICTION" in caplog.text


async def test_noeviction_is_accepted_and_read(evicting: Store) -> None:
    await evicting.client.config_set("maxmemory-policy", "noeviction")
    [m] = await check_policy(evicting.client, cluster=False, allow_eviction=False)
    assert (m.policy, m.maxmemory) == ("noeviction", 64 * 1024 * 1024)


async def test_the_headroom_gauge_shows_the_share_of_maxmemory_left(evicting: Store) -> None:
    gauges = SystemMetrics()
    await evicting.client.set("mem:filler", "x" * 8_000_000)
    await refresh_gauges(gauges, evicting, None)
    headroom = gauges.redis_headroom._value.get()
    used = gauges.redis_used._value.get()
    assert 0.0 < headroom < 0.9 and used > 8_000_000
    assert headroom == pytest.approx(1 - used / (64 * 1024 * 1024), abs=0.02)


@pytest.mark.parametrize(
    ("used", "maxmemory", "policy", "headroom", "may_evict"),
    [
        (10, 0, "allkeys-lru", 1.0, False),  # no limit: never evicts
        (25, 100, "noeviction", 0.75, False),
        (25, 100, "volatile-ttl", 0.75, True),
        (150, 100, "noeviction", 0.0, False),
    ],
)
def test_memory_read_from_info(
    used: int, maxmemory: int, policy: str, headroom: float, may_evict: bool
) -> None:
    info = {"used_memory": used, "maxmemory": maxmemory, "maxmemory_policy": policy}
    m = Memory.from_info("r", info)
    assert (m.headroom, m.may_evict) == (headroom, may_evict)
