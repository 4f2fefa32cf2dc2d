"""Per-tenant limits end to end on the real services: the rate with its burst, max
concurrent deliveries fleet-wide, deferrals that use no attempt, and the noisy neighbour."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import AsyncIterator

import pytest

from app.models import RetrySettings
from tests.delivery.world import World, now_ms, world
from tests.receiver import Receiver

pytestmark = pytest.mark.external_service


@pytest.fixture(params=[1, 3], ids=["1-queue", "3-queues"])
async def w(
    request: pytest.FixtureRequest, redis_url: str, amqp_url: str, prefix: str, queue_name: str
) -> AsyncIterator[World]:
    """The limits hold whether the fires go to one work queue or are spread over three."""
    async with world(redis_url, amqp_url, prefix, queue_name, queues=request.param) as running:
        running.start_dispatcher()
        await running.start_invoker()
        yield running


async def test_a_tenants_rate_and_burst_hold_at_the_endpoint(w: World, rx: Receiver) -> None:
    # given 5/s with a burst of 2, and twelve fires due at once
    tenant = await w.tenant(per_second=5, burst=2)
    fires = [await w.message(tenant, rx.url("/ok")) for _ in range(12)]
    done = await w.settled(tenant.id, [f.id for f in fires], within=15)
    hits = rx.requests_to("/ok")
    started = {f.id: f.attempts[0].started_at / 1000 for f in done}
    # then the invoker started no more than burst + rate * any window's length (slack: one
    # request) -- the limiter admits on Redis time, just before the request goes
    _conforms(sorted(started.values()), per_second=5, burst=2)
    # and the endpoint saw the same, give or take how unevenly the requests took from their
    # start to their arrival (a cold connection, a busy loop: the limiter cannot see those)
    took = [h.arrived_at - started[h.headers["webhook-id"]] for h in hits]
    _conforms(
        sorted(h.arrived_at for h in hits), per_second=5, burst=2, jitter=max(took) - min(took)
    )
    # and every fire went on its first attempt: deferrals used no attempt number
    assert {f.status for f in done} == {"succeeded"}
    assert [len(f.attempts) for f in done] == [1] * 12
    assert {h.headers["cronhook-attempt"] for h in hits} == {"1"}
    assert sum(f.deferrals for f in done) >= 10
    # the backlog drained at the rate, not in bursts of retries: ~ (12 - 2) / 5 = 2 s
    assert hits[-1].arrived_monotonic - hits[0].arrived_monotonic >= 1.8


def _conforms(moments: list[float], *, per_second: float, burst: int, jitter: float = 0.0) -> None:
    """No window of ``moments`` (seconds, sorted) holds more than ``burst`` plus the rate
    times its length (widened by ``jitter``), with one request of slack."""
    for i, j in itertools.combinations(range(len(moments)), 2):
        span = moments[j] - moments[i] + jitter
        assert j - i + 1 <= burst + per_second * span + 1, (i, j, moments)


async def test_max_concurrency_holds_across_invokers(w: World, rx: Receiver) -> None:
    # given two invokers and a tenant allowed two deliveries in flight
    await w.start_invoker()
    tenant = await w.tenant(max_concurrency=2)
    fires = [await w.message(tenant, rx.url("/slow/0.4")) for _ in range(8)]
    done = await w.settled(tenant.id, [f.id for f in fires], within=15)
    # then at no moment were more than two requests of the tenant at the endpoint
    starts = sorted(h.arrived_monotonic for h in rx.requests_to("/slow/0.4"))
    most = max(sum(1 for s in starts if t <= s < t + 0.4) for t in starts)
    assert most <= 2
    assert [len(f.attempts) for f in done] == [1] * 8
    assert await w.store.fires.in_flight(tenant.id) == 0  # every slot given back


async def test_a_hanging_and_a_failing_tenant_do_not_hold_another_tenants_deliveries(
    w: World, rx: Receiver
) -> None:
    """The bound: a tenant whose endpoint hangs holds at most its max_concurrency slots
    (here 2 of the invoker's 8), each for at most its attempt deadline (5 s); its other
    messages are deferred in about a millisecond each. So another tenant never waits for a
    hanging attempt: its lag stays below the hanging deadline (without the limit it is
    starved for the whole run). What remains is the pipeline's own queueing of the noisy
    tenants' deferrals and retries (printed as p50/p99/max)."""
    # given one invoker with 8 delivery slots (the w fixture's invoker is replaced)
    await w.invokers[0].bus.drain(1)
    await w.start_invoker(prefetch=8)
    hang = await w.tenant(max_concurrency=2)
    fail = await w.tenant(max_concurrency=2)
    good = await w.tenant(max_concurrency=2)
    once = RetrySettings(max_attempts=1, min_backoff_seconds=0.2, max_backoff_seconds=0.3)
    often = RetrySettings(max_attempts=20, min_backoff_seconds=0.2, max_backoff_seconds=0.3)
    # when the noisy tenants flood the queue first
    for _ in range(40):
        await w.message(hang, rx.url("/hang"), retry=once, deadline=5)
        await w.message(fail, rx.url("/status/500"), retry=often, deadline=5)
    start = now_ms() + 500
    fires = [await w.message(good, rx.url("/good"), due_ms=start + 100 * i) for i in range(20)]
    done = await w.settled(good.id, [f.id for f in fires], within=20)
    # then the good tenant's deliveries arrive on time
    hits = rx.requests_to("/good")
    scheduled = {f.id: f.scheduled_at for f in fires}
    lags = sorted(h.arrived_at * 1000 - scheduled[h.headers["webhook-id"]] for h in hits)
    p50, p99 = statistics.median(lags), lags[int(0.99 * (len(lags) - 1))]
    print(
        f"\ngood tenant's lag with a hanging and a failing neighbour: "
        f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {lags[-1]:.0f} ms (hang deadline 5000 ms)"
    )
    assert {f.status for f in done} == {"succeeded"}
    assert lags[-1] < 5000
    # and the hanging tenant never had more than its two attempts in flight (5 s each)
    hangs = [h.arrived_monotonic for h in rx.requests_to("/hang")]
    assert max(sum(1 for s in hangs if t <= s < t + 4.9) for t in hangs) <= 2
