"""Schedules as the API shows them (and the parts accepted as input)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from cronhook.errors import FieldError
from cronhook.models._base import frozen

HttpMethod = Literal["POST", "PUT", "PATCH", "GET", "DELETE"]

__all__ = [
    "BulkItem",
    "BulkProblem",
    "BulkResult",
    "Fanout",
    "HttpMethod",
    "JobSettings",
    "Misfire",
    "Preview",
    "PreviewInstant",
    "RetrySettings",
    "Schedule",
    "Skips",
    "Target",
]


@dataclass(frozen=True, slots=True)
class JobSettings:
    """A long-running job (docs/jobs.md): an attempt times out `timeout_seconds` after it
    started, or after `heartbeat_seconds` without a progress report (None: no heartbeat)."""

    timeout_seconds: float
    heartbeat_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how a fire is delivered. `body`: any JSON value (sent as
    `application/json`), a string (sent as is), or None for no body. `job`: the endpoint
    may answer 202 and report progress and completion (`cronhook.jobs`)."""

    url: str
    method: HttpMethod = "POST"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    content_type: str | None = None
    timeout_seconds: float = 30.0
    job: JobSettings | None = None


@dataclass(frozen=True, slots=True)
class Fanout:
    """Each fire calls the target once per shard (docs/fanout.md): `shards` calls, or one
    per element of `params` (give one of them); the fire fails when more than
    `max_failed_shards` shards fail for good. As the API shows it, `shards` is the count."""

    shards: int | None = None
    params: tuple[Any, ...] | None = None
    max_failed_shards: int = 0


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


@frozen
class Skips:
    """Instants a schedule did not fire, counted since it was created: `misfire` (its
    misfire policy skipped them) and `overlap` (overlap `forbid`, the previous fire still
    being delivered); `last_skipped_at` when the latest was recorded."""

    misfire: int = 0
    overlap: int = 0
    last_skipped_at: datetime | None = None


@frozen
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
    skipped: Skips = field(default_factory=Skips)
    fanout: Fanout | None = None


@frozen
class PreviewInstant:
    """`at` in UTC, `local` on the schedule's wall clock; `dst` is `gap`, `fold` or None."""

    at: datetime
    local: datetime
    dst: str | None = None


@frozen
class Preview:
    schedule_id: str
    timezone: str
    items: tuple[PreviewInstant, ...]


@frozen
class BulkProblem:
    """Why one item of a bulk create was refused: `status` (422 for a bad field or the
    quota, 409, or 503 when the store did not answer and the item may be retried), `detail`
    in words, and `errors` naming each field as `items.<index>.<field>`."""

    status: int
    detail: str = ""
    errors: tuple[FieldError, ...] = ()


@frozen
class BulkItem:
    """One item of a bulk create, in request order: the created `schedule`, or `problem`."""

    index: int
    schedule: Schedule | None = None
    problem: BulkProblem | None = None


@frozen
class BulkResult:
    """What `schedules.create_many` did: how many were `created` and `failed`, per item."""

    created: int
    failed: int
    items: tuple[BulkItem, ...]
