"""What Redis may do to cronhook's data when memory runs out, and how much is left.

cronhook keeps schedules, the time index and fire records in Redis; an eviction policy
other than ``noeviction`` lets Redis delete any of them when ``maxmemory`` is reached (a
schedule that stops firing, a time-index item lost, a claim forgotten). With
``noeviction``, writes fail instead, which cronhook reports and retries. ``maxmemory`` 0
(no limit) never evicts.

Both are read from ``INFO memory`` (managed Redis often hides ``CONFIG``), from every
master of a Cluster.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from app.errors import ConfigError

log = logging.getLogger("cronhook.store")

SAFE_POLICY = "noeviction"


@dataclass(frozen=True)
class Memory:
    where: str
    used: int
    maxmemory: int  # 0: no limit
    policy: str

    @property
    def may_evict(self) -> bool:
        return self.maxmemory > 0 and self.policy != SAFE_POLICY

    @property
    def headroom(self) -> float:
        """The share of ``maxmemory`` still free (1.0 without a limit)."""
        if self.maxmemory <= 0:
            return 1.0
        return max(0.0, 1.0 - self.used / self.maxmemory)

    @classmethod
    def from_info(cls, where: str, info: dict[str, Any]) -> Memory:
        return cls(
            where,
            int(info.get("used_memory", 0)),
            int(info.get("maxmemory", 0)),
            str(info.get("maxmemory_policy", SAFE_POLICY)),
        )


async def read(client: Any, *, cluster: bool) -> list[Memory]:
    """``INFO memory`` of the Redis, or of each master of a Cluster."""
    if not cluster:
        return [Memory.from_info("redis", await client.info("memory"))]
    from redis.asyncio.cluster import RedisCluster

    per_node = await client.info("memory", target_nodes=RedisCluster.PRIMARIES)
    return [Memory.from_info(str(node), info) for node, info in per_node.items()]


async def check_policy(client: Any, *, cluster: bool, allow_eviction: bool) -> list[Memory]:
    """Refuse to run (ConfigError) when a Redis may evict keys, or only warn loudly when
    ``allow_eviction``. Returns what was read."""
    found = await read(client, cluster=cluster)
    risky = [m for m in found if m.may_evict]
    if risky:
        where = ", ".join(f"{m.where}: maxmemory-policy {m.policy}" for m in risky)
        message = (
            f"Redis may evict cronhook's keys ({where}; maxmemory set): schedules, "
            "time-index items and claims could vanish. Set maxmemory-policy noeviction"
        )
        if not allow_eviction:
            raise ConfigError(f"{message} (or CRONHOOK_ALLOW_EVICTION=true to run anyway)")
        log.error("%s. Running anyway: CRONHOOK_ALLOW_EVICTION is true.", message)
    return found
