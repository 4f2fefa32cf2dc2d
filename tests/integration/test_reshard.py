"""Growing the time index's shard count while it is used: no item in two shards or in
none, no instant claimed twice, writers' changes made during a move kept, and a reshard
stopped half-way resumed."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

import pytest

from app.errors import ConfigError
from app.store import Store
from app.store import timeindex as ti
from app.store.reshard import Resharder
from app.store.timeindex import Completion, Layout


@pytest.fixture(autouse=True)
def _quick_layout_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ti, "LAYOUT_REFRESH_S", 0.02)


async def _where(store: Store, item: str, count: int) -> list[int]:
    """The shards holding ``item`` (payload, due, lease or moving)."""
    out = []
    for n in range(count):
        sk = store.keys.shard(n)
        r = store.client
        if (
            await r.hexists(sk.items, item)
            or await r.zscore(sk.due, item) is not None
            or await r.hexists(sk.moving, item)
        ):
            out.append(n)
    return out


async def test_a_grown_index_holds_every_item_once_in_its_new_shard(store: Store) -> None:
    # given 4 shards with due, not-due and claimed items
    now = await store.now_ms()
    for i in range(300):
        await store.time.put(f"s:sch_{i}", f"p{i}", now + 3_600_000 + i)
    for i in range(20):
        await store.time.put(f"s:paused_{i}", f"q{i}", -1)
    await store.time.put("s:soon", "x", now)
    claim = await store.time.claim("disp-1", 60_000, 10)
    assert [c.item for c in claim.items] == ["s:soon"]
    # when it grows to 8 shards while that claim is held, which then completes
    resharder = Resharder(store, settle_s=0.05)
    task = asyncio.create_task(resharder.grow(8, within_s=20))
    await asyncio.sleep(0.3)
    assert await store.time.complete("disp-1", [Completion("s:soon", now + 3_600_000)]) == [1]
    report = await task
    # then every item is once, in its shard among 8, with its instant and payload
    assert report.done and report.moved > 100
    assert await resharder.status() == Layout(8, 0)
    for i in range(300):
        item = f"s:sch_{i}"
        assert await _where(store, item, 8) == [store.keys.shard_of(item, 8)]
        assert await store.time.due_at(item) == now + 3_600_000 + i
    for i in range(20):
        item = f"s:paused_{i}"
        assert await _where(store, item, 8) == [store.keys.shard_of(item, 8)]
        assert await store.time.due_at(item) is None
    assert await _where(store, "s:soon", 8) == [store.keys.shard_of("s:soon", 8)]
    assert await store.time.depth() == 301


async def test_no_instant_is_claimed_twice_or_lost_while_the_index_grows(store: Store) -> None:
    # given 60 items firing every 50 ms, a dispatcher claiming and advancing them, and a
    # writer creating, re-timing and removing items, all during a reshard from 4 to 16
    now = await store.now_ms()
    items = [f"s:hot_{i}" for i in range(60)]
    for n, item in enumerate(items):
        await store.time.put(item, "p", now + n)
    claimed: Counter[tuple[str, int]] = Counter()
    stop = asyncio.Event()

    async def dispatcher() -> None:
        while not stop.is_set():
            c = await store.time.claim("d", 5_000, 100)
            for x in c.items:
                claimed[(x.item, x.due_ms)] += 1
            await store.time.complete("d", [Completion(x.item, x.due_ms + 50) for x in c.items])
            await asyncio.sleep(0.005)

    written: set[str] = set()
    removed: set[str] = set()

    async def writer() -> None:
        i = 0
        while not stop.is_set():
            item = f"s:new_{i}"
            await store.time.put(item, "w", now + 3_600_000)
            written.add(item)
            if i % 3 == 0:
                await store.time.put(f"s:new_{i // 2}", "w2", now + 7_200_000)
            if i % 7 == 0:
                await store.time.remove(f"s:new_{i // 3}")
                removed.add(f"s:new_{i // 3}")
                written.discard(f"s:new_{i // 3}")
            i += 1
            await asyncio.sleep(0.002)

    tasks = [asyncio.create_task(dispatcher()), asyncio.create_task(writer())]
    try:
        report = await Resharder(store, settle_s=0.1, batch=7).grow(16, within_s=30)
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks)
    # then the reshard finished, no (item, instant) was claimed twice
    assert report.done and report.moved > 0
    assert max(claimed.values()) == 1
    # and every hot item kept firing: each is in one shard, its own among 16
    for item in items:
        assert await _where(store, item, 16) == [store.keys.shard_of(item, 16)]
        fired = sorted(d for (x, d) in claimed if x == item)
        assert len(fired) >= 5
    # and the writer's items are each once in their shard, removed ones nowhere
    for item in written:
        assert await _where(store, item, 16) == [store.keys.shard_of(item, 16)], item
    for item in removed - written:
        assert await _where(store, item, 16) == [], item


async def test_a_writers_change_during_a_move_reaches_the_new_shard(store: Store) -> None:
    # given an item taken out of its old shard (a reshard 4 -> 8 stopped half-way)
    item = next(f"s:x{i}" for i in range(100) if store.keys.shard_of(f"s:x{i}", 8) >= 4)
    old, new = store.keys.shard_of(item, 4), store.keys.shard_of(item, 8)
    await store.time.put(item, "before", 5_000_000_000_000)
    await store.client.set(store.keys.layout, Layout(8, 4).encode())
    await store.time.current(fresh=True)
    res = await store.scripts.lua.ti_move_out(keys=store.keys.shard(old).with_moving(), args=[item])
    assert res[0] == item
    # when a writer changes it, then the reshard is run again
    assert await store.time.put(item, "after", 6_000_000_000_000) == 1
    report = await Resharder(store, settle_s=0).grow(8, within_s=10)
    # then the item is in its new shard, with the writer's instant and payload
    assert report.done
    assert await _where(store, item, 8) == [new]
    assert await store.client.hget(store.keys.shard(new).items, item) == "after"
    assert await store.time.due_at(item) == 6_000_000_000_000


async def test_a_removal_during_a_move_leaves_the_item_nowhere(store: Store) -> None:
    item = next(f"s:y{i}" for i in range(100) if store.keys.shard_of(f"s:y{i}", 8) >= 4)
    old = store.keys.shard_of(item, 4)
    await store.time.put(item, "p", 5_000_000_000_000)
    await store.client.set(store.keys.layout, Layout(8, 4).encode())
    await store.time.current(fresh=True)
    await store.scripts.lua.ti_move_out(keys=store.keys.shard(old).with_moving(), args=[item])
    await store.time.remove(item)
    assert (await Resharder(store, settle_s=0).grow(8, within_s=10)).done
    assert await _where(store, item, 8) == []


async def test_a_reshard_only_grows_and_one_runs_at_a_time(store: Store) -> None:
    with pytest.raises(ConfigError, match="grow to more"):
        await Resharder(store, settle_s=0).grow(4)
    await store.client.set(store.keys.reshard_lock, "someone", ex=60)
    with pytest.raises(ConfigError, match="another reshard"):
        await Resharder(store, settle_s=0).grow(8)
    await store.client.delete(store.keys.reshard_lock)
    await store.client.set(store.keys.layout, Layout(8, 4).encode())
    with pytest.raises(ConfigError, match="under way"):
        await Resharder(store, settle_s=0).grow(16)
