"""The domain: tenants, schedules, fires and attempts, as frozen dataclasses.

``to_json``/``from_json`` are the storage form (and, minus secrets, the API form). Instants
are UTC-aware datetimes inside, epoch milliseconds in Redis and RFC 3339 at the API edge.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Generic, Literal, TypeVar

from app.fanout import DEFAULT_MAX_SHARDS, FanoutSettings, ShardRef

FireStatus = Literal[
    "scheduled",
    "dispatched",
    "delivering",
    "running",
    "succeeded",
    "retrying",
    "failed",
    "skipped",
]
FireKind = Literal["cron", "manual", "message", "replay", "callback"]
FINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "skipped"})


def to_ms(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return int(dt.timestamp() * 1000)


def from_ms(ms: int | float) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


def rfc3339(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def local_rfc3339(local: datetime) -> str:
    """A zone-aware wall-clock time in RFC 3339 with milliseconds and its offset. RFC 3339
    offsets are whole minutes: an offset with seconds (local mean time, used by some zones
    until as late as 1972) is cut to whole minutes and the clock moved with it, so the text
    still names the same instant."""
    offset = local.utcoffset()
    if offset is not None and offset.seconds % 60:
        minutes = int(offset.total_seconds() / 60)  # toward zero
        local = local.astimezone(timezone(timedelta(minutes=minutes)))
    return local.isoformat(timespec="milliseconds")


def ms_rfc3339(ms: int | float) -> str:
    """``rfc3339(from_ms(ms))``, with the whole second's text kept (many fires share one)."""
    second, milli = divmod(int(ms), 1000)
    return f"{_second_text(second)}.{milli:03d}Z"


@lru_cache(maxsize=256)
def _second_text(second: int) -> str:
    return datetime.fromtimestamp(second, tz=UTC).isoformat().removesuffix("+00:00")


def parse_rfc3339(text: str) -> datetime:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError("an RFC 3339 instant needs an offset or Z")
    return dt.astimezone(UTC)


T = TypeVar("T")


def tolerant(cls: type[T], data: dict[str, Any]) -> T:
    """``cls(**data)`` for a dataclass, the keys it does not know left out: a stored record
    may carry a field that a newer release added (a rolling deploy)."""
    try:
        return cls(**data)
    except TypeError:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in known})


def _ints(data: dict[str, Any], *names: str) -> dict[str, Any]:
    """JSON numbers the contract calls integers (5.0 is one) as Python ints."""
    return {k: int(v) if k in names and isinstance(v, float) else v for k, v in data.items()}


# -- tenants ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RateLimit:
    per_second: float = 50.0
    burst: int = 100

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RateLimit:
        return tolerant(cls, _ints(data, "burst"))


def _api_rate_limit() -> RateLimit:
    return RateLimit(per_second=100.0, burst=200)


@dataclass(frozen=True)
class TenantLimits:
    """Quotas and limits the operator sets. ``rate_limit`` and ``max_concurrency`` bound
    webhook deliveries; ``api_rate_limit`` bounds each API key of the tenant."""

    max_schedules: int = 1000
    min_interval_seconds: float = 1.0
    max_body_bytes: int = 262_144
    rate_limit: RateLimit = field(default_factory=RateLimit)
    max_concurrency: int = 50
    allowed_private_targets: bool = False
    api_rate_limit: RateLimit = field(default_factory=_api_rate_limit)
    max_fanout_shards: int = DEFAULT_MAX_SHARDS  # shards of one fan-out fire at most

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TenantLimits:
        """From stored or API JSON; missing fields (and missing nested ones) get defaults."""
        rest = {k: v for k, v in data.items() if k not in ("rate_limit", "api_rate_limit")}
        api = asdict(_api_rate_limit()) | dict(data.get("api_rate_limit") or {})
        return tolerant(
            cls,
            _ints(rest, "max_schedules", "max_body_bytes", "max_concurrency", "max_fanout_shards")
            | {
                "rate_limit": RateLimit.from_json(data.get("rate_limit") or {}),
                "api_rate_limit": RateLimit.from_json(api),
            },
        )


