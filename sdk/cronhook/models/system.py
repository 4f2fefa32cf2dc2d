"""Forecasts, health and the fleet: the operational views."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import field
from datetime import datetime

from cronhook.models._base import frozen

__all__ = [
    "Fleet",
    "FleetNode",
    "FleetSummary",
    "Forecast",
    "ForecastMinute",
    "Health",
    "PublishLag",
]


@frozen
class ForecastMinute:
    at: datetime
    fires: int


@frozen
class Forecast:
    """Exact fires per UTC minute from `start` to `end`, from the cron set."""

    start: datetime
    end: datetime
    hours: int
    schedules: int
    total: int
    peak: int
    minutes: tuple[ForecastMinute, ...] = ()


@frozen
class Health:
    status: str
    checks: Mapping[str, str] = field(default_factory=dict)


@frozen
class PublishLag:
    """Publish time minus due instant, since the previous heartbeat (milliseconds)."""

    p50: float | None = None
    p99: float | None = None
    max: float | None = None


@frozen
class FleetNode:
    """One dispatcher or invoker process, from its heartbeats. `state`: active,
    clock_skewed (a dispatcher that claims nothing until its clock is back) or lost."""

    id: str
    role: str
    live: bool
    state: str
    host: str | None = None
    pid: int | None = None
    started_at: datetime | None = None
    last_heartbeat_at: datetime
    heartbeat_age_seconds: float
    clock_skew_ms: float | None = None
    claims_per_second: float | None = None
    publishes_per_second: float | None = None
    publish_lag_ms: PublishLag | None = None
    batches_in_flight: int | None = None
    attempts_per_second: float | None = None
    counters: Mapping[str, int] = field(default_factory=dict)


@frozen
class FleetSummary:
    live_dispatchers: int
    claiming_dispatchers: int
    live_invokers: int
    claims_per_second: float
    time_index_depth: int


@frozen
class Fleet:
    """The live fleet of dispatchers and invokers (admin)."""

    now: datetime
    dispatchers: tuple[FleetNode, ...] = ()
    invokers: tuple[FleetNode, ...] = ()
    summary: FleetSummary
