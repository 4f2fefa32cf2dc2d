"""The invoker: bus -> webhook.

For each fire message:

1. Read the fire and its tenant; a fire that no longer exists is dropped.
2. Admission, one atomic script (``fire_begin.lua``): the fire's in-flight marker (one
   attempt of a fire at a time, fleet-wide) and the tenant's limits (``dispatcher.invoke.limits``).
   A stale copy or a finished fire is dropped. A copy whose attempt is in flight elsewhere,
   and a fire over a limit, go back into the time index with the same attempt number (no
   attempt used) and the message is acked. At a cron fire's first attempt the same script
   checks that its schedule's record is still the one the fire was planned from; if not
   (an edit, pause or delete since), the fire is planned again from the schedule as it is
   now, or skipped when the schedule is gone, paused, or no longer fires at that instant
   (``app.planning.replanned``).
3. Sign and send (``WebhookClient``: SSRF guard on the resolved address, a total deadline,
   a read cap, no redirects). The request holds one of the process's
   ``CRONHOOK_INVOKER_CONCURRENCY`` slots until its answer; what follows holds none.
4. Sends first: while other deliveries of this process wait to send, the work after an
   answer waits too (``_after_sends``, at most ``AFTER_SENDS_MAX_MS``), so the requests of
   an aligned instant go before the records of its first answers.
5. What must happen next is written first -- the retry into the time index, the outcome
   callback -- then the attempt is recorded (``fire_finish.lua``, which frees the marker and
   the tenant's concurrency slot), then a 410 pauses the schedule.
6. The bus acks the message only when ``handle`` returns, so a crash at any point before
   redelivers it; the endpoint then sees the same ``webhook-id`` again.

A message published ahead of its instant (``not_before_ms``, Redis time) is held, unacked,
until the instant by this process's clock corrected by its heartbeat's reading of Redis
TIME (skew plus its uncertainty: never early). Held messages wait on one timer per
``HOLD_STEP_MS`` step (set for the latest instant among them) and do not count against
``CRONHOOK_INVOKER_CONCURRENCY``; up to ``CRONHOOK_INVOKER_HOLD`` of them are taken from the
broker besides the requests in flight.
A first attempt held longer than ``PREPARE_MIN_MS`` is read (tenant, fire record) and its
request signed for its instant while it waits; at the instant the admission script also
checks that the tenant and the fire's plan are still what was read, and only then the
prepared request goes (otherwise the usual way reads them again).

Shutdown: the bus's ``drain`` stops consuming, waits for handlers, then cancels the rest; an
attempt cancelled before it was recorded is abandoned here (marker and slot freed) and the
bus requeues its message, so another invoker takes it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import math
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app import events
from app.bus.base import Bus, Requeue
from app.bus.message import FireMessage
from app.errors import CronhookError, StoreUnavailable
from app.keys import fire_item
from app.logs import fire_fields
from app.metrics import InvokerMetrics
from app.models import Attempt, Fire, Tenant
from app.payloads import fire_item_payload
from app.planning import replanned
from app.settings import Settings
from app.store import Store
from dispatcher.http.client import DeliveryResult, OutboundRequest, WebhookClient
from dispatcher.invoke.callbacks import Callbacks
from dispatcher.invoke.fanout import FanoutSide
from dispatcher.invoke.jobs import JobSide
from dispatcher.invoke.limits import Admission, limit_args, parse_admission
from dispatcher.invoke.outbound import build_request
from dispatcher.invoke.retry import Outcome, RetryPolicy, classify, next_retry_delay
from dispatcher.registry import SkewReading

log = logging.getLogger("cronhook.invoker")

_TENANT_CACHE_S = 5.0
SUMMARY_SECONDS = 10.0  # the INFO summary of attempts comes at most this often
HOLD_STEP_MS = 5  # held messages are let go on these boundaries of the local clock
_BUSY_SLACK_MS = 100
PREPARE_MIN_MS = 20  # a fire held longer than this is read and signed while it waits
AFTER_SENDS_MAX_MS = 250  # an answered attempt's record waits at most this for pending sends
_REPLANS = 3  # a schedule changing again and again: at most this many checks, then deliver
_GONE_REASON = "the endpoint answered 410 Gone; resume the schedule once it is back"


class _Delivery:
    """A message past its hold, in the invoker: counted in ``Invoker._sending`` until its
    request is on its way (``sending``), and holding one of the process's
    ``CRONHOOK_INVOKER_CONCURRENCY`` request slots until the request has its answer
    (``answered``), before the attempt is recorded."""

    __slots__ = ("_held", "_invoker", "_waiting")

    def __init__(self, invoker: Invoker) -> None:
        self._invoker = invoker
        self._waiting = True
        self._held = False
        invoker._sending += 1

    async def __aenter__(self) -> _Delivery:
        try:
            await self._invoker._slots.acquire()
        except BaseException:  # cancelled while waiting for a slot
            self.sending()
            raise
        self._held = True
        return self

    async def __aexit__(self, *_: object) -> None:
        self.sending()
        self.answered()

    def sending(self) -> None:
        if self._waiting:
            self._waiting = False
            self._invoker._sent()

    def answered(self) -> None:
        if self._held:
            self._held = False
            self._invoker._slots.release()


_delivery: contextvars.ContextVar[_Delivery | None] = contextvars.ContextVar(
    "delivery", default=None
)


class _Hold:
    """The held messages of one ``HOLD_STEP_MS`` step: one timer, at the latest instant."""

    __slots__ = ("at_ms", "event", "timer")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.at_ms = 0
        self.timer: asyncio.TimerHandle | None = None


@dataclass
class InvokerStats:
    attempts: int = 0
    succeeded: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0  # stale copies, finished or missing fires
    busy: int = 0  # copies whose attempt was in flight on another invoker
    deferred: int = 0  # over a tenant limit
    abandoned: int = 0  # cancelled mid-attempt (shutdown)
    held: int = 0  # arrived before their instant and held until it
    prepared: int = 0  # of those, sent as read and signed while held
    unprepared: int = 0  # read and signed while held, then read again (a change since)


@dataclass(frozen=True)
class Prepared:
    """A held fire read and signed before its instant (``Invoker._prepare``)."""

    tenant: Tenant
    version: str | None  # the tenant's version counter it was read at
    fire: Fire
    request: OutboundRequest


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    status: str  # succeeded | retrying | failed
    next_ms: int | None = None


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
        self.callbacks = Callbacks(store)
        self.jobs = JobSide(self)
        self.fanout = FanoutSide(self)
        self._tenants: dict[str, tuple[float, str | None, Tenant | None]] = {}
        self._summary_at = time.monotonic()
        self._summarised = (0, 0, 0)  # succeeded, retried, failed at the last summary
        self._rng = random.Random()
        # the heartbeat's latest reading of this clock against Redis TIME (None: unknown,
        # the local clock is taken as Redis's); set by dispatcher.registry.invoker_heartbeat
        self.skew: Callable[[], SkewReading | None] = lambda: None
        self._slots = asyncio.Semaphore(settings.invoker_concurrency)
        self._holds: dict[int, _Hold] = {}  # by HOLD_STEP_MS step
        # the marker must outlive the attempt and its record (two Redis calls at worst)
        self._margin_ms = int((2 * settings.redis_timeout + 1) * 1000) + AFTER_SENDS_MAX_MS
        self._sending = 0  # deliveries past their hold whose request is not yet on its way
        self._gate: asyncio.Event | None = None

    async def start(self) -> None:
        prefetch = self.settings.invoker_concurrency + self.settings.invoker_hold
        await self.bus.consume(self.handle, prefetch=prefetch)

    async def handle(self, body: bytes) -> None:
        msg = FireMessage.decode(body)  # PoisonMessage -> dead letter
        ready = None
        if msg.not_before_ms:
            if self._worth_preparing(msg):
                ready = await self._prepare(msg)
            await self.hold(msg.not_before_ms)
        try:
            async with _Delivery(self) as delivery:
                _delivery.set(delivery)
                with self.metrics.in_flight.track_inprogress():
                    if ready is None or not await self._deliver_prepared(msg, ready):
                        await self._deliver(msg)
        except StoreUnavailable as e:
            log.warning(
                "store unavailable while delivering %s: %s",
                msg.fire_id,
                e,
                extra=fire_fields(msg.fire_id, msg.tenant_id, msg.attempt),
            )
            raise Requeue from e

    def _sent(self) -> None:
        """A delivery's request is on its way (or it makes none): once none is left
        waiting to send, the records held back by ``_after_sends`` go."""
        self._sending -= 1
        if not self._sending:
            self._open_gate(self._gate)

    def _open_gate(self, gate: asyncio.Event | None) -> None:
        if gate is not None:
            gate.set()
            if self._gate is gate:
                self._gate = None

    async def _after_sends(self) -> None:
        """Wait, at most ``AFTER_SENDS_MAX_MS``, until no delivery of this process is
        waiting to send: at an aligned instant the herd's requests go before the records
        of the first answers (the work after an answer is most of an attempt's CPU)."""
        if not self._sending:
            return
        gate = self._gate
        if gate is None:
            gate = self._gate = asyncio.Event()
            asyncio.get_running_loop().call_later(AFTER_SENDS_MAX_MS / 1000, self._open_gate, gate)
        await gate.wait()

    def log_summary(self, *, now: float | None = None) -> None:
        """One INFO line for the attempts recorded since the last one, once
        ``SUMMARY_SECONDS`` have passed (the heartbeat calls this at each beat); nothing
        when there were none."""
        now = time.monotonic() if now is None else now
        span = now - self._summary_at
        if span < SUMMARY_SECONDS:
            return
        s = self.stats
        counts = (s.succeeded, s.retried, s.failed)
        ok, retried, failed = (a - b for a, b in zip(counts, self._summarised, strict=True))
        self._summary_at, self._summarised = now, counts
        if ok or retried or failed:
            log.info(
                "%d attempts in the last %.0f s: %d succeeded, %d retrying, %d failed",
                ok + retried + failed,
                span,
                ok,
                retried,
                failed,
                extra={
                    "node": self.node_id,
                    "seconds": round(span, 1),
                    "succeeded": ok,
                    "retrying": retried,
                    "failed": failed,
                },
            )

    def local_ms(self, redis_ms: float) -> float:
        """The latest local time (ms) that may still be before ``redis_ms`` in Redis time."""
        reading = self.skew()
        if reading is None:
            return redis_ms
        return redis_ms + reading.skew_ms + reading.uncertainty_ms

    async def hold(self, not_before_ms: int) -> None:
        """Return once ``not_before_ms`` (Redis time) has passed here. The messages held
        for instants within one ``HOLD_STEP_MS`` step of each other share one timer, set
        for the latest of their instants, so they go out together (a trickle of single
        fires each on its own wake-up cost ~20 % more CPU per delivery at 1,000 fires/s
        spread over the second) and the fires of one aligned instant go out at it."""
        at_ms = math.ceil(self.local_ms(not_before_ms))
        if at_ms <= time.time() * 1000:
            return
        self.stats.held += 1
        step = math.ceil(at_ms / HOLD_STEP_MS)
        while at_ms > time.time() * 1000:
            held = self._holds.get(step)
            if held is None:
                held = self._holds[step] = _Hold()
            if at_ms > held.at_ms:
                self._hold_until(step, held, at_ms)
            await held.event.wait()  # a timer may wake a little early: the loop checks again

    def _hold_until(self, step: int, held: _Hold, at_ms: int) -> None:
        if held.timer is not None:
            held.timer.cancel()
        held.at_ms = at_ms
        wait_s = max(0.0, at_ms / 1000 - time.time())
        held.timer = asyncio.get_running_loop().call_later(wait_s, self._end_hold, step, held)

    def _end_hold(self, step: int, held: _Hold) -> None:
        if self._holds.get(step) is held:
            del self._holds[step]
        held.event.set()

    async def _tenant(self, tenant_id: str) -> Tenant | None:
        """The tenant, from this process's cache while its version is the stored one: a
        small GET per delivery instead of reading and parsing the record, and a rotation
        (or any change) applies to the next delivery of every invoker."""
        return (await self._versioned_tenant(tenant_id))[0]

    async def _versioned_tenant(self, tenant_id: str) -> tuple[Tenant | None, str | None]:
        version = await self.store.records.tenant_version(tenant_id)
        hit = self._tenants.get(tenant_id)
        now = time.monotonic()
        if hit and hit[1] == version and now - hit[0] < _TENANT_CACHE_S:
            return hit[2], version
        tenant = await self.store.records.get_tenant(tenant_id)
        self._tenants[tenant_id] = (now, version, tenant)
        return tenant, version

    def _worth_preparing(self, msg: FireMessage) -> bool:
        """A first attempt held long enough to read and sign it before its instant."""
        if msg.settle or msg.attempt != 1:
            return False
        return self.local_ms(msg.not_before_ms) - time.time() * 1000 > PREPARE_MIN_MS

    async def _prepare(self, msg: FireMessage) -> Prepared | None:
        """While a fire is held: its tenant and record, and its request signed for its
        instant, so that at the instant only the admission (``fire_begin.lua``, which also
        checks that neither the tenant nor the fire's plan changed since) comes before the
        request. None: a fire this does not apply to (a long job, a fan-out, a fire
        attempted already), or the store unavailable (the instant tries the usual way)."""
        try:
            tenant, version = await self._versioned_tenant(msg.tenant_id)
            fire = await self.store.fires.record(msg.tenant_id, msg.fire_id) if tenant else None
        except StoreUnavailable:
            return None
        if (
            tenant is None
            or fire is None
            or fire.status not in ("scheduled", "dispatched")
            or fire.attempt_count
            or fire.target.job is not None
            or fire.fanout is not None
            or fire.shard is not None
        ):
            return None
        request = build_request(fire, tenant, msg.attempt, msg.not_before_ms)
        return Prepared(tenant, version, fire, request)

    async def _deliver_prepared(self, msg: FireMessage, ready: Prepared) -> bool:
        """The held fire's admission, then its prepared request. False, with nothing
        taken, when the tenant or the fire's plan changed since it was prepared (or its
        schedule since it was planned): the usual way then reads them again."""
        token = f"{self.node_id}:{secrets.token_hex(4)}"
        now_ms = int(time.time() * 1000)
        tenant, fire = ready.tenant, ready.fire
        answer = await self.store.fires.begin_prepared(
            fire,
            token,
            msg.attempt,
            now_ms,
            limit_args(tenant.limits, rng=self._rng),
            self._margin_ms,
            schedule_id=msg.schedule_id,
            tenant_version=ready.version,
        )
        if answer in ("tenant", "changed"):
            self.stats.unprepared += 1
            return False
        admission = parse_admission(answer)
        if admission.state == "go":
            self.stats.prepared += 1
            await self._attempt(fire, tenant, msg, token, now_ms, ready.request)
        elif admission.state == "fanout":  # became a fan-out parent: not from its plan, but
            record = await self.store.fires.record(tenant.id, fire.id)  # handled as one
            assert record is not None
            await self.fanout.expand(record, tenant, msg, token)
        else:
            await self._not_admitted(admission, tenant, msg, now_ms)
        return True

    async def _deliver(self, msg: FireMessage, replans: int = 0) -> None:
        tenant = await self._tenant(msg.tenant_id)
        if tenant is None:
            self.stats.dropped += 1
            self.metrics.on_skip("missing")
            return
        if msg.settle:
            await self.jobs.watch(msg, tenant)
            return
        token = f"{self.node_id}:{secrets.token_hex(4)}"
        now_ms = int(time.time() * 1000)
        answer, fire = await self.store.fires.begin_read(
            tenant.id,
            msg.fire_id,
            token,
            msg.attempt,
            now_ms,
            limit_args(tenant.limits, rng=self._rng),
            self._margin_ms,
            msg.schedule_id if replans < _REPLANS else "",
        )
        admission = parse_admission(answer)
        if admission.state == "changed":
            if await self._replan(tenant, msg):
                await self._deliver(msg, replans + 1)
        elif admission.state == "go":
            assert fire is not None
            await self._attempt(fire, tenant, msg, token, now_ms)
        elif admission.state == "fanout":
            assert fire is not None
            await self.fanout.expand(fire, tenant, msg, token)
        else:
            await self._not_admitted(admission, tenant, msg, now_ms)

    async def _not_admitted(
        self, admission: Admission, tenant: Tenant, msg: FireMessage, now_ms: int
    ) -> None:
        """An admission that makes no attempt now: come back later, or drop the copy."""
        if admission.state == "busy":
            # Another invoker is mid-attempt. Come back when its marker lapses: by then the
            # attempt is recorded (this copy is stale) or the holder died (this copy goes).
            await self._defer(msg, now_ms + admission.wait_ms + _BUSY_SLACK_MS)
            self.stats.busy += 1
            self.metrics.on_defer("inflight")
        elif admission.state == "limit":
            assert admission.at_ms is not None
            await self._defer(msg, admission.at_ms)
            self.stats.deferred += 1
            self.metrics.on_defer(admission.reason)
        else:
            self.stats.dropped += 1
            self.metrics.on_skip(admission.state)
            if admission.state == "done":  # a shard's outcome recorded, maybe not gathered
                await self.fanout.gather(tenant, msg.fire_id)

    async def _replan(self, tenant: Tenant, msg: FireMessage) -> bool:
        """The fire's schedule changed after the fire was planned: plan it again from the
        schedule as it is now (True: go on and deliver it), or record it as skipped (False).
        True as well when the record moved on meanwhile: the next begin says what it is."""
        fire = await self.store.fires.record(tenant.id, msg.fire_id)
        if fire is None or fire.schedule_id is None:
            return True
        outcome = replanned(
            fire, await self.store.records.get_schedule(tenant.id, fire.schedule_id)
        )
        done = await self.store.fires.replan(fire, int(time.time() * 1000), outcome)
        if not done or not isinstance(outcome, str):
            return True
        self.stats.dropped += 1
        self.metrics.on_skip(f"schedule_{outcome}")
        log.info(
            "fire %s skipped: its schedule was %s before its instant",
            fire.id,
            outcome,
            extra=fire_fields(fire.id, tenant.id, msg.attempt, fire.schedule_id)
            | {"skip_reason": outcome},
        )
        return False

    async def _attempt(
        self,
        fire: Fire,
        tenant: Tenant,
        msg: FireMessage,
        token: str,
        started_ms: int,
        request: OutboundRequest | None = None,
    ) -> None:
        job = None
        if fire.target.job is not None:
            job = await self.jobs.begin(fire, tenant, msg, token, started_ms)
            if job is None:
                return
        if request is None:
            request = build_request(fire, tenant, msg.attempt, int(time.time() * 1000), job)
        allow = self.settings.allow_private_targets or tenant.limits.allowed_private_targets
        self.metrics.on_start(tenant.id, msg.attempt, msg.replay, fire.scheduled_at)
        delivery = _delivery.get()
        try:
            if delivery is not None:
                delivery.sending()
            result = await self.client.send(request, allow_private=allow)
            if delivery is not None:
                delivery.answered()
                await self._after_sends()
            if job is not None and await self.jobs.answered(
                fire, tenant, msg, token, started_ms, result
            ):
                return
            await self._record(fire, tenant, msg, token, started_ms, result)
        except asyncio.CancelledError:
            # Stopped mid-attempt (a shutdown out of time): the bus requeues the message;
            # drop the marker and slot so that copy goes now, not when the marker expires.
            await self._abandon(fire, token)
            raise

    def _decide(
        self, fire: Fire, msg: FireMessage, result: DeliveryResult, now_ms: int
    ) -> Decision:
        outcome = classify(result, retry_on_4xx=fire.retry.retry_on_4xx)
        return self.decision(fire, msg, outcome, now_ms, result.retry_after_seconds)

    def decision(
        self,
        fire: Fire,
        msg: FireMessage,
        outcome: Outcome,
        now_ms: int,
        retry_after: float | None,
    ) -> Decision:
        """The fire's next status after attempt ``msg.attempt`` ended with ``outcome``."""
        if outcome == "success":
            return Decision(outcome, "succeeded")
        if outcome != "retry":
            return Decision(outcome, "failed")
        policy = RetryPolicy.of(fire.retry)
        first_ms = fire.first_attempt_at or now_ms
        delay = next_retry_delay(
            policy,
            msg.attempt - fire.retry_base,
            first_ms / 1000,
            now_ms / 1000,
            retry_after,
            self._rng,
        )
        if delay is None:
            return Decision("exhausted", "failed")
        return Decision(outcome, "retrying", now_ms + int(delay * 1000))

    async def _record(
        self,
        fire: Fire,
        tenant: Tenant,
        msg: FireMessage,
        token: str,
        started_ms: int,
        result: DeliveryResult,
    ) -> None:
        now_ms = int(time.time() * 1000)
        decision = self._decide(fire, msg, result, now_ms)
        await self.next_step(fire, tenant, msg, decision, result, now_ms)
        attempt = Attempt(
            number=msg.attempt,
            started_at=started_ms,
            duration_ms=round(result.duration_ms, 1),
            status_code=result.status_code,
            error=result.error,
            response_excerpt=result.excerpt,
            outcome=decision.outcome,
            replay=msg.replay,
            invoker=self.node_id,
        )
        await self.store.fires.finish(
            tenant.id,
            fire.id,
            token,
            attempt,
            decision.status,
            now_ms,
            decision.next_ms,
            schedule_id=fire.schedule_id,
        )
        await self.recorded(fire, tenant, msg, attempt, decision, result.duration_ms)
        # a success at DEBUG (the INFO summary counts it), a retry or failure at INFO
        level = logging.DEBUG if decision.status == "succeeded" else logging.INFO
        if log.isEnabledFor(level):
            log.log(
                level,
                "attempt %s of %s: %s (%s)",
                msg.attempt,
                fire.id,
                decision.status,
                result.status_code or result.error,
                extra={
                    **fire_fields(fire.id, tenant.id, msg.attempt, fire.schedule_id),
                    "outcome": decision.status,
                    "status_code": result.status_code,
                    "error": result.error,
                    "duration_ms": round(result.duration_ms, 1),
                },
            )

    async def next_step(
        self,
        fire: Fire,
        tenant: Tenant,
        msg: FireMessage,
        decision: Decision,
        result: DeliveryResult,
        now_ms: int,
        *,
        job: dict[str, Any] | None = None,
    ) -> None:
        """What must happen after an attempt, written before the attempt is recorded (and
        the message acked): the retry into the time index, or the outcome callbacks."""
        if decision.next_ms is not None:
            retry = FireMessage(fire.id, tenant.id, msg.attempt + 1, fire.scheduled_at, msg.replay)
            await self._defer(retry, decision.next_ms)
        else:
            await self.callbacks.outcome(
                fire, msg.attempt, decision.status, result, now_ms, replay=msg.replay, job=job
            )

    @staticmethod
    def attempt_json(attempt: Attempt) -> str:
        return json.dumps(attempt.to_json())

    async def recorded(
        self,
        fire: Fire,
        tenant: Tenant,
        msg: FireMessage,
        attempt: Attempt,
        decision: Decision,
        duration_ms: float,
    ) -> None:
        """After an attempt is recorded: its events, a 410's pause, the counts, and a
        shard's final outcome gathered into its fan-out parent."""
        await events.attempt_finished(self.store, fire, attempt, decision.status, decision.next_ms)
        if fire.shard is not None and decision.next_ms is None:
            await self.fanout.gather(tenant, fire.id)
        if decision.outcome == "gone" and fire.schedule_id:
            await self._pause_gone(tenant.id, fire.schedule_id)
        self._count(decision.status)
        self.metrics.on_attempt(
            tenant.id, decision.status, decision.outcome, duration_ms, attempt.error
        )

    def _count(self, status: str) -> None:
        self.stats.attempts += 1
        if status == "succeeded":
            self.stats.succeeded += 1
        elif status == "retrying":
            self.stats.retried += 1
        else:
            self.stats.failed += 1

    async def _defer(self, msg: FireMessage, due_ms: int) -> None:
        """Put the fire back into the time index, due at ``due_ms``, as attempt
        ``msg.attempt`` (named by attempt: see ``app.keys.fire_item``)."""
        await self.store.time.put(
            fire_item(msg.fire_id, msg.attempt),
            fire_item_payload(
                msg.tenant_id, msg.fire_id, msg.attempt, msg.scheduled_at_ms, msg.replay
            ),
            due_ms,
        )

    async def _abandon(self, fire: Fire, token: str) -> None:
        self.stats.abandoned += 1
        with contextlib.suppress(CronhookError, TimeoutError):
            await asyncio.wait_for(
                self.store.fires.release(fire.tenant_id, fire.id, token),
                timeout=1.0,
            )

    async def _pause_gone(self, tenant_id: str, schedule_id: str) -> None:
        s = await self.store.records.get_schedule(tenant_id, schedule_id)
        if s is None or s.paused:
            return
        now_ms = int(time.time() * 1000)
        await self.store.records.put_schedule(
            s.evolve(
                paused=True, paused_reason=_GONE_REASON, version=s.version + 1, updated_at=now_ms
            ),
            None,
        )
