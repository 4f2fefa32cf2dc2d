"""Fires, their attempts, and the events of the live stream."""

from __future__ import annotations

from datetime import datetime

from cronhook.models._base import frozen

__all__ = [
    "Attempt",
    "Event",
    "Fire",
]


@frozen
class Attempt:
    """One delivery attempt: `status_code` None when no response (then `error` says why:
    `timeout`, `connect`, `ssrf`, ...); `outcome` success, retry, exhausted (no retry
    left), fail, gone or deferred."""

    number: int
    started_at: datetime
    duration_ms: float
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str = ""
    outcome: str | None = None
    replay: bool = False


@frozen
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


@frozen
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
