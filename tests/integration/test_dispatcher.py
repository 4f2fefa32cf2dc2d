"""The dispatcher in process, on the embedded and the real store and bus: lookahead,
overlap forbid, schedules changed while a fire of theirs is claimed, a stalled dispatcher
overtaken by another, and the clock-skew guard with the fleet route that reports it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from app.api import create_app
from app.api.contract import validator
from app.bus.base import Bus
from app.bus.memory import MemoryBus
from app.bus.message import FireMessage
from app.bus.rabbitmq import RabbitBus
from app.errors import BusUnavailable
from app.ids import cron_fire_id
from app.keys import schedule_item
from app.models import Attempt, Fire, Misfire, RetrySettings, Schedule, Target
from app.planning import first_due_ms
from app.settings import Settings
from app.store import Store, open_store
from dispatcher.dispatch.batches import RELEASE_WINDOW_MS
from dispatcher.dispatch.dispatcher import Dispatcher
from tests.conftest import delete_prefix, eventually

SETTINGS = Settings(
    lease_seconds=3.0,
    redis_timeout=1.0,
    lookahead_seconds=0.5,
    poll_seconds=0.05,
    heartbeat_seconds=0.2,
    max_clock_skew_seconds=1.0,
    admin_token="admin-token",
    publish_ahead_seconds=0.0,  # publish at the instant; AHEAD below publishes ahead
)
AHEAD = SETTINGS.with_(publish_ahead_seconds=0.3)


@pytest.fixture(params=["embedded", pytest.param("real", marks=pytest.mark.external_service)])
async def backends(
    request: pytest.FixtureRequest, prefix: str, queue_name: str
) -> AsyncIterator[tuple[Store, Bus]]:
    """Store and bus together: both embedded, or the real Redis and RabbitMQ."""
    if request.param == "embedded":
        store, bus = open_store("", prefix=prefix, shards=4, retention_s=3600), MemoryBus()
        await bus.start()
        yield store, bus
        await bus.aclose()
        await store.aclose()
        return
    redis_url: str = request.getfixturevalue("redis_url")
    amqp_url: str = request.getfixturevalue("amqp_url")
    store = open_store(redis_url, prefix=prefix, shards=4, retention_s=3600, timeout=5)
    rb = RabbitBus(amqp_url, queue_name)
    await rb.start()
    try:
        yield store, rb
    finally:
        await rb.purge_and_delete()
        await rb.aclose()
        await store.aclose()
        await delete_prefix(redis_url, prefix)


@pytest.fixture
def store(backends: tuple[Store, Bus]) -> Store:
    return backends[0]


@pytest.fixture
def bus(backends: tuple[Store, Bus]) -> Bus:
    return backends[1]


@dataclass
class Published:
    message: FireMessage
    at_ms: float  # wall clock when the broker confirmed


@dataclass
class WatchedBus:
    """The fixture's bus, recording every confirmed publish; ``gate`` can hold publishes."""

    inner: Bus
    sent: list[Published] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.gate.set()

    async def publish(self, messages: Sequence[FireMessage]) -> None:
        if messages and not self.gate.is_set():
            self.waiting.set()
            await self.gate.wait()
        await self.inner.publish(messages)
        now = time.time() * 1000
        self.sent += [Published(m, now) for m in messages]

    def ids(self) -> list[str]:
        return [p.message.fire_id for p in self.sent]


@contextlib.asynccontextmanager
async def running(d: Dispatcher) -> AsyncIterator[Dispatcher]:
    stop = asyncio.Event()
    task = asyncio.create_task(d.run(stop))
    try:
        yield d
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


def schedule(cron: str = "* * * * * *", **changes: object) -> Schedule:
    s = Schedule(
        id="sch_0test0000000000000000000",
        tenant_id="ten_0test0000000000000000000",
        name="t",
        cron=cron,
        timezone="UTC",
        target=Target(url="http://127.0.0.1:9/hook"),
        retry=RetrySettings(),
        created_at=int(time.time() * 1000),
        updated_at=int(time.time() * 1000),
        misfire=Misfire(policy="fire_all"),
    )
    return s.evolve(**changes)


