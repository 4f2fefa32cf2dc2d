"""Tenant route: many schedules created in one request (onboarding a large set).

Each item is checked and built exactly as ``POST /v1/schedules`` does (the same contract
schema, the same ``build_schedule``, the same quota script), and answers on its own: the
schedule, or a problem document naming the item's fields. One bad item never stops the
others, and each schedule is written whole or not at all.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.responses import JSONResponse, Response

from app.api.contract import check
from app.api.guard import Ctx, endpoint, route
from app.api.problems import problem_body
from app.api.views import schedule_view
from app.errors import (
    Conflict,
    CronhookError,
    FieldError,
    QuotaExceeded,
    StoreUnavailable,
    ValidationFailed,
)
from app.models import Schedule
from app.planning import first_due_ms
from app.schedules import build_schedule

WRITES_AT_ONCE = 32  # schedules being written concurrently by one request


def _failure(index: int, error: CronhookError) -> dict[str, Any]:
    if isinstance(error, ValidationFailed):
        errors = [FieldError(f"items.{index}.{e.field}", e.message) for e in error.errors]
        return {"index": index, "problem": problem_body(422, error.detail, errors=errors)}
    if isinstance(error, QuotaExceeded):
        named = [FieldError(error.field, error.detail)] if error.field else None
        return {"index": index, "problem": problem_body(422, error.detail, errors=named)}
    if isinstance(error, StoreUnavailable):
        detail = "the store did not answer; this schedule may not have been created: retry it"
        return {"index": index, "problem": problem_body(503, detail)}
    return {"index": index, "problem": problem_body(409, str(error))}


def _built(ctx: Ctx, index: int, item: Any, now: int) -> Schedule | dict[str, Any]:
    try:
        check("ScheduleCreate", item)
        allow = ctx.st.settings.allow_private_targets
        return build_schedule(item, ctx.tenant, now, allow_private=allow)
    except ValidationFailed as e:
        return _failure(index, e)


@endpoint("createSchedulesInBulk", "tenant")
async def create_schedules_in_bulk(ctx: Ctx) -> Response:
    body = await ctx.body()
    now = ctx.now_ms()
    built = [_built(ctx, i, item, now) for i, item in enumerate(body["items"])]
    results = [b if isinstance(b, dict) else {} for b in built]
    gate = asyncio.Semaphore(WRITES_AT_ONCE)
    quota = ctx.tenant.limits.max_schedules

    async def write(index: int, s: Schedule) -> None:
        due = None if s.paused else first_due_ms(s, now)
        async with gate:
            try:
                await ctx.store.records.create_schedule(s, due, quota)
            except (QuotaExceeded, Conflict, StoreUnavailable) as e:
                results[index] = _failure(index, e)
                return
        results[index] = {"index": index, "schedule": schedule_view(s, due)}

    await asyncio.gather(*(write(i, s) for i, s in enumerate(built) if isinstance(s, Schedule)))
    created = sum(1 for r in results if "schedule" in r)
    return JSONResponse({"created": created, "failed": len(results) - created, "items": results})


ROUTES = [route("/v1/schedules:bulk", POST=create_schedules_in_bulk)]
