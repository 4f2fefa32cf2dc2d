"""Prometheus metrics: every definition in one place, one registry per process.

Each process builds one :class:`CollectorRegistry` (never the global default, so tests
make fresh ones) and the metric groups of the roles it runs. The dispatcher, the invoker
and the API call one-line hooks on their group; the runtime serves the registry.

Label rule: every label takes values from a closed set (route templates, outcomes,
limits, roles). Tenant ids are unbounded, so no series carries one by default; an
operator may name a few tenants in ``CRONHOOK_METRICS_TENANTS`` to give them their own
``tenant`` value on the delivery series, every other tenant counts as ``_other``. The
cardinality is then bounded by that list.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import (
    PLATFORM_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.metrics_core import Metric

from app.bus.message import FireMessage
from app.version import __version__

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OTHER_TENANT = "_other"

# Lag from a scheduled instant: 5 ms to 5 min (late fleets, misfires, deferrals).
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
# Time spent in one request or attempt: 1 ms to 60 s (webhook timeouts go that high).
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# A long job's attempt: 100 ms to a day.
JOB_BUCKETS = (0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 86400)


# Transport error classes of an attempt (``DeliveryResult.error``) -> the ``error`` label.
ERROR_CLASSES = {
    "timeout": "timeout",
    "connect": "connect",
    "dns": "dns",
    "tls": "tls",
    "ssrf_blocked": "blocked",
    "protocol": "protocol",
    "too_large": "too_large",
    "invalid_url": "invalid",
    "invalid_request": "invalid",
    "job_failed": "job_failed",  # a long job reported failed (docs/jobs.md)
    "job_timeout": "job_timeout",  # a long job's attempt timed out
}


def new_registry(*, process: bool = False) -> CollectorRegistry:
    """A fresh registry; ``process`` adds the standard ``process_*`` (CPU, memory, file
    descriptors) and ``python_info`` series and ``cronhook_build_info``, as a process
    serving /metrics should."""
    registry = CollectorRegistry(auto_describe=True)
    if process:
        ProcessCollector(registry=registry)
        registry.register(PLATFORM_COLLECTOR)
        build = Info("cronhook_build", "The cronhook version this process runs", registry=registry)
        build.info({"version": __version__, "python": platform.python_version()})
    return registry


class _WithoutCreated:
    """A registry's families without their ``*_created`` samples: prometheus_client adds
    one per counter and histogram child, which doubles the series and serves no query."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            kept = [s for s in family.samples if not s.name.endswith("_created")]
            if len(kept) != len(family.samples):
                family.samples = kept
            yield family


def exposition(registry: CollectorRegistry) -> bytes:
    """The registry in the Prometheus text format (served with ``CONTENT_TYPE``), without
    ``*_created`` series."""
    return generate_latest(_WithoutCreated(registry))


