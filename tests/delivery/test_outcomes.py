"""Outcome rules end to end: a dispatcher and an invoker on the real Redis and RabbitMQ
deliver one-off fires to a hostile loopback receiver; each row says what the endpoint does
and what the fire's record must say afterwards."""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass

import pytest

from app.models import RetrySettings
from tests.delivery.world import World
from tests.receiver import Receiver, Reply, _gzip_bomb

pytestmark = pytest.mark.external_service

TWO = RetrySettings(
    max_attempts=2, min_backoff_seconds=0.2, max_backoff_seconds=0.3, max_retry_seconds=60
)
NO_4XX = RetrySettings(
    max_attempts=2,
    min_backoff_seconds=0.2,
    max_backoff_seconds=0.3,
    max_retry_seconds=60,
    retry_on_4xx=False,
)


@dataclass(frozen=True)
class Row:
    path: str  # the receiver's behaviour (see tests/receiver.py)
    status: str  # the fire's final status
    attempts: tuple[tuple[str, int | None, str | None], ...]  # (outcome, status code, error)
    retry: RetrySettings = TWO
    script: tuple[Reply, ...] = ()


def _twice(
    outcome: str, code: int | None, error: str | None
) -> tuple[tuple[str, int | None, str | None], ...]:
    """A retried outcome twice: the second attempt had no retry left (``exhausted``)."""
    assert outcome == "retry"
    return ((outcome, code, error), ("exhausted", code, error))


ROWS = {
    "2xx succeeds": Row("/ok", "succeeded", (("success", 200, None),)),
    "204 succeeds": Row("/status/204", "succeeded", (("success", 204, None),)),
    "3xx fails, not followed": Row("/redirect", "failed", (("fail", 302, None),)),
    "410 is gone": Row("/status/410", "failed", (("gone", 410, None),)),
    "408 retries": Row("/status/408", "failed", _twice("retry", 408, None)),
    "425 retries": Row("/status/425", "failed", _twice("retry", 425, None)),
    "429 retries": Row("/status/429", "failed", _twice("retry", 429, None)),
    "500 retries": Row("/status/500", "failed", _twice("retry", 500, None)),
    "503 retries": Row("/status/503", "failed", _twice("retry", 503, None)),
    "other 4xx retries by default": Row("/status/404", "failed", _twice("retry", 404, None)),
    "other 4xx fails when the schedule opts out": Row(
        "/status/400", "failed", (("fail", 400, None),), NO_4XX
    ),
    "429 retries even when 4xx do not": Row(
        "/status/429", "failed", _twice("retry", 429, None), NO_4XX
    ),
    "500, 500, then 200": Row(
        "/flaky",
        "succeeded",
        (("retry", 500, None), ("retry", 500, None), ("success", 200, None)),
        RetrySettings(max_attempts=5, min_backoff_seconds=0.2, max_backoff_seconds=0.3),
        (Reply(500), Reply(500)),
    ),
    "no time left for a retry is exhausted": Row(
        "/status/500",
        "failed",
        (("exhausted", 500, None),),
        RetrySettings(max_attempts=5, min_backoff_seconds=0.2, max_retry_seconds=0.1),
    ),
    "a hang times out": Row("/hang", "failed", _twice("retry", None, "timeout")),
    "a drip outlives no deadline": Row("/drip", "failed", _twice("retry", None, "timeout")),
    "dripped headers too": Row("/drip-headers", "failed", _twice("retry", None, "timeout")),
    "a reset retries": Row("/reset", "failed", _twice("retry", None, "connect")),
    "a silent close retries": Row("/close", "failed", _twice("retry", None, "connect")),
    "garbage retries": Row("/garbage", "failed", _twice("retry", None, "protocol")),
    "huge headers retry": Row("/huge-headers", "failed", _twice("retry", None, "too_large")),
    "a huge body is cut at the cap": Row("/huge", "succeeded", (("success", 200, None),)),
    "a gzip bomb is never inflated": Row("/gzip-bomb", "succeeded", (("success", 200, None),)),
}


async def test_every_endpoint_behaviour_ends_as_the_rules_say(w: World, rx: Receiver) -> None:
    # given one fire per row, all delivered at once (2 s attempt deadline)
    _gzip_bomb()  # built once up front: building it blocks the receiver's loop for a while
    tenant = await w.tenant()
    fires = {}
    for name, row in ROWS.items():
        if row.script:
            rx.script(row.path, *row.script)
        url = (
            rx.url(row.path) + f"?to={rx.url('/landed')}"
            if row.path == "/redirect"
            else rx.url(row.path)
        )
        fires[name] = await w.message(tenant, url, retry=row.retry, deadline=2.0)
    # when they have all settled
    settled = await w.settled(tenant.id, [f.id for f in fires.values()], within=30)
    by_id = {f.id: f for f in settled}
    # then each record says what the rules say
    wrong = {}
    for name, row in ROWS.items():
        fire = by_id[fires[name].id]
        got = tuple((a.outcome, a.status_code, a.error) for a in fire.attempts)
        if (fire.status, got) != (row.status, row.attempts):
            wrong[name] = (fire.status, got)
    assert wrong == {}
    # redirects are never followed, and nothing was inflated or read past the cap
    assert rx.requests_to("/landed") == []
    huge = by_id[fires["a huge body is cut at the cap"].id].attempts[0]
    assert len(huge.response_excerpt) <= 1024
    bomb = by_id[fires["a gzip bomb is never inflated"].id].attempts[0]
    assert bomb.response_excerpt.startswith("\x1f\ufffd\x08")  # gzip magic: never inflated
    # every attempt of a fire carried the same webhook-id and its own attempt number
    for name, row in ROWS.items():
        fid = fires[name].id
        hits = [h for h in rx.requests if h.headers.get("webhook-id") == fid]
        assert [h.headers["cronhook-attempt"] for h in hits] == [
            str(i + 1) for i in range(len(row.attempts))
        ], name


