"""At an instant, the herd's requests go before the records of the first answers: a request
slot is given back when its request has its answer, and an answered attempt's record waits
(at most ``AFTER_SENDS_MAX_MS``) while deliveries of the process are still waiting to send.
The slots still bound the requests in flight, and every fire is recorded once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.bus.message import FireMessage
from app.models import Fire
from dispatcher.invoke import invoker as invoker_module
from dispatcher.invoke.invoker import AFTER_SENDS_MAX_MS, Invoker
from tests.conftest import eventually
from tests.delivery.world import World, now_ms, world
from tests.receiver import Receiver, Reply

pytestmark = pytest.mark.external_service


Events = list[tuple[str, str, float]]  # (what, fire id, monotonic time)


def _log_calls(monkeypatch: pytest.MonkeyPatch, inv: Invoker, events: Events) -> None:
    """Append (what, fire id, monotonic time) at each request sent and each record begun."""
    send, finish = inv.client.send, inv.store.fires.finish

    async def logged_send(request: Any, **kw: Any) -> Any:
        events.append(("send", request.headers["webhook-id"], time.monotonic()))
        return await send(request, **kw)

    async def logged_finish(tenant_id: str, fire_id: str, *a: Any, **kw: Any) -> Any:
        events.append(("record", fire_id, time.monotonic()))
        return await finish(tenant_id, fire_id, *a, **kw)

    monkeypatch.setattr(inv.client, "send", logged_send)
    monkeypatch.setattr(inv.store.fires, "finish", logged_finish)


@pytest.fixture
async def two_slots(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[World, Invoker, Events]]:
    """A world with one invoker of two request slots, its sends and records logged."""
    async with world(redis_url, amqp_url, prefix, queue_name) as w:
        inv = await w.start_invoker(prefetch=2)
        events: Events = []
        _log_calls(monkeypatch, inv, events)
        yield w, inv, events


async def test_an_instants_requests_all_go_before_its_first_record(
    two_slots: tuple[World, Invoker, Events], rx: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, inv, events = two_slots
    # (the order is what is tested here, not the cap: a loaded machine may take longer
    # than the cap between the first answer and the last request)
    monkeypatch.setattr(invoker_module, "AFTER_SENDS_MAX_MS", 3000)
    # given an invoker with two request slots holding six fires of one instant
    tenant = await w.tenant()
    until = now_ms() + 1500
    fires = [await w.held_fire(tenant, rx.url("/herd"), until) for _ in range(6)]
    await eventually(lambda: inv.stats.held == 6, within=2)
    # when the instant comes
    await w.settled(tenant.id, [f.id for f in fires], within=10)
    # then the six requests went in rounds of two, each round as soon as the last
    # one's answers came, and no attempt was recorded before the sixth request went
    kinds = [what for what, _, _ in events]
    assert kinds == ["send"] * 6 + ["record"] * 6, kinds
    assert rx.peak <= 2
    # and each fire was sent and recorded once, after its instant
    assert sorted(f for what, f, _ in events if what == "send") == sorted(f.id for f in fires)
    assert sorted(f for what, f, _ in events if what == "record") == sorted(f.id for f in fires)
    assert all(r.arrived_at * 1000 >= until for r in rx.requests_to("/herd"))
    assert len({r.headers["webhook-id"] for r in rx.requests_to("/herd")}) == 6


async def test_a_record_waits_no_longer_than_the_cap_for_a_send_that_does_not_come(
    two_slots: tuple[World, Invoker, Events], rx: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, inv, events = two_slots
    # given two fires of one instant, one of whose admissions stalls for 3 s
    tenant = await w.tenant()
    until = now_ms() + 1200
    quick = await w.held_fire(tenant, rx.url("/quick"), until)
    stalled = await w.held_fire(tenant, rx.url("/stalled"), until)
    begin = inv.store.fires.begin_prepared

    async def stalling_begin(fire: Fire, *a: Any, **kw: Any) -> Any:
        if fire.id == stalled.id:
            await asyncio.sleep(3)
        return await begin(fire, *a, **kw)

    monkeypatch.setattr(inv.store.fires, "begin_prepared", stalling_begin)
    await eventually(lambda: inv.stats.held == 2, within=2)
    # when the instant comes
    (done,) = await w.settled(tenant.id, [quick.id], within=5)
    # then the quick fire's record waited for the stalled send at most the cap
    sent = next(t for what, f, t in events if what == "send" and f == quick.id)
    recorded = next(t for what, f, t in events if what == "record" and f == quick.id)
    assert AFTER_SENDS_MAX_MS / 1000 - 0.05 <= recorded - sent < 2.0
    assert [f for what, f, _ in events if what == "send"] == [quick.id]
    assert done.status == "succeeded"
    # and the stalled one is delivered once its admission comes back
    await w.settled(tenant.id, [stalled.id], within=6)
    assert len(rx.requests_to("/stalled")) == 1


async def test_a_delivery_cancelled_while_waiting_for_a_slot_leaves_the_count_straight(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str, rx: Receiver
) -> None:
    async with world(redis_url, amqp_url, prefix, queue_name) as w:
        # given an invoker with one slot, taken by a request the endpoint answers in 1 s
        inv = await w.start_invoker(prefetch=1)
        rx.script("/slow", Reply(delay=1.0))
        tenant = await w.tenant()
        slow = await w.message(tenant, rx.url("/slow"))
        w.start_dispatcher()
        await rx.wait_for(1, path="/slow", within=3)
        # when a delivery waiting for that slot is cancelled
        waiting = asyncio.create_task(inv.handle(FireMessage("fire_x", tenant.id, 1, 0).encode()))
        await asyncio.sleep(0.05)
        assert inv._sending == 1
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        # then it no longer counts as waiting to send, and the slow one is recorded
        # without waiting out the cap for it
        assert inv._sending == 0
        await w.settled(tenant.id, [slow.id], within=5)
