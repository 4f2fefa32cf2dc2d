"""The store contract, on the embedded store and on the real Redis."""

from __future__ import annotations

import asyncio
import json

from app.keys import fire_item, schedule_item
from app.models import Attempt, Fire, RetrySettings, Target
from app.store import Store
from app.store.timeindex import Completion

LEASE = 60_000


async def test_claim_hands_out_only_due_items(store: Store) -> None:
    now = await store.now_ms()
    await store.time.put("s:past", "{}", now - 1000)
    await store.time.put("s:future", "{}", now + 60_000)
    batch = await store.time.claim("a", LEASE, 100)
    assert [c.item for c in batch.items] == ["s:past"]
    assert batch.items[0].due_ms == now - 1000
    assert batch.next_due_ms is not None and batch.next_due_ms <= now + 60_000


async def test_claimed_item_is_not_claimed_again_while_leased(store: Store) -> None:
    await store.time.put("s:x", "{}", 1)
    first = await store.time.claim("a", LEASE, 100)
    second = await store.time.claim("b", LEASE, 100)
    assert [c.item for c in first.items] == ["s:x"]
    assert second.items == []


async def test_expired_lease_returns_item_with_its_original_instant(store: Store) -> None:
    # given an item claimed by a dispatcher that then died
    await store.time.put("s:x", '{"k":"s"}', 1234)
    await store.time.claim("dead", 150, 100)
    await asyncio.sleep(0.3)
    # when another dispatcher claims after the lease ran out
    batch = await store.time.claim("alive", LEASE, 100)
    # then it gets the item with the instant it was due at, not a new one
    assert [(c.item, c.due_ms, c.payload) for c in batch.items] == [("s:x", 1234, '{"k":"s"}')]


async def test_completion_is_fenced_by_the_owner_token(store: Store) -> None:
    await store.time.put("s:x", "{}", 1)
    await store.time.claim("slow", 150, 100)
    await asyncio.sleep(0.3)
    await store.time.claim("fast", LEASE, 100)
    # the stalled dispatcher wakes up and tries to advance: refused
    assert await store.time.complete("slow", [Completion("s:x", 5000)]) == [0]
    assert await store.time.complete("fast", [Completion("s:x", 7000)]) == [1]
    assert await store.time.due_at("s:x") == 7000


async def test_a_write_during_a_claim_wins_when_the_claim_completes(store: Store) -> None:
    await store.time.put("s:x", "{}", 1)
    await store.time.claim("a", LEASE, 100)
    assert await store.time.put("s:x", '{"v":2}', 9999) == 2  # claimed: kept pending
    assert await store.time.complete("a", [Completion("s:x", 5000)]) == [3]
    assert await store.time.due_at("s:x") == 9999


async def test_a_write_during_an_expired_claim_is_kept(store: Store) -> None:
    await store.time.put("s:x", "{}", 1)
    await store.time.claim("dead", 150, 100)
    await store.time.put("s:x", "{}", 4242)
    await asyncio.sleep(0.3)
    batch = await store.time.claim("b", LEASE, 100)
    assert [(c.item, c.due_ms) for c in batch.items] == [("s:x", 4242)]


async def test_removing_a_claimed_item_drops_it_for_good(store: Store) -> None:
    await store.time.put("s:x", "{}", 1)
    await store.time.claim("a", 150, 100)
    await store.time.remove("s:x")
    assert await store.time.complete("a", [Completion("s:x", 5000)]) == [2]
    await asyncio.sleep(0.3)
    assert (await store.time.claim("b", LEASE, 100)).items == []
    assert await store.time.due_at("s:x") is None


async def test_finished_items_leave_the_index(store: Store) -> None:
    await store.time.put(fire_item("f1"), "{}", 1)
    await store.time.claim("a", LEASE, 100)
    assert await store.time.complete("a", [Completion(fire_item("f1"), -1)]) == [1]
    assert await store.time.depth() == 0


