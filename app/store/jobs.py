"""Long jobs' attempts, in the tenant's slot: one hash per job (``Keys.job``), changed only
by the ``job_*.lua`` scripts, each of which documents its answers."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.jobs.state import RUNNING_LEFTOVER_MS, WATCH_FIELDS, JobState
from app.jobs.tokens import JobRef, JobToken
from app.keys import Keys
from app.models import JobSettings
from app.store.errors import wrapped
from app.store.scripts import Scripts, hash_reply


@dataclass(frozen=True)
class Report:
    """What ``job_report.lua`` answered (see its header)."""

    answer: str  # unknown | ok | ended | same | late
    status: str = ""  # ended/same: the completion's status
    at_ms: int | None = None  # ok: the deadline; ended/same: when it completed
    reason: str = ""  # late: why
    timed_out: bool = False  # late: this report ended the attempt as timeout


def _report(res: list[Any]) -> Report:
    answer = str(res[0])
    if answer == "ok":
        return Report(answer, at_ms=int(res[1]))
    if answer in ("ended", "same"):
        return Report(answer, status=str(res[1]), at_ms=int(res[2]))
    if answer == "late":
        return Report(answer, reason=str(res[1]), timed_out=str(res[2]) == "1")
    return Report("unknown")


REGISTER_EVERY_S = 60.0  # how often a process repeats a tenant's SADD to ``job_tenants``


class JobLog:
    def __init__(self, client: Any, keys: Keys, scripts: Scripts, retention_s: int) -> None:
        self._r = client
        self._retention_s = retention_s  # a failed fire is kept this long (job_settle.lua)
        self._k = keys
        self._s = scripts
        self._lua = scripts.lua
        self._registered: dict[str, float] = {}  # tenant id -> monotonic time of its SADD

    @wrapped
    async def start(
        self,
        tenant_id: str,
        ref: JobRef,
        attempt: int,
        token_hash: str,
        now_ms: int,
        job: JobSettings,
    ) -> str:
        """'go', 'ended' or 'stale' (``job_start.lua``)."""
        k = self._k
        keys = [k.job(tenant_id, ref.id), k.fire(tenant_id, ref.fire_id)]
        keys.append(k.jobs_running(tenant_id))
        args = [attempt, token_hash, now_ms, job.timeout_ms, job.heartbeat_ms, ref.id]
        return str(await self._s.call(self._lua.job_start, keys, args))

    @wrapped
    async def answer(
        self,
        tenant_id: str,
        ref: JobRef,
        attempt: int,
        owner: str,
        status_code: int | None,
        excerpt: str,
        now_ms: int,
    ) -> tuple[str, int | None]:
        """('running', deadline ms), ('ended', None), ('closed', None) or ('stale', None)
        (``job_answer.lua``)."""
        k = self._k
        keys = [
            k.job(tenant_id, ref.id),
            k.fire(tenant_id, ref.fire_id),
            k.inflight(tenant_id, ref.fire_id),
            k.slots(tenant_id),
            k.jobs_running(tenant_id),
        ]
        if status_code == 202:
            await self._register(tenant_id)
        code = "" if status_code is None else status_code
        args = [attempt, owner, code, excerpt, now_ms, "1" if status_code == 202 else "0"]
        args += [ref.id, now_ms - RUNNING_LEFTOVER_MS]
        res = await self._s.call(self._lua.job_answer, keys, args)
        return str(res[0]), int(res[1]) if len(res) > 1 else None

    @wrapped
    async def report(
        self,
        ref: JobRef,
        token: JobToken,
        kind: str,
        now_ms: int,
        document: str,
        *,
        status: str = "",
        digest: str = "",
        may_retry: bool = True,
    ) -> Report:
        """A progress report or a completion (``job_report.lua``)."""
        retry = "1" if may_retry else "0"
        args: list[str | int] = [kind, token.attempt, token.hash, now_ms, document]
        args += [status, digest, retry, ref.id]
        keys = [self._k.job(token.tenant_id, ref.id), self._k.jobs_running(token.tenant_id)]
        res = await self._lua.job_report(keys=keys, args=args)
        return _report(res)

    @wrapped
    async def check(
        self, tenant_id: str, ref: JobRef, attempt: int, now_ms: int
    ) -> tuple[str, int | None, JobState | None]:
        """('done', None, None), ('wait', deadline, None) or ('ended', None, state)
        (``job_check.lua``)."""
        keys = [self._k.job(tenant_id, ref.id), self._k.jobs_running(tenant_id)]
        res = await self._s.call(self._lua.job_check, keys, [attempt, now_ms, ref.id])
        answer = str(res[0])
        if answer == "wait":
            return answer, int(res[1]), None
        if answer == "ended":
            return answer, None, JobState.from_hash(hash_reply(res[1:]))
        return "done", None, None

    @wrapped
    async def settle(
        self,
        tenant_id: str,
        ref: JobRef,
        attempt: int,
        attempt_json: str,
        status: str,
        now_ms: int,
        next_attempt_ms: int | None,
        schedule_id: str | None,
    ) -> str:
        """Apply an attempt's outcome to the fire once; 'done' when it was already
        (``job_settle.lua``)."""
        k = self._k
        keys = [
            k.job(tenant_id, ref.id),
            k.fire(tenant_id, ref.fire_id),
            k.attempts(tenant_id, ref.fire_id),
            k.dead_letters(tenant_id),
        ]
        if schedule_id:
            keys.append(k.active_fire(tenant_id, schedule_id))
        nxt = "" if next_attempt_ms is None else next_attempt_ms
        args = [attempt, attempt_json, status, now_ms, nxt, ref.fire_id, self._retention_s]
        return str(await self._s.call(self._lua.job_settle, keys, args))

    @wrapped
    async def get(self, tenant_id: str, job_id: str) -> JobState | None:
        raw = await self._r.hgetall(self._k.job(tenant_id, job_id))
        return JobState.from_hash(raw) if raw else None

    @wrapped
    async def get_many(self, tenant_id: str, job_ids: Sequence[str]) -> list[JobState | None]:
        if not job_ids:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for jid in job_ids:
                pipe.hgetall(self._k.job(tenant_id, jid))
            raws = await pipe.execute()
        return [JobState.from_hash(r) if r else None for r in raws]

    @wrapped
    async def watch_fields(self, jobs: Sequence[tuple[str, str]]) -> list[list[str | None]]:
        """WATCH_FIELDS of each (tenant id, job id), in one round trip."""
        if not jobs:
            return []
        k = self._k
        commands = [("HMGET", k.job(tid, jid), *WATCH_FIELDS) for tid, jid in jobs]
        return [list(r) for r in await self._s.commands(commands)]

    async def _register(self, tenant_id: str) -> None:
        """Name the tenant in ``job_tenants`` before its first job is counted as running
        (again every REGISTER_EVERY_S, so a Redis that lost the set learns it back)."""
        now = time.monotonic()
        if now - self._registered.get(tenant_id, -REGISTER_EVERY_S) < REGISTER_EVERY_S:
            return
        await self._r.sadd(self._k.job_tenants, tenant_id)
        self._registered[tenant_id] = now

    @wrapped
    async def running(self, now_ms: int) -> int:
        """Long jobs running now, fleet-wide: the sum of every registered tenant's
        ``jobs_running`` (one round trip per tenant whose jobs ever ran, pipelined)."""
        k = self._k
        tenants = sorted(await self._r.smembers(k.job_tenants))
        if not tenants:
            return 0
        low = now_ms - RUNNING_LEFTOVER_MS
        async with self._r.pipeline(transaction=False) as pipe:
            for tid in tenants:
                pipe.zcount(k.jobs_running(tid), low, "+inf")
            return sum(int(n) for n in await pipe.execute())