def _gaps(rx: Receiver, path: str) -> list[float]:
    hits = rx.requests_to(path)
    return [b.arrived_monotonic - a.arrived_monotonic for a, b in itertools.pairwise(hits)]


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [
        ("1", 1.0, 3.0),  # honoured
        ("100", 0.6, 2.6),  # clamped to max_backoff_seconds (0.6)
        ("0", 0.5, 2.5),  # clamped up to min_backoff_seconds (0.5)
        ("soon", 0.5, 2.6),  # garbage: ignored, the jittered backoff applies
        ("1.5", 1.5, 3.5),  # a decimal fraction is tolerated
    ],
)
async def test_retry_after_is_honoured_within_the_policy_bounds(
    w: World, rx: Receiver, retry_after: str, low: float, high: float
) -> None:
    bounds = RetrySettings(max_attempts=2, min_backoff_seconds=0.5, max_backoff_seconds=0.6)
    if retry_after in ("1", "1.5"):
        bounds = RetrySettings(max_attempts=2, min_backoff_seconds=0.5, max_backoff_seconds=5)
    tenant = await w.tenant()
    rx.script("/ra", Reply(429, headers={"Retry-After": retry_after}))
    fire = await w.message(tenant, rx.url("/ra"), retry=bounds)
    [done] = await w.settled(tenant.id, [fire.id])
    assert done.status == "succeeded"
    [gap] = _gaps(rx, "/ra")
    assert low - 0.05 <= gap < high


async def test_retry_after_as_an_http_date(w: World, rx: Receiver) -> None:
    import time
    from email.utils import formatdate

    tenant = await w.tenant()
    when = formatdate(time.time() + 3, usegmt=True)  # whole seconds: 2..3 s from now
    rx.script("/ra-date", Reply(503, headers={"Retry-After": when}))
    bounds = RetrySettings(max_attempts=2, min_backoff_seconds=0.2, max_backoff_seconds=10)
    fire = await w.message(tenant, rx.url("/ra-date"), retry=bounds)
    await w.settled(tenant.id, [fire.id])
    [gap] = _gaps(rx, "/ra-date")
    assert 1.5 <= gap < 5


async def test_retries_back_off_in_order_and_stop_at_max_attempts(w: World, rx: Receiver) -> None:
    tenant = await w.tenant()
    policy = RetrySettings(max_attempts=4, min_backoff_seconds=0.3, max_backoff_seconds=0.3)
    fire = await w.message(tenant, rx.url("/status/500"), retry=policy)
    [done] = await w.settled(tenant.id, [fire.id])
    hits = rx.requests_to("/status/500")
    # four attempts, in order, each after at least the backoff, then a dead letter
    assert [h.headers["cronhook-attempt"] for h in hits] == ["1", "2", "3", "4"]
    assert {h.headers["webhook-id"] for h in hits} == {fire.id}
    assert all(g >= 0.29 for g in _gaps(rx, "/status/500"))
    assert done.status == "failed" and done.attempt_count == 4
    assert (await w.store.fires.list_dead(tenant.id, 10, None)).items == [fire.id]
    await asyncio.sleep(0.8)
    assert len(rx.requests_to("/status/500")) == 4  # nothing after the last attempt


async def test_retries_stop_within_max_retry_seconds(w: World, rx: Receiver) -> None:
    tenant = await w.tenant()
    policy = RetrySettings(
        max_attempts=50, min_backoff_seconds=0.4, max_backoff_seconds=0.4, max_retry_seconds=1.2
    )
    fire = await w.message(tenant, rx.url("/status/503"), retry=policy)
    [done] = await w.settled(tenant.id, [fire.id])
    hits = rx.requests_to("/status/503")
    assert done.status == "failed"
    assert 2 <= len(hits) <= 4
    # the window counts from the first attempt; the last attempt starts within it
    assert hits[-1].arrived_monotonic - hits[0].arrived_monotonic <= 1.2 + 0.5


async def test_a_success_is_logged_at_debug_and_a_retry_or_failure_at_info(
    w: World, rx: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = await w.tenant()
    with caplog.at_level(logging.DEBUG, logger="cronhook.invoker"):
        ok = await w.message(tenant, rx.url("/ok"))
        bad = await w.message(tenant, rx.url("/status/503"), retry=TWO)
        await w.settled(tenant.id, [ok.id, bad.id])
    lines = {
        (r.fire_id, r.attempt): r.levelno  # type: ignore[attr-defined]
        for r in caplog.records
        if r.name == "cronhook.invoker"
        and getattr(r, "fire_id", None) in (ok.id, bad.id)
        and r.getMessage().startswith("attempt ")
    }
    info = logging.INFO
    assert lines == {(ok.id, 1): logging.DEBUG, (bad.id, 1): info, (bad.id, 2): info}
