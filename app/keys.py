"""Every Redis key name, in one place.

Cluster discipline: every multi-key script touches keys of one hash slot. Two kinds of
slot exist:

* a tenant's slot, hash tag ``{t:<tenant_id>}``: the tenant record, its schedules, fires,
  attempts, dead letters and in-flight markers;
* a time-index shard's slot, hash tag ``{ti:<n>}``: the due set, the lease set, the claim
  owners, the item payloads, pending re-schedules and items being moved by a reshard of
  shard ``n``.

Global keys (tenant list, API-key lookup, fleet registry) are single-key operations only.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class ShardKeys:
    """The five keys of one time-index shard, in the order the Lua scripts take them."""

    due: str  # zset: item -> due instant (ms)
    lease: str  # zset: item -> lease expiry (ms)
    claimed: str  # hash: item -> "<owner>|<original due ms>"
    items: str  # hash: item -> payload (JSON)
    pending: str  # hash: item -> due ms set by a writer while the item was claimed (-1 = none)
    moving: str  # hash: item -> "<due ms>|<payload>" taken out of this shard by a reshard

    def all(self) -> list[str]:
        return [self.due, self.lease, self.claimed, self.items, self.pending]

    def with_moving(self) -> list[str]:
        """The five keys and ``moving``: the scripts of a reshard (app/store/reshard.py)."""
        return [*self.all(), self.moving]


@dataclass(frozen=True)
class Keys:
    prefix: str
    shards: int

    # -- global ---------------------------------------------------------------------------
    @property
    def tenants(self) -> str:
        """zset of tenant ids by creation time (ms)."""
        return f"{self.prefix}:tenants"

    def api_key(self, key_hash: str) -> str:
        """string: JSON {tenant_id, key_id} for the SHA-256 of an API key."""
        return f"{self.prefix}:apikey:{key_hash}"

    @property
    def nodes(self) -> str:
        """zset of live dispatcher/invoker node ids by last heartbeat (ms)."""
        return f"{self.prefix}:nodes"

    def node(self, node_id: str) -> str:
        return f"{self.prefix}:node:{node_id}"

    @property
    def job_tenants(self) -> str:
        """set: ids of the tenants whose long jobs ever ran (added before a job is first
        counted in ``jobs_running``), so a scrape counts running jobs per such tenant."""
        return f"{self.prefix}:jobtenants"

    def sign_in_link(self, token_hash: str) -> str:
        """string with expiry: JSON {area, tenant_id, read_only} of an unused sign-in link
        (the SHA-256 of its token); taken with GETDEL, so a link opens one session."""
        return f"{self.prefix}:signin:{token_hash}"

    def web_session(self, token_hash: str) -> str:
        """string with expiry: JSON {area, tenant_id, read_only, csrf} of a portal or
        console session (the SHA-256 of its cookie)."""
        return f"{self.prefix}:websession:{token_hash}"

    # -- tenant slot ----------------------------------------------------------------------
    def _t(self, tenant_id: str) -> str:
        return f"{self.prefix}:{{t:{tenant_id}}}"

    def tenant(self, tenant_id: str) -> str:
        """string: the tenant record (JSON)."""
        return f"{self._t(tenant_id)}:tenant"

    def tenant_version(self, tenant_id: str) -> str:
        """string: a counter raised after every write of the tenant record; invokers
        compare it with their cached copy's before signing (a rotation applies at once)."""
        return f"{self._t(tenant_id)}:version"

    def tenant_api_keys(self, tenant_id: str) -> str:
        """hash: key_id -> JSON {prefix, hash, created_at}."""
        return f"{self._t(tenant_id)}:apikeys"

    def schedules(self, tenant_id: str) -> str:
        """zset: schedule ids of a tenant by creation time (ms)."""
        return f"{self._t(tenant_id)}:schedules"

    def paused_schedules(self, tenant_id: str) -> str:
        """set: ids of the tenant's paused schedules."""
        return f"{self._t(tenant_id)}:paused"

    def schedule(self, tenant_id: str, schedule_id: str) -> str:
        """string: the schedule record (JSON)."""
        return f"{self._t(tenant_id)}:schedule:{schedule_id}"

    def fire(self, tenant_id: str, fire_id: str) -> str:
        """hash: the fire record."""
        return f"{self._t(tenant_id)}:fire:{fire_id}"

    def attempts(self, tenant_id: str, fire_id: str) -> str:
        """list: JSON attempts of a fire, oldest first."""
        return f"{self._t(tenant_id)}:attempts:{fire_id}"

    def inflight(self, tenant_id: str, fire_id: str) -> str:
        """string with expiry: the invoker currently delivering a fire."""
        return f"{self._t(tenant_id)}:inflight:{fire_id}"

    def job(self, tenant_id: str, job_id: str) -> str:
        """hash: the state of a long job's current attempt (app/jobs/, job_*.lua).
        ``job_id`` names the delivery: a fire id (a shard of a fan-out adds its index)."""
        return f"{self._t(tenant_id)}:job:{job_id}"

    def fire_shards(self, tenant_id: str, fire_id: str) -> str:
        """Zset: a fan-out parent's shards made so far (shard index -> shard fire id)."""
        return f"{self._t(tenant_id)}:shards:{fire_id}"

    def failed_shards(self, tenant_id: str, fire_id: str) -> str:
        """Zset: a fan-out parent's shards gathered as failed (index -> shard fire id)."""
        return f"{self._t(tenant_id)}:fshards:{fire_id}"

    def fanout_pending(self, tenant_id: str, fire_id: str) -> str:
        """Zset: a fan-out parent's shard ranges made but maybe not published yet
        (``"<start>:<end>"`` -> the instant, ms, by which its publisher should be done)."""
        return f"{self._t(tenant_id)}:fpending:{fire_id}"

    def rate(self, tenant_id: str) -> str:
        """string with expiry: the tenant's GCRA theoretical arrival time (ms, float)."""
        return f"{self._t(tenant_id)}:rate"

    def slots(self, tenant_id: str) -> str:
        """zset: the tenant's deliveries in flight, marker token -> slot expiry (ms)."""
        return f"{self._t(tenant_id)}:slots"

    def jobs_running(self, tenant_id: str) -> str:
        """zset: the tenant's long jobs running now (state ``running``), job id -> the
        attempt's total timeout (ms); kept by the ``job_*.lua`` scripts."""
        return f"{self._t(tenant_id)}:jobsrun"

    def active_fire(self, tenant_id: str, schedule_id: str) -> str:
        """string with expiry: the fire of a schedule still being delivered (overlap
        forbid); set when the fire is created, cleared at its final status."""
        return f"{self._t(tenant_id)}:active:{schedule_id}"

    def schedule_fires(self, tenant_id: str, schedule_id: str) -> str:
        """zset: fire ids of a schedule by scheduled instant (ms)."""
        return f"{self._t(tenant_id)}:sfires:{schedule_id}"

    def tenant_fires(self, tenant_id: str) -> str:
        """zset: every fire id of a tenant by scheduled instant (ms), messages included."""
        return f"{self._t(tenant_id)}:fires"

    def schedule_skips(self, tenant_id: str, schedule_id: str) -> str:
        """hash: instants a schedule did not fire, by reason (``misfire``, ``overlap``), and
        ``last_at`` (ms) when the latest skip was recorded."""
        return f"{self._t(tenant_id)}:skips:{schedule_id}"

    def dead_letters(self, tenant_id: str) -> str:
        """zset: fire ids that failed for good, by failure time (ms)."""
        return f"{self._t(tenant_id)}:dead"

    def idempotency(self, tenant_id: str | None, key_hash: str) -> str:
        """string with expiry: JSON state of an Idempotency-Key (tenant slot; the operator's
        keys, ``tenant_id`` None, are global)."""
        if tenant_id is None:
            return f"{self.prefix}:idem:{key_hash}"
        return f"{self._t(tenant_id)}:idem:{key_hash}"

    def api_rate(self, tenant_id: str, key_id: str) -> str:
        """string with expiry: GCRA theoretical arrival time (ms) of one API key."""
        return f"{self._t(tenant_id)}:apirate:{key_id}"

    def events(self, tenant_id: str) -> str:
        """pub/sub channel: the tenant's fire events (JSON)."""
        return f"{self._t(tenant_id)}:events"

    @property
    def events_pattern(self) -> str:
        """PUBSUB CHANNELS pattern of every tenant's event channel."""
        return f"{self.prefix}:{{t:*}}:events"

    def events_tenant(self, channel: str) -> str:
        """The tenant id of an event channel name."""
        return channel.removeprefix(f"{self.prefix}:{{t:").removesuffix("}:events")

    def tenant_pattern(self, tenant_id: str) -> str:
        """SCAN pattern of every key in the tenant's slot."""
        return f"{self._t(tenant_id)}:*"

    # -- time index -----------------------------------------------------------------------
    @property
    def layout(self) -> str:
        """string: JSON {"shards": n, "from": m} of the time index once it was resharded
        (absent: ``shards`` as configured); "from" is set while items move from m shards."""
        return f"{self.prefix}:ti:layout"

    @property
    def reshard_lock(self) -> str:
        """string with expiry: the token of the one reshard running (app/store/reshard.py)."""
        return f"{self.prefix}:ti:reshard"

    def shard_of(self, item: str, count: int | None = None) -> int:
        """The shard of ``item`` among ``count`` shards (default: the configured count)."""
        return zlib.crc32(item.encode()) % (count or self.shards)

    def shard(self, n: int) -> ShardKeys:
        base = f"{self.prefix}:{{ti:{n}}}"
        return ShardKeys(
            due=f"{base}:due",
            lease=f"{base}:lease",
            claimed=f"{base}:claimed",
            items=f"{base}:items",
            pending=f"{base}:pending",
            moving=f"{base}:moving",
        )

    def shard_for(self, item: str) -> ShardKeys:
        return self.shard(self.shard_of(item))


def schedule_item(schedule_id: str) -> str:
    """Time-index item of a schedule's next fire."""
    return f"s:{schedule_id}"


def fire_item(fire_id: str, attempt: int | None = None) -> str:
    """Time-index item of a fire waiting to be (re)published: a retry, a deferral, a message.

    The invoker names its items by attempt (``f:<fire_id>:<attempt>``): a deferred copy of
    attempt n and the retry of attempt n + 1 are then two items, so the later write can never
    replace the retry with a copy that is stale by the time it is published."""
    return f"f:{fire_id}" if attempt is None else f"f:{fire_id}:{attempt}"


def job_item(job_id: str, attempt: int) -> str:
    """Time-index item watching attempt ``attempt`` of a running long job: due at its
    deadline (the next heartbeat due, or the total timeout); see app/jobs/watch.py."""
    return f"j:{job_id}:{attempt}"