async def succeed(store: Store, s: Schedule, fire_id: str) -> None:
    """Attempt 1 of ``s``'s fire made and recorded as succeeded, as an invoker would."""
    await store.fires.begin(s.tenant_id, fire_id, "inv", 1, 10_000, 1)
    attempt = Attempt(1, 1, 1.0, 200, None, "ok", "success")
    await store.fires.finish(
        s.tenant_id, fire_id, "inv", attempt, "succeeded", 2, None, schedule_id=s.id
    )


async def _wait_until(store: Store, at_ms: int) -> None:
    """Sleep until ``at_ms`` on the store's clock."""
    await asyncio.sleep(max(0.0, (at_ms - await store.now_ms()) / 1000))


async def add(store: Store, s: Schedule) -> int:
    due = first_due_ms(s, await store.now_ms())
    assert due is not None
    await store.records.put_schedule(s, due)
    return due


async def test_fires_are_prepared_ahead_and_never_published_before_their_instant(
    store: Store, bus: Bus
) -> None:
    # given a schedule firing every second and a dispatcher with a half-second lookahead
    wb = WatchedBus(bus)
    s = schedule()
    await add(store, s)
    async with running(Dispatcher(store, wb, SETTINGS)):
        await eventually(lambda: len(wb.sent) >= 3, within=6)
    # then each fire left at or after its instant, and its record was written before it
    for p in wb.sent:
        assert p.at_ms >= p.message.scheduled_at_ms - 5, p
    fires = await store.fires.get_many(s.tenant_id, wb.ids())
    assert any(f.created_at < f.scheduled_at for f in fires)
    # and every instant is a whole second, one fire id each
    instants = sorted({p.message.scheduled_at_ms for p in wb.sent})
    assert all(ms % 1000 == 0 for ms in instants)
    assert len(set(wb.ids())) == len(instants)


async def test_fires_are_published_ahead_stamped_with_their_instant(store: Store, bus: Bus) -> None:
    # given a schedule firing every second and a dispatcher publishing 0.3 s ahead
    wb = WatchedBus(bus)
    s = schedule()
    await add(store, s)
    async with running(Dispatcher(store, wb, AHEAD)):
        await eventually(lambda: len(wb.sent) >= 3, within=6)
    # then each message carries its instant, and left no earlier than 0.3 s before it
    for p in wb.sent:
        assert p.message.not_before_ms == p.message.scheduled_at_ms, p
        assert p.at_ms >= p.message.not_before_ms - 300 - 5, p
    # and they did leave ahead of their instants, one fire id each
    assert sum(p.at_ms < p.message.scheduled_at_ms - 100 for p in wb.sent) >= 2
    assert len(set(wb.ids())) == len({p.message.scheduled_at_ms for p in wb.sent})


async def test_publishing_ahead_is_capped_at_the_lookahead(store: Store, bus: Bus) -> None:
    # given a dispatcher asked to publish 5 s ahead with a 0.5 s lookahead
    wb = WatchedBus(bus)
    await add(store, schedule())
    async with running(Dispatcher(store, wb, SETTINGS.with_(publish_ahead_seconds=5.0))):
        await eventually(lambda: len(wb.sent) >= 2, within=6)
    # then nothing left more than the lookahead before its instant
    for p in wb.sent:
        assert p.message.not_before_ms == p.message.scheduled_at_ms, p
        assert p.at_ms >= p.message.scheduled_at_ms - 500 - 5, p


async def test_overlap_forbid_fires_are_published_at_their_instant_not_ahead(
    store: Store, bus: Bus
) -> None:
    # given a forbid schedule (its check belongs to the instant) under a dispatcher that
    # publishes other fires ahead, and each of its fires finished as soon as it is out
    wb = WatchedBus(bus)
    s = schedule(overlap="forbid")
    await add(store, s)
    finished: set[str] = set()
    async with running(Dispatcher(store, wb, AHEAD)):
        for n in range(1, 3):
            await eventually(lambda n=n: len(wb.sent) >= n, within=5)
            fid = wb.sent[-1].message.fire_id
            if fid not in finished:
                finished.add(fid)
                await succeed(store, s, fid)
    # then each was published at or after its instant, unstamped
    assert len(wb.sent) >= 2
    for p in wb.sent:
        assert p.message.not_before_ms == 0, p
        assert p.at_ms >= p.message.scheduled_at_ms - 5, p


def dense(n: int, start_ms: int) -> list[Schedule]:
    """``n`` every-second schedules whose phases are a millisecond apart from ``start_ms``."""
    return [
        schedule("every 1s", start_at=start_ms + i).evolve(id=f"sch_0dense{i:021d}")
        for i in range(n)
    ]


