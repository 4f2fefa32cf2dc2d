"""``redis+sentinel://``: a master (127.0.0.1:7201) with two replicas (7202, 7203) watched
by three sentinels (27201-27203). The master is SIGKILLed mid-traffic; the sentinels
promote a replica, and the store follows it with no restart: writes and claims resume,
and what was lost is counted."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from app.errors import StoreUnavailable
from app.store import open_store
from app.store.timeindex import Completion
from tests.e2e.services import RedisServer, redis_server_or_skip

pytestmark = pytest.mark.external_service

REDIS_PORTS = (7201, 7202, 7203)
SENTINEL_PORTS = (27201, 27202, 27203)
MASTER = "cronhook"


@asynccontextmanager
async def sentinel_setup() -> AsyncIterator[list[RedisServer]]:
    binary = redis_server_or_skip()
    tmp = Path(tempfile.mkdtemp(prefix="cronhook-sentinel-"))
    servers: list[RedisServer] = []
    sentinels: list[subprocess.Popen[bytes]] = []
    try:
        for i, port in enumerate(REDIS_PORTS):
            (tmp / str(port)).mkdir()
            args = [] if i == 0 else ["--replicaof", "127.0.0.1", str(REDIS_PORTS[0])]
            servers.append(RedisServer(port, tmp / str(port), args))
            await servers[-1].start()
        await _synced(REDIS_PORTS[1:])
        for port in SENTINEL_PORTS:
            conf = tmp / f"sentinel-{port}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {tmp}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {REDIS_PORTS[0]} 2\n"
                f"sentinel down-after-milliseconds {MASTER} 1000\n"
                f"sentinel failover-timeout {MASTER} 5000\n"
            )
            sentinels.append(_spawn_sentinel(binary, conf))
        await _sentinels_see_replicas()
        yield servers
    finally:
        for p in sentinels:
            p.terminate()
            with suppress(subprocess.TimeoutExpired):
                p.wait(10)
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _spawn_sentinel(binary: str, conf: Path) -> subprocess.Popen[bytes]:
    with conf.with_suffix(".log").open("wb") as log:
        return subprocess.Popen([binary, str(conf), "--sentinel"], stdout=log, stderr=log)


async def _synced(ports: tuple[int, ...], within: float = 30) -> None:
    deadline = time.monotonic() + within
    for port in ports:
        r = aioredis.Redis(port=port, decode_responses=True)
        try:
            while (await r.info("replication")).get("master_link_status") != "up":
                assert time.monotonic() < deadline, f"replica {port} not in sync"
                await asyncio.sleep(0.1)
        finally:
            await r.aclose()


async def _sentinels_see_replicas(within: float = 30) -> None:
    deadline = time.monotonic() + within
    for port in SENTINEL_PORTS:
        while True:
            r = aioredis.Redis(port=port, decode_responses=True)
            try:
                replicas = await r.execute_command("SENTINEL", "REPLICAS", MASTER)  # type: ignore[no-untyped-call]
                others = await r.execute_command("SENTINEL", "SENTINELS", MASTER)  # type: ignore[no-untyped-call]
            except (OSError, aioredis.ConnectionError):
                replicas, others = [], []
            finally:
                await r.aclose()
            if len(replicas) == 2 and len(others) == 2:
                break
            assert time.monotonic() < deadline, f"sentinel {port} did not find the others"
            await asyncio.sleep(0.2)


async def test_the_store_follows_a_sentinel_failover() -> None:
    async with sentinel_setup() as servers:
        hosts = ",".join(f"127.0.0.1:{p}" for p in SENTINEL_PORTS)
        store = open_store(
            f"redis+sentinel://{hosts}/{MASTER}", prefix="sen", shards=8, retention_s=60,
            timeout=2,
        )  # fmt: skip
        acked: set[str] = set()
        claimed: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        stop_writing, stop_claiming = asyncio.Event(), asyncio.Event()
        last: dict[str, float] = {}

        async def writer() -> None:
            i = 0
            while not stop_writing.is_set():
                try:
                    await store.time.put(f"f:w{i}", "p", 0)
                    acked.add(f"f:w{i}")
                    last["write"] = time.monotonic()
                    i += 1
                except StoreUnavailable:
                    errors["write"] += 1
                    await asyncio.sleep(0.05)

        async def claimer() -> None:
            while not stop_claiming.is_set():
                try:
                    batch = await store.time.claim("d", 3_000, 200)
                    for c in batch.items:
                        claimed[c.item] += 1
                    if batch.items:
                        last["claim"] = time.monotonic()
                    await store.time.complete("d", [Completion(c.item, -1) for c in batch.items])
                except StoreUnavailable:
                    errors["claim"] += 1
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.01)

        tasks = [asyncio.create_task(writer()), asyncio.create_task(claimer())]
        try:
            # given traffic for 2 s, when the master is SIGKILLed
            await asyncio.sleep(2)
            before = len(acked)
            servers[0].kill()
            killed_at = time.monotonic()
            await asyncio.sleep(15)
            stop_writing.set()
            await asyncio.sleep(6)  # leases of completions lost in the failover expire
            stop_claiming.set()
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await store.aclose()
        lost = acked - set(claimed)
        print(
            f"\n{len(acked)} items acknowledged ({before} before the kill), lost {len(lost)}, "
            f"claimed twice {sum(1 for n in claimed.values() if n > 1)}; errors {dict(errors)}"
        )
        # then writes and claims went on against the promoted replica
        assert last["write"] - killed_at > 10 and last["claim"] - killed_at > 10
        assert len(acked) > before + 100
        assert len(lost) <= 0.02 * len(acked)


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_db() -> None:
    from app.store.sentinel import parse

    assert parse("redis+sentinel://:pw@a:26379,b:26380/mymaster/2?sentinel_password=s") == (
        [("a", 26379), ("b", 26380)],
        "mymaster",
        2,
        {"username": None, "password": "pw", "sentinel_password": "s"},
    )
    assert parse("redis+sentinel://h:26379/m") == ([("h", 26379)], "m", 0, {})
    for bad in ("redis+sentinel://h:26379/", "redis+sentinel://h/m", "redis+sentinel://h:1/m/x"):
        with pytest.raises(StoreUnavailable):
            parse(bad)
