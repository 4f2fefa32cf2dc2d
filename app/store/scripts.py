"""Lua scripts, read from ``lua/*.lua`` once and registered per connection.

``Scripts.many`` runs a batch of script calls in one round trip: a pipeline on a single
Redis. redis-py's Cluster pipeline refuses EVALSHA (``PIPELINE_BLOCKED_COMMANDS``, in the
async client as well: redis/redis-py#2914), so on Cluster the calls run as concurrent
single calls, each routed to its slot's node, at most ``CLUSTER_CONCURRENCY`` at a time.
Every call touches one slot either way (its keys share a hash tag).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

NAMES = (
    "ti_claim",
    "ti_done",
    "ti_put",
    "ti_remove",
    "fire_create",
    "fire_begin",
    "fire_finish",
    "fire_release",
)
CLUSTER_CONCURRENCY = 64

Call = tuple[Any, Sequence[Any], Sequence[Any]]  # (script, keys, args)


@cache
def source(name: str) -> str:
    return (resources.files("app.store") / "lua" / f"{name}.lua").read_text()


class Scripts:
    """Every script registered on one client (EVALSHA, reloaded on NOSCRIPT by redis-py)."""

    def __init__(self, client: Any, *, cluster: bool = False) -> None:
        self._client = client
        self.cluster = cluster
        for name in NAMES:
            setattr(self, name, client.register_script(source(name)))

    ti_claim: Any
    ti_done: Any
    ti_put: Any
    ti_remove: Any
    fire_create: Any
    fire_begin: Any
    fire_finish: Any
    fire_release: Any

    async def many(self, calls: Sequence[Call]) -> list[Any]:
        """Run every call; results in order. Driver errors propagate (the caller wraps)."""
        if not calls:
            return []
        if self.cluster:
            return await self._concurrent(calls)
        async with self._client.pipeline(transaction=False) as pipe:
            for script, keys, args in calls:
                await script(keys=keys, args=args, client=pipe)
            return list(await pipe.execute())

    async def _concurrent(self, calls: Sequence[Call]) -> list[Any]:
        gate = asyncio.Semaphore(CLUSTER_CONCURRENCY)

        async def one(call: Call) -> Any:
            script, keys, args = call
            async with gate:
                return await script(keys=keys, args=args)

        results = await asyncio.gather(*(one(c) for c in calls), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return list(results)
