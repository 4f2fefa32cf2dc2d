"""Tenant routes: fires and their attempts, replays, dead letters, manual triggers and
one-off messages."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from app.api.contract import contract_errors, merged
from app.api.guard import Ctx, endpoint, route
from app.api.shards import replay_failed_shards, replay_shard
from app.api.views import fire_view
from app.errors import FieldError, NotFound, ValidationFailed
from app.fanout import FanoutSettings
from app.ids import new_id
from app.models import Fire, RetrySettings, Schedule, Target, Tenant, parse_rfc3339, to_ms
from app.payloads import fire_item_payload
from app.schedules import callback_errors, fanout_field_errors, raw_retry_errors, target_errors
from app.store.paging import Page

MAX_DELAY_MS = 365 * 86_400_000
SCAN_BUDGET = 1000  # fires examined per filtered page at most


async def _schedule(ctx: Ctx) -> Schedule:
    s = await ctx.store.records.get_schedule(ctx.tenant.id, ctx.path_id("schedule_id"))
    if s is None:
        raise NotFound("no such schedule")
    return s


async def fire_views(ctx: Ctx, fires: list[Fire]) -> list[dict[str, Any]]:
    """Fires as the API shows them, long jobs with their job (one more round trip)."""
    ids = [f.id for f in fires if f.target.job is not None]
    jobs = dict(zip(ids, await ctx.store.jobs.get_many(ctx.tenant.id, ids), strict=True))
    return [fire_view(f, jobs.get(f.id)) for f in fires]


async def _page(ctx: Ctx, page: Page) -> Response:
    fires = await ctx.store.fires.get_many(ctx.tenant.id, page.items)
    items = await fire_views(ctx, fires)
    return JSONResponse({"items": items, "next_cursor": page.next_cursor})


def _instant(ctx: Ctx, name: str) -> int | None:
    raw = ctx.query.get(name)
    if raw is None:
        return None
    try:
        return to_ms(parse_rfc3339(raw))
    except (ValueError, OverflowError):
        msg = "must be an RFC 3339 instant with an offset or Z"
        raise ValidationFailed([FieldError(name, msg)]) from None


def _kept(q: dict[str, Any], status: str, kind: str) -> bool:
    return q.get("status") in (None, status) and q.get("kind") in (None, kind)


async def _fire_ids(ctx: Ctx, schedule_id: str | None) -> Page:
    """One page of fire ids, newest scheduled first. The time window and the schedule are
    ranges of an index; status and kind are checked on the records, at most SCAN_BUDGET per
    request: a filtered page may hold fewer than ``limit`` fires and still have a cursor."""
    q, tid, limit, fires = ctx.query, ctx.tenant.id, ctx.query["limit"], ctx.store.fires
    window = (_instant(ctx, "since"), _instant(ctx, "until"))
    filtered = q.get("status") is not None or q.get("kind") is not None
    cursor, found, examined = q["cursor"], [], 0
    while True:
        page = await fires.list_ids(tid, schedule_id, limit, cursor, window)
        if filtered:
            marks = await fires.statuses(tid, page.items)
            found += [f for f, m in zip(page.items, marks, strict=True) if _kept(q, *m)]
        else:
            found += page.items
        examined, cursor = examined + len(page.items), page.next_cursor
        if not filtered or cursor is None or len(found) >= limit or examined >= SCAN_BUDGET:
            break
    if len(found) > limit:
        found = found[:limit]
        cursor = await fires.cursor_after(tid, schedule_id, found[-1])
    return Page(found, cursor)


@endpoint("listScheduleFires", "tenant")
async def list_fires(ctx: Ctx) -> Response:
    s = await _schedule(ctx)
    return await _page(ctx, await _fire_ids(ctx, s.id))


@endpoint("listFires", "tenant")
async def list_all_fires(ctx: Ctx) -> Response:
    sid = ctx.query.get("schedule_id")
    return await _page(ctx, await _fire_ids(ctx, sid))


@endpoint("listDeadLetters", "tenant")
async def list_dead_letters(ctx: Ctx) -> Response:
    q = ctx.query
    return await _page(ctx, await ctx.store.fires.list_dead(ctx.tenant.id, q["limit"], q["cursor"]))


async def _fire(ctx: Ctx, fire_id: str) -> Fire:
    fire = await ctx.store.fires.get(ctx.tenant.id, fire_id)
    if fire is None:
        raise NotFound("no such fire")
    return fire


@endpoint("getFire", "tenant")
async def get_fire(ctx: Ctx) -> Response:
    fire = await _fire(ctx, ctx.path_id("fire_id"))
    return JSONResponse((await fire_views(ctx, [fire]))[0])


@endpoint("replayFire", "tenant")
async def replay_fire(ctx: Ctx) -> Response:
    """A fire delivered again; a fan-out parent's failed shards, or one shard (app.api.shards)."""
    tid, fid = ctx.tenant.id, ctx.path_id("fire_id")
    fire = await _fire(ctx, fid)
    if fire.fanout is not None:
        await replay_failed_shards(ctx, fire)
    elif fire.shard is not None:
        await replay_shard(ctx, fire)
    else:

        def payload(attempt: int, scheduled_ms: int) -> str:
            return fire_item_payload(tid, fid, attempt, scheduled_ms, True)

        await ctx.store.outbox.replay(tid, fid, ctx.now_ms(), payload)
    return JSONResponse((await fire_views(ctx, [await _fire(ctx, fid)]))[0], status_code=202)