async def test_instants_a_millisecond_apart_each_go_once_never_early(
    store: Store, bus: Bus
) -> None:
    # given 150 schedules one millisecond apart (a batch of 150 instants)
    wb = WatchedBus(bus)
    start = await store.now_ms() + 300
    firsts_due = {await add(store, s) for s in dense(150, start)}
    async with running(Dispatcher(store, wb, SETTINGS)):
        # when two rounds of instants pass
        await eventually(lambda: len(wb.sent) >= 300, within=10)
    # then every fire left at or after its instant, and each instant went once
    for p in wb.sent:
        assert p.at_ms >= p.message.scheduled_at_ms - 5, p
    assert len(firsts_due) == 150
    assert firsts_due <= {p.message.scheduled_at_ms for p in wb.sent}
    assert len(set(wb.ids())) == len(wb.ids())


@dataclass
class CallsBus(WatchedBus):
    """Records the instants of each publish call."""

    calls: list[list[int]] = field(default_factory=list)

    async def publish(self, messages: Sequence[FireMessage]) -> None:
        await WatchedBus.publish(self, messages)
        if messages:
            self.calls.append(sorted(m.scheduled_at_ms for m in messages))


async def test_instants_within_the_release_window_share_one_publish_at_the_last(
    store: Store, bus: Bus
) -> None:
    # given instants 0, 2 and 4 ms after a start (inside RELEASE_WINDOW_MS), and one 60 ms on
    assert RELEASE_WINDOW_MS >= 4
    cb = CallsBus(bus)
    start = await store.now_ms() + 400
    offsets = [0, 2, 4, 60]
    schedules = [
        s.evolve(start_at=start + o) for s, o in zip(dense(4, start), offsets, strict=True)
    ]
    firsts = sorted([await add(store, s) for s in schedules])
    # when one claim takes them all (the loop's claims may cut a window at their lookahead
    # edge, which only splits the publish) and its batch is handled to the end
    wait_ms = firsts[0] - 400 - await store.now_ms()  # then all four are within the lookahead
    await asyncio.sleep(max(0, wait_ms) / 1000)
    claimed = await Dispatcher(store, cb, SETTINGS).tick()
    assert sorted(c.due_ms for c in claimed.items) == firsts
    # then the three close instants went in one publish, and the later one on its own
    assert firsts[:3] in cb.calls
    assert [firsts[3]] in cb.calls
    # and none of them before its own instant (5 ms: the slack of the clocks compared)
    for p in cb.sent:
        assert p.at_ms >= p.message.scheduled_at_ms - 5, p


@dataclass
class FlakyBus(WatchedBus):
    """Fails the ``fail_call``-th publish call (counting from 1) with BusUnavailable."""

    fail_call: int = 3
    calls: int = 0

    async def publish(self, messages: Sequence[FireMessage]) -> None:
        self.calls += 1
        if self.calls == self.fail_call:
            raise BusUnavailable("broker went away (test)")
        await WatchedBus.publish(self, messages)


async def test_a_failed_release_gives_the_batch_back_and_nothing_is_lost(
    store: Store, bus: Bus
) -> None:
    # given 60 instants 2 ms apart and a bus whose third publish fails
    fb = FlakyBus(bus)
    start = await store.now_ms() + 300
    schedules = [s.evolve(start_at=start + 2 * i) for i, s in enumerate(dense(60, start))]
    want = {await add(store, s) for s in schedules}
    async with running(Dispatcher(store, fb, SETTINGS)) as d:
        # when the batch fails part-way, then every first instant is published anyway
        await eventually(lambda: want <= {p.message.scheduled_at_ms for p in fb.sent}, within=10)
        await eventually(lambda: d.stats.given_back > 0, within=10)
    # and a fire published twice (given back after its publish) keeps its fire id
    by_instant: dict[tuple[str, int], set[str]] = {}
    for p in fb.sent:
        key = (p.message.tenant_id, p.message.scheduled_at_ms)
        by_instant.setdefault(key, set()).add(p.message.fire_id)
    assert all(len(ids) == 1 for ids in by_instant.values())


