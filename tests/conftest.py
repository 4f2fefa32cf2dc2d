"""Fixtures shared by the suite.

Real services are reached at CRONHOOK_TEST_REDIS_URL / CRONHOOK_TEST_AMQP_URL (defaults:
the loopback Redis and RabbitMQ). Tests that need them are marked ``external_service``;
they are skipped when the service is down on a developer's machine and FAIL in CI
(``CI=true``): a missing service is never a silent skip there.

Every test gets its own Redis key prefix and its own RabbitMQ queue names and removes
them afterwards, so leftovers never decide a result.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.bus.base import Bus
from app.bus.memory import MemoryBus
from app.bus.rabbitmq import RabbitBus
from app.store import Store, open_store

REDIS_URL = os.environ.get("CRONHOOK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("CRONHOOK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1
        ):
            return True
    except OSError:
        return False


def need_service(name: str, url: str, port: int) -> None:
    if _reachable(url, port):
        return
    message = f"{name} is not reachable at {url}"
    if IN_CI:
        pytest.fail(f"{message} (CI: a missing service is a failure)")
    pytest.skip(message)


@pytest.fixture
def redis_url() -> str:
    need_service("Redis", REDIS_URL, 6379)
    return REDIS_URL


@pytest.fixture
def amqp_url() -> str:
    need_service("RabbitMQ", AMQP_URL, 5672)
    return AMQP_URL


@pytest.fixture
def prefix() -> str:
    return f"cht{uuid.uuid4().hex[:10]}"


@pytest.fixture
def queue_name() -> str:
    return f"cronhook.test.{uuid.uuid4().hex[:10]}"


async def delete_prefix(url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    r = aioredis.Redis.from_url(url)
    try:
        async for key in r.scan_iter(match=f"{prefix}:*", count=1000):
            await r.delete(key)
    finally:
        await r.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.external_service)])
async def store(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[Store]:
    """The store contract runs on the embedded store and on the real Redis."""
    if request.param == "memory":
        s = open_store("", prefix=prefix, shards=4, retention_s=3600)
        yield s
        await s.aclose()
        return
    url: str = request.getfixturevalue("redis_url")
    s = open_store(url, prefix=prefix, shards=4, retention_s=3600, timeout=5)
    try:
        yield s
    finally:
        await s.aclose()
        await delete_prefix(url, prefix)


@pytest.fixture(
    params=[
        "memory",
        pytest.param("rabbitmq", marks=pytest.mark.external_service),
        pytest.param("rabbitmq-public", marks=pytest.mark.external_service),
        pytest.param("rabbitmq-3-queues", marks=pytest.mark.external_service),
    ]
)
async def bus(request: pytest.FixtureRequest, queue_name: str) -> AsyncIterator[Bus]:
    """The bus contract runs on the in-process bus and on the real RabbitMQ: with one work
    queue and with three, on the fast paths (aiormq's internals, where the fence allows)
    and with one queue on aio-pika's public API."""
    if request.param == "memory":
        b: Bus = MemoryBus(delivery_limit=3)
        await b.start()
        yield b
        await b.aclose()
        return
    url: str = request.getfixturevalue("amqp_url")
    fast = False if request.param == "rabbitmq-public" else None
    queues = 3 if request.param == "rabbitmq-3-queues" else 1
    async with started_rabbit(
        url, queue_name, delivery_limit=3, queues=queues, fast_path=fast
    ) as rb:
        assert fast is None or not rb.fast_path
        yield rb


@pytest.fixture(params=[None, False], ids=["fast", "public"])
async def rabbit(
    request: pytest.FixtureRequest, amqp_url: str, queue_name: str
) -> AsyncIterator[RabbitBus]:
    """The real RabbitMQ bus alone (default delivery limit), on this test's own queue: on
    the fast paths where the fence allows them, and on aio-pika's public API."""
    async with started_rabbit(amqp_url, queue_name, fast_path=request.param) as rb:
        yield rb


@contextlib.asynccontextmanager
async def started_rabbit(url: str, queue: str, **options: Any) -> AsyncIterator[RabbitBus]:
    """A started RabbitBus on ``queue``; afterwards its handlers drain and both queues go."""
    rb = RabbitBus(url, queue, **options)
    await rb.start()
    try:
        yield rb
    finally:
        await rb.drain(1)
        await rb.purge_and_delete()
        await rb.aclose()


@pytest.fixture
def free_port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield port


async def eventually(check: object, *, within: float = 10.0, every: float = 0.05) -> None:
    """Poll an async predicate until it is true or time runs out (then fail)."""
    import inspect

    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check() if callable(check) else check
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within}s")
        await asyncio.sleep(every)