class ApiMetrics:
    """Requests by route template (never the raw path) and status; latency by route."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry if registry is not None else new_registry()
        self.requests = Counter(
            "cronhook_api_requests_total",
            "API requests by method, route template and status code",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "cronhook_api_request_duration_seconds",
            "API request latency by method and route template",
            ["method", "route"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class DispatcherMetrics:
    """Time index -> bus: claims, publishes, lag, lease expiries, misfire skips."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry if registry is not None else new_registry()
        self.claimed = Counter(
            "cronhook_dispatcher_claimed_total",
            "Time-index items claimed, by kind (schedule: a schedule's next fire; "
            "fire: a retry, deferral or one-off message)",
            ["kind"],
            registry=r,
        )
        self.published = Counter(
            "cronhook_dispatcher_published_total",
            "Fire messages published to the bus and confirmed by the broker",
            registry=r,
        )
        self.publish_lag = Histogram(
            "cronhook_dispatcher_publish_lag_seconds",
            "First attempts: broker confirm time minus the fire's scheduled instant",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.leases_expired = Counter(
            "cronhook_dispatcher_leases_expired_total",
            "Claims whose lease ran out (a dispatcher died or stalled); the claim script "
            "returned their items to the due set to be claimed again",
            registry=r,
        )
        self.claims_lost = Counter(
            "cronhook_dispatcher_claims_lost_total",
            "Completions refused because this dispatcher's lease had expired meanwhile",
            registry=r,
        )
        self.skipped = Counter(
            "cronhook_dispatcher_misfires_skipped_total",
            "Scheduled instants not fired because of the schedule's misfire policy",
            registry=r,
        )
        self.tick_errors = Counter(
            "cronhook_dispatcher_tick_errors_total",
            "Dispatcher ticks that failed on Redis or RabbitMQ (claims given back)",
            registry=r,
        )
        self.herds = Counter(
            "cronhook_dispatcher_herds_total",
            "Herds seen coming (CRONHOOK_HERD_SIZE items or more due within "
            "CRONHOOK_HERD_LOOKAHEAD_SECONDS): claimed and prepared that far ahead",
            registry=r,
        )

    def on_claim(self, items: Iterable[str], reclaimed: int) -> None:
        schedules = fires = 0
        for item in items:
            if item.startswith("s:"):
                schedules += 1
            else:
                fires += 1
        if schedules:
            self.claimed.labels("schedule").inc(schedules)
        if fires:
            self.claimed.labels("fire").inc(fires)
        if reclaimed:
            self.leases_expired.inc(reclaimed)

    def on_publish(self, messages: Sequence[FireMessage]) -> None:
        if not messages:
            return
        self.published.inc(len(messages))
        now_ms = time.time() * 1000
        for m in messages:
            if m.attempt == 1 and not m.replay:
                self.publish_lag.observe(max(0.0, now_ms - m.scheduled_at_ms) / 1000)

    def on_lost(self, count: int) -> None:
        if count:
            self.claims_lost.inc(count)


class InvokerMetrics:
    """Bus -> webhook: outcomes, lag, attempt duration, retries, deferrals, dead letters."""

    def __init__(
        self, registry: CollectorRegistry | None = None, *, tenants: Iterable[str] = ()
    ) -> None:
        r = registry if registry is not None else new_registry()
        self._tenants = frozenset(tenants)
        self._children: dict[tuple[Any, ...], Any] = {}
        self.deliveries = Counter(
            "cronhook_invoker_deliveries_total",
            "Attempts recorded, by the fire's resulting status (succeeded, retrying, "
            "failed) and tenant (named tenants only, see CRONHOOK_METRICS_TENANTS)",
            ["outcome", "tenant"],
            registry=r,
        )
        self.delivery_lag = Histogram(
            "cronhook_invoker_delivery_lag_seconds",
            "First attempts: request start minus the fire's scheduled instant",
            ["tenant"],
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.attempt_duration = Histogram(
            "cronhook_invoker_attempt_duration_seconds",
            "Duration of one webhook attempt, by classification (success, retry, fail, gone)",
            ["result"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.retries = Counter(
            "cronhook_invoker_retries_total",
            "Retries put back into the time index after a failed attempt",
            registry=r,
        )
        self.dead_letters = Counter(
            "cronhook_invoker_dead_letters_total",
            "Fires that failed for good (replayable dead letters)",
            registry=r,
        )
        self.deferrals = Counter(
            "cronhook_invoker_deferrals_total",
            "Deliveries put back into the time index by a limit, by limit (rate, "
            "concurrency: the tenant's; inflight: another invoker has that attempt)",
            ["limit"],
            registry=r,
        )
        self.skipped = Counter(
            "cronhook_invoker_skipped_total",
            "Messages acked without an attempt, by reason (stale: that attempt is "
            "already recorded; done: the fire is final; missing: no record; "
            "schedule_deleted, schedule_paused, schedule_edited: a cron fire skipped because "
            "its schedule changed before its instant)",
            ["reason"],
            registry=r,
        )
        self.attempt_errors = Counter(
            "cronhook_invoker_attempt_errors_total",
            "Attempts that got no HTTP response, by error class (timeout, connect, dns, tls, "
            "blocked: the SSRF guard refused the address, protocol, too_large, invalid: a URL "
            "or request that cannot be sent, job_failed and job_timeout: a long job's attempt, "
            "other)",
            ["error"],
            registry=r,
        )
        self.in_flight = Gauge(
            "cronhook_invoker_in_flight",
            "Deliveries this invoker is working on now",
            registry=r,
        )
        self.jobs_started = Counter(
            "cronhook_jobs_started_total",
            "Long-job attempts that answered 202 and run (running now: cronhook_jobs_running)",
            registry=r,
        )
        self.jobs_ended = Counter(
            "cronhook_jobs_ended_total",
            "Long-job attempts ended, by outcome (succeeded, failed, timeout)",
            ["outcome"],
            registry=r,
        )
        self.job_duration = Histogram(
            "cronhook_job_duration_seconds",
            "Long-job attempts: from the request to the completion or timeout, by outcome",
            ["outcome"],
            buckets=JOB_BUCKETS,
            registry=r,
        )
        self.shards_made = Counter(
            "cronhook_fanout_shards_made_total",
            "Shard deliveries made by expanding fan-out fires (docs/fanout.md)",
            registry=r,
        )
        self.fanouts_ended = Counter(
            "cronhook_fanouts_ended_total",
            "Fan-out fires ended after their last shard, by status (succeeded, failed)",
            ["status"],
            registry=r,
        )

    def tenant(self, tenant_id: str) -> str:
        return tenant_id if tenant_id in self._tenants else OTHER_TENANT

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once (the label sets are few and bounded:
        named tenants only; ``labels()`` takes a lock and validates on every call)."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def on_start(self, tenant_id: str, attempt: int, replay: bool, scheduled_ms: int) -> None:
        if attempt == 1 and not replay:
            lag = max(0.0, time.time() * 1000 - scheduled_ms) / 1000
            self._child(self.delivery_lag, self.tenant(tenant_id)).observe(lag)

    def on_attempt(
        self,
        tenant_id: str,
        status: str,
        result: str,
        duration_ms: float,
        error: str | None = None,
    ) -> None:
        self._child(self.deliveries, status, self.tenant(tenant_id)).inc()
        self._child(self.attempt_duration, result).observe(duration_ms / 1000)
        if error is not None:
            self._child(self.attempt_errors, ERROR_CLASSES.get(error, "other")).inc()
        if status == "retrying":
            self.retries.inc()
        elif status == "failed":
            self.dead_letters.inc()

    def on_job_ended(self, outcome: str, duration_ms: float) -> None:
        """A long job's attempt ended (``outcome``: succeeded, failed, timeout)."""
        self._child(self.jobs_ended, outcome).inc()
        self._child(self.job_duration, outcome).observe(duration_ms / 1000)

    def on_defer(self, limit: str) -> None:
        self.deferrals.labels(limit).inc()

    def on_skip(self, reason: str) -> None:
        self.skipped.labels(reason.split(":", 1)[0]).inc()


class SystemMetrics:
    """Gauges of shared state, refreshed every few seconds by each process (see
    ``app.observe.refresh_gauges``); with several processes, take the max in queries."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry if registry is not None else new_registry()
        self.time_index = Gauge(
            "cronhook_time_index_items",
            "Items in the Redis time index, by state (scheduled: not due yet; due: due "
            "now and not yet claimed, the dispatchers' backlog; claimed: under a lease)",
            ["state"],
            registry=r,
        )
        self.oldest_due = Gauge(
            "cronhook_time_index_oldest_due_seconds",
            "How long the oldest due and unclaimed time-index item has been due (0 when "
            "none is): how far behind the dispatchers are",
            registry=r,
        )
        self.queue = Gauge(
            "cronhook_queue_messages",
            "Fire messages ready in the RabbitMQ queue",
            registry=r,
        )
        self.dead_letters = Gauge(
            "cronhook_queue_dead_letters",
            "Messages in the RabbitMQ dead-letter queue (<queue>.dlq): undecodable, or "
            "past CRONHOOK_DELIVERY_LIMIT; each needs an operator's look",
            registry=r,
        )
        self.fleet = Gauge(
            "cronhook_fleet_nodes",
            "Processes with a live heartbeat in the fleet registry, by role",
            ["role"],
            registry=r,
        )
        self.jobs_running = Gauge(
            "cronhook_jobs_running",
            "Long-job attempts running now across the fleet (answered 202, neither "
            "completed nor timed out), as the job scripts keep them in Redis",
            registry=r,
        )
        self.redis_headroom = Gauge(
            "cronhook_redis_memory_headroom_ratio",
            "Share of maxmemory still free on the fullest Redis master (1 without "
            "maxmemory); alert well before 0: at 0 writes fail (noeviction)",
            registry=r,
        )
        self.redis_used = Gauge(
            "cronhook_redis_used_memory_bytes",
            "used_memory of the fullest Redis master",
            registry=r,
        )
        self.refresh_errors = Counter(
            "cronhook_gauge_refresh_errors_total",
            "Gauge refreshes that failed (Redis or RabbitMQ unreachable)",
            registry=r,
        )