async def test_overlap_forbid_records_skipped_fires_until_the_previous_one_finishes(
    store: Store, bus: Bus
) -> None:
    # given a forbid schedule whose first fire is published and never finished
    wb = WatchedBus(bus)
    s = schedule(overlap="forbid")
    await add(store, s)
    async with running(Dispatcher(store, wb, SETTINGS)) as d:
        await eventually(lambda: len(wb.sent) == 1, within=5)
        first = wb.sent[0].message
        # when two more instants pass
        await eventually(lambda: d.stats.skipped_overlap >= 2, within=5)
        assert [p.message.fire_id for p in wb.sent] == [first.fire_id]
        # then they are on record as skipped, and not published
        page = await store.fires.list_for_schedule(s.tenant_id, s.id, 10, None)
        fires = {f.id: f for f in await store.fires.get_many(s.tenant_id, page.items)}
        skipped = [f for f in fires.values() if f.status == "skipped"]
        assert len(skipped) >= 2 and all(f.scheduled_at > first.scheduled_at_ms for f in skipped)
        # and the schedule counts them
        counts = await store.skips.get(s.tenant_id, s.id)
        assert counts.overlap >= len(skipped) and counts.misfire == 0
        # when the first fire reaches a final status
        await succeed(store, s, first.fire_id)
        # then the next instant is published again
        await eventually(lambda: len(wb.sent) >= 2, within=5)
    assert wb.sent[1].message.scheduled_at_ms > max(f.scheduled_at for f in skipped)


async def _claimed_and_held(store: Store, wb: WatchedBus, s: Schedule) -> int:
    """Hold publishes, wait until the dispatcher holds the schedule's next fire."""
    wb.gate.clear()
    due = await add(store, s)
    await asyncio.wait_for(wb.waiting.wait(), timeout=5)
    assert await store.time.due_at(schedule_item(s.id)) is None  # claimed: out of the due set
    return due


async def test_deleting_a_schedule_while_its_fire_is_claimed(store: Store, bus: Bus) -> None:
    wb = WatchedBus(bus)
    s = schedule()
    async with running(Dispatcher(store, wb, SETTINGS)) as d:
        # given a fire of the schedule claimed and about to be published
        due = await _claimed_and_held(store, wb, s)
        # when the schedule is deleted, then the dispatcher goes on
        await store.records.delete_schedule(s.tenant_id, s.id)
        wb.gate.set()
        await eventually(lambda: len(wb.sent) == 1, within=5)
        await asyncio.sleep(1.5)
        # then the claimed fire went out once, and the schedule never fires again
        assert [p.message.scheduled_at_ms for p in wb.sent] == [due]
        assert d.stats.lost_leases == 0
    assert await store.time.due_at(schedule_item(s.id)) is None
    assert await store.client.zcard(store.keys.shard_for(schedule_item(s.id)).lease) == 0


async def test_pausing_a_schedule_while_its_fire_is_claimed(store: Store, bus: Bus) -> None:
    wb = WatchedBus(bus)
    s = schedule()
    async with running(Dispatcher(store, wb, SETTINGS)):
        due = await _claimed_and_held(store, wb, s)
        # when the schedule is paused while its fire is claimed
        await store.records.put_schedule(s.evolve(paused=True, version=2), None)
        wb.gate.set()
        await asyncio.sleep(1.5)
        # then the claimed fire went out, and nothing after it: the pause won
        assert [p.message.scheduled_at_ms for p in wb.sent] == [due]
        assert await store.time.due_at(schedule_item(s.id)) is None
        # and a resume fires again from the next instant after it
        resumed = s.evolve(paused=False, version=3)
        resumed_at = await add(store, resumed)
        await eventually(lambda: len(wb.sent) >= 2, within=5)
    assert wb.sent[1].message.scheduled_at_ms == resumed_at


async def test_editing_a_schedule_while_its_fire_is_claimed(store: Store, bus: Bus) -> None:
    wb = WatchedBus(bus)
    s = schedule()
    async with running(Dispatcher(store, wb, SETTINGS)):
        due = await _claimed_and_held(store, wb, s)
        # when the cron changes to once a year while the fire is claimed
        edited = s.evolve(cron="0 0 0 1 1 *", version=2)
        new_due = await add(store, edited)
        wb.gate.set()
        await eventually(lambda: len(wb.sent) == 1, within=5)
        await eventually(
            lambda: store.time.due_at(schedule_item(s.id)), within=5
        )  # the claim completed
        # then the claimed fire went out, and the edit's instant won over the dispatcher's
        assert [p.message.scheduled_at_ms for p in wb.sent] == [due]
        assert await store.time.due_at(schedule_item(s.id)) == new_due


