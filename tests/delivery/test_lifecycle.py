"""A fire's life after its attempts, end to end on the real services: dead letters and
replays, 410 pausing the schedule, outcome callbacks, and copies of one fire."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from app.bus.message import FireMessage
from app.models import RetrySettings, Tenant
from app.payloads import fire_item_payload
from dispatcher.invoke.callbacks import callback_fire_id
from tests.delivery.world import World, now_ms
from tests.receiver import Receiver, Reply

pytestmark = pytest.mark.external_service

ONCE = RetrySettings(max_attempts=1, min_backoff_seconds=0.2, max_backoff_seconds=0.3)
TWO = RetrySettings(max_attempts=2, min_backoff_seconds=0.2, max_backoff_seconds=0.3)


def _at(seconds: float) -> str:
    when = datetime.now(UTC) + timedelta(seconds=seconds)
    return "at " + when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _verify(tenant: Tenant, body: bytes, headers: dict[str, str]) -> None:
    Webhook(tenant.secrets[0].secret).verify(body, headers)


async def test_a_succeeded_fire_is_never_delivered_again_by_the_pipeline(
    w: World, rx: Receiver
) -> None:
    tenant = await w.tenant()
    fire = await w.message(tenant, rx.url("/ok"))
    await w.settled(tenant.id, [fire.id])
    # the pipeline offers it again: copies of attempt 1 and a made-up attempt 2
    await w.bus.publish(
        [FireMessage(fire.id, tenant.id, 1, fire.scheduled_at)] * 3
        + [FireMessage(fire.id, tenant.id, 2, fire.scheduled_at)]
    )
    await asyncio.sleep(1.0)
    assert len(rx.requests_to("/ok")) == 1


async def test_410_pauses_the_schedule_and_says_why(w: World, rx: Receiver) -> None:
    # given a schedule firing every second at an endpoint that is gone
    tenant = await w.tenant()
    s = await w.schedule(tenant, rx.url("/status/410"))
    hit = (await rx.wait_for(1, path="/status/410", within=5))[0]
    # then the schedule is paused with a reason, and no fire follows
    for _ in range(100):
        paused = await w.store.records.get_schedule(tenant.id, s.id)
        if paused is not None and paused.paused:
            break
        await asyncio.sleep(0.05)
    assert paused is not None and paused.paused
    assert paused.paused_reason is not None and "410" in paused.paused_reason
    fire = await w.fire(tenant.id, hit.headers["webhook-id"])
    assert (fire.status, fire.attempts[0].outcome) == ("failed", "gone")
    # a fire the dispatcher had already claimed ahead (lookahead, 1 s) may still go out
    await asyncio.sleep(1.5)
    seen = len(rx.requests_to("/status/410"))
    await asyncio.sleep(2.5)
    assert len(rx.requests_to("/status/410")) == seen
    assert seen <= 3


async def test_outcome_callbacks_are_signed_fires_of_their_own(w: World, rx: Receiver) -> None:
    # given two one-shot schedules with both callbacks, one succeeding, one failing for good
    tenant = await w.tenant()
    ok = await w.schedule(
        tenant,
        rx.url("/ok"),
        cron=_at(1),
        callback_url=rx.url("/cb/ok/any"),
        failure_callback_url=rx.url("/cb/ok/failed"),
    )
    bad = await w.schedule(
        tenant,
        rx.url("/status/500"),
        cron=_at(1),
        retry=ONCE,
        callback_url=rx.url("/cb/bad/any"),
        failure_callback_url=rx.url("/cb/bad/failed"),
    )
    # when both have fired
    [good_cb] = await rx.wait_for(1, path="/cb/ok/any", within=8)
    [bad_any] = await rx.wait_for(1, path="/cb/bad/any", within=8)
    [bad_failed] = await rx.wait_for(1, path="/cb/bad/failed", within=8)
    [delivered] = rx.requests_to("/ok")
    # then callback_url heard every outcome, failure_callback_url only the failure
    for cb in (good_cb, bad_any, bad_failed):
        _verify(tenant, cb.body, dict(cb.headers))  # signed like any webhook
    good, failed = json.loads(good_cb.body), json.loads(bad_failed.body)
    fire_id = delivered.headers["webhook-id"]
    assert good["type"] == "fire.succeeded" and good["fire_id"] == fire_id
    assert good["schedule_id"] == ok.id and good["response"]["status_code"] == 200
    assert json.loads(bad_any.body) == failed
    assert failed["type"] == "fire.failed" and failed["schedule_id"] == bad.id
    assert failed["response"] == {
        "status_code": 500,
        "error": None,
        "duration_ms": failed["response"]["duration_ms"],
        "body": "status 500",
    }
    assert good_cb.headers["webhook-id"] == callback_fire_id(fire_id, 1)
    # the receiver sees the callback before its invoker records the outcome: wait for it
    [cb_fire] = await w.settled(tenant.id, [callback_fire_id(fire_id, 1)])
    assert cb_fire.kind == "callback" and cb_fire.status == "succeeded"
    await asyncio.sleep(0.5)
    assert rx.requests_to("/cb/ok/failed") == []
    assert [len(rx.requests_to(f"/cb/{p}")) for p in ("ok/any", "bad/any", "bad/failed")] == [
        1,
        1,
        1,
    ]


async def test_copies_of_one_fire_make_one_attempt(w: World, rx: Receiver) -> None:
    # given a second invoker, and ten copies of each of five fires published at once
    await w.start_invoker()
    tenant = await w.tenant()
    fires = [
        await w.message(tenant, rx.url("/slow/0.3"), due_ms=now_ms() + 60_000) for _ in range(5)
    ]
    await w.bus.publish(
        [FireMessage(f.id, tenant.id, 1, f.scheduled_at) for f in fires for _ in range(10)]
    )
    done = await w.settled(tenant.id, [f.id for f in fires])
    await asyncio.sleep(0.5)
    # then each fire reached the endpoint once, with one attempt on record
    ids = [h.headers["webhook-id"] for h in rx.requests_to("/slow/0.3")]
    assert sorted(ids) == sorted(f.id for f in fires)
    assert [len(f.attempts) for f in done] == [1] * 5
    dropped = sum(i.stats.dropped + i.stats.busy for i in w.invokers)
    assert dropped >= 45


def _replay_payload(tenant_id: str, fire_id: str) -> Callable[[int, int], str]:
    def payload(attempt: int, scheduled_ms: int) -> str:
        return fire_item_payload(tenant_id, fire_id, attempt, scheduled_ms, True)

    return payload


async def _replay(w: World, tenant_id: str, fire_id: str) -> None:
    """What POST /v1/fires/{id}/replay does."""
    await w.store.outbox.replay(tenant_id, fire_id, now_ms(), _replay_payload(tenant_id, fire_id))


async def test_a_dead_letter_is_replayed_explicitly_and_recorded_as_a_replay(
    w: World, rx: Receiver
) -> None:
    # given a fire that failed for good (two 500s)
    tenant = await w.tenant()
    rx.script("/dl", Reply(500), Reply(500))
    fire = await w.message(tenant, rx.url("/dl"), retry=TWO)
    [dead] = await w.settled(tenant.id, [fire.id])
    assert dead.status == "failed"
    assert (await w.store.fires.list_dead(tenant.id, 10, None)).items == [fire.id]
    # when the tenant replays it (the endpoint is fixed now)
    await _replay(w, tenant.id, fire.id)
    [done] = await w.settled(tenant.id, [fire.id], statuses=frozenset({"succeeded"}))
    # then it is delivered once more, with the same webhook-id, recorded as a replay
    hits = rx.requests_to("/dl")
    assert [h.headers["cronhook-attempt"] for h in hits] == ["1", "2", "3"]
    assert {h.headers["webhook-id"] for h in hits} == {fire.id}
    assert [(a.number, a.replay, a.outcome) for a in done.attempts] == [
        (1, False, "retry"),
        (2, False, "exhausted"),
        (3, True, "success"),
    ]
    assert (await w.store.fires.list_dead(tenant.id, 10, None)).items == []


async def test_a_replay_gets_a_fresh_retry_budget(w: World, rx: Receiver) -> None:
    tenant = await w.tenant()
    fire = await w.message(tenant, rx.url("/status/500"), retry=TWO)
    await w.settled(tenant.id, [fire.id])
    await _replay(w, tenant.id, fire.id)
    await asyncio.sleep(0.3)
    [again] = await w.settled(tenant.id, [fire.id])
    # max_attempts (2) counts from the replay: attempts 3 and 4, both replays
    assert [(a.number, a.replay) for a in again.attempts] == [
        (1, False),
        (2, False),
        (3, True),
        (4, True),
    ]
    assert (await w.store.fires.list_dead(tenant.id, 10, None)).items == [fire.id]


async def test_a_succeeded_fire_is_delivered_again_by_an_explicit_replay(
    w: World, rx: Receiver
) -> None:
    tenant = await w.tenant()
    fire = await w.message(tenant, rx.url("/ok"))
    await w.settled(tenant.id, [fire.id])
    await _replay(w, tenant.id, fire.id)
    hits = await rx.wait_for(2, path="/ok")
    assert [h.headers["webhook-id"] for h in hits] == [fire.id, fire.id]
    assert hits[1].headers["cronhook-attempt"] == "2"
