"""The invoker: bus -> webhook.

For each fire message: take the fire's in-flight marker (one attempt of a fire at a time,
fleet-wide; stale copies and fires already finished are dropped), sign and send the
request, record the attempt, and put a retry back into the time index. The message is
acked only after the record is written, so a crash at any point redelivers it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from dataclasses import dataclass

from app.bus.base import Bus, Requeue
from app.bus.message import FireMessage
from app.errors import CronhookError, StoreUnavailable
from app.keys import fire_item
from app.logs import fire_fields
from app.metrics import InvokerMetrics
from app.models import Attempt, Fire, Tenant, from_ms, rfc3339
from app.settings import Settings
from app.store import Store
from dispatcher.http_client import DeliveryResult, OutboundRequest, WebhookClient
from dispatcher.planning import fire_item_payload
from dispatcher.retry import RetryPolicy, classify, next_retry_delay
from dispatcher.signing import signature_header

log = logging.getLogger("cronhook.invoker")

USER_AGENT = "cronhook/0.1 (+https://github.com/cronhook/cronhook)"
_MARKER_MARGIN_MS = 15_000
_TENANT_CACHE_S = 5.0


@dataclass
class InvokerStats:
    attempts: int = 0
    succeeded: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    deferred: int = 0


class Invoker:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        client: WebhookClient,
        settings: Settings,
        *,
        node_id: str | None = None,
        metrics: InvokerMetrics | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.client = client
        self.settings = settings
        self.node_id = node_id or f"invoker-{secrets.token_hex(4)}"
        self.stats = InvokerStats()
        self.metrics = metrics or InvokerMetrics()
        self._tenants: dict[str, tuple[float, Tenant | None]] = {}

    async def start(self) -> None:
        await self.bus.consume(self.handle, prefetch=self.settings.invoker_concurrency)

    async def handle(self, body: bytes) -> None:
        msg = FireMessage.decode(body)  # PoisonMessage -> dead letter
        try:
            with self.metrics.in_flight.track_inprogress():
                await self._deliver(msg)
        except StoreUnavailable as e:
            log.warning(
                "store unavailable while delivering %s: %s",
                msg.fire_id,
                e,
                extra=fire_fields(msg.fire_id, msg.tenant_id, msg.attempt),
            )
            raise Requeue from e

    async def _tenant(self, tenant_id: str) -> Tenant | None:
        hit = self._tenants.get(tenant_id)
        now = time.monotonic()
        if hit and now - hit[0] < _TENANT_CACHE_S:
            return hit[1]
        tenant = await self.store.records.get_tenant(tenant_id)
        self._tenants[tenant_id] = (now, tenant)
        return tenant

    async def _deliver(self, msg: FireMessage) -> None:
        fire = await self.store.fires.get(msg.tenant_id, msg.fire_id)
        tenant = await self._tenant(msg.tenant_id)
        if fire is None or tenant is None:
            self.stats.dropped += 1
            self.metrics.on_skip("missing")
            return
        token = f"{self.node_id}:{secrets.token_hex(4)}"
        ttl_ms = int(fire.target.timeout_seconds * 1000) + _MARKER_MARGIN_MS
        now_ms = int(time.time() * 1000)
        state = await self.store.fires.begin(tenant.id, fire.id, token, msg.attempt, ttl_ms, now_ms)
        if state.startswith("busy:"):
            # Another invoker is mid-attempt. Come back when its marker lapses: by then the
            # attempt is recorded (this copy is stale) or the holder died (this copy goes).
            wait_ms = max(int(state.split(":", 1)[1]), 0) + 100
            await self._requeue_later(msg, now_ms + wait_ms)
            self.stats.deferred += 1
            self.metrics.on_defer("inflight")
            return
        if state != "go":
            self.stats.dropped += 1
            self.metrics.on_skip(state)
            return
        first_ms = fire.first_attempt_at or now_ms
        self.metrics.on_start(tenant.id, msg.attempt, msg.replay, fire.scheduled_at)
        try:
            result = await self.client.send(
                self._request(fire, tenant, msg.attempt),
                allow_private=self.settings.allow_private_targets
                or tenant.limits.allowed_private_targets,
            )
            await self._record(fire, tenant, msg, token, now_ms, first_ms, result)
        except asyncio.CancelledError:
            # Stopped mid-attempt (a shutdown out of time): the bus requeues the message;
            # drop the marker so that copy goes now, not when the marker expires.
            with contextlib.suppress(CronhookError):
                await self.store.fires.release(tenant.id, fire.id, token)
            raise

    def _request(self, fire: Fire, tenant: Tenant, attempt: int) -> OutboundRequest:
        body, content_type = fire.target.encoded_body()
        ts = int(time.time())
        headers = dict(fire.target.headers)
        if content_type:
            headers["Content-Type"] = content_type
        headers.update(
            {
                "webhook-id": fire.id,
                "webhook-timestamp": str(ts),
                "webhook-signature": signature_header(
                    tenant.active_secrets(ts * 1000), fire.id, ts, body
                ),
                "Idempotency-Key": fire.id,
                "cronhook-scheduled-at": rfc3339(from_ms(fire.scheduled_at)) or "",
                "cronhook-attempt": str(attempt),
            }
        )
        if fire.schedule_id:
            headers["cronhook-schedule-id"] = fire.schedule_id
        return OutboundRequest(
            method=fire.target.method,
            url=fire.target.url,
            headers=headers,
            body=body,
            timeout_seconds=fire.target.timeout_seconds,
        )

    async def _record(
        self,
        fire: Fire,
        tenant: Tenant,
        msg: FireMessage,
        token: str,
        started_ms: int,
        first_ms: int,
        result: DeliveryResult,
    ) -> None:
        outcome = classify(result, retry_on_4xx=fire.retry.retry_on_4xx)
        now_ms = int(time.time() * 1000)
        next_ms: int | None = None
        status = {"success": "succeeded", "gone": "failed", "fail": "failed"}.get(outcome)
        if outcome == "retry":
            policy = RetryPolicy(
                max_attempts=fire.retry.max_attempts,
                min_backoff_seconds=fire.retry.min_backoff_seconds,
                max_backoff_seconds=fire.retry.max_backoff_seconds,
                max_retry_seconds=fire.retry.max_retry_seconds,
            )
            delay = next_retry_delay(
                policy, msg.attempt, first_ms / 1000, now_ms / 1000, result.retry_after_seconds
            )
            if delay is None:
                status = "failed"
            else:
                status = "retrying"
                next_ms = now_ms + int(delay * 1000)
                # the retry is in the time index before the attempt is recorded and acked
                await self.store.time.put(
                    fire_item(fire.id),
                    fire_item_payload(
                        tenant.id, fire.id, msg.attempt + 1, fire.scheduled_at, msg.replay
                    ),
                    next_ms,
                )
        attempt = Attempt(
            number=msg.attempt,
            started_at=started_ms,
            duration_ms=round(result.duration_ms, 1),
            status_code=result.status_code,
            error=result.error,
            response_excerpt=result.excerpt,
            outcome=outcome,
            replay=msg.replay,
            invoker=self.node_id,
        )
        assert status is not None
        await self.store.fires.finish(tenant.id, fire.id, token, attempt, status, now_ms, next_ms)
        if outcome == "gone" and fire.schedule_id:
            await self._pause_gone(tenant.id, fire.schedule_id)
        self.stats.attempts += 1
        counter = {"succeeded": "succeeded", "retrying": "retried", "failed": "failed"}[status]
        setattr(self.stats, counter, getattr(self.stats, counter) + 1)
        self.metrics.on_attempt(tenant.id, status, outcome, result.duration_ms)
        log.info(
            "attempt %s of %s: %s (%s)",
            msg.attempt,
            fire.id,
            status,
            result.status_code or result.error,
            extra={
                **fire_fields(fire.id, tenant.id, msg.attempt, fire.schedule_id),
                "outcome": status,
                "status_code": result.status_code,
                "error": result.error,
                "duration_ms": round(result.duration_ms, 1),
            },
        )

    async def _requeue_later(self, msg: FireMessage, due_ms: int) -> None:
        await self.store.time.put(
            fire_item(msg.fire_id),
            fire_item_payload(
                msg.tenant_id, msg.fire_id, msg.attempt, msg.scheduled_at_ms, msg.replay
            ),
            due_ms,
        )

    async def _pause_gone(self, tenant_id: str, schedule_id: str) -> None:
        s = await self.store.records.get_schedule(tenant_id, schedule_id)
        if s is None or s.paused:
            return
        now_ms = int(time.time() * 1000)
        reason = "the endpoint answered 410 Gone; resume the schedule once it is back"
        await self.store.records.put_schedule(
            s.evolve(paused=True, paused_reason=reason, version=s.version + 1, updated_at=now_ms),
            None,
        )
