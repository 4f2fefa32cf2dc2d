"""Fires published ahead of their instant, end to end on the real services: held by the
invoker and delivered at the instant, never before; a held fire takes no delivery slot; an
invoker stopping with fires held gives them back and another delivers each once, on time;
a pause, delete or edit of the schedule made while its fire is held wins over the fire."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.api.account import rotated
from app.ids import cron_fire_id, new_signing_secret
from app.models import Schedule, Target, Tenant
from tests.conftest import eventually
from tests.delivery.world import World, now_ms, world
from tests.receiver import Receiver, RecordedRequest

pytestmark = pytest.mark.external_service


def instant_ms(req: RecordedRequest) -> float:
    return datetime.fromisoformat(req.headers["cronhook-scheduled-at"]).timestamp() * 1000


async def test_fires_published_ahead_arrive_at_their_instant_never_before(
    w: World, rx: Receiver
) -> None:
    # given 30 schedules firing every second, under the default publish-ahead
    assert w.settings.publish_ahead_seconds > 0
    tenant = await w.tenant()
    for _ in range(30):
        await w.schedule(tenant, rx.url("/tick"))
    # when three seconds of them are delivered
    got = await rx.wait_for(90, path="/tick", within=10)
    # then the invoker held them, sent them as prepared while held, and none arrived
    # before its instant
    assert w.invoker.stats.held >= 30
    assert w.invoker.stats.prepared >= 30 and w.invoker.stats.unprepared == 0
    early = [
        (r.arrived_at * 1000, instant_ms(r)) for r in got if r.arrived_at * 1000 < instant_ms(r)
    ]
    assert early == []
    ids = [r.headers["webhook-id"] for r in rx.requests_to("/tick")]
    assert len(ids) == len(set(ids))


async def test_a_held_fire_takes_no_delivery_slot(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str, rx: Receiver
) -> None:
    async with world(redis_url, amqp_url, prefix, queue_name) as w:
        # given an invoker with one delivery slot, holding a fire for 1.5 s
        inv = await w.start_invoker(prefetch=1)
        tenant = await w.tenant()
        held_until = now_ms() + 1500
        held = await w.held_fire(tenant, rx.url("/held"), held_until)
        await eventually(lambda: inv.stats.held == 1, within=2)
        # when a fire due now comes
        w.start_dispatcher()
        due = await w.message(tenant, rx.url("/now"))
        # then it is delivered while the other is still held
        (now_req,) = await rx.wait_for(1, path="/now", within=1.2)
        assert now_req.arrived_at * 1000 < held_until
        assert rx.requests_to("/held") == []
        # and the held one at its instant, not before
        (held_req,) = await rx.wait_for(1, path="/held", within=3)
        assert held_req.arrived_at * 1000 >= held_until
        await w.settled(tenant.id, [held.id, due.id])


async def test_an_invoker_stopping_with_fires_held_gives_them_back_and_each_goes_once(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str, rx: Receiver
) -> None:
    async with world(redis_url, amqp_url, prefix, queue_name) as w:
        # given an invoker holding five fires due in 1.5 s
        first = await w.start_invoker()
        tenant = await w.tenant()
        until = now_ms() + 1500
        fires = [await w.held_fire(tenant, rx.url("/h"), until) for _ in range(5)]
        await eventually(lambda: first.stats.held == 5, within=2)
        # when it stops at once (its deliveries cancelled: a shutdown out of time)
        assert await first.bus.drain(0) == 5
        await first.bus.aclose()
        w.invokers.remove(first)
        # then another invoker takes them, holds them, and delivers each once, on time
        second = await w.start_invoker()
        got = await rx.wait_for(5, path="/h", within=5)
        await w.settled(tenant.id, [f.id for f in fires])
        await asyncio.sleep(0.3)
        assert len(rx.requests_to("/h")) == 5
        assert len({r.headers["webhook-id"] for r in got}) == 5
        assert all(r.arrived_at * 1000 >= until for r in got)
        assert second.stats.held == 5
        assert first.stats.attempts == 0


@contextlib.asynccontextmanager
async def _fleet(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str
) -> AsyncIterator[World]:
    """A dispatcher publishing 0.8 s ahead of each instant and an invoker holding them."""
    async with world(
        redis_url, amqp_url, prefix, queue_name, lookahead_seconds=1.0, publish_ahead_seconds=0.8
    ) as w:
        w.start_dispatcher()
        await w.start_invoker()
        yield w


async def _held_schedule(w: World, tenant: Tenant, url: str) -> tuple[Schedule, int]:
    """A per-second schedule starting over a second from now; once the invoker holds its
    first fire (~0.8 s ahead), the schedule and that fire's instant."""
    start = (now_ms() // 1000 + 2) * 1000
    s = await w.schedule(tenant, url, start_at=start)
    await eventually(lambda: w.invoker.stats.held >= 1, within=4)
    assert start - now_ms() > 400, "the fire was not held long enough to change it"
    return s, start


@pytest.mark.parametrize("change", ["pause", "delete", "cron"])
async def test_a_change_made_while_a_fire_is_held_wins_over_it(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str, rx: Receiver, change: str
) -> None:
    async with _fleet(redis_url, amqp_url, prefix, queue_name) as w:
        # given a per-second schedule whose next fire the invoker holds
        tenant = await w.tenant()
        s, instant = await _held_schedule(w, tenant, rx.url("/old"))
        # when the schedule is paused, deleted, or moved to once a year before the instant
        if change == "delete":
            await w.store.records.delete_schedule(tenant.id, s.id)
        else:
            edit = {"paused": True} if change == "pause" else {"cron": "0 0 0 1 1 *"}
            await w.store.records.put_schedule(
                s.evolve(version=2, updated_at=now_ms(), **edit), None
            )
        # then the held fire is not delivered: it is recorded as skipped, for that reason
        (fire,) = await w.settled(tenant.id, [cron_fire_id(s.id, instant)], within=5)
        assert fire.status == "skipped"
        reason = await w.store.client.hget(w.store.keys.fire(tenant.id, fire.id), "skip_reason")
        assert reason == {"pause": "paused", "delete": "deleted", "cron": "edited"}[change]
        await asyncio.sleep(max(0.0, instant / 1000 - time.time()) + 0.5)
        assert rx.requests_to("/old") == []
        assert w.invoker.stats.attempts == 0
        assert w.invoker.stats.unprepared == 1  # prepared while held, then read again


async def test_an_edit_made_while_a_fire_is_held_is_what_it_delivers(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str, rx: Receiver
) -> None:
    async with _fleet(redis_url, amqp_url, prefix, queue_name) as w:
        # given a per-second schedule whose next fire the invoker holds
        tenant = await w.tenant()
        s, instant = await _held_schedule(w, tenant, rx.url("/old"))
        # when its target changes before the instant
        new_target = Target(rx.url("/new"), "PUT", body={"edited": True}, timeout_seconds=5.0)
        await w.store.records.put_schedule(
            s.evolve(target=new_target, version=2, updated_at=now_ms()), None
        )
        # then the held fire goes to the new target, at its instant, once
        (req,) = await rx.wait_for(1, path="/new", within=3)
        assert req.headers["webhook-id"] == cron_fire_id(s.id, instant)
        assert req.method == "PUT" and json.loads(req.body) == {"edited": True}
        assert req.arrived_at * 1000 >= instant
        (fire,) = await w.settled(tenant.id, [req.headers["webhook-id"]])
        assert fire.status == "succeeded" and fire.target == new_target
        assert rx.requests_to("/old") == []


async def test_a_rotation_made_while_a_fire_is_held_signs_it_with_the_new_secret_only(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str, rx: Receiver
) -> None:
    async with world(redis_url, amqp_url, prefix, queue_name) as w:
        # given an invoker holding a fire, read and signed ahead of its instant
        inv = await w.start_invoker()
        tenant = await w.tenant()
        old = tenant.secrets[0].secret
        until = now_ms() + 1500
        fire = await w.held_fire(tenant, rx.url("/rotated"), until)
        await eventually(lambda: inv.stats.held == 1, within=2)
        # when the secret is rotated with no overlap before the instant
        new, at = new_signing_secret(), now_ms()
        await w.store.records.update_tenant(tenant.id, lambda t: rotated(t, new, at, 0))
        # then the request signed ahead is not sent: the fire goes signed by the new secret
        (req,) = await rx.wait_for(1, path="/rotated", within=3)
        headers = dict(req.headers)
        assert len(headers["webhook-signature"].split()) == 1
        Webhook(new).verify(req.body, headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(req.body, headers)
        assert req.arrived_at * 1000 >= until
        assert (inv.stats.prepared, inv.stats.unprepared) == (0, 1)
        await w.settled(tenant.id, [fire.id])


async def test_a_fire_held_and_prepared_is_sent_as_prepared_at_its_instant(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str, rx: Receiver
) -> None:
    async with world(redis_url, amqp_url, prefix, queue_name) as w:
        inv = await w.start_invoker()
        tenant = await w.tenant()
        until = now_ms() + 800
        fire = await w.held_fire(tenant, rx.url("/ready"), until)
        (req,) = await rx.wait_for(1, path="/ready", within=3)
        # signed for its instant, with the tenant's secret, after the instant
        headers = dict(req.headers)
        assert headers["webhook-timestamp"] == str(until // 1000)
        Webhook(tenant.secrets[0].secret).verify(req.body, headers)
        assert req.arrived_at * 1000 >= until
        assert (inv.stats.prepared, inv.stats.unprepared) == (1, 0)
        (done,) = await w.settled(tenant.id, [fire.id])
        assert done.status == "succeeded" and done.attempt_count == 1
