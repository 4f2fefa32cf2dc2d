"""Fires, their attempts, and the events of the live stream."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cronhook.models._base import frozen

__all__ = [
    "Attempt",
    "Event",
    "Fire",
    "FireFanout",
    "FireShard",
    "Job",
    "LateCompletion",
    "Shard",
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
class LateCompletion:
    """A completion refused with 409 (its attempt was over) and kept for the record."""

    attempt: int
    at: datetime
    status: str
    reason: str


@frozen
class Job:
    """A long job's current (or last) attempt: `state` delivering, running, closed (answered
    other than 202), succeeded, failed or timeout; `progress` the last report (`percent`,
    `message`, `data`, `at`); `result` the completion's document."""

    attempt: int
    state: str
    started_at: datetime
    deadline_at: datetime | None = None
    heartbeats: int = 0
    progress: Mapping[str, Any] | None = None
    result: Any = None
    completed_at: datetime | None = None
    late_completions: tuple[LateCompletion, ...] = ()

    @property
    def percent(self) -> float | None:
        """The last reported percentage, if any."""
        value = (self.progress or {}).get("percent")
        return float(value) if isinstance(value, int | float) else None


@frozen
class FireFanout:
    """A fan-out fire's shards (docs/fanout.md): how many, how many made so far, and their
    outcomes (`open`: not ended yet, made or not)."""

    shards: int
    max_failed_shards: int = 0
    made: int = 0
    succeeded: int = 0
    failed: int = 0
    open: int = 0


@frozen
class FireShard:
    """What makes a fire a shard: its fan-out fire, its 0-based index, the shard count and
    its element of the fan-out's `params` (None without params)."""

    parent_id: str
    index: int
    count: int
    params: Any = None


@frozen
class Shard:
    """One shard in its fan-out fire's list (`fires.shards`): its status and its last
    attempt's answer; `job` (`state`, `result`) for a long-job target."""

    id: str
    index: int
    status: str
    attempt_count: int = 0
    updated_at: datetime
    status_code: int | None = None
    error: str | None = None
    response_excerpt: str | None = None
    job: Mapping[str, Any] | None = None


@frozen
class Fire:
    """One invocation. `kind`: cron, manual, message or replay. `status`: scheduled,
    dispatched, delivering, running (a long job), succeeded, retrying, failed (a dead
    letter) or skipped. `schedule_id` is None for one-off messages. The id is the
    `webhook-id` delivered. `job`: a long job's attempt (None for a plain webhook).
    `fanout`: a fan-out fire's shard counts; `shard`: a shard's place in its fan-out."""

    id: str
    schedule_id: str | None = None
    kind: str
    scheduled_at: datetime
    status: str
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None = None
    deadline_at: datetime | None = None
    progress: Mapping[str, Any] | None = None
    attempt_count: int = 0
    attempts: tuple[Attempt, ...] = ()
    job: Job | None = None
    fanout: FireFanout | None = None
    shard: FireShard | None = None


@frozen
class Event:
    """One event of the live stream: `type` is fire.dispatched, attempt.finished,
    fire.succeeded, fire.failed, or for long jobs fire.running and fire.progress (with
    `deadline_at`, and `progress` as the job reported it). A shard's events carry `shard`
    (`parent_id`, `index`, `count`); a fan-out fire's final event carries `fanout`."""

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
    deadline_at: datetime | None = None
    progress: Mapping[str, Any] | None = None
    shard: Mapping[str, Any] | None = None
    fanout: FireFanout | None = None
