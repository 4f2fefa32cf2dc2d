"""Fire records and their attempts, in the tenant's slot."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.keys import Keys
from app.models import Attempt, Fire
from app.store.errors import wrapped
from app.store.paging import Page, cursor_at, zpage_window
from app.store.paging import zpage_desc as _zpage_desc
from app.store.scripts import Call, Scripts, hash_reply


@dataclass(frozen=True)
class LimitArgs:
    """A tenant's delivery limits as ``fire_begin.lua`` takes them (built by
    ``dispatcher.invoke.limits``). The defaults limit nothing."""

    interval_ms: float = 0.0  # GCRA emission interval (1000 / per_second); 0 = no rate limit
    burst: int = 1
    max_concurrency: int = 0  # 0 = no concurrency limit
    recheck_base_ms: int = 100  # a concurrency deferral waits base * 2^deferrals ...
    recheck_cap_ms: int = 5000  # ... at most this, and never past the earliest slot expiry
    jitter: float = 1.0  # multiplies a concurrency deferral's wait
    clock_ms: int | None = None  # the limiter's clock; None = Redis TIME (tests pin it)

    def args(self) -> list[str | int | float]:
        return [
            self.interval_ms,
            self.burst,
            self.max_concurrency,
            self.recheck_base_ms,
            self.recheck_cap_ms,
            self.jitter,
            "" if self.clock_ms is None else self.clock_ms,
        ]


NO_LIMITS = LimitArgs()


_CREATE_CHUNK = 200  # fires per fire_create.lua call
# the fields of a fire record that come from its schedule (written again by ``replan``)
_PLANNED = (
    "target",
    "retry",
    "timeout_ms",
    "callback_url",
    "failure_callback_url",
    "fanout",
    "fo_count",
    "fo_maxf",
)


class FireLog:
    def __init__(self, client: Any, keys: Keys, scripts: Scripts, retention_s: int) -> None:
        self._r = client
        self._k = keys
        self._s = scripts
        self._lua = scripts.lua
        self._retention_s = retention_s

    def _create_calls(
        self, fires: Sequence[Fire], forbid_ttl_s: Mapping[str, int]
    ) -> list[tuple[Call, list[int]]]:
        """fire_create.lua calls, one per tenant and up to ``_CREATE_CHUNK`` fires, each
        with the positions (in ``fires``) of the fires it creates."""
        k = self._k
        groups: dict[tuple[str, tuple[str, ...]], list[tuple[int, Fire, dict[str, str]]]] = {}
        for pos, fire in enumerate(fires):
            record = fire.to_record()
            groups.setdefault((fire.tenant_id, tuple(record)), []).append((pos, fire, record))
        calls: list[tuple[Call, list[int]]] = []
        for (_tenant, names), members in groups.items():
            for at in range(0, len(members), _CREATE_CHUNK):
                chunk = members[at : at + _CREATE_CHUNK]
                keys: list[str] = []
                args: list[Any] = [self._retention_s, 0, len(names), *names]
                cutoff = None
                for _pos, fire, record in chunk:
                    fire_key = k.fire(fire.tenant_id, fire.id)
                    if fire.schedule_id:
                        keys += [
                            fire_key,
                            k.schedule_fires(fire.tenant_id, fire.schedule_id),
                            k.active_fire(fire.tenant_id, fire.schedule_id),
                        ]
                    else:
                        keys += [fire_key, fire_key, fire_key]
                    keys.append(k.tenant_fires(fire.tenant_id))
                    ttl = forbid_ttl_s.get(fire.schedule_id or "", 0)
                    overlap = "forbid" if ttl > 0 else "allow"
                    args += [fire.scheduled_at, fire.id, overlap, ttl, *record.values()]
                    first = fire.created_at - self._retention_s * 1000
                    cutoff = first if cutoff is None else min(cutoff, first)
                args[1] = cutoff
                calls.append(((self._lua.fire_create, keys, args), [p for p, _, _ in chunk]))
        return calls

    @wrapped
    async def create(self, fire: Fire) -> str:
        """Create the record unless it exists; returns 'new' or the existing status."""
        return (await self.create_many([fire]))[0]

    @wrapped
    async def create_many(
        self, fires: Sequence[Fire], *, forbid_ttl_s: Mapping[str, int] | None = None
    ) -> list[str]:
        """Create every record that does not exist yet, in one round trip. Returns, per
        fire, 'new', 'skipped' (overlap forbidden: ``forbid_ttl_s`` maps the schedule ids
        whose policy is forbid to their active-fire marker's lifetime) or the existing
        status."""
        calls = self._create_calls(fires, forbid_ttl_s or {})
        results = await self._s.many([c for c, _ in calls])
        out = [""] * len(fires)
        for (_, positions), statuses in zip(calls, results, strict=True):
            for pos, status in zip(positions, statuses, strict=True):
                out[pos] = str(status)
        return out

    def _begin_call(
        self,
        tenant_id: str,
        fire_id: str,
        owner: str,
        attempt: int,
        ttl_ms: int | None,
        now_ms: int,
        limits: LimitArgs,
        margin_ms: int,
        read: bool,
        schedule_id: str = "",
        tenant_version: str | None = None,
        stamp: str = "",
    ) -> Any:
        k = self._k
        fire_key = k.fire(tenant_id, fire_id)
        keys = [fire_key, k.inflight(tenant_id, fire_id), k.rate(tenant_id), k.slots(tenant_id)]
        if schedule_id or tenant_version is not None:
            keys.append(k.schedule(tenant_id, schedule_id) if schedule_id else fire_key)
        if tenant_version is not None:
            keys.append(k.tenant_version(tenant_id))
        return self._s.call(
            self._lua.fire_begin,
            keys,
            [
                owner,
                attempt,
                "" if ttl_ms is None else ttl_ms,
                now_ms,
                *limits.args(),
                margin_ms,
                "1" if read else "0",
                tenant_version or "",
                stamp,
            ],
        )

    @wrapped
    async def begin(
        self,
        tenant_id: str,
        fire_id: str,
        owner: str,
        attempt: int,
        ttl_ms: int,
        now_ms: int,
        limits: LimitArgs = NO_LIMITS,
    ) -> str:
        """Take the fire's in-flight marker and a tenant slot within ``limits``; see
        ``fire_begin.lua`` for the answers ('go', 'busy:<ms>', 'limit:<why>:<ms>:<at>', ...)."""
        call = self._begin_call(
            tenant_id, fire_id, owner, attempt, ttl_ms, now_ms, limits, 0, False
        )
        return str(await call)

    @wrapped
    async def begin_read(
        self,
        tenant_id: str,
        fire_id: str,
        owner: str,
        attempt: int,
        now_ms: int,
        limits: LimitArgs,
        margin_ms: int,
        schedule_id: str = "",
    ) -> tuple[str, Fire | None]:
        """:meth:`begin` with the marker held for the fire's own deadline plus ``margin_ms``,
        returning the fire record (without attempts) on 'go' and 'fanout' (a fan-out
        parent's expansion step): one round trip. With ``schedule_id`` (a cron fire's first
        attempt), 'changed' when the schedule is not as the fire was planned from it
        (see :meth:`replan`)."""
        call = self._begin_call(
            tenant_id, fire_id, owner, attempt, None, now_ms, limits, margin_ms, True, schedule_id
        )
        res = await call
        if res[0] not in ("go", "fanout"):
            return str(res[0]), None
        return str(res[0]), Fire.from_record(hash_reply(res[1:]), [])

    @wrapped
    async def begin_prepared(
        self,
        fire: Fire,
        owner: str,
        attempt: int,
        now_ms: int,
        limits: LimitArgs,
        margin_ms: int,
        *,
        schedule_id: str,
        tenant_version: str | None,
    ) -> str:
        """:meth:`begin_read` for a request prepared ahead from ``fire`` and the tenant at
        ``tenant_version``: the same admission, no record returned, and 'tenant' or
        'changed' (nothing taken) when the tenant or the fire's plan changed since."""
        call = self._begin_call(
            fire.tenant_id, fire.id, owner, attempt, None, now_ms, limits, margin_ms, False,
            schedule_id, tenant_version or "", fire.schedule_stamp or "",
        )  # fmt: skip
        return str(await call)

    @wrapped
    async def record(self, tenant_id: str, fire_id: str) -> Fire | None:
        """The fire without its attempts (one HGETALL, on the pipelined connection)."""
        (rec,) = await self._s.commands([("HGETALL", self._k.fire(tenant_id, fire_id))])
        return Fire.from_record(hash_reply(rec), []) if rec else None

    @wrapped
    async def replan(self, seen: Fire, now_ms: int, outcome: Fire | str) -> bool:
        """A cron fire whose schedule changed before its first attempt: ``outcome`` is the
        fire planned again from the schedule as it is now (its target, retry settings,
        callbacks and fan-out written over ``seen``'s), or the reason it is skipped. Only
        while the record is still as ``seen`` was read (not attempted, the same schedule
        stamp): False when it moved on."""
        k = self._k
        schedule_id = seen.schedule_id or ""
        keys = [k.fire(seen.tenant_id, seen.id), k.active_fire(seen.tenant_id, schedule_id)]
        args: list[Any] = [seen.schedule_stamp or "", now_ms]
        if isinstance(outcome, str):
            args += ["skip", outcome, 0]
        else:
            record = outcome.to_record()
            planned = {name: record[name] for name in _PLANNED if name in record}
            gone = [name for name in _PLANNED if name not in record]
            args += ["plan", outcome.schedule_stamp or "", len(gone), *gone]
            for name, value in planned.items():
                args += [name, value]
        return bool(await self._s.call(self._lua.fire_replan, keys, args))

    @wrapped
    async def in_flight(self, tenant_id: str, now_ms: int | None = None) -> int:
        """The tenant's deliveries holding a slot now (metrics, tests)."""
        key = self._k.slots(tenant_id)
        low = "-inf" if now_ms is None else f"({now_ms}"
        return int(await self._r.zcount(key, low, "+inf"))

    @wrapped
    async def finish(
        self,
        tenant_id: str,
        fire_id: str,
        owner: str,
        attempt: Attempt,
        status: str,
        now_ms: int,
        next_attempt_ms: int | None,
        *,
        schedule_id: str | None = None,
    ) -> str:
        """Record the attempt and the new status; free the marker and the tenant slot (one
        round trip). With ``schedule_id``, a final status (succeeded, failed) also clears the
        schedule's active-fire marker if it names this fire (overlap forbid)."""
        k = self._k
        keys = [
            k.fire(tenant_id, fire_id),
            k.attempts(tenant_id, fire_id),
            k.inflight(tenant_id, fire_id),
            k.dead_letters(tenant_id),
            k.slots(tenant_id),
        ]
        if schedule_id:
            keys.append(k.active_fire(tenant_id, schedule_id))
        return str(
            await self._s.call(
                self._lua.fire_finish,
                keys,
                [
                    owner,
                    json.dumps(attempt.to_json()),
                    attempt.number,
                    status,
                    now_ms,
                    "" if next_attempt_ms is None else next_attempt_ms,
                    fire_id,
                    self._retention_s,
                ],
            )
        )

    @wrapped
    async def release(self, tenant_id: str, fire_id: str, owner: str) -> bool:
        """Drop ``owner``'s in-flight marker and tenant slot without recording an attempt
        (a stopped invoker); False when the marker is not its own any more."""
        k = self._k
        return bool(
            await self._lua.fire_release(
                keys=[
                    k.fire(tenant_id, fire_id),
                    k.inflight(tenant_id, fire_id),
                    k.slots(tenant_id),
                ],
                args=[owner],
            )
        )

    @wrapped
    async def set_status(self, tenant_id: str, fire_id: str, status: str, now_ms: int) -> None:
        await self._r.hset(
            self._k.fire(tenant_id, fire_id), mapping={"status": status, "updated_at": now_ms}
        )

    @wrapped
    async def get_record(self, tenant_id: str, fire_id: str) -> Fire | None:
        """The fire without its attempts (one HGETALL: the invoker's hot path)."""
        rec = await self._r.hgetall(self._k.fire(tenant_id, fire_id))
        return Fire.from_record(rec, []) if rec else None

    @wrapped
    async def get(self, tenant_id: str, fire_id: str) -> Fire | None:
        k = self._k
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.hgetall(k.fire(tenant_id, fire_id))
            pipe.lrange(k.attempts(tenant_id, fire_id), 0, -1)
            rec, attempts = await pipe.execute()
        if not rec:
            return None
        return Fire.from_record(rec, [json.loads(a) for a in attempts])

    @wrapped
    async def get_many(self, tenant_id: str, fire_ids: list[str]) -> list[Fire]:
        k = self._k
        async with self._r.pipeline(transaction=False) as pipe:
            for fid in fire_ids:
                pipe.hgetall(k.fire(tenant_id, fid))
                pipe.lrange(k.attempts(tenant_id, fid), 0, -1)
            res = await pipe.execute()
        out = []
        for i in range(0, len(res), 2):
            if res[i]:
                out.append(Fire.from_record(res[i], [json.loads(a) for a in res[i + 1]]))
        return out

    @wrapped
    async def list_for_schedule(
        self, tenant_id: str, schedule_id: str, limit: int, cursor: str | None
    ) -> Page:
        """Newest first. The cursor is the score (scheduled ms) and id of the last item."""
        key = self._k.schedule_fires(tenant_id, schedule_id)
        return await _zpage_desc(self._r, key, limit, cursor)

    @wrapped
    async def list_ids(
        self,
        tenant_id: str,
        schedule_id: str | None,
        limit: int,
        cursor: str | None,
        window: tuple[int | None, int | None] = (None, None),
    ) -> Page:
        """Fire ids of the tenant (or of one schedule), newest scheduled first, scheduled
        after ``window[0]`` (exclusive) up to ``window[1]`` (inclusive), in ms."""
        k = self._k
        key = k.schedule_fires(tenant_id, schedule_id) if schedule_id else k.tenant_fires(tenant_id)
        return await zpage_window(self._r, key, limit, cursor, *window)

    @wrapped
    async def cursor_after(
        self, tenant_id: str, schedule_id: str | None, fire_id: str
    ) -> str | None:
        """The ``list_ids`` cursor that continues right after ``fire_id``."""
        k = self._k
        key = k.schedule_fires(tenant_id, schedule_id) if schedule_id else k.tenant_fires(tenant_id)
        return await cursor_at(self._r, key, fire_id)

    @wrapped
    async def statuses(self, tenant_id: str, fire_ids: list[str]) -> list[tuple[str, str]]:
        """(status, kind) of each fire ("" for a fire that expired), one round trip."""
        async with self._r.pipeline(transaction=False) as pipe:
            for fid in fire_ids:
                pipe.hmget(self._k.fire(tenant_id, fid), "status", "kind")
            rows = await pipe.execute()
        return [(s or "", k or "") for s, k in rows]

    @wrapped
    async def list_dead(self, tenant_id: str, limit: int, cursor: str | None) -> Page:
        return await _zpage_desc(self._r, self._k.dead_letters(tenant_id), limit, cursor)