@dataclass(frozen=True)
class SigningSecret:
    secret: str
    created_at: int  # ms
    expires_at: int | None = None  # ms; None = current


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    created_at: int
    limits: TenantLimits
    secrets: tuple[SigningSecret, ...]
    metadata: dict[str, str] = field(default_factory=dict)
    updated_at: int | None = None  # ms; None = never changed since created_at

    def active_secrets(self, now_ms: int) -> list[str]:
        """Every secret that signs now: the current one and any still within its overlap."""
        return [s.secret for s in self.secrets if s.expires_at is None or s.expires_at > now_ms]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tenant:
        return cls(
            id=data["id"],
            name=data["name"],
            created_at=data["created_at"],
            limits=TenantLimits.from_json(data.get("limits") or {}),
            secrets=tuple(tolerant(SigningSecret, s) for s in data["secrets"]),
            metadata=dict(data.get("metadata") or {}),
            updated_at=data.get("updated_at"),
        )


# -- schedules --------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobSettings:
    """A long-running job (docs/jobs.md): the endpoint may answer 202 and report progress
    and completion; an attempt ends as ``timeout`` after ``timeout_seconds`` in all, or
    after ``heartbeat_seconds`` without a progress report (None = no heartbeat needed)."""

    timeout_seconds: float
    heartbeat_seconds: float | None = None

    @property
    def timeout_ms(self) -> int:
        return int(self.timeout_seconds * 1000)

    @property
    def heartbeat_ms(self) -> int:
        """0 = no heartbeat needed."""
        return int((self.heartbeat_seconds or 0) * 1000)


@dataclass(frozen=True)
class Target:
    url: str
    method: str = "POST"
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None  # JSON value, or a string sent as is
    content_type: str | None = None
    timeout_seconds: float = 30.0
    job: JobSettings | None = None  # None = a plain webhook (a 202 is a success)

    def __post_init__(self) -> None:
        job: Any = self.job
        if isinstance(job, dict):  # from stored or API JSON
            object.__setattr__(self, "job", JobSettings(**job))

    def encoded_body(self) -> tuple[bytes, str | None]:
        """The bytes sent and the Content-Type they carry."""
        if self.body is None or self.body == "":
            return b"", self.content_type
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/plain; charset=utf-8"
        text = json.dumps(self.body, separators=(",", ":"), ensure_ascii=False)
        return text.encode(), self.content_type or "application/json"


@dataclass(frozen=True)
class RetrySettings:
    max_attempts: int = 8
    min_backoff_seconds: float = 5.0
    max_backoff_seconds: float = 36_000.0
    max_retry_seconds: float = 86_400.0
    retry_on_4xx: bool = True

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RetrySettings:
        return tolerant(cls, _ints(data, "max_attempts"))


@dataclass(frozen=True)
class Misfire:
    policy: Literal["fire_once", "skip", "fire_all"] = "fire_once"
    grace_seconds: float = 300.0


@dataclass(frozen=True)
class Schedule:
    id: str
    tenant_id: str
    name: str
    cron: str
    timezone: str
    target: Target
    retry: RetrySettings
    created_at: int  # ms
    updated_at: int  # ms
    version: int = 1
    paused: bool = False
    start_at: int | None = None  # ms
    end_at: int | None = None  # ms
    misfire: Misfire = field(default_factory=Misfire)
    overlap: Literal["allow", "forbid"] = "allow"
    metadata: dict[str, str] = field(default_factory=dict)
    paused_reason: str | None = None
    callback_url: str | None = None  # receives the outcome of every fire
    failure_callback_url: str | None = None  # receives the outcome of fires failed for good
    fanout: FanoutSettings | None = None  # each fire calls N shards (docs/fanout.md)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["fanout"] = None if self.fanout is None else self.fanout.to_json()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Schedule:
        """From complete JSON (``app.store.formats`` fills in what a record left out);
        unknown keys are ignored. Equal settings are one shared instance (frozen), whose
        JSON the fire records of every such schedule then reuse (``_flat_json``)."""
        d = dict(data)
        d["target"] = tolerant(Target, d["target"])
        d["retry"] = _shared_retry(tuple(sorted(d["retry"].items())))
        d["misfire"] = _shared_misfire(tuple(sorted((d.get("misfire") or {}).items())))
        d["fanout"] = FanoutSettings.from_json(d.get("fanout"))
        return tolerant(cls, d)

    def evolve(self, **changes: Any) -> Schedule:
        return replace(self, **changes)