async def test_a_stalled_dispatcher_is_overtaken_and_cannot_advance_the_schedule(
    store: Store, bus: Bus
) -> None:
    # given dispatcher A stalled holding a claim: its one batch hangs before publishing
    fast = SETTINGS.with_(lease_seconds=1.5, lookahead_seconds=0.0)
    stalled, healthy = WatchedBus(bus), WatchedBus(bus)
    s = schedule()
    a = Dispatcher(store, stalled, fast, node_id="dispatcher-a")
    stalled.gate.clear()
    due = await add(store, s)
    await _wait_until(store, due)
    stale = asyncio.create_task(a.tick())
    await asyncio.wait_for(stalled.waiting.wait(), timeout=5)
    # when dispatcher B runs, past A's lease
    async with running(Dispatcher(store, healthy, fast, node_id="dispatcher-b")):
        await eventually(lambda: len(healthy.sent) >= 1, within=6)
        # and A wakes up and finishes its stale batch
        stalled.gate.set()
        await asyncio.wait_for(stale, timeout=5)
        await eventually(lambda: len(healthy.sent) >= 4, within=6)
    # then both published the instant A held under the same fire id: a recognisable duplicate
    assert stalled.ids() == [healthy.sent[0].message.fire_id]
    assert healthy.sent[0].message.scheduled_at_ms == due
    # and A's completion was refused, so the schedule advanced once per instant: B's
    # fires are every second from that instant on, none skipped and none twice
    assert a.stats.lost_leases == 1
    instants = [p.message.scheduled_at_ms for p in healthy.sent]
    assert instants == [due + 1000 * i for i in range(len(instants))]


async def test_a_batch_that_would_publish_after_its_lease_gives_its_claims_back(
    store: Store, bus: Bus
) -> None:
    # given a dispatcher whose preparation is slower than its lease margin
    tight = SETTINGS.with_(lease_seconds=1.2, redis_timeout=1.0, lookahead_seconds=0.0)
    wb = WatchedBus(bus)
    d = Dispatcher(store, wb, tight)
    real = store.fires.create_many

    async def slow(fires: Sequence[Fire], **kw: Any) -> list[str]:
        await asyncio.sleep(0.5)
        return await real(fires, **kw)

    store.fires.create_many = slow  # type: ignore[method-assign]
    due = await add(store, schedule())
    # when it runs
    async with running(d):
        await eventually(lambda: d.stats.given_back >= 1, within=5)
    # then it published nothing and the item is back at its original instant
    assert wb.sent == []
    assert await store.time.due_at(schedule_item(schedule().id)) == due


class SkewedClock:
    def __init__(self, offset_s: float) -> None:
        self.offset_s = offset_s

    def __call__(self) -> float:
        return time.time() + self.offset_s


