"""The fan-out records on both backends (the embedded store of ``cronhook dev`` and the
real Redis): a step made twice is one set of records, the cursor never moves back, each
shard outcome is gathered once, the parent ends once, and a replay takes an outcome back."""

from __future__ import annotations

import time

from app.fanout import FanoutSettings
from app.models import Attempt, Fire, RetrySettings, Target
from app.store import Store
from dispatcher.invoke.fanout import shard_fire

T0 = int(time.time() * 1000)


def _parent(count: int, max_failed: int = 0) -> Fire:
    return Fire.new("fire_par", "ten_fo", "message", T0, T0, Target("https://a.example/"),
                    RetrySettings(), status="dispatched",
                    fanout=FanoutSettings(shards=count, max_failed_shards=max_failed))  # fmt: skip


async def _end(store: Store, shard: Fire, status: str) -> None:
    """Record the shard's one attempt as ``status`` (as the invoker does)."""
    attempt = Attempt(1, T0, 1.0, 200 if status == "succeeded" else 500, None, "", "success")
    await store.fires.finish(shard.tenant_id, shard.id, "owner", attempt, status, T0, None)


async def test_a_step_made_twice_is_one_set_of_records_and_the_cursor_only_moves_on(
    store: Store,
) -> None:
    parent = _parent(5)
    await store.fires.create(parent)
    shards = [shard_fire(parent, i, T0) for i in range(3)]
    assert await store.fanout.make(parent, shards) == 3
    assert await store.fanout.make(parent, shards) == 0  # made again: nothing new
    assert await store.fanout.advance("ten_fo", parent.id, "lease", 3, (0, 3), T0 + 10) == 3
    assert await store.fanout.advance("ten_fo", parent.id, "lease", 2, None, T0) == 3
    assert await store.fanout.pending("ten_fo", parent.id) == [(0, 3, T0 + 10)]
    await store.fanout.published("ten_fo", parent.id, 0, 3)
    assert await store.fanout.pending("ten_fo", parent.id) == []
    page = await store.fanout.page("ten_fo", parent.id, 2, None)
    assert page.items == ["fire_paru0", "fire_paru1"] and page.next_cursor == "1"
    rest = await store.fanout.page("ten_fo", parent.id, 2, 1)
    assert rest.items == ["fire_paru2"] and rest.next_cursor is None
    gone = Fire.new("fire_gone", "ten_fo", "message", T0, T0, parent.target, parent.retry,
                    fanout=FanoutSettings(shards=1))  # fmt: skip
    assert await store.fanout.make(gone, [shard_fire(gone, 0, T0)]) == -1  # never stored


async def test_each_outcome_is_gathered_once_and_the_parent_ends_once(store: Store) -> None:
    parent = _parent(2, max_failed=0)
    await store.fires.create(parent)
    a, b = (shard_fire(parent, i, T0) for i in range(2))
    await store.fanout.make(parent, [a, b])
    assert (await store.fanout.gather("ten_fo", parent.id, a.id)).state == "open"  # not ended
    await _end(store, a, "succeeded")
    assert (await store.fanout.gather("ten_fo", parent.id, a.id)).state == "open"
    assert (await store.fanout.gather("ten_fo", parent.id, a.id)).state == "open"  # once
    await _end(store, b, "failed")
    got = await store.fanout.gather("ten_fo", parent.id, b.id)
    assert (got.state, got.status, got.succeeded, got.failed, got.round) == ("end", "failed",
                                                                             1, 1, 0)  # fmt: skip
    again = await store.fanout.gather("ten_fo", parent.id, b.id)
    assert (again.state, again.succeeded, again.failed) == ("end", 1, 1)  # counted once
    assert await store.fanout.close("ten_fo", parent.id, None, T0) == ("closed", "failed")
    assert await store.fanout.close("ten_fo", parent.id, None, T0) == ("already", "failed")
    assert (await store.fanout.gather("ten_fo", parent.id, b.id)).state == "closed"
    assert await store.fanout.failed("ten_fo", parent.id, 10) == [b.id]


async def test_a_replay_takes_the_outcome_back_and_reopens_the_parent(store: Store) -> None:
    parent = _parent(1)
    await store.fires.create(parent)
    [a] = [shard_fire(parent, 0, T0)]
    await store.fanout.make(parent, [a])
    await _end(store, a, "failed")
    await store.fanout.gather("ten_fo", parent.id, a.id)
    await store.fanout.close("ten_fo", parent.id, None, T0)

    [reopened] = await store.fanout.reopen("ten_fo", parent.id, [a.id], T0)
    assert reopened is not None and reopened.previous == "failed"
    back = await store.fires.get_record("ten_fo", parent.id)
    assert back is not None and back.status == "running" and back.gathered[2] == 0
    assert await store.fanout.failed("ten_fo", parent.id, 10) == []
    assert await store.fanout.reopen("ten_fo", parent.id, [a.id], T0) == [None]  # not ended
    await _end(store, a, "succeeded")
    got = await store.fanout.gather("ten_fo", parent.id, a.id)
    assert (got.state, got.status, got.round) == ("end", "succeeded", 1)  # its next round


async def test_a_failed_parent_is_a_dead_letter_kept_for_the_retention_from_its_end(
    store: Store,
) -> None:
    # given a parent whose one shard failed for good, long after the parent was made
    parent = _parent(1)
    await store.fires.create(parent)
    [a] = [shard_fire(parent, 0, T0)]
    await store.fanout.make(parent, [a])
    await _end(store, a, "failed")
    await store.fanout.gather("ten_fo", parent.id, a.id)
    k = store.keys
    await store.client.expire(k.fire("ten_fo", parent.id), 5)  # its creation's retention ran out
    # when it ends, failed
    now = await store.now_ms()
    assert await store.fanout.close("ten_fo", parent.id, None, now) == ("closed", "failed")
    # then it, and the list of its failed shards, are kept for the retention (3600 s) from now
    assert await store.client.ttl(k.fire("ten_fo", parent.id)) > 3500
    assert await store.client.ttl(k.failed_shards("ten_fo", parent.id)) > 3500
    assert await store.client.zscore(k.dead_letters("ten_fo"), parent.id) == now
    assert await store.client.ttl(k.dead_letters("ten_fo")) > 3500