@lru_cache(maxsize=1024)
def _shared_retry(items: tuple[tuple[str, Any], ...]) -> RetrySettings:
    return RetrySettings.from_json(dict(items))


@lru_cache(maxsize=256)
def _shared_misfire(items: tuple[tuple[str, Any], ...]) -> Misfire:
    return tolerant(Misfire, dict(items))


# -- fires ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attempt:
    number: int
    started_at: int  # ms
    duration_ms: float
    status_code: int | None
    error: str | None
    response_excerpt: str
    outcome: str  # success | retry | exhausted | fail | gone | deferred
    replay: bool = False
    invoker: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(vars(self))  # every field a plain value: asdict's deep copy is not needed


FIRE_RECORD_VERSION = "1"
"""The format of a fire record (a Redis hash), written in its ``v`` field."""


@dataclass(frozen=True)
class Fire:
    id: str
    tenant_id: str
    schedule_id: str | None
    kind: FireKind
    scheduled_at: int  # ms
    status: FireStatus
    created_at: int
    updated_at: int
    target: Target
    retry: RetrySettings
    attempt_count: int = 0
    first_attempt_at: int | None = None
    next_attempt_at: int | None = None
    attempts: tuple[Attempt, ...] = ()
    callback_url: str | None = None
    failure_callback_url: str | None = None
    deferrals: int = 0  # times a tenant limit put the fire back in the time index
    retry_base: int = 0  # attempts made before the latest replay (its retry budget starts here)
    fanout: FanoutSettings | None = None  # a fan-out parent (docs/fanout.md)
    shard: ShardRef | None = None  # a shard of a fan-out parent
    gathered: tuple[int, int, int] = (0, 0, 0)  # a parent's shards made, succeeded, failed
    # a cron fire: the stamp of the schedule it was planned from (field ``ss``), checked by
    # fire_begin.lua at its first attempt (app.planning.schedule_stamp)
    schedule_stamp: str | None = None

    @classmethod
    def new(
        cls,
        fire_id: str,
        tenant_id: str,
        kind: FireKind,
        at_ms: int,
        now_ms: int,
        target: Target,
        retry: RetrySettings,
        status: FireStatus = "scheduled",
        **optional: Any,
    ) -> Fire:
        """A fire created at ``now_ms``, due at ``at_ms``; ``optional``: the fields with
        defaults (``schedule_id``, ``callback_url``...)."""
        return cls(fire_id, tenant_id, optional.pop("schedule_id", None), kind, at_ms, status,
                   now_ms, now_ms, target, retry, **optional)  # fmt: skip

    @classmethod
    def of_schedule(
        cls, s: Schedule, fire_id: str, kind: FireKind, at_ms: int, now_ms: int, **rest: Any
    ) -> Fire:
        """A fire of schedule ``s``: its target, retry settings and callbacks."""
        return cls.new(fire_id, s.tenant_id, kind, at_ms, now_ms, s.target, s.retry,
                       schedule_id=s.id, callback_url=s.callback_url,
                       failure_callback_url=s.failure_callback_url, fanout=s.fanout,
                       **rest)  # fmt: skip

    def to_record(self) -> dict[str, str]:
        """The Redis hash fields of a new fire record, with its format version ``v`` (a
        record without one is version 1). Target and retry settings are stored whole, so a
        changed default never changes a stored fire; readers ignore fields they do not
        know (``from_record``)."""
        optional = {
            k: str(v)
            for k, v in (
                ("callback_url", self.callback_url),
                ("failure_callback_url", self.failure_callback_url),
                ("next_attempt_at", self.next_attempt_at),
            )
            if v
        }
        if self.fanout is not None:
            optional["fanout"] = json.dumps(self.fanout.to_json(), separators=(",", ":"))
            optional["fo_count"] = str(self.fanout.count)
            optional["fo_maxf"] = str(self.fanout.max_failed_shards)
        if self.shard is not None:
            optional["fo_shard"] = json.dumps(self.shard.to_json(), separators=(",", ":"))
        if self.schedule_stamp:
            optional["ss"] = self.schedule_stamp
        return optional | {
            "v": FIRE_RECORD_VERSION,
            "id": self.id,
            "tenant_id": self.tenant_id,
            "schedule_id": self.schedule_id or "",
            "kind": self.kind,
            "scheduled_at": str(self.scheduled_at),
            "status": self.status,
            "created_at": str(self.created_at),
            "updated_at": str(self.updated_at),
            "target": _flat_json(self.target),
            "retry": _flat_json(self.retry),
            "attempt_count": str(self.attempt_count),
            "timeout_ms": str(int(self.target.timeout_seconds * 1000)),
        }

    @classmethod
    def from_record(cls, rec: dict[str, str], attempts: list[dict[str, Any]]) -> Fire:
        """The fire of a Redis hash (as ``to_record`` wrote it and the scripts updated it).

        Built without ``__init__``: a frozen dataclass's sets each of these 22 fields through
        ``object.__setattr__``, over twice the cost of the rest. Every field is set here
        (tests/unit/test_models_records.py holds it to ``__dataclass_fields__``).
        """
        get = rec.get
        first, next_at = get("first_attempt_at"), get("next_attempt_at")
        fanout, shard = get("fanout"), get("fo_shard")
        fire = object.__new__(cls)
        vars(fire).update(
            id=rec["id"],
            tenant_id=rec["tenant_id"],
            schedule_id=get("schedule_id") or None,
            kind=rec["kind"],
            scheduled_at=int(rec["scheduled_at"]),
            status=rec["status"],
            created_at=int(rec["created_at"]),
            updated_at=int(rec["updated_at"]),
            target=_target(rec["target"]),
            retry=_retry(rec["retry"]),
            attempt_count=int(get("attempt_count") or 0),
            first_attempt_at=int(first) if first else None,
            next_attempt_at=int(next_at) if next_at else None,
            attempts=tuple(tolerant(Attempt, a) for a in attempts),
            callback_url=get("callback_url") or None,
            failure_callback_url=get("failure_callback_url") or None,
            deferrals=int(get("deferrals") or 0),
            retry_base=int(get("retry_base") or 0),
            fanout=FanoutSettings.from_json(json.loads(fanout)) if fanout else None,
            shard=tolerant(ShardRef, json.loads(shard)) if shard else None,
            gathered=(int(get("fo_made") or 0), int(get("fo_ok") or 0), int(get("fo_failed") or 0)),
            schedule_stamp=get("ss") or None,
        )
        return fire


