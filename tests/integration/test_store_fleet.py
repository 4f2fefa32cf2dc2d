"""The store under the fleet: lookahead claims, batched fenced completions, the overlap
marker and the node registry; on the embedded store and on the real Redis."""

from __future__ import annotations

import asyncio

from app.keys import schedule_item
from app.models import Attempt, Fire, RetrySettings, Schedule, Target
from app.store import Store
from app.store.timeindex import Completion

LEASE = 60_000


async def test_lookahead_claims_items_due_soon_and_leases_them_from_their_instant(
    store: Store,
) -> None:
    # given one item due in 500 ms and one due in a minute
    now = await store.now_ms()
    await store.time.put("s:soon", "{}", now + 500)
    await store.time.put("s:later", "{}", now + 60_000)
    # when a dispatcher claims with a one-second lookahead and a 200 ms lease
    batch = await store.time.claim("a", 200, 100, lookahead_ms=1000)
    # then it gets only the item due within the lookahead, with its instant
    assert [(c.item, c.due_ms) for c in batch.items] == [("s:soon", now + 500)]
    # and its lease runs from that instant, not from the claim: still held 400 ms later
    await asyncio.sleep(0.4)
    assert (await store.time.claim("b", LEASE, 100)).items == []
    await asyncio.sleep(0.5)
    again = await store.time.claim("b", LEASE, 100)
    assert [(c.item, c.due_ms) for c in again.items] == [("s:soon", now + 500)]


async def test_a_claim_counts_what_is_left_due_within_its_window(store: Store) -> None:
    # given 30 items due in 300 ms, 20 due in 5 s and 10 due in a minute
    now = await store.now_ms()
    for i in range(60):
        due = now + (300 if i < 30 else 5_000 if i < 50 else 60_000)
        await store.time.put(f"s:{i}", "{}", due)
    # when a dispatcher claims at most 5 per shard with a one-second lookahead and asks
    # what is left due within ten seconds
    batch = await store.time.claim("a", LEASE, 5, lookahead_ms=1000, window_ms=10_000)
    # then what it claimed is not counted, nor what lies beyond the window
    claimed = len(batch.items)
    assert 0 < claimed <= 20
    assert batch.left == 50 - claimed
    # and without a window nothing is counted
    assert (await store.time.claim("b", LEASE, 5, lookahead_ms=1000)).left == 0


async def test_without_lookahead_nothing_is_claimed_early(store: Store) -> None:
    now = await store.now_ms()
    await store.time.put("s:soon", "{}", now + 500)
    assert (await store.time.claim("a", LEASE, 100)).items == []


async def test_batched_completions_answer_per_item_in_order_across_shards(store: Store) -> None:
    # given 40 claimed items over every shard, one of them deleted and one re-timed
    items = [schedule_item(f"sch_{i}") for i in range(40)]
    for item in items:
        await store.time.put(item, "{}", 1)
    await store.time.claim("a", LEASE, 100)
    await store.time.remove(items[3])
    await store.time.put(items[7], "{}", 7777)
    # when the owner completes all of them, plus one it does not own
    await store.time.put("s:other", "{}", 1)
    await store.time.claim("b", LEASE, 100)
    results = await store.time.complete(
        "a",
        [Completion(item, 5000 + i) for i, item in enumerate(items)] + [Completion("s:other", 9)],
    )
    # then every answer lands at its item's position
    expected = [1] * 40
    expected[3], expected[7] = 2, 3
    assert results == [*expected, 0]
    assert await store.time.due_at(items[0]) == 5000
    assert await store.time.due_at(items[7]) == 7777
    assert await store.time.due_at(items[3]) is None
    assert await store.time.due_at("s:other") is None  # still claimed by b


def _fire(fid: str, scheduled: int, schedule: str | None = "sch_s") -> Fire:
    return Fire(
        id=fid,
        tenant_id="ten_t",
        schedule_id=schedule,
        kind="cron",
        scheduled_at=scheduled,
        status="dispatched",
        created_at=scheduled,
        updated_at=scheduled,
        target=Target(url="http://127.0.0.1/x"),
        retry=RetrySettings(),
    )


def _attempt(n: int, outcome: str) -> Attempt:
    return Attempt(n, 1, 1.0, 200, None, "ok", outcome)


