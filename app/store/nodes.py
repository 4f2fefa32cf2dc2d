"""The fleet registry: every dispatcher and invoker process heartbeats its record here.

Two global keys, single-key commands only (Cluster-safe):

* ``nodes``: zset node id -> last heartbeat (Redis TIME, ms);
* ``node:<id>``: the node's last report (JSON), expiring ``ttl_s`` after its last beat.

A node that stops beating stays listed (as not live) until its record expires; members older
than that are pruned by every beat.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.keys import Keys
from app.store.errors import wrapped


@dataclass(frozen=True)
class NodeReport:
    node_id: str
    heartbeat_ms: int  # Redis TIME of the last beat
    data: dict[str, Any]  # what the node reported (role, host, pid, rates, clock skew, ...)


class NodeRegistry:
    def __init__(self, client: Any, keys: Keys) -> None:
        self._r = client
        self._k = keys

    @wrapped
    async def beat(self, node_id: str, data: dict[str, Any], now_ms: int, ttl_s: int) -> None:
        """Record a heartbeat at ``now_ms`` (Redis TIME) with the node's report."""
        k = self._k
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.set(k.node(node_id), json.dumps(data, separators=(",", ":")), ex=ttl_s)
            pipe.zadd(k.nodes, {node_id: now_ms})
            pipe.zremrangebyscore(k.nodes, "-inf", now_ms - ttl_s * 1000)
            await pipe.execute()

    @wrapped
    async def leave(self, node_id: str) -> None:
        """A clean shutdown: the node leaves the registry at once."""
        k = self._k
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.zrem(k.nodes, node_id)
            pipe.delete(k.node(node_id))
            await pipe.execute()

    @wrapped
    async def list(self) -> list[NodeReport]:
        """Every node with a record, most recent heartbeat first."""
        k = self._k
        members = await self._r.zrevrange(k.nodes, 0, -1, withscores=True)
        if not members:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for node_id, _ in members:
                pipe.get(k.node(node_id))
            raws = await pipe.execute()
        out = []
        for (node_id, score), raw in zip(members, raws, strict=True):
            if raw:
                out.append(NodeReport(str(node_id), int(score), json.loads(raw)))
        return out
