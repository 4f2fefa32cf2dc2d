"""Stopping mid-work, in-process on both stores: a dispatcher cut short gives its claims
back, an invoker cut short gives its fire's in-flight marker back. (tests/e2e/
test_shutdown.py does the same to real processes with SIGTERM.)"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from app.bus.memory import MemoryBus
from app.bus.message import FireMessage
from app.dev import demo_tenant
from app.keys import fire_item
from app.models import Fire, RetrySettings, Target
from app.payloads import fire_item_payload
from app.runtime import until_stopped
from app.settings import Settings
from app.store import Store
from dispatcher.dispatch.dispatcher import Dispatcher
from dispatcher.http.client import WebhookClient
from dispatcher.invoke.invoker import Invoker
from tests.conftest import eventually
from tests.receiver import Receiver


class StuckBus(MemoryBus):
    """Publishing never gets its confirms (a broker that stalls)."""

    def __init__(self) -> None:
        super().__init__()
        self.publishing = asyncio.Event()

    async def publish(self, messages: Sequence[FireMessage]) -> None:
        self.publishing.set()
        await asyncio.Event().wait()


async def _leases(store: Store) -> int:
    return sum([await store.client.zcard(store.keys.shard(n).lease) for n in range(4)])


async def test_release_drops_only_the_callers_marker(store: Store) -> None:
    fire = _fire("fire_rel", "http://127.0.0.1:9/")
    await store.fires.create(fire)
    assert await store.fires.begin("ten_s", fire.id, "mine", 1, 60_000, 1) == "go"
    assert await store.fires.release("ten_s", fire.id, "theirs") is False
    assert (await store.fires.begin("ten_s", fire.id, "x", 1, 60_000, 1)).startswith("busy:")
    assert await store.fires.release("ten_s", fire.id, "mine") is True
    assert await store.fires.begin("ten_s", fire.id, "next", 1, 60_000, 1) == "go"


async def test_a_dispatcher_stopped_mid_publish_gives_its_claims_back(store: Store) -> None:
    # given 20 fires due now and a dispatcher whose broker never confirms
    now = await store.now_ms()
    for n in range(20):
        fid = f"fire_{n}"
        await store.time.put(fire_item(fid), fire_item_payload("ten_s", fid, 1, now - n), now - n)
    bus, stop = StuckBus(), asyncio.Event()
    dispatcher = Dispatcher(store, bus, Settings(lease_seconds=60))
    running = asyncio.create_task(until_stopped(dispatcher.run(stop), stop, grace=0.2))
    await asyncio.wait_for(bus.publishing.wait(), 5)
    assert await _leases(store) == 20
    # when it is told to stop and its grace runs out
    stop.set()
    await asyncio.wait_for(running, 5)
    # then nothing is left under a lease: every item is due again at its own instant
    assert await _leases(store) == 0
    for n in range(20):
        assert await store.time.due_at(fire_item(f"fire_{n}")) == now - n


async def test_an_invoker_stopped_mid_attempt_lets_the_requeued_copy_go_at_once(
    store: Store,
) -> None:
    async with Receiver() as rx:
        # given an invoker in the middle of a delivery to an endpoint that hangs
        tenant, _key = await demo_tenant(store)
        fire = _fire("fire_hang", rx.url("/hang"), tenant.id)
        await store.fires.create(fire)
        bus, client = MemoryBus(), WebhookClient()
        settings = Settings(allow_private_targets=True)
        await Invoker(store, bus, client, settings).start()
        await bus.publish([FireMessage(fire.id, tenant.id, 1, fire.scheduled_at)])
        await rx.wait_for(1, path="/hang")
        # when it is stopped with no time to finish
        assert await bus.drain(0.05) == 1
        await client.aclose()
        # then the message is back in the queue and the marker is gone: a fresh invoker
        # makes the same attempt now, not after the marker's 45 s
        assert await bus.depth() == 1
        rx.script("/hang", "/ok")
        other = WebhookClient()
        await Invoker(store, bus, other, settings).start()
        await eventually(lambda: _status(store, tenant.id, fire.id), within=5)
        assert [h.headers["cronhook-attempt"] for h in rx.requests] == ["1", "1"]
        await bus.aclose()
        await other.aclose()


async def _status(store: Store, tenant_id: str, fire_id: str) -> bool:
    fire = await store.fires.get(tenant_id, fire_id)
    return fire is not None and fire.status == "succeeded"


def _fire(fire_id: str, url: str, tenant_id: str = "ten_s") -> Fire:
    return Fire(
        id=fire_id,
        tenant_id=tenant_id,
        schedule_id=None,
        kind="message",
        scheduled_at=1_000,
        status="dispatched",
        created_at=1_000,
        updated_at=1_000,
        target=Target(url=url, timeout_seconds=30),
        retry=RetrySettings(),
    )
