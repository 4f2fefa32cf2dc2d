"""A tenant's dead letters live as long as their fire records (``fire_retention_seconds``),
on the embedded store and on the real Redis."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest

from app.errors import StoreUnavailable
from app.jobs import JobRef, mint_token, token_hash
from app.models import Attempt, Fire, JobSettings, RetrySettings, Target
from app.store import Store, open_store

TENANT = "ten_d"


@pytest.fixture
async def short(store: Store) -> AsyncIterator[Callable[[int], Store]]:
    """The test's store (its client and prefix, cleaned up by ``store``) with a short
    retention."""
    made: list[Store] = []

    def open_short(retention_s: int) -> Store:
        made.append(
            open_store(
                "", prefix=store.keys.prefix, shards=4, retention_s=retention_s, client=store.client
            )
        )
        return made[-1]

    yield open_short
    for s in made:
        await s.aclose()


def _message(fid: str, now: int) -> Fire:
    return Fire(
        id=fid,
        tenant_id=TENANT,
        schedule_id=None,
        kind="message",
        scheduled_at=now,
        status="dispatched",
        created_at=now,
        updated_at=now,
        target=Target(url="http://127.0.0.1/x"),
        retry=RetrySettings(max_attempts=1),
    )


async def _fail(store: Store, fid: str) -> None:
    """A message created now whose only attempt failed for good (as the invoker records it)."""
    now = await store.now_ms()
    assert await store.fires.create(_message(fid, now)) == "new"
    assert await store.fires.begin(TENANT, fid, "inv", 1, 10_000, now) == "go"
    attempt = Attempt(1, now, 1.0, 500, None, "boom", "fail")
    assert await store.fires.finish(TENANT, fid, "inv", attempt, "failed", now, None) == "failed"


async def _seen(store: Store) -> tuple[int, list[str]]:
    """The count (tenant usage) and the fires the dead-letter list shows (the API's
    ``GET /v1/dead-letters`` reads the records of the listed ids)."""
    count = (await store.records.usage(TENANT))["dead_letters"]
    page = await store.fires.list_dead(TENANT, 100, None)
    return count, [f.id for f in await store.fires.get_many(TENANT, page.items)]


async def test_a_dead_letter_is_forgotten_with_its_fire_after_the_retention(
    store: Store, short: Callable[[int], Store]
) -> None:
    kept = short(1)
    await _fail(kept, "fire_old")
    assert await _seen(kept) == (1, ["fire_old"])
    # when the retention has passed
    await asyncio.sleep(3)
    # then the fire, its place in the list and its count are gone together
    assert await kept.fires.get(TENANT, "fire_old") is None
    assert await _seen(kept) == (0, [])
    assert await store.client.zcard(store.keys.dead_letters(TENANT)) == 0


async def test_the_count_and_the_list_agree_while_older_dead_letters_expire(
    store: Store, short: Callable[[int], Store]
) -> None:
    # given a dead letter whose fire expired and a younger one still kept
    kept = short(2)
    await _fail(kept, "fire_old")
    await asyncio.sleep(1.2)
    await _fail(kept, "fire_young")
    await asyncio.sleep(1.1)
    # then only the younger one is counted and listed
    assert await kept.fires.get(TENANT, "fire_old") is None
    assert await _seen(kept) == (1, ["fire_young"])
    # and the next dead letter trims the set: it does not grow past the retention
    await _fail(kept, "fire_new")
    dead = await store.client.zrange(store.keys.dead_letters(TENANT), 0, -1)
    assert sorted(dead) == ["fire_new", "fire_young"]
    assert await _seen(kept) == (2, ["fire_new", "fire_young"])


async def test_a_long_jobs_dead_letter_is_forgotten_with_its_fire_and_job(
    store: Store, short: Callable[[int], Store]
) -> None:
    # given a long job's fire whose only attempt ran as a job and failed for good
    kept = short(1)
    now = await kept.now_ms()
    assert await kept.fires.create(_message("fire_job", now)) == "new"
    assert await kept.fires.begin(TENANT, "fire_job", "inv", 1, 10_000, now) == "go"
    ref, token = JobRef("fire_job"), token_hash(mint_token(TENANT, 1))
    assert await kept.jobs.start(TENANT, ref, 1, token, now, JobSettings(10)) == "go"
    attempt = json.dumps(Attempt(1, now, 1.0, None, "timeout", None, "fail").to_json())
    args = (TENANT, ref, 1, attempt, "failed", now, None, None)
    assert await kept.jobs.settle(*args) == "failed"
    assert await _seen(kept) == (1, ["fire_job"])
    # when the retention has passed, the fire, its job and its dead letter are gone
    await asyncio.sleep(3)
    assert await kept.fires.get(TENANT, "fire_job") is None
    assert await kept.jobs.get(TENANT, "fire_job") is None
    assert await _seen(kept) == (0, [])
    assert await store.client.zcard(store.keys.dead_letters(TENANT)) == 0


async def test_a_replay_undone_puts_the_dead_letter_back_kept_as_long_as_its_fire(
    store: Store, short: Callable[[int], Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a dead letter whose replay cannot reach the time index (so it is undone)
    kept = short(2)
    await _fail(kept, "fire_back")
    await asyncio.sleep(1.2)

    async def unreachable(*_: object) -> None:
        raise StoreUnavailable("time index down")

    monkeypatch.setattr(kept.time, "put", unreachable)
    with pytest.raises(StoreUnavailable):
        await kept.outbox.replay(TENANT, "fire_back", await kept.now_ms(), lambda *_: "{}")
    # then it is a dead letter again, and its fire stays as long as it is counted
    await asyncio.sleep(1.1)
    assert await _seen(kept) == (1, ["fire_back"])
