"""The invoker's side of long jobs (docs/jobs.md; the state machine is app/store/jobs.py).

Before the request: the attempt's token is minted and its hash stored (``job_start.lua``);
the request carries the job URL, the token and their signature. After the answer: a 202
first puts the attempt's watch into the time index (at its deadline), then records the job
as running (``job_answer.lua``); any other answer is recorded the usual way, unless the job
already reported its completion, which then stands. Settling an ended attempt (a
completion, a timeout) goes the usual way of an outcome: the retry or the callbacks first,
then the record, once (``job_settle.lua``), then events and metrics.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from app import events
from app.bus.message import FireMessage
from app.jobs import JobRef, JobState, mint_token, token_hash
from app.keys import job_item
from app.logs import fire_fields
from app.models import Attempt, Fire, JobSettings, Tenant
from app.payloads import job_watch_payload
from dispatcher.http.client import DeliveryResult
from dispatcher.invoke.retry import Outcome

if TYPE_CHECKING:
    from dispatcher.invoke.invoker import Invoker

log = logging.getLogger("cronhook.invoker")

_ERRORS = {"failed": "job_failed", "timeout": "job_timeout"}


def _now_ms() -> int:
    return int(time.time() * 1000)


def deadline_ms(job: JobSettings, started_ms: int, now_ms: int) -> int:
    """A running attempt's first deadline (as ``job_answer.lua`` sets it)."""
    hard = started_ms + job.timeout_ms
    return min(now_ms + job.heartbeat_ms, hard) if job.heartbeat_ms else hard


def job_outcome(state: JobState) -> Outcome:
    if state.state == "succeeded":
        return "success"
    if state.state == "failed" and not state.may_retry:
        return "fail"
    return "retry"  # failed (retryable) or timeout


def job_result(state: JobState) -> DeliveryResult:
    """The attempt as the retry policy, the attempt record and the callbacks see it."""
    return DeliveryResult(
        status_code=state.status_code,
        error=_ERRORS.get(state.state),
        duration_ms=float(state.duration_ms),
        excerpt=state.excerpt,
        retry_after_seconds=None,
    )


class JobSide:
    def __init__(self, invoker: Invoker) -> None:
        self._inv = invoker

    async def begin(
        self, fire: Fire, tenant: Tenant, msg: FireMessage, owner: str, started_ms: int
    ) -> tuple[str, str] | None:
        """Start the attempt's job state; its (job URL, token), or None when nothing is to
        be sent (the attempt already ended: settled here; or stale: dropped)."""
        assert fire.target.job is not None
        inv, ref = self._inv, JobRef(fire.id)
        token = mint_token(tenant.id, msg.attempt)
        answer = await inv.store.jobs.start(
            tenant.id, ref, msg.attempt, token_hash(token), started_ms, fire.target.job
        )
        if answer == "go":
            return ref.url(inv.settings.api_base_url()), token
        await inv.store.fires.release(tenant.id, fire.id, owner)
        if answer == "ended":
            state = await inv.store.jobs.get(tenant.id, ref.id)
            if state is not None:
                await self.settle(fire, tenant, msg, state)
        else:
            inv.stats.dropped += 1
            inv.metrics.on_skip("stale")
        return None

    async def answered(
        self,
        fire: Fire,
        tenant: Tenant,
        msg: FireMessage,
        owner: str,
        started_ms: int,
        result: DeliveryResult,
    ) -> bool:
        """Handle a job target's answer; False when the attempt is to be recorded the
        usual way (``Invoker._record``)."""
        job, inv, ref = fire.target.job, self._inv, JobRef(fire.id)
        assert job is not None
        now = _now_ms()
        if result.status_code == 202:
            # the watch first: a job recorded as running always has one
            due = deadline_ms(job, started_ms, now)
            payload = job_watch_payload(
                tenant.id, fire.id, msg.attempt, fire.scheduled_at, msg.replay
            )
            await inv.store.time.put(job_item(ref.id, msg.attempt), payload, due)
        answer, deadline = await inv.store.jobs.answer(
            tenant.id, ref, msg.attempt, owner, result.status_code, result.excerpt, now
        )
        if answer == "running":
            assert deadline is not None
            inv.metrics.jobs_started.inc()
            await events.running(inv.store, fire, msg.attempt, deadline)
            return True
        if answer == "ended":
            state = await inv.store.jobs.get(tenant.id, ref.id)
            if state is not None:
                await self.settle(fire, tenant, msg, state)
            return True
        return False

    async def watch(self, msg: FireMessage, tenant: Tenant) -> None:
        """A watch came due (``FireMessage.settle``): end the attempt if its deadline has
        passed, apply an outcome that waits, or watch again at a pushed deadline."""
        inv, ref = self._inv, JobRef(msg.fire_id)
        answer, deadline, state = await inv.store.jobs.check(tenant.id, ref, msg.attempt, _now_ms())
        if answer == "wait":
            assert deadline is not None
            payload = job_watch_payload(
                tenant.id, msg.fire_id, msg.attempt, msg.scheduled_at_ms, msg.replay
            )
            await inv.store.time.put(job_item(ref.id, msg.attempt), payload, deadline)
            return
        if answer != "ended" or state is None:
            inv.stats.dropped += 1
            inv.metrics.on_skip("done")
            await inv.fanout.gather(tenant, msg.fire_id)  # a shard settled, maybe not gathered
            return
        fire = await inv.store.fires.get_record(tenant.id, msg.fire_id)
        if fire is None:
            inv.metrics.on_skip("missing")
            return
        await self.settle(fire, tenant, msg, state)

    async def settle(self, fire: Fire, tenant: Tenant, msg: FireMessage, state: JobState) -> None:
        """Apply an ended attempt's outcome (once, whoever gets here first)."""
        inv, now = self._inv, _now_ms()
        result = job_result(state)
        decision = inv.decision(fire, msg, job_outcome(state), now, None)
        # the callbacks' ``job`` (docs/jobs.md): status, result document, last progress report
        job_view: dict[str, Any] = {
            "status": state.state,
            "result": state.result,
            "progress": state.progress,
        }
        await inv.next_step(fire, tenant, msg, decision, result, now, job=job_view)
        attempt = Attempt(
            number=msg.attempt,
            started_at=state.started_at,
            duration_ms=float(state.duration_ms),
            status_code=state.status_code,
            error=result.error,
            response_excerpt=state.excerpt,
            outcome=decision.outcome,
            replay=msg.replay,
            invoker=inv.node_id,
        )
        applied = await inv.store.jobs.settle(
            tenant.id,
            JobRef(fire.id),
            msg.attempt,
            inv.attempt_json(attempt),
            decision.status,
            now,
            decision.next_ms,
            fire.schedule_id,
        )
        if applied in ("done", "missing"):
            if applied == "done":  # settled by another: a shard's outcome is gathered once
                await inv.fanout.gather(tenant, fire.id)
            return
        inv.metrics.on_job_ended(state.state, state.duration_ms)
        await inv.recorded(fire, tenant, msg, attempt, decision, state.duration_ms)
        log.info(
            "job attempt %s of %s: %s",
            msg.attempt,
            fire.id,
            state.state,
            extra={**fire_fields(fire.id, tenant.id, msg.attempt, fire.schedule_id)},
        )