async def _send(ctx: Ctx, fire: Fire) -> Response:
    payload = fire_item_payload(fire.tenant_id, fire.id, 1, fire.scheduled_at)
    await ctx.store.outbox.send(fire, payload, fire.scheduled_at)
    return JSONResponse(
        fire_view(fire), status_code=202, headers={"Location": f"/v1/fires/{fire.id}"}
    )


@endpoint("triggerSchedule", "tenant")
async def trigger_schedule(ctx: Ctx) -> Response:
    s = await _schedule(ctx)
    now = ctx.now_ms()
    fire = Fire.of_schedule(s, new_id("fire"), "manual", now, now, next_attempt_at=now)
    return await _send(ctx, fire)


def _deliver_at(body: dict[str, Any], now: int) -> int:
    if "deliver_at" in body and "delay_seconds" in body:
        msg = "give deliver_at or delay_seconds, not both"
        raise ValidationFailed([FieldError("delay_seconds", msg)])
    if "delay_seconds" in body:
        return now + int(float(body["delay_seconds"]) * 1000)
    if "deliver_at" not in body:
        return now
    try:
        at = to_ms(parse_rfc3339(body["deliver_at"]))
    except (ValueError, OverflowError):
        msg = "must be an RFC 3339 instant with an offset or Z"
        raise ValidationFailed([FieldError("deliver_at", msg)]) from None
    if at > now + MAX_DELAY_MS:
        raise ValidationFailed([FieldError("deliver_at", "must be within a year from now")])
    return max(at, now)


def _message_errors(
    body: dict[str, Any], tenant: Tenant, allow: bool, now: int
) -> list[FieldError]:
    """Every domain rule's verdict on a message body (fields of the wrong type skipped)."""
    errors = []
    if isinstance(body.get("target"), dict):
        errors += target_errors(body["target"], tenant, allow)
    errors += callback_errors(body, tenant, allow) + raw_retry_errors(body.get("retry"))
    errors += fanout_field_errors(body, tenant)
    delay = body.get("delay_seconds")
    if isinstance(body.get("deliver_at"), str) and (
        delay is None or isinstance(delay, int | float)
    ):
        try:
            _deliver_at(body, now)
        except ValidationFailed as e:
            errors += e.errors
    return errors


@endpoint("createMessage", "tenant")
async def create_message(ctx: Ctx) -> Response:
    body = await ctx.document()
    tenant, allow = ctx.tenant, ctx.st.settings.allow_private_targets
    now = ctx.now_ms()
    schema = contract_errors("MessageCreate", body)
    rules = _message_errors(body, tenant, allow, now)
    if schema or rules:
        raise ValidationFailed(merged(schema, rules))
    due = _deliver_at(body, now)
    retry = RetrySettings.from_json(body.get("retry") or {})
    fire = Fire.new(
        new_id("fire"), tenant.id, "message", due, now, Target(**body["target"]), retry,
        next_attempt_at=due,
        callback_url=body.get("callback_url"),
        failure_callback_url=body.get("failure_callback_url"),
        fanout=FanoutSettings.from_json(body.get("fanout")),
    )  # fmt: skip
    return await _send(ctx, fire)


ROUTES = [
    route("/v1/schedules/{schedule_id}/trigger", POST=trigger_schedule),
    route("/v1/schedules/{schedule_id}/fires", GET=list_fires),
    route("/v1/fires", GET=list_all_fires),
    route("/v1/fires/{fire_id}", GET=get_fire),
    route("/v1/fires/{fire_id}/replay", POST=replay_fire),
    route("/v1/dead-letters", GET=list_dead_letters),
    route("/v1/messages", POST=create_message),
]
