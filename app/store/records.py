"""Tenants, API keys and schedules: JSON records in the tenant's slot.

Writes that must not interleave are compare-and-set scripts over the record's JSON string
(``rec_cas.lua``, ``sched_write.lua``): an update reads a :class:`Versioned` record and
writes only if the record is still exactly what it read, so two writers never lose each
other's change silently.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from app.errors import Conflict, QuotaExceeded
from app.keys import Keys, schedule_item
from app.models import Schedule, Tenant
from app.payloads import schedule_item_payload
from app.secretbox import Keyring
from app.store.errors import wrapped
from app.store.formats import dump_schedule, load_schedule
from app.store.lua_scripts import LuaScripts
from app.store.paging import Page, cursor_at
from app.store.paging import zpage_desc as _zpage_desc
from app.store.scripts import Scripts
from app.store.tenant_codec import TenantCodec
from app.store.timeindex import TimeIndex

MAX_API_KEYS = 100
_CAS_TRIES = 5


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    tenant_id: str
    prefix: str
    created_at: int
    name: str | None = None


@dataclass(frozen=True)
class Versioned:
    """A record and the exact string it was read from (the compare-and-set witness)."""

    raw: str
    schedule: Schedule


def schedule_record(s: Schedule) -> str:
    """The text a schedule is stored as (bulk loaders, benchmarks)."""
    return dump_schedule(s)


class Records:
    def __init__(
        self,
        client: Any,
        keys: Keys,
        lua: LuaScripts,
        time: TimeIndex,
        *,
        cluster: bool,
        keyring: Keyring | None = None,
        reads: Scripts | None = None,
        retention_s: int,
    ) -> None:
        self.tenant_codec = TenantCodec(keyring)
        self._r = client
        self._retention_s = retention_s  # how long a dead letter is kept (fire_finish.lua)
        self._reads = reads  # plain reads on the hot path go over the lean wire when given
        self._k = keys
        self._time = time
        self._cluster = cluster
        self._cas = lua.rec_cas
        self._sched_write = lua.sched_write

    def _pipe(self) -> Any:
        # One slot per transaction is all Cluster allows; outside Cluster, MULTI/EXEC.
        return self._r.pipeline(transaction=not self._cluster)

    # -- tenants --------------------------------------------------------------------------
    @wrapped
    async def create_tenant(self, tenant: Tenant, key: ApiKeyRecord, key_hash: str) -> None:
        async with self._pipe() as pipe:
            pipe.set(self._k.tenant(tenant.id), self.tenant_codec.dump(tenant))
            pipe.incr(self._k.tenant_version(tenant.id))
            pipe.hset(self._k.tenant_api_keys(tenant.id), key.key_id, _key_json(key, key_hash))
            await pipe.execute()
        # the global lookups last: a key never resolves to a tenant that is not written
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.set(self._k.api_key(key_hash), _lookup_json(key))
            pipe.zadd(self._k.tenants, {tenant.id: tenant.created_at})
            await pipe.execute()

    @wrapped
    async def put_tenant(self, tenant: Tenant) -> None:
        async with self._pipe() as pipe:
            pipe.set(self._k.tenant(tenant.id), self.tenant_codec.dump(tenant))
            pipe.incr(self._k.tenant_version(tenant.id))
            await pipe.execute()

    @wrapped
    async def tenant_version(self, tenant_id: str) -> str | None:
        """Changes after every write of the tenant (None: never written, or deleted). Read
        before every delivery, so over the store's lean connection where there is one
        (redis-py's command path cost ~0.07 ms of an invoker's CPU per delivery)."""
        key = self._k.tenant_version(tenant_id)
        if self._reads is None:
            version: str | None = await self._r.get(key)
            return version
        [raw] = await self._reads.commands([("GET", key)])
        return raw.decode() if isinstance(raw, bytes) else raw

    @wrapped
    async def get_tenant(self, tenant_id: str) -> Tenant | None:
        raw = await self._r.get(self._k.tenant(tenant_id))
        return self.tenant_codec.load(raw) if raw else None

    @wrapped
    async def update_tenant(
        self, tenant_id: str, change: Callable[[Tenant], Tenant]
    ) -> Tenant | None:
        """Apply ``change`` to the stored tenant (compare-and-set, retried); None if gone.
        ``change`` may raise to refuse; it may run more than once."""
        key = self._k.tenant(tenant_id)
        for _ in range(_CAS_TRIES):
            raw = await self._r.get(key)
            if not raw:
                return None
            new = change(self.tenant_codec.load(raw))
            if await self._cas(keys=[key], args=[raw, self.tenant_codec.dump(new), 0]):
                # before the caller hears of the change: a rotated secret never signs again
                await self._r.incr(self._k.tenant_version(tenant_id))
                return new
        raise Conflict(f"tenant {tenant_id} is being changed concurrently; try again")

    async def rewrap_secrets(self) -> int:
        """Rewrite every tenant whose record holds a signing secret in plain text or sealed
        under a key other than the current one; how many were rewritten. Safe to run
        again, and beside live traffic (each rewrite is a compare-and-set)."""
        done, cursor = 0, None
        while True:
            page = await self.list_tenant_ids(500, cursor)
            for tid in page.items:
                raw = await self._r.get(self._k.tenant(tid))
                if raw and self.tenant_codec.needs_rewrite(raw):
                    done += await self.update_tenant(tid, lambda t: t) is not None
            cursor = page.next_cursor
            if cursor is None:
                return done

    @wrapped
    async def get_tenants(self, tenant_ids: list[str]) -> list[Tenant]:
        """The tenants that exist among ``tenant_ids``, in order (one round trip)."""
        if not tenant_ids:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for tid in tenant_ids:
                pipe.get(self._k.tenant(tid))
            raws = await pipe.execute()
        return [self.tenant_codec.load(r) for r in raws if r]

    @wrapped
    async def list_tenant_ids(self, limit: int, cursor: str | None) -> Page:
        return await _zpage_desc(self._r, self._k.tenants, limit, cursor)

    @wrapped
    async def usage(self, tenant_id: str) -> dict[str, int]:
        """Counts of what the tenant holds. Dead letters count while their fire record is
        kept: failed less than the retention ago (older entries wait for the next dead
        letter to trim them)."""
        k = self._k
        sec, usec = await self._r.time()
        kept_after = int(sec) * 1000 + int(usec) // 1000 - self._retention_s * 1000
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.zcard(k.schedules(tenant_id))
            pipe.scard(k.paused_schedules(tenant_id))
            pipe.hlen(k.tenant_api_keys(tenant_id))
            pipe.zcount(k.dead_letters(tenant_id), f"({kept_after}", "+inf")
            s, p, a, d = await pipe.execute()
        return {"schedules": s, "paused_schedules": p, "api_keys": a, "dead_letters": d}

    @wrapped
    async def delete_tenant(self, tenant_id: str) -> bool:
        """Revoke the keys, stop every schedule, remove every key of the tenant's slot, and
        the tenant record last: an interrupted delete is completed by calling it again."""
        k = self._k
        if not await self._r.exists(k.tenant(tenant_id)):
            return False
        for _, key_hash in await self._api_keys(tenant_id):
            await self._r.delete(k.api_key(key_hash))
        for sid in await self._r.zrange(k.schedules(tenant_id), 0, -1):
            await self._time.remove(schedule_item(sid))
        batch: list[str] = []
        async for key in self._r.scan_iter(match=k.tenant_pattern(tenant_id), count=500):
            if key != k.tenant(tenant_id):
                batch.append(key)
            if len(batch) >= 500:
                await self._r.delete(*batch)
                batch = []
        if batch:
            await self._r.delete(*batch)
        await self._r.zrem(k.tenants, tenant_id)
        await self._r.srem(k.job_tenants, tenant_id)
        await self._r.delete(k.tenant(tenant_id))
        return True

    # -- API keys -------------------------------------------------------------------------
    async def _api_keys(self, tenant_id: str) -> list[tuple[ApiKeyRecord, str]]:
        raw = await self._r.hgetall(self._k.tenant_api_keys(tenant_id))
        out = []
        for key_id, text in raw.items():
            d = json.loads(text)
            rec = ApiKeyRecord(key_id, tenant_id, d["prefix"], d["created_at"], d.get("name"))
            out.append((rec, str(d["hash"])))
        return sorted(out, key=lambda p: (p[0].created_at, p[0].key_id), reverse=True)

    @wrapped
    async def list_api_keys(self, tenant_id: str) -> list[ApiKeyRecord]:
        return [rec for rec, _ in await self._api_keys(tenant_id)]

    @wrapped
    async def add_api_key(self, key: ApiKeyRecord, key_hash: str) -> None:
        if await self._r.hlen(self._k.tenant_api_keys(key.tenant_id)) >= MAX_API_KEYS:
            raise QuotaExceeded(f"a tenant may have at most {MAX_API_KEYS} API keys")
        await self._r.hset(
            self._k.tenant_api_keys(key.tenant_id), key.key_id, _key_json(key, key_hash)
        )
        await self._r.set(self._k.api_key(key_hash), _lookup_json(key))

    @wrapped
    async def revoke_api_key(self, tenant_id: str, key_id: str) -> bool:
        raw = await self._r.hget(self._k.tenant_api_keys(tenant_id), key_id)
        if not raw:
            return False
        # the lookup first: from this moment the key no longer authenticates
        await self._r.delete(self._k.api_key(json.loads(raw)["hash"]))
        await self._r.hdel(self._k.tenant_api_keys(tenant_id), key_id)
        return True

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

    async def _write(self, s: Schedule, expected: str, max_schedules: int) -> int:
        k = self._k
        return int(
            await self._sched_write(
                keys=[
                    k.schedule(s.tenant_id, s.id),
                    k.schedules(s.tenant_id),
                    k.paused_schedules(s.tenant_id),
                ],
                args=[s.id, s.created_at, dump_schedule(s), int(s.paused), expected, max_schedules],
            )
        )

    async def _retime(self, s: Schedule, next_due_ms: int | None) -> None:
        due = -1 if next_due_ms is None or s.paused else next_due_ms
        await self._time.put(schedule_item(s.id), schedule_item_payload(s.tenant_id, s.id), due)

    @wrapped
    async def create_schedule(
        self, s: Schedule, next_due_ms: int | None, max_schedules: int
    ) -> None:
        """Write a new schedule within the tenant's quota (atomic), then its time-index item;
        if that second write fails the record is removed again (never half-written)."""
        result = await self._write(s, "", max_schedules)
        if result == -1:
            raise QuotaExceeded(
                f"this tenant may have at most {max_schedules} schedules", field="max_schedules"
            )
        if result == 0:
            raise Conflict(f"schedule {s.id} exists")
        try:
            await self._retime(s, next_due_ms)
        except BaseException:
            await self.delete_schedule(s.tenant_id, s.id)
            raise

    @wrapped
    async def replace_schedule(
        self, old: Versioned, new: Schedule, next_due_ms: int | None
    ) -> bool:
        """Write ``new`` if the record is still ``old`` (False otherwise), then re-time its
        item. A claimed item keeps the new instant pending; it wins when the claim ends."""
        if await self._write(new, old.raw, -1) != 1:
            return False
        await self._retime(new, next_due_ms)
        return True

    @wrapped
    async def put_schedule(self, s: Schedule, next_due_ms: int | None) -> None:
        """Unconditional write of the record and its indexes, then its time-index item."""
        k = self._k
        async with self._pipe() as pipe:
            pipe.set(k.schedule(s.tenant_id, s.id), dump_schedule(s))
            pipe.zadd(k.schedules(s.tenant_id), {s.id: s.created_at})
            if s.paused:
                pipe.sadd(k.paused_schedules(s.tenant_id), s.id)
            else:
                pipe.srem(k.paused_schedules(s.tenant_id), s.id)
            await pipe.execute()
        await self._retime(s, next_due_ms)

    @wrapped
    async def get_schedule(self, tenant_id: str, schedule_id: str) -> Schedule | None:
        raw = await self._r.get(self._k.schedule(tenant_id, schedule_id))
        return load_schedule(raw) if raw else None

    @wrapped
    async def get_versioned(self, tenant_id: str, schedule_id: str) -> Versioned | None:
        raw = await self._r.get(self._k.schedule(tenant_id, schedule_id))
        return Versioned(raw, load_schedule(raw)) if raw else None

    @wrapped
    async def get_schedules(self, refs: list[tuple[str, str]]) -> list[Schedule | None]:
        if not refs:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for tid, sid in refs:
                pipe.get(self._k.schedule(tid, sid))
            raws = await pipe.execute()
        return [load_schedule(r) if r else None for r in raws]

    @wrapped
    async def delete_schedule(self, tenant_id: str, schedule_id: str) -> bool:
        k = self._k
        await self._time.remove(schedule_item(schedule_id))
        async with self._pipe() as pipe:
            pipe.delete(k.schedule(tenant_id, schedule_id))
            pipe.zrem(k.schedules(tenant_id), schedule_id)
            pipe.srem(k.paused_schedules(tenant_id), schedule_id)
            pipe.delete(k.schedule_skips(tenant_id, schedule_id))
            deleted, *_ = await pipe.execute()
        return bool(deleted)

    @wrapped
    async def list_schedule_ids(self, tenant_id: str, limit: int, cursor: str | None) -> Page:
        return await _zpage_desc(self._r, self._k.schedules(tenant_id), limit, cursor)

    @wrapped
    async def cursor_at(self, tenant_id: str, schedule_id: str) -> str | None:
        return await cursor_at(self._r, self._k.schedules(tenant_id), schedule_id)


def _key_json(key: ApiKeyRecord, key_hash: str) -> str:
    d = asdict(key)
    del d["key_id"], d["tenant_id"]
    return json.dumps(d | {"hash": key_hash})


def _lookup_json(key: ApiKeyRecord) -> str:
    return json.dumps({"tenant_id": key.tenant_id, "key_id": key.key_id})
