"""Tenant route: many schedules created in one request (onboarding), each on its own.

Every item goes through what ``POST /v1/schedules`` does (the ``ScheduleCreate`` schema,
``build_schedule``, ``Records.create_schedule`` with its atomic quota check), so a bulk item
is refused exactly when a single create would be. The items are created concurrently, so
their writes share pipelines; the quota stays exact because each item's check-and-write is
one Lua script."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.api.contract import check
from app.api.guard import Ctx, endpoint
from app.api.problems import SLUGS, TITLES, ApiProblem, problem
from app.api.views import schedule_view
from app.errors import Conflict, FieldError, QuotaExceeded, StoreUnavailable, ValidationFailed
from app.models import Tenant
from app.planning import first_due_ms
from app.schedules import build_schedule
from app.store import Store

CREATE_SCHEMA = "ScheduleCreate"
EVERY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]


def _problem(status: int, detail: str, errors: list[Any] | None = None) -> dict[str, Any]:
    """The problem+json body a single create would have answered."""
    body: dict[str, Any] = {
        "type": f"https://cronhook.dev/problems/{SLUGS.get(status, 'error')}",
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    return body


async def create_one(
    store: Store, tenant: Tenant, item: Any, now_ms: int, *, allow_private: bool
) -> dict[str, Any]:
    """``{"status": 201, "schedule": ...}`` or ``{"status": 4xx|503, "problem": ...}``."""
    try:
        check(CREATE_SCHEMA, item)
        s = build_schedule(item, tenant, now_ms, allow_private=allow_private)
        due = None if s.paused else first_due_ms(s, now_ms)
        await store.records.create_schedule(s, due, tenant.limits.max_schedules)
    except ValidationFailed as e:
        return {"status": 422, "problem": _problem(422, e.detail, e.errors)}
    except QuotaExceeded as e:
        errors = [FieldError(e.field, e.detail)] if e.field else None
        return {"status": 422, "problem": _problem(422, e.detail, errors)}
    except Conflict as e:
        return {"status": 409, "problem": _problem(409, str(e))}
    except ApiProblem as e:
        return {"status": e.status, "problem": _problem(e.status, e.detail, e.errors)}
    except StoreUnavailable:
        return {"status": 503, "problem": _problem(503, "the store is unavailable; send again")}
    return {"status": 201, "schedule": schedule_view(s, due)}


@endpoint("bulkCreateSchedules", "tenant")
async def bulk_create_schedules(ctx: Ctx) -> Response:
    body = await ctx.body()
    now = ctx.now_ms()
    allow = ctx.st.settings.allow_private_targets
    tenant = ctx.tenant
    results = await asyncio.gather(
        *(create_one(ctx.store, tenant, item, now, allow_private=allow) for item in body["items"])
    )
    items = [{"index": i, **r} for i, r in enumerate(results)]
    created = sum(1 for r in results if r["status"] == 201)
    return JSONResponse({"created": created, "failed": len(items) - created, "items": items})


async def _bulk_path(request: Request) -> Response:
    """POST only. The route takes every method so that another one answers 405 here
    instead of reaching ``/v1/schedules/{schedule_id}`` with the id ``bulk``."""
    if request.method != "POST":
        detail = f"method {request.method} is not allowed on this path"
        return problem(405, detail, headers={"Allow": "POST"}, instance=request.url.path)
    return await bulk_create_schedules(request)


ROUTES = [Route("/v1/schedules/bulk", _bulk_path, methods=EVERY_METHOD)]
