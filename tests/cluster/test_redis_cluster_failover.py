"""Redis Cluster with three masters and three replicas (127.0.0.1:7101-7106): a master is
SIGKILLed mid-traffic, its replica is promoted, and the time index carries on. Redis
replication is asynchronous, so writes a master acknowledged but had not yet sent to its
replica are lost with it: the test measures how many, and checks the loss is bounded by
the failover window, not the run."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from app.errors import StoreUnavailable
from app.store import open_store
from app.store.timeindex import Completion
from tests.e2e.services import redis_cluster

pytestmark = pytest.mark.external_service

PORTS = list(range(7101, 7107))
LEASE_MS = 3_000


async def _master_of(url_port: int, key: str) -> int:
    import redis.asyncio as aioredis

    r = aioredis.Redis(port=url_port, decode_responses=True)
    try:
        slot = int(await r.execute_command("CLUSTER", "KEYSLOT", key))  # type: ignore[no-untyped-call]
        for start, end, master, *_ in await r.execute_command("CLUSTER", "SLOTS"):  # type: ignore[no-untyped-call]
            if int(start) <= slot <= int(end):
                return int(master[1])
    finally:
        await r.aclose()
    raise AssertionError(f"no master for {key}")


async def test_a_killed_master_fails_over_and_the_time_index_carries_on() -> None:
    async with redis_cluster(3, replicas=1, ports=PORTS, node_timeout_ms=2000) as servers:
        store = open_store(
            f"redis+cluster://127.0.0.1:{PORTS[0]}", prefix="fo", shards=16, retention_s=60,
            timeout=2,
        )  # fmt: skip
        acked: set[str] = set()
        claimed: Counter[str] = Counter()
        errors = Counter[str]()
        stop_writing = asyncio.Event()
        stop_claiming = asyncio.Event()
        last_claim = [0.0]

        async def writer() -> None:
            i = 0
            while not stop_writing.is_set():
                item = f"f:w{i}"
                try:
                    await store.time.put(item, "p", 0)  # due at once
                    acked.add(item)
                    i += 1
                except StoreUnavailable:
                    errors["write"] += 1
                    await asyncio.sleep(0.05)

        async def claimer() -> None:
            while not stop_claiming.is_set():
                try:
                    batch = await store.time.claim("d", LEASE_MS, 200)
                    for c in batch.items:
                        claimed[c.item] += 1
                    if batch.items:
                        last_claim[0] = time.monotonic()
                    await store.time.complete("d", [Completion(c.item, -1) for c in batch.items])
                except StoreUnavailable:
                    errors["claim"] += 1
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.01)

        tasks = [asyncio.create_task(writer()), asyncio.create_task(claimer())]
        try:
            # given traffic for 2 s, when the master of shard 0 is SIGKILLed
            await asyncio.sleep(2)
            victim_port = await _master_of(
                PORTS[0] if PORTS[0] != 0 else PORTS[1], store.keys.shard(0).due
            )
            victim = next(s for s in servers if s.port == victim_port)
            before = len(acked)
            victim.kill()
            killed_at = time.monotonic()
            # then within the failover the writes and claims resume
            await asyncio.sleep(12)
            stop_writing.set()
            await asyncio.sleep(LEASE_MS / 1000 + 3)  # leases of lost completions expire
            stop_claiming.set()
            await asyncio.gather(*tasks)
        finally:
            for t in tasks:
                t.cancel()
            await store.aclose()
        lost = acked - set(claimed)
        twice = sum(1 for n in claimed.values() if n > 1)
        print(
            f"\n{len(acked)} items written and acknowledged ({before} before the kill), "
            f"{len(claimed)} claimed; lost {len(lost)}, claimed twice {twice}; "
            f"errors during the failover {dict(errors)}; last claim "
            f"{last_claim[0] - killed_at:.1f} s after the kill"
        )
        assert len(acked) > before + 100  # writes resumed after the failover
        assert last_claim[0] - killed_at > 5  # claims too
        assert len(lost) <= 0.02 * len(acked)  # only what the failover window held
