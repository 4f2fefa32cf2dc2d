"""Tenant routes: schedules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse, Response

from app.api.contract import contract_errors, merged
from app.api.guard import Ctx, endpoint, route
from app.api.merge import merge_patch
from app.api.views import occurrence_view, schedule_view
from app.errors import Conflict, FieldError, NotFound, ValidationFailed
from app.ids import new_id
from app.keys import schedule_item
from app.models import Schedule, from_ms, parse_rfc3339, to_ms
from app.planning import first_due_ms, timing_of
from app.schedules import build_schedule, schedule_errors, schedule_input
from app.store.records import Versioned

SCAN_BUDGET = 1000  # schedules examined per filtered page at most
_TRIES = 3


async def _owned(ctx: Ctx) -> Versioned:
    v = await ctx.store.records.get_versioned(ctx.tenant.id, ctx.path_id("schedule_id"))
    if v is None:
        raise NotFound("no such schedule")
    return v


async def _view(ctx: Ctx, s: Schedule) -> dict[str, Any]:
    skips = await ctx.store.skips.get(s.tenant_id, s.id)
    if s.paused:
        return schedule_view(s, None, skips)
    due = await ctx.store.time.due_at(schedule_item(s.id))
    if due is None:
        # Not waiting in the index: a dispatcher holds its instant (claimed ahead, or being
        # published), or it has no instant left. Either way the timing says what is next.
        due = first_due_ms(s, ctx.now_ms())
    return schedule_view(s, due, skips)


def _due(s: Schedule, now_ms: int) -> int | None:
    return None if s.paused else first_due_ms(s, now_ms)


def _checked(
    ctx: Ctx, body: dict[str, Any], errors: list[FieldError], now: int, base: Schedule | None
) -> Schedule:
    """The schedule ``body`` describes; ``errors`` (the schema's) come back together with
    every domain rule's, so one answer names every bad field."""
    allow = ctx.st.settings.allow_private_targets
    if errors:
        sid = base.id if base else new_id("sch")
        rules = schedule_errors(body, ctx.tenant, now, allow_private=allow, sid=sid, base=base)
        raise ValidationFailed(merged(errors, rules))
    return build_schedule(body, ctx.tenant, now, allow_private=allow, base=base)


@endpoint("createSchedule", "tenant")
async def create_schedule(ctx: Ctx) -> Response:
    body = await ctx.document()
    now = ctx.now_ms()
    s = _checked(ctx, body, contract_errors("ScheduleCreate", body), now, None)
    due = _due(s, now)
    await ctx.store.records.create_schedule(s, due, ctx.tenant.limits.max_schedules)
    return JSONResponse(
        schedule_view(s, due), status_code=201, headers={"Location": f"/v1/schedules/{s.id}"}
    )


def _wanted(s: Schedule, query: dict[str, Any]) -> bool:
    if query["paused"] is not None and s.paused != query["paused"]:
        return False
    prefix = query["name_prefix"]
    return prefix is None or s.name.startswith(prefix)


@endpoint("listSchedules", "tenant")
async def list_schedules(ctx: Ctx) -> Response:
    tid, limit, q = ctx.tenant.id, ctx.query["limit"], ctx.query
    filtered = q["paused"] is not None or q["name_prefix"] is not None
    cursor, found, examined = q["cursor"], [], 0
    while True:
        page = await ctx.store.records.list_schedule_ids(tid, limit, cursor)
        schedules = await ctx.store.records.get_schedules([(tid, i) for i in page.items])
        examined += len(page.items)
        found += [s for s in schedules if s is not None and _wanted(s, q)]
        cursor = page.next_cursor
        if not filtered or cursor is None or len(found) >= limit or examined >= SCAN_BUDGET:
            break
    # a filtered page ends where the scan stopped: its cursor is the last id examined
    items = [await _view(ctx, s) for s in found[:limit]]
    if len(found) > limit:
        cursor = await ctx.store.records.cursor_at(tid, found[limit - 1].id)
    return JSONResponse({"items": items, "next_cursor": cursor})


@endpoint("getSchedule", "tenant")
async def get_schedule(ctx: Ctx) -> Response:
    return JSONResponse(await _view(ctx, (await _owned(ctx)).schedule))


async def _change(ctx: Ctx, change: Callable[[Schedule, int], Schedule]) -> Response:
    """Read, change, compare-and-set, re-time: a concurrent writer makes us start over.
    A change that returns the schedule itself is a no-op: nothing is written."""
    for _ in range(_TRIES):
        old = await _owned(ctx)
        now = ctx.now_ms()
        new = change(old.schedule, now)
        if new is old.schedule:
            return JSONResponse(await _view(ctx, new))
        due = _due(new, now)
        if await ctx.store.records.replace_schedule(old, new, due):
            skips = await ctx.store.skips.get(new.tenant_id, new.id)
            return JSONResponse(schedule_view(new, due, skips))
    raise Conflict("the schedule is being changed concurrently; try again")


@endpoint("updateSchedule", "tenant")
async def update_schedule(ctx: Ctx) -> Response:
    patch = await ctx.document()
    patch_errors = contract_errors("SchedulePatch", patch)

    def change(s: Schedule, now: int) -> Schedule:
        body = merge_patch(schedule_input(s), patch)
        return _checked(ctx, body, patch_errors or contract_errors("ScheduleCreate", body), now, s)

    return await _change(ctx, change)


@endpoint("deleteSchedule", "tenant")
async def delete_schedule(ctx: Ctx) -> Response:
    v = await _owned(ctx)
    await ctx.store.records.delete_schedule(ctx.tenant.id, v.schedule.id)
    return Response(status_code=204)


@endpoint("pauseSchedule", "tenant")
async def pause_schedule(ctx: Ctx) -> Response:
    def change(s: Schedule, now: int) -> Schedule:
        if s.paused:
            return s
        return s.evolve(paused=True, version=s.version + 1, updated_at=now)

    return await _change(ctx, change)


@endpoint("resumeSchedule", "tenant")
async def resume_schedule(ctx: Ctx) -> Response:
    def change(s: Schedule, now: int) -> Schedule:
        if not s.paused:
            return s
        return s.evolve(paused=False, paused_reason=None, version=s.version + 1, updated_at=now)

    return await _change(ctx, change)


def _after(ctx: Ctx, s: Schedule) -> int:
    raw = ctx.query["after"]
    if raw is None:
        return ctx.now_ms() if s.start_at is None else max(ctx.now_ms(), s.start_at - 1)
    try:
        return to_ms(parse_rfc3339(raw))
    except (ValueError, OverflowError):
        raise ValidationFailed([FieldError("after", "must be an RFC 3339 instant")]) from None


@endpoint("previewSchedule", "tenant")
async def preview_schedule(ctx: Ctx) -> Response:
    s = (await _owned(ctx)).schedule
    after = _after(ctx, s)
    if s.start_at is not None:
        after = max(after, s.start_at - 1)
    items = []
    for o in timing_of(s).occurrences(from_ms(after), ctx.query["count"]):
        if s.end_at is not None and to_ms(o.utc) > s.end_at:
            break
        items.append(occurrence_view(o))
    return JSONResponse({"schedule_id": s.id, "timezone": s.timezone, "items": items})


ROUTES = [
    route("/v1/schedules", POST=create_schedule, GET=list_schedules),
    route(
        "/v1/schedules/{schedule_id}",
        GET=get_schedule,
        PATCH=update_schedule,
        DELETE=delete_schedule,
    ),
    route("/v1/schedules/{schedule_id}/pause", POST=pause_schedule),
    route("/v1/schedules/{schedule_id}/resume", POST=resume_schedule),
    route("/v1/schedules/{schedule_id}/preview", GET=preview_schedule),
]