async def test_concurrent_claimers_never_share_an_item(store: Store) -> None:
    # given 300 due items over every shard
    for i in range(300):
        await store.time.put(schedule_item(f"sch_{i}"), "{}", 1)

    # when four dispatchers claim in small batches at the same time
    async def claimer(owner: str) -> list[str]:
        got: list[str] = []
        while True:
            batch = await store.time.claim(owner, LEASE, 7)
            if not batch.items:
                return got
            got += [c.item for c in batch.items]

    results = await asyncio.gather(*(claimer(f"d{i}") for i in range(4)))
    # then every item went to exactly one of them
    everything = [item for r in results for item in r]
    assert len(everything) == 300
    assert len(set(everything)) == 300


def _fire(fid: str = "fire_a", scheduled: int = 1000) -> Fire:
    return Fire(
        id=fid,
        tenant_id="ten_t",
        schedule_id="sch_s",
        kind="cron",
        scheduled_at=scheduled,
        status="dispatched",
        created_at=scheduled,
        updated_at=scheduled,
        target=Target(url="http://127.0.0.1/x"),
        retry=RetrySettings(),
    )


def _attempt(n: int, outcome: str = "retry") -> Attempt:
    return Attempt(
        number=n,
        started_at=1,
        duration_ms=1.0,
        status_code=500,
        error=None,
        response_excerpt="x",
        outcome=outcome,
    )


async def test_a_fire_record_is_created_once(store: Store) -> None:
    assert await store.fires.create(_fire()) == "new"
    assert await store.fires.create(_fire()) == "dispatched"
    assert await store.fires.create_many([_fire(), _fire("fire_b")]) == ["dispatched", "new"]


async def test_one_attempt_of_a_fire_in_flight_fleet_wide(store: Store) -> None:
    await store.fires.create(_fire())
    assert await store.fires.begin("ten_t", "fire_a", "inv1", 1, 10_000, 1) == "go"
    state = await store.fires.begin("ten_t", "fire_a", "inv2", 1, 10_000, 1)
    assert state.startswith("busy:") and int(state.split(":")[1]) > 0


async def test_a_recorded_attempt_makes_its_copies_stale(store: Store) -> None:
    await store.fires.create(_fire())
    await store.fires.begin("ten_t", "fire_a", "inv1", 1, 10_000, 1)
    await store.fires.finish("ten_t", "fire_a", "inv1", _attempt(1), "retrying", 2, 5000)
    assert await store.fires.begin("ten_t", "fire_a", "inv2", 1, 10_000, 3) == "stale"
    assert await store.fires.begin("ten_t", "fire_a", "inv2", 2, 10_000, 3) == "go"


async def test_a_succeeded_fire_is_never_delivered_again(store: Store) -> None:
    await store.fires.create(_fire())
    await store.fires.begin("ten_t", "fire_a", "inv1", 1, 10_000, 1)
    status = await store.fires.finish(
        "ten_t", "fire_a", "inv1", _attempt(1, "success"), "succeeded", 2, None
    )
    assert status == "succeeded"
    assert await store.fires.begin("ten_t", "fire_a", "inv2", 2, 10_000, 3) == "done"
    fire = await store.fires.get("ten_t", "fire_a")
    assert fire is not None and fire.status == "succeeded"
    assert [a.number for a in fire.attempts] == [1]


async def test_a_failed_fire_becomes_a_dead_letter(store: Store) -> None:
    await store.fires.create(_fire())
    await store.fires.begin("ten_t", "fire_a", "inv1", 1, 10_000, 1)
    await store.fires.finish("ten_t", "fire_a", "inv1", _attempt(1, "fail"), "failed", 2, None)
    page = await store.fires.list_dead("ten_t", 10, None)
    assert page.items == ["fire_a"]


async def test_schedule_fires_page_newest_first(store: Store) -> None:
    for i in range(7):
        await store.fires.create(_fire(f"fire_{i}", 1000 + i))
    seen: list[str] = []
    cursor = None
    while True:
        page = await store.fires.list_for_schedule("ten_t", "sch_s", 3, cursor)
        seen += page.items
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"fire_{i}" for i in reversed(range(7))]


async def test_fire_records_expire_after_retention(store: Store) -> None:
    await store.fires.create(_fire())
    ttl = await store.client.ttl(store.keys.fire("ten_t", "fire_a"))
    assert 0 < ttl <= 3600
    raw = await store.client.hgetall(store.keys.fire("ten_t", "fire_a"))
    assert json.loads(raw["target"])["url"] == "http://127.0.0.1/x"
