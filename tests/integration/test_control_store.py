"""The control plane's store operations, on the embedded store and on the real Redis:
compare-and-set writes, the schedule quota, pages, the API rate limit, idempotency
markers, and removing a tenant."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from app.errors import QuotaExceeded, ValidationFailed
from app.keys import schedule_item
from app.models import RetrySettings, Schedule, SigningSecret, Target, Tenant, TenantLimits
from app.store import Store
from app.store.paging import decode_cursor, encode_cursor
from app.store.records import ApiKeyRecord


def _tenant(tid: str = "ten_1") -> Tenant:
    return Tenant(tid, "t", 1, TenantLimits(), (SigningSecret("whsec_x", 1),))


def _schedule(sid: str, tid: str = "ten_1", created: int = 1000) -> Schedule:
    return Schedule(
        sid,
        tid,
        "s",
        "0 * * * *",
        "UTC",
        Target("https://example.com"),
        RetrySettings(),
        created,
        created,
    )


async def test_a_schedule_update_is_refused_when_the_record_changed_meanwhile(
    store: Store,
) -> None:
    await store.records.create_schedule(_schedule("sch_a"), 5000, 10)
    seen = await store.records.get_versioned("ten_1", "sch_a")
    assert seen is not None
    # a second writer gets in first
    assert await store.records.replace_schedule(seen, seen.schedule.evolve(name="first"), 6000)
    # the first writer's stale update changes nothing
    assert not await store.records.replace_schedule(seen, seen.schedule.evolve(name="lost"), 7000)
    now = await store.records.get_schedule("ten_1", "sch_a")
    assert now is not None and now.name == "first"
    assert await store.time.due_at(schedule_item("sch_a")) == 6000


async def test_the_schedule_quota_is_checked_in_the_same_atomic_write(store: Store) -> None:
    results = await asyncio.gather(
        *(store.records.create_schedule(_schedule(f"sch_{i}"), 5000, 4) for i in range(10)),
        return_exceptions=True,
    )
    assert sum(r is None for r in results) == 4
    assert all(isinstance(r, QuotaExceeded) for r in results if r is not None)
    assert await store.records.count_schedules("ten_1") == 4


async def test_a_paused_schedule_is_counted_and_leaves_the_time_index(store: Store) -> None:
    s = _schedule("sch_p").evolve(paused=True)
    await store.records.create_schedule(s, 5000, 10)
    assert (await store.records.usage("ten_1"))["paused_schedules"] == 1
    assert await store.time.due_at(schedule_item("sch_p")) is None
    await store.records.delete_schedule("ten_1", "sch_p")
    assert (await store.records.usage("ten_1"))["paused_schedules"] == 0


async def test_a_tenant_update_retries_over_a_concurrent_change(store: Store) -> None:
    await store.records.create_tenant(_tenant(), ApiKeyRecord("key_1", "ten_1", "p", 1), "h")
    calls = 0

    def rename(t: Tenant) -> Tenant:
        nonlocal calls
        calls += 1
        return Tenant(t.id, f"{t.name}+", t.created_at, t.limits, t.secrets)

    # two updates racing both land: neither is lost
    await asyncio.gather(
        store.records.update_tenant("ten_1", rename), store.records.update_tenant("ten_1", rename)
    )
    t = await store.records.get_tenant("ten_1")
    assert t is not None and t.name == "t++"
    assert await store.records.update_tenant("ten_nope", rename) is None


async def test_pages_survive_inserts_and_deletes_between_requests(store: Store) -> None:
    key = f"{store.keys.prefix}:pagetest"
    await store.client.zadd(key, {f"m{i:02d}": i // 3 for i in range(12)})  # ties on score
    from app.store.paging import zpage_desc

    page = await zpage_desc(store.client, key, 5, None)
    seen = list(page.items)
    # meanwhile: a new newest member, and the cursor's own member removed
    await store.client.zadd(key, {"new": 100})
    await store.client.zrem(key, seen[-1])
    while page.next_cursor:
        page = await zpage_desc(store.client, key, 5, page.next_cursor)
        seen += page.items
    assert len(seen) == len(set(seen))
    assert set(seen) == {f"m{i:02d}" for i in range(12)}
    await store.client.delete(key)


@pytest.mark.parametrize("bad", ["", "x", "bm9wZQ", encode_cursor(1, "a b"), "%%%"])
def test_a_cursor_that_is_not_ours_is_a_validation_error(bad: str) -> None:
    with pytest.raises(ValidationFailed):
        decode_cursor(bad)


async def test_the_rate_limit_is_per_key_and_refills(store: Store) -> None:
    verdicts = [await store.guards.take("ten_1", "key_a", 4.0, 2) for _ in range(3)]
    assert [v.allowed for v in verdicts] == [True, True, False]
    assert 0 < verdicts[2].retry_after_ms <= 250
    assert (await store.guards.take("ten_1", "key_b", 4.0, 2)).allowed
    await asyncio.sleep(0.3)
    assert (await store.guards.take("ten_1", "key_a", 4.0, 2)).allowed


async def test_an_idempotency_marker_is_taken_once_and_settled_by_its_owner(
    store: Store,
) -> None:
    key = store.keys.idempotency("ten_1", "h")
    mine = {"state": "pending", "fp": "f", "token": "me"}
    assert await store.guards.claim_key(key, mine, 60_000) is None
    theirs = {"state": "pending", "fp": "f", "token": "them"}
    assert await store.guards.claim_key(key, theirs, 60_000) == mine
    # only the owner settles it
    assert not await store.guards.settle_key(key, theirs, {"state": "done"}, 1000)
    assert await store.guards.settle_key(key, mine, {"state": "done", "fp": "f"}, 60_000)
    assert json.loads(await store.client.get(key)) == {"state": "done", "fp": "f"}
    ttl = await store.client.pttl(key)
    assert 0 < ttl <= 60_000


async def test_deleting_a_tenant_is_complete_and_repeatable(store: Store) -> None:
    await store.records.create_tenant(_tenant(), ApiKeyRecord("key_1", "ten_1", "p", 1), "h1")
    await store.records.add_api_key(ApiKeyRecord("key_2", "ten_1", "q", 2), "h2")
    await store.records.create_tenant(
        _tenant("ten_2"), ApiKeyRecord("key_3", "ten_2", "r", 1), "h3"
    )
    for i in range(3):
        await store.records.create_schedule(_schedule(f"sch_{i}"), 5000 + i, 10)
    await store.records.create_schedule(_schedule("sch_keep", "ten_2"), 5000, 10)
    assert await store.records.delete_tenant("ten_1")
    assert await store.records.resolve_api_key("h1") is None
    assert await store.records.resolve_api_key("h2") is None
    assert await store.records.resolve_api_key("h3") == ("ten_2", "key_3")
    assert [k async for k in store.client.scan_iter(match=store.keys.tenant_pattern("ten_1"))] == []
    assert all([await store.time.due_at(schedule_item(f"sch_{i}")) is None for i in range(3)])
    assert await store.time.due_at(schedule_item("sch_keep")) == 5000
    assert not await store.records.delete_tenant("ten_1")
    assert (await store.records.list_tenant_ids(10, None)).items == ["ten_2"]


async def test_an_api_key_beyond_the_cap_is_refused(store: Store) -> None:
    from app.store.records import MAX_API_KEYS

    await store.records.create_tenant(_tenant(), ApiKeyRecord("key_0", "ten_1", "p", 1), "h0")
    for i in range(1, MAX_API_KEYS):
        await store.records.add_api_key(ApiKeyRecord(f"key_{i}", "ten_1", "p", i), f"h{i}")
    with pytest.raises(QuotaExceeded):
        await store.records.add_api_key(ApiKeyRecord("key_x", "ten_1", "p", 1), "hx")


async def _drain(pubsub: Any, within: float) -> list[dict[str, Any]]:
    got = []
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
        if msg is not None:
            got.append(json.loads(msg["data"]))
    return got


async def test_events_are_published_only_for_tenants_someone_follows(store: Store) -> None:
    from app import events
    from app.models import Attempt, Fire

    fire = Fire("fire_1", "ten_1", "sch_1", "cron", 1000, "delivering", 0, 0,
                Target("https://example.com"), RetrySettings())  # fmt: skip
    attempt = Attempt(1, 1000, 3.0, 200, None, "ok", "success")
    spy = store.client.pubsub()  # a pattern subscriber sees every publish, listed or not
    await spy.psubscribe(store.keys.events_pattern)
    try:
        # nobody follows ten_1: nothing is published at all
        await events.attempt_finished(store, fire, attempt, "succeeded", None)
        assert await _drain(spy, 0.3) == []
        # once a stream follows it (and producers have looked again), events flow
        stream = store.client.pubsub()
        await stream.subscribe(store.keys.events("ten_1"))
        await asyncio.sleep(events.LISTENERS_TTL_S + 0.1)
        await events.attempt_finished(store, fire, attempt, "succeeded", None)
        got = await _drain(spy, 0.5)
        assert [e["type"] for e in got] == ["attempt.finished", "fire.succeeded"]
        assert got[0]["fire_id"] == "fire_1" and got[0]["status_code"] == 200
        await stream.aclose()
    finally:
        await spy.aclose()
