"""What the API returns, as frozen dataclasses (fields named as in `openapi.yaml`).

Instants are aware datetimes (UTC, except `PreviewInstant.local` which keeps the schedule's
offset). Fields the server may leave out have defaults; fields the server adds later are
ignored. `Target`, `RetrySettings`, `Misfire`, `TenantLimits` and `RateLimit` are also
accepted as input (a plain dict works too, e.g. `{"max_attempts": 3}`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

__all__ = [
    "ApiKey",
    "ApiKeyCreated",
    "Attempt",
    "CurrentTenant",
    "Event",
    "Fire",
    "Forecast",
    "ForecastMinute",
    "Health",
    "HttpMethod",
    "Misfire",
    "Page",
    "Preview",
    "PreviewInstant",
    "RateLimit",
    "RetrySettings",
    "RotatedSecret",
    "Schedule",
    "SigningSecretInfo",
    "Target",
    "Tenant",
    "TenantCreated",
    "TenantLimits",
    "TenantUsage",
]

T = TypeVar("T")
HttpMethod = Literal["POST", "PUT", "PATCH", "GET", "DELETE"]
_frozen = dataclass(frozen=True, kw_only=True, slots=True)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list: `items` newest first, `next_cursor` None on the last page."""

    items: tuple[T, ...]
    next_cursor: str | None


# -- schedules -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how a fire is delivered. `body`: any JSON value (sent as
    `application/json`), a string (sent as is), or None for no body."""

    url: str
    method: HttpMethod = "POST"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    content_type: str | None = None
    timeout_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class RetrySettings:
    """How failed deliveries are retried (exponential backoff with full jitter)."""

    max_attempts: int = 8
    min_backoff_seconds: float = 5.0
    max_backoff_seconds: float = 36_000.0
    max_retry_seconds: float = 86_400.0
    retry_on_4xx: bool = True


@dataclass(frozen=True, slots=True)
class Misfire:
    """Instants missed while the fleet was down: `fire_once` (coalesce within
    `grace_seconds`), `skip`, or `fire_all`."""

    policy: Literal["fire_once", "skip", "fire_all"] = "fire_once"
    grace_seconds: float = 300.0


@_frozen
class Schedule:
    id: str
    name: str
    cron: str
    timezone: str
    target: Target
    retry: RetrySettings
    paused: bool
    paused_reason: str | None = None
    start_at: datetime | None = None
    end_at: datetime | None = None
    misfire: Misfire = field(default_factory=Misfire)
    overlap: str = "allow"
    metadata: Mapping[str, str] = field(default_factory=dict)
    callback_url: str | None = None
    failure_callback_url: str | None = None
    version: int = 1
    created_at: datetime
    updated_at: datetime
    next_fire_at: datetime | None = None


@_frozen
class PreviewInstant:
    """`at` in UTC, `local` on the schedule's wall clock; `dst` is `gap`, `fold` or None."""

    at: datetime
    local: datetime
    dst: str | None = None


@_frozen
class Preview:
    schedule_id: str
    timezone: str
    items: tuple[PreviewInstant, ...]


# -- fires ---------------------------------------------------------------------------------


@_frozen
class Attempt:
    """One delivery attempt: `status_code` None when no response (then `error` says why:
    `timeout`, `connect`, `ssrf`, ...); `outcome` success, retry, fail, gone or deferred."""

    number: int
    started_at: datetime
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str = ""
    outcome: str | None = None
    replay: bool = False


@_frozen
class Fire:
    """One invocation. `kind`: cron, manual, message or replay. `status`: scheduled,
    dispatched, delivering, succeeded, retrying, failed (a dead letter) or skipped.
    `schedule_id` is None for one-off messages. The id is the `webhook-id` delivered."""

    id: str
    schedule_id: str | None = None
    kind: str
    scheduled_at: datetime
    status: str
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None = None
    attempt_count: int = 0
    attempts: tuple[Attempt, ...] = ()


@_frozen
class Event:
    """One event of the live stream: `type` is fire.dispatched, attempt.finished,
    fire.succeeded or fire.failed."""

    type: str
    fire_id: str
    schedule_id: str | None = None
    at: datetime
    scheduled_at: datetime | None = None
    status: str
    attempt: int | None = None
    status_code: int | None = None
    error: str | None = None
    outcome: str | None = None
    replay: bool = False
    next_attempt_at: datetime | None = None


# -- tenants -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_second: float
    burst: int


@dataclass(frozen=True, slots=True)
class TenantLimits:
    """Quotas the operator sets. As input, fields left None keep the server's default."""

    max_schedules: int | None = None
    min_interval_seconds: float | None = None
    max_body_bytes: int | None = None
    rate_limit: RateLimit | None = None
    max_concurrency: int | None = None
    allowed_private_targets: bool | None = None
    api_rate_limit: RateLimit | None = None


@_frozen
class TenantUsage:
    schedules: int
    paused_schedules: int
    api_keys: int
    dead_letters: int


@_frozen
class Tenant:
    id: str
    name: str
    created_at: datetime
    updated_at: datetime
    limits: TenantLimits
    metadata: Mapping[str, str] = field(default_factory=dict)
    usage: TenantUsage | None = None


@_frozen
class TenantCreated(Tenant):
    """A new tenant with its first API key and signing secret, both shown only once."""

    api_key: str
    api_key_id: str
    signing_secret: str


@_frozen
class SigningSecretInfo:
    """A signing secret by its prefix; `expires_at` None for the current one."""

    prefix: str
    created_at: datetime
    expires_at: datetime | None = None


@_frozen
class CurrentTenant(Tenant):
    """The tenant of the API key in use, with its usage and active signing secrets."""

    api_key_id: str
    signing_secrets: tuple[SigningSecretInfo, ...] = ()


@_frozen
class RotatedSecret:
    """The new signing secret (shown once) and every secret that signs now."""

    signing_secret: str
    created_at: datetime
    signing_secrets: tuple[SigningSecretInfo, ...] = ()


@_frozen
class ApiKey:
    id: str
    prefix: str
    name: str | None = None
    created_at: datetime


@_frozen
class ApiKeyCreated(ApiKey):
    """A new API key; `api_key` is shown only once."""

    api_key: str


# -- forecast and system -------------------------------------------------------------------


@_frozen
class ForecastMinute:
    at: datetime
    fires: int


@_frozen
class Forecast:
    """Exact fires per UTC minute from `start` to `end`, from the cron set."""

    start: datetime
    end: datetime
    hours: int
    schedules: int
    total: int
    peak: int
    minutes: tuple[ForecastMinute, ...] = ()


@_frozen
class Health:
    status: str
    checks: Mapping[str, str] = field(default_factory=dict)