async def _fleet(store: Store) -> dict[str, object]:
    app = create_app(store, SETTINGS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as api:
        r = await api.get("/v1/admin/fleet", headers={"Authorization": "Bearer admin-token"})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    assert not list(validator("Fleet").iter_errors(body))
    return body


@pytest.mark.parametrize("offset_s", [5.0, -5.0])
async def test_a_dispatcher_with_a_skewed_clock_stops_claiming_and_says_so(
    store: Store, bus: Bus, offset_s: float, caplog: pytest.LogCaptureFixture
) -> None:
    # given a dispatcher whose clock is five seconds off Redis TIME
    wb = WatchedBus(bus)
    clock = SkewedClock(offset_s)
    d = Dispatcher(store, wb, SETTINGS, clock=clock)
    s = schedule()
    await add(store, s)
    async with running(d):
        # when it runs through a few instants
        await asyncio.sleep(2.2)
        # then it claimed nothing, logged why, and the fleet view shows it
        assert wb.sent == [] and d.stats.claimed == 0
        assert any("stops claiming" in r.getMessage() for r in caplog.records)
        fleet = await _fleet(store)
        [node] = fleet["dispatchers"]  # type: ignore[misc]
        assert node["state"] == "clock_skewed" and node["live"] is True
        assert abs(node["clock_skew_ms"] - offset_s * 1000) < 500
        assert fleet["summary"]["claiming_dispatchers"] == 0  # type: ignore[index]
        # when its clock is fixed
        clock.offset_s = 0.0
        # then it claims again, catching up on what it left
        await eventually(lambda: len(wb.sent) >= 2, within=5)
        fleet = await _fleet(store)
        assert fleet["dispatchers"][0]["state"] == "active"  # type: ignore[index]


async def test_the_fleet_view_lists_dispatchers_with_their_rates(store: Store, bus: Bus) -> None:
    wb = WatchedBus(bus)
    await add(store, schedule())
    async with running(Dispatcher(store, wb, SETTINGS, node_id="dispatcher-x")):
        await eventually(lambda: len(wb.sent) >= 2, within=5)
        await asyncio.sleep(0.5)
        fleet = await _fleet(store)
    [node] = fleet["dispatchers"]  # type: ignore[misc]
    assert node["id"] == "dispatcher-x" and node["live"] is True and node["state"] == "active"
    assert node["counters"]["claimed"] >= 2 and node["counters"]["published"] >= 2
    assert "claims_per_second" in node and node["heartbeat_age_seconds"] < 1.5
    assert node["claim_horizon_seconds"] == 0.5  # the lookahead: no herd due
    # a clean stop leaves the registry
    assert (await _fleet(store))["dispatchers"] == []


@pytest.mark.parametrize("policy", ["skip", "fire_once"])
async def test_a_fire_released_late_after_a_stall_follows_the_misfire_policy(
    store: Store, bus: Bus, policy: str
) -> None:
    # given a per-second schedule, and a dispatcher that stalls 2.5 s while preparing its
    # first batch (after claiming it ahead, before publishing it)
    roomy = SETTINGS.with_(lease_seconds=10.0)
    wb = WatchedBus(bus)
    s = schedule(misfire=Misfire(policy=policy))  # type: ignore[arg-type]
    real = store.fires.create_many
    stalls = [2.5]

    async def stalling(fires: Sequence[Fire], **kw: Any) -> list[str]:
        if stalls:
            await asyncio.sleep(stalls.pop())
        return await real(fires, **kw)

    store.fires.create_many = stalling  # type: ignore[method-assign]
    due = await add(store, s)
    # when it runs on after the stall
    async with running(Dispatcher(store, wb, roomy)):
        await eventually(lambda: len(wb.sent) >= 3, within=10)
    # then the instant claimed before the stall is not delivered late, nor twice: it is on
    # record as skipped, and every fire that went out went out on time
    assert due not in [p.message.scheduled_at_ms for p in wb.sent]
    late = [p.at_ms - p.message.scheduled_at_ms for p in wb.sent]
    assert max(late) < 1000 + 300, late
    instants = [p.message.scheduled_at_ms for p in wb.sent]
    assert len(set(instants)) == len(instants) and min(instants) >= due + 2000
    [stale] = await store.fires.get_many(s.tenant_id, [cron_fire_id(s.id, due)])
    assert stale.status == "skipped"
    # and the schedule counts what it skipped
    counts = await store.skips.get(s.tenant_id, s.id)
    assert counts.misfire >= 2 and counts.last_at is not None


async def test_instants_a_misfire_skips_are_counted_on_the_schedule(store: Store, bus: Bus) -> None:
    # given a per-second schedule with misfire skip, whose instant came 5 s ago
    wb = WatchedBus(bus)
    s = schedule(misfire=Misfire(policy="skip"))
    now = await store.now_ms()
    await store.records.put_schedule(s, now - now % 1000 - 5000)
    # when a dispatcher catches up
    async with running(Dispatcher(store, wb, SETTINGS)):
        await eventually(lambda: len(wb.sent) >= 1, within=5)
    # then the instants it did not fire are counted on the schedule
    counts = await store.skips.get(s.tenant_id, s.id)
    assert counts.misfire >= 4 and counts.overlap == 0 and counts.last_at is not None


# -- herds --------------------------------------------------------------------------------
HERD = AHEAD.with_(herd_lookahead_seconds=5.0, herd_size=30, claim_batch=5)


async def _herd(store: Store, n: int, lead_ms: int) -> tuple[list[Schedule], int]:
    """``n`` yearly schedules all due at one whole second at least ``lead_ms`` from now."""
    now = await store.now_ms()
    at = (now + lead_ms) // 1000 * 1000 + 1000
    herd = [schedule("0 0 0 1 1 *", id=f"sch_0herd{i:019d}") for i in range(n)]
    for s in herd:
        await store.records.put_schedule(s, at)
    return herd, at


@pytest.mark.parametrize(("n", "ahead"), [(40, True), (20, False)])
async def test_a_herd_is_prepared_a_herd_lookahead_ahead_and_published_as_usual(
    store: Store, bus: Bus, n: int, ahead: bool
) -> None:
    # given n schedules due at one instant T, a herd being 30 or more within 5 s, a
    # lookahead of 0.5 s, and claims of at most 5 items per shard
    wb = WatchedBus(bus)
    herd, at = await _herd(store, n, 3000)
    ids = [cron_fire_id(s.id, at) for s in herd]
    async with running(Dispatcher(store, wb, HERD)) as d:
        # when T is 1.5 s away, beyond the lookahead
        await _wait_until(store, at - 1500)
        prepared = await store.fires.get_many(herd[0].tenant_id, ids)
        # then a herd's fires are all prepared already, its tail too (several claims), and
        # a smaller group's are not
        assert len(prepared) == (n if ahead else 0)
        assert wb.sent == []
        assert d.metrics.herds._value.get() == (1 if ahead else 0)
        await eventually(lambda: len(wb.sent) >= n, within=8)
    # and either way each went once, published no earlier than 0.3 s before T, held to T
    assert sorted(wb.ids()) == sorted(ids)
    for p in wb.sent:
        assert p.message.not_before_ms == at, p
        assert p.at_ms >= at - 300 - 5, p


async def test_a_fire_due_before_a_herd_is_not_held_up_by_it(
    store: Store, bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a dispatcher that holds at most 30 claimed items and claims a herd ahead only
    # while it holds fewer than 10, and a herd of 40 due at T
    import dispatcher.dispatch.dispatcher as module

    monkeypatch.setattr(module, "MAX_ITEMS_IN_FLIGHT", 30)
    monkeypatch.setattr(module, "HERD_ITEMS_IN_FLIGHT", 10)
    wb = WatchedBus(bus)
    herd, at = await _herd(store, 40, 3500)
    async with running(Dispatcher(store, wb, HERD)) as d:
        await eventually(lambda: d.stats.claimed >= 10, within=5)
        # when, with part of the herd claimed, a schedule due a second before T is written
        lone = schedule("0 0 0 1 1 *", id="sch_0lone0000000000000000000")
        await store.records.put_schedule(lone, at - 1000)
        await eventually(lambda: len(wb.sent) >= 41, within=10)
    # then it went at its own instant (0.3 s ahead), not behind the herd at T
    sent = {p.message.fire_id: p for p in wb.sent}
    first = sent[cron_fire_id(lone.id, at - 1000)]
    assert first.at_ms < at - 600, first.at_ms - at
    assert first.message.not_before_ms == at - 1000
    # and the whole herd went once, none before 0.3 s ahead of T
    assert sorted(sent) == sorted([cron_fire_id(s.id, at) for s in herd] + [first.message.fire_id])
    assert all(p.at_ms >= at - 305 for p in wb.sent if p.message.scheduled_at_ms == at)


async def test_two_dispatchers_share_a_herd_claimed_ahead_each_fire_once(
    store: Store, bus: Bus
) -> None:
    # given a herd of 60 due at T and two dispatchers claiming at most 5 per shard each
    a, b = WatchedBus(bus), WatchedBus(bus)
    herd, at = await _herd(store, 60, 3000)
    da = Dispatcher(store, a, HERD, node_id="dispatcher-a")
    db = Dispatcher(store, b, HERD, node_id="dispatcher-b")
    async with running(da), running(db):
        await eventually(lambda: len(a.sent) + len(b.sent) >= 60, within=10)
        await asyncio.sleep(0.5)
    # then every fire of the herd was published once, by one of them, none early
    ids = a.ids() + b.ids()
    assert sorted(ids) == sorted(cron_fire_id(s.id, at) for s in herd)
    assert all(p.at_ms >= at - 305 for p in a.sent + b.sent)
    # and it was seen as a herd, no item was claimed twice, and no lease was lost
    assert da.metrics.herds._value.get() + db.metrics.herds._value.get() >= 1
    assert da.stats.claimed + db.stats.claimed == 60
    assert da.stats.lost_leases == db.stats.lost_leases == 0
