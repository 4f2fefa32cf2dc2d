"""Tenants, API keys and schedules: JSON records in the tenant's slot."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.keys import Keys, schedule_item
from app.models import Schedule, Tenant
from app.store.errors import wrapped
from app.store.fires import Page, _zpage_desc
from app.store.timeindex import TimeIndex


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    tenant_id: str
    prefix: str
    created_at: int


def schedule_payload(s: Schedule) -> str:
    """The time-index payload of a schedule item: enough to find the schedule."""
    return json.dumps({"k": "s", "t": s.tenant_id, "s": s.id}, separators=(",", ":"))


class Records:
    def __init__(self, client: Any, keys: Keys, time: TimeIndex, *, cluster: bool) -> None:
        self._r = client
        self._k = keys
        self._time = time
        self._cluster = cluster

    def _pipe(self) -> Any:
        # One slot per transaction is all Cluster allows; outside Cluster, MULTI/EXEC.
        return self._r.pipeline(transaction=not self._cluster)

    # -- tenants --------------------------------------------------------------------------
    @wrapped
    async def create_tenant(self, tenant: Tenant, key: ApiKeyRecord, key_hash: str) -> None:
        k = self._k
        async with self._pipe() as pipe:
            pipe.set(k.tenant(tenant.id), json.dumps(tenant.to_json()))
            pipe.hset(
                k.tenant_api_keys(tenant.id),
                key.key_id,
                json.dumps({"prefix": key.prefix, "hash": key_hash, "created_at": key.created_at}),
            )
            await pipe.execute()
        # the global lookups last: a key never resolves to a tenant that is not written
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.set(
                k.api_key(key_hash), json.dumps({"tenant_id": tenant.id, "key_id": key.key_id})
            )
            pipe.zadd(k.tenants, {tenant.id: tenant.created_at})
            await pipe.execute()

    @wrapped
    async def put_tenant(self, tenant: Tenant) -> None:
        await self._r.set(self._k.tenant(tenant.id), json.dumps(tenant.to_json()))

    @wrapped
    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        raw = await self._r.get(self._k.tenant(tenant_id))
        return Tenant.from_json(json.loads(raw)) if raw else None

    @wrapped
    async def list_tenant_ids(self, limit: int, cursor: str | None) -> Page:
        return await _zpage_desc(self._r, self._k.tenants, limit, cursor)

    @wrapped
    async def resolve_api_key(self, key_hash: str) -> tuple[str, str] | None:
        raw = await self._r.get(self._k.api_key(key_hash))
        if not raw:
            return None
        data = json.loads(raw)
        return data["tenant_id"], data["key_id"]

    # -- schedules ------------------------------------------------------------------------
    @wrapped
    async def count_schedules(self, tenant_id: str) -> int:
        return int(await self._r.zcard(self._k.schedules(tenant_id)))

    @wrapped
    async def put_schedule(self, s: Schedule, next_due_ms: int | None) -> None:
        """Write the record, then its time-index item. If the second write fails the
        record is rolled back by the caller's retry or delete (see API layer)."""
        k = self._k
        async with self._pipe() as pipe:
            pipe.set(k.schedule(s.tenant_id, s.id), json.dumps(s.to_json()))
            pipe.zadd(k.schedules(s.tenant_id), {s.id: s.created_at})
            await pipe.execute()
        due = -1 if next_due_ms is None or s.paused else next_due_ms
        await self._time.put(schedule_item(s.id), schedule_payload(s), due)

    @wrapped
    async def get_schedule(self, tenant_id: str, schedule_id: str) -> Schedule | None:
        raw = await self._r.get(self._k.schedule(tenant_id, schedule_id))
        return Schedule.from_json(json.loads(raw)) if raw else None

    @wrapped
    async def get_schedules(self, refs: list[tuple[str, str]]) -> list[Schedule | None]:
        if not refs:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for tid, sid in refs:
                pipe.get(self._k.schedule(tid, sid))
            raws = await pipe.execute()
        return [Schedule.from_json(json.loads(r)) if r else None for r in raws]

    @wrapped
    async def delete_schedule(self, tenant_id: str, schedule_id: str) -> bool:
        k = self._k
        await self._time.remove(schedule_item(schedule_id))
        async with self._pipe() as pipe:
            pipe.delete(k.schedule(tenant_id, schedule_id))
            pipe.zrem(k.schedules(tenant_id), schedule_id)
            deleted, _ = await pipe.execute()
        return bool(deleted)

    @wrapped
    async def list_schedule_ids(self, tenant_id: str, limit: int, cursor: str | None) -> Page:
        return await _zpage_desc(self._r, self._k.schedules(tenant_id), limit, cursor)
