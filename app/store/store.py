"""Opening a store: a Redis URL, a ready client, or the embedded in-process Redis."""

from __future__ import annotations

import importlib.util
from functools import partial
from typing import Any

import redis.asyncio as aioredis

from app.errors import ConfigError, StoreUnavailable
from app.keys import Keys
from app.secretbox import Keyring
from app.store import sentinel
from app.store.errors import DRIVER_ERRORS, wrapped
from app.store.fanout import FanoutLog
from app.store.fires import FireLog
from app.store.guards import Guards
from app.store.jobs import JobLog
from app.store.nodes import NodeRegistry
from app.store.outbox import Outbox
from app.store.records import Records
from app.store.scripts import Scripts
from app.store.skips import SkipLog
from app.store.timeindex import TimeIndex
from app.store.websessions import WebSessions


class Store:
    """Facade over one Redis client: ``time`` (the time index), ``fires``, ``jobs`` (long
    jobs' attempts), ``fanout`` (fan-out parents and their shards), ``records``, ``nodes``
    (the fleet registry), ``web`` (sign-in links and browser sessions), ``skips`` (skipped
    instants per schedule)."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str,
        shards: int,
        retention_s: int,
        owns_client: bool,
        cluster: bool = False,
        embedded: bool = False,
        keyring: Keyring | None = None,
    ) -> None:
        self.client = client
        self.keys = Keys(prefix, shards)
        self.scripts = Scripts(client, cluster=cluster)
        self.time = TimeIndex(client, self.keys, self.scripts)
        self.fires = FireLog(client, self.keys, self.scripts, retention_s)
        self.jobs = JobLog(client, self.keys, self.scripts, retention_s)
        self.fanout = FanoutLog(client, self.keys, self.scripts, retention_s)
        lua = self.scripts.lua
        self.records = Records(
            client,
            self.keys,
            lua,
            self.time,
            cluster=cluster,
            keyring=keyring,
            reads=self.scripts,
            retention_s=retention_s,
        )
        self.nodes = NodeRegistry(client, self.keys)
        self.cluster = cluster
        self.guards = Guards(client, self.keys, lua)
        self.outbox = Outbox(client, self.keys, lua, self.time, self.fires, retention_s)
        self.web = WebSessions(client, self.keys)
        self.skips = SkipLog(client, self.keys, self.scripts)
        self.embedded = embedded
        self._owns = owns_client
        self._also: list[Any] = []

    @wrapped
    async def now_ms(self) -> int:
        """Redis TIME: the one clock every process agrees on."""
        sec, usec = await self.client.time()
        return int(sec) * 1000 + int(usec) // 1000

    async def ping(self) -> bool:
        try:
            return bool(await self.client.ping())
        except DRIVER_ERRORS:
            return False

    def also_close(self, *clients: Any) -> None:
        """Clients opened with this store's own (a Sentinel's sentinels), closed with it."""
        self._also.extend(clients)

    async def aclose(self) -> None:
        await self.scripts.aclose()
        if self._owns:
            await self.client.aclose()
            for c in self._also:
                await c.aclose()


def open_store(
    url: str,
    *,
    prefix: str,
    shards: int,
    retention_s: int,
    timeout: float = 5.0,
    client: Any = None,
    keyring: Keyring | None = None,
) -> Store:
    """``url`` '' = embedded (or pass ``client``, which the caller keeps owning).
    ``keyring`` encrypts signing secrets at rest (None: plain text)."""
    made = partial(Store, prefix=prefix, shards=shards, retention_s=retention_s, keyring=keyring)
    if client is not None:
        return made(client, owns_client=False)
    if not url:
        fakeredis = _embedded_redis()
        fake = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
        return made(fake, owns_client=True, embedded=True)
    common: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
    }
    if url.startswith("redis+cluster://"):
        from redis.asyncio.cluster import RedisCluster

        real = "redis://" + url.removeprefix("redis+cluster://")
        cl = RedisCluster.from_url(real, **common)
        return made(cl, owns_client=True, cluster=True)
    if url.startswith(sentinel.SCHEME):
        master, sentinels = sentinel.master_client(url, common)
        store = made(master, owns_client=True)
        store.also_close(*sentinels.sentinels)
        return store
    try:
        r = aioredis.Redis.from_url(url, health_check_interval=15, retry_on_timeout=True, **common)
    except ValueError as e:
        raise StoreUnavailable(f"bad Redis URL: {e}") from e
    return made(r, owns_client=True)


EMBEDDED_MISSING = (
    "CRONHOOK_REDIS_URL is empty, so the embedded store is used, and it needs the `dev` "
    "extra (fakeredis and lupa, which runs the Lua scripts): "
    "pip install 'cronhook-server[dev]' (./scripts/dev does), or set CRONHOOK_REDIS_URL"
)


def _embedded_redis() -> Any:
    """The ``fakeredis`` module, or ConfigError saying how to install it (the embedded store
    is for `cronhook dev` and the tests; ``pip install cronhook-server`` leaves it out)."""
    if importlib.util.find_spec("fakeredis") is None or importlib.util.find_spec("lupa") is None:
        raise ConfigError(EMBEDDED_MISSING)
    import fakeredis

    return fakeredis