K = TypeVar("K")
V = TypeVar("V")


class InstanceMemo(Generic[K, V]):
    """``make(obj)`` remembered per instance of a frozen object that need not be hashable
    (a Target holds dicts): keyed by ``id``, the instance kept beside its value so that its
    id is not reused while the entry lives; at most ``size`` entries, the oldest out first.
    """

    def __init__(self, make: Callable[[K], V], size: int) -> None:
        self._make = make
        self._size = size
        self._kept: dict[int, tuple[K, V]] = {}

    def __call__(self, obj: K) -> V:
        hit = self._kept.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        value = self._make(obj)
        if len(self._kept) >= self._size:
            del self._kept[next(iter(self._kept))]  # the oldest
        self._kept[id(obj)] = (obj, value)
        return value


def _vars_json(obj: Target | RetrySettings) -> str:
    return json.dumps(vars(obj), default=vars)  # a Target's JobSettings as its fields


# ``json.dumps(vars(obj))`` (flat dataclasses: the JSON of ``asdict`` at a fraction of its
# cost), per instance: the fires of one schedule, and schedules stored with default
# settings, share their (frozen, never changed in place) target and retry.
_flat_json: InstanceMemo[Target | RetrySettings, str] = InstanceMemo(_vars_json, 4096)


# The fires of one schedule carry the same target and retry JSON: parsed once per distinct
# text, and the instance shared (both are frozen and never changed in place).
@lru_cache(maxsize=1024)
def _target(text: str) -> Target:
    return tolerant(Target, json.loads(text))


@lru_cache(maxsize=256)
def _retry(text: str) -> RetrySettings:
    return RetrySettings.from_json(json.loads(text))
