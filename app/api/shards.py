"""Tenant routes of fan-out (docs/fanout.md): a parent's shards, a page at a time, and the
replays of shards (``replayFire`` on a parent replays its failed shards, on a shard that
shard)."""

from __future__ import annotations

import asyncio

from starlette.responses import JSONResponse, Response

from app.api.guard import Ctx, endpoint, route
from app.api.views import shard_view
from app.errors import Conflict, FieldError, NotFound, ValidationFailed
from app.keys import fire_item
from app.models import Fire
from app.payloads import fire_item_payload
from app.store.fanout import Reopened

REPLAY_CHUNK = 200  # shards reopened per round trip


def _after(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or len(cursor) > 9:
        raise ValidationFailed([FieldError("cursor", "is not a cursor this API returned")])
    return int(cursor)


@endpoint("listFireShards", "tenant")
async def list_shards(ctx: Ctx) -> Response:
    tid, fid = ctx.tenant.id, ctx.path_id("fire_id")
    parent = await ctx.store.fires.get_record(tid, fid)
    if parent is None or parent.fanout is None:
        raise NotFound("no such fan-out fire")
    q = ctx.query
    page = await ctx.store.fanout.page(tid, fid, q["limit"], _after(q["cursor"]))
    shards = await ctx.store.fires.get_many(tid, page.items)
    ids = [s.id for s in shards if s.target.job is not None]
    jobs = dict(zip(ids, await ctx.store.jobs.get_many(tid, ids), strict=True))
    items = [shard_view(s, jobs.get(s.id)) for s in shards if s.shard is not None]
    return JSONResponse({"items": items, "next_cursor": page.next_cursor})


async def _resend(ctx: Ctx, shard_ids: list[str], reopened: list[Reopened | None]) -> None:
    """The time-index items of reopened shards, due now, as their next attempt."""
    tid, now = ctx.tenant.id, ctx.now_ms()
    puts = [
        ctx.store.time.put(
            fire_item(sid),
            fire_item_payload(tid, sid, r.attempt_count + 1, r.scheduled_ms, True),
            now,
        )
        for sid, r in zip(shard_ids, reopened, strict=True)
        if r is not None
    ]
    await asyncio.gather(*puts)


async def replay_failed_shards(ctx: Ctx, parent: Fire) -> None:
    """Every shard of an ended parent that failed for good, delivered again (the parent is
    running again until they end); 409 while it runs or when none failed."""
    assert parent.fanout is not None
    if parent.status not in ("succeeded", "failed"):
        raise Conflict(f"the fire is {parent.status}: only an ended fan-out is replayed")
    tid = ctx.tenant.id
    failed = await ctx.store.fanout.failed(tid, parent.id, parent.fanout.count)
    if not failed:
        raise Conflict("no shard of this fan-out failed: nothing to replay")
    for at in range(0, len(failed), REPLAY_CHUNK):
        chunk = failed[at : at + REPLAY_CHUNK]
        reopened = await ctx.store.fanout.reopen(tid, parent.id, chunk, ctx.now_ms())
        await _resend(ctx, chunk, reopened)


async def replay_shard(ctx: Ctx, shard: Fire) -> None:
    """One ended shard delivered again (its outcome taken back from its parent)."""
    assert shard.shard is not None
    reopened = await ctx.store.fanout.reopen_one(
        ctx.tenant.id, shard.shard.parent_id, shard.id, ctx.now_ms()
    )
    await _resend(ctx, [shard.id], [reopened])


ROUTES = [route("/v1/fires/{fire_id}/shards", GET=list_shards)]