async def _finish(store: Store, fid: str, status: str) -> None:
    assert await store.fires.begin("ten_t", fid, "inv", 1, 10_000, 1) == "go"
    outcome = {"succeeded": "success", "failed": "fail", "retrying": "retry"}[status]
    await store.fires.finish(
        "ten_t", fid, "inv", _attempt(1, outcome), status, 2, None, schedule_id="sch_s"
    )


async def test_overlap_forbid_skips_while_the_previous_fire_is_being_delivered(
    store: Store,
) -> None:
    forbid = {"sch_s": 3600}
    # given a fire of a forbid schedule that is published and not finished
    assert await store.fires.create_many([_fire("fire_1", 1000)], forbid_ttl_s=forbid) == ["new"]
    # when the next instant comes, and the one after
    statuses = await store.fires.create_many(
        [_fire("fire_2", 2000), _fire("fire_3", 3000)], forbid_ttl_s=forbid
    )
    # then both are recorded as skipped, naming the fire they would have overlapped
    assert statuses == ["skipped", "skipped"]
    skipped = await store.fires.get("ten_t", "fire_2")
    assert skipped is not None and skipped.status == "skipped"
    raw = await store.client.hgetall(store.keys.fire("ten_t", "fire_2"))
    assert raw["skip_reason"] == "overlap" and raw["overlapped_fire"] == "fire_1"
    # and the schedule's fire list shows them
    page = await store.fires.list_for_schedule("ten_t", "sch_s", 10, None)
    assert page.items == ["fire_3", "fire_2", "fire_1"]
    # and an invoker copy of a skipped fire is dropped as done
    assert await store.fires.begin("ten_t", "fire_2", "inv", 1, 10_000, 1) == "done"


async def test_a_retrying_fire_still_blocks_and_a_final_one_releases_the_schedule(
    store: Store,
) -> None:
    forbid = {"sch_s": 3600}
    await store.fires.create_many([_fire("fire_1", 1000)], forbid_ttl_s=forbid)
    # a failed attempt that will be retried: still being delivered
    await _finish(store, "fire_1", "retrying")
    assert await store.fires.create_many([_fire("fire_2", 2000)], forbid_ttl_s=forbid) == [
        "skipped"
    ]
    # the retry succeeds: the next instant fires again
    assert await store.fires.begin("ten_t", "fire_1", "inv", 2, 10_000, 3) == "go"
    await store.fires.finish(
        "ten_t",
        "fire_1",
        "inv",
        _attempt(2, "success"),
        "succeeded",
        4,
        None,
        schedule_id="sch_s",
    )
    assert await store.fires.create_many([_fire("fire_3", 3000)], forbid_ttl_s=forbid) == ["new"]


async def test_a_dead_lettered_fire_releases_the_schedule_too(store: Store) -> None:
    forbid = {"sch_s": 3600}
    await store.fires.create_many([_fire("fire_1", 1000)], forbid_ttl_s=forbid)
    await _finish(store, "fire_1", "failed")
    assert await store.fires.create_many([_fire("fire_2", 2000)], forbid_ttl_s=forbid) == ["new"]


async def test_the_overlap_marker_expires_on_its_own(store: Store) -> None:
    await store.fires.create_many([_fire("fire_1", 1000)], forbid_ttl_s={"sch_s": 1})
    await asyncio.sleep(1.3)
    assert await store.fires.create_many([_fire("fire_2", 2000)], forbid_ttl_s={"sch_s": 1}) == [
        "new"
    ]


async def test_overlap_allow_never_consults_the_marker(store: Store) -> None:
    await store.fires.create_many([_fire("fire_1", 1000)], forbid_ttl_s={"sch_s": 3600})
    assert await store.fires.create_many([_fire("fire_2", 2000)]) == ["new"]
    assert await store.client.get(store.keys.active_fire("ten_t", "sch_s")) == "fire_1"


async def test_a_redelivered_creation_of_the_active_fire_republishes_it(store: Store) -> None:
    # a dispatcher died after creating the record and before publishing: the next one
    # must publish the same fire, not skip it as its own overlap
    forbid = {"sch_s": 3600}
    await store.fires.create_many([_fire("fire_1", 1000)], forbid_ttl_s=forbid)
    assert await store.fires.create_many([_fire("fire_1", 1000)], forbid_ttl_s=forbid) == [
        "dispatched"
    ]


