"""``GET /v1/forecast`` (a tenant) and ``GET /v1/admin/forecast`` (everyone): exact fires
per minute ahead."""

from __future__ import annotations

from collections.abc import AsyncIterator

from starlette.responses import JSONResponse, Response

from app.api.guard import Ctx, endpoint, route
from app.api.views import instant
from app.errors import FieldError, ValidationFailed
from app.forecast import MINUTE_MS, forecast
from app.models import Schedule, parse_rfc3339, to_ms
from app.store import Store

BATCH = 500
DAY_MS = 86_400_000
YEAR_MS = 366 * DAY_MS


def _start(ctx: Ctx) -> int:
    raw, now = ctx.query["start"], ctx.now_ms()
    try:
        ms = now if raw is None else to_ms(parse_rfc3339(raw))
    except (ValueError, OverflowError):
        raise ValidationFailed([FieldError("start", "must be an RFC 3339 instant")]) from None
    if not now - DAY_MS <= ms <= now + YEAR_MS:
        msg = "must be within a day before and a year after now"
        raise ValidationFailed([FieldError("start", msg)])
    return ms - ms % MINUTE_MS


async def _schedules(store: Store, tenant_id: str) -> AsyncIterator[Schedule]:
    cursor: str | None = None
    while True:
        page = await store.records.list_schedule_ids(tenant_id, BATCH, cursor)
        for s in await store.records.get_schedules([(tenant_id, i) for i in page.items]):
            if s is not None:
                yield s
        cursor = page.next_cursor
        if cursor is None:
            return


async def _answer(ctx: Ctx, schedules: list[Schedule]) -> Response:
    hours = ctx.query["hours"]
    f = forecast(schedules, _start(ctx), hours * 60)
    minutes = [
        {"at": instant(f.start_ms + i * MINUTE_MS), "fires": c} for i, c in enumerate(f.counts)
    ]
    return JSONResponse(
        {
            "start": instant(f.start_ms),
            "end": instant(f.start_ms + len(f.counts) * MINUTE_MS),
            "hours": hours,
            "schedules": f.schedules,
            "total": sum(f.counts),
            "peak": max(f.counts, default=0),
            "minutes": minutes,
        }
    )


@endpoint("forecast", "tenant")
async def tenant_forecast(ctx: Ctx) -> Response:
    return await _answer(ctx, [s async for s in _schedules(ctx.store, ctx.tenant.id)])


@endpoint("adminForecast", "admin")
async def admin_forecast(ctx: Ctx) -> Response:
    everything: list[Schedule] = []
    cursor: str | None = None
    while True:
        page = await ctx.store.records.list_tenant_ids(BATCH, cursor)
        for tid in page.items:
            everything += [s async for s in _schedules(ctx.store, tid)]
        cursor = page.next_cursor
        if cursor is None:
            return await _answer(ctx, everything)


ROUTES = [
    route("/v1/forecast", GET=tenant_forecast),
    route("/v1/admin/forecast", GET=admin_forecast),
]