async def test_fires_of_many_tenants_and_messages_are_created_in_one_call(store: Store) -> None:
    fires = [_fire(f"fire_{i}", 1000 + i) for i in range(450)]
    fires.append(_fire("fire_msg", 5, schedule=None))
    other = Fire(**{**vars(_fire("fire_o", 7)), "tenant_id": "ten_o"})
    statuses = await store.fires.create_many([*fires, other])
    assert statuses == ["new"] * 452
    got = await store.fires.get("ten_o", "fire_o")
    assert got is not None and got.scheduled_at == 7
    assert (await store.fires.get("ten_t", "fire_449")) is not None
    page = await store.fires.list_for_schedule("ten_t", "sch_s", 500, None)
    assert len(page.items) == 450


async def test_nodes_beat_list_and_leave(store: Store) -> None:
    now = await store.now_ms()
    await store.nodes.beat("dispatcher-a", {"role": "dispatcher", "n": 1}, now, 60)
    await store.nodes.beat("invoker-b", {"role": "invoker"}, now + 5, 60)
    await store.nodes.beat("dispatcher-a", {"role": "dispatcher", "n": 2}, now + 10, 60)
    nodes = await store.nodes.list()
    assert [(n.node_id, n.heartbeat_ms, n.data) for n in nodes] == [
        ("dispatcher-a", now + 10, {"role": "dispatcher", "n": 2}),
        ("invoker-b", now + 5, {"role": "invoker"}),
    ]
    await store.nodes.leave("dispatcher-a")
    assert [n.node_id for n in await store.nodes.list()] == ["invoker-b"]


async def test_nodes_silent_past_their_record_lifetime_are_pruned(store: Store) -> None:
    now = await store.now_ms()
    await store.nodes.beat("old", {"role": "invoker"}, now - 120_000, 60)
    await store.nodes.beat("new", {"role": "invoker"}, now, 60)
    assert [n.node_id for n in await store.nodes.list()] == ["new"]
    assert await store.client.zscore(store.keys.nodes, "old") is None


async def test_the_dispatchers_schedule_reader_reparses_only_what_changed(store: Store) -> None:
    from dispatcher.dispatch.schedules import ScheduleReader

    # given a schedule read once
    now = await store.now_ms()
    s = Schedule(
        "sch_r", "ten_t", "r", "* * * * *", "UTC", Target("http://127.0.0.1/x"),
        RetrySettings(), now, now,
    )  # fmt: skip
    await store.records.put_schedule(s, None)
    reader = ScheduleReader(store, size=2)
    [first] = await reader.get_many([("ten_t", "sch_r")])
    # when it is read again unchanged, then edited, then deleted
    [again] = await reader.get_many([("ten_t", "sch_r")])
    await store.records.put_schedule(s.evolve(cron="*/5 * * * *", version=2), None)
    [edited] = await reader.get_many([("ten_t", "sch_r")])
    await store.records.delete_schedule("ten_t", "sch_r")
    [gone] = await reader.get_many([("ten_t", "sch_r")])
    # then the unchanged read is the very same object, the edit is seen, the delete too
    assert again is first
    assert edited is not None and edited.cron == "*/5 * * * *"
    assert gone is None


async def test_schedule_records_store_only_what_differs_from_the_defaults(store: Store) -> None:
    import json

    from app.models import Misfire

    now = await store.now_ms()
    plain = Schedule(
        "sch_p", "ten_t", "p", "* * * * *", "UTC", Target("http://127.0.0.1/x"),
        RetrySettings(), now, now,
    )  # fmt: skip
    custom = plain.evolve(
        id="sch_c",
        target=Target("http://127.0.0.1/y", "PUT", {"A": "b"}, {"k": [1]}, "text/x", 3.0),
        retry=RetrySettings(max_attempts=2, retry_on_4xx=False),
        misfire=Misfire("skip", 5.0),
        overlap="forbid",
        paused=True,
        start_at=1,
        end_at=2,
        metadata={"m": "n"},
        callback_url="http://127.0.0.1/cb",
    )
    for s in (plain, custom):
        await store.records.put_schedule(s, None)
        assert await store.records.get_schedule("ten_t", s.id) == s
    raw = await store.client.get(store.keys.schedule("ten_t", "sch_p"))
    assert "retry_on_4xx" not in raw and "paused" not in raw and len(raw) < 250
    # and a record written in full (as before) still reads
    await store.client.set(store.keys.schedule("ten_t", "sch_p"), json.dumps(plain.to_json()))
    assert await store.records.get_schedule("ten_t", "sch_p") == plain
