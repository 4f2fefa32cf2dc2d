"""Tenant routes: schedules and their fires."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.api.contract import query_int, query_str
from app.api.requests import json_body
from app.api.state import ApiState
from app.api.views import fire_view, schedule_view
from app.errors import NotFound
from app.keys import schedule_item
from app.models import Schedule
from app.schedules import build_schedule, check_quota
from dispatcher.planning import first_due_ms


async def _owned(st: ApiState, request: Request) -> Schedule:
    tenant = await st.tenant(request)
    s = await st.store.records.get_schedule(tenant.id, request.path_params["schedule_id"])
    if s is None:
        raise NotFound("no such schedule")
    return s


async def _view(st: ApiState, s: Schedule) -> dict[str, object]:
    due = None if s.paused else await st.store.time.due_at(schedule_item(s.id))
    return schedule_view(s, due)


async def create_schedule(request: Request) -> Response:
    st = ApiState.of(request)
    tenant = await st.tenant(request)
    body = await json_body(request, "ScheduleCreate")
    check_quota(tenant, await st.store.records.count_schedules(tenant.id))
    now = st.now_ms()
    s = build_schedule(body, tenant, now, allow_private=st.settings.allow_private_targets)
    due = None if s.paused else first_due_ms(s, now)
    try:
        await st.store.records.put_schedule(s, due)
    except Exception:
        # never leave a half-written schedule behind
        await st.store.records.delete_schedule(tenant.id, s.id)
        raise
    return JSONResponse(
        schedule_view(s, due), status_code=201, headers={"Location": f"/v1/schedules/{s.id}"}
    )


async def list_schedules(request: Request) -> Response:
    st = ApiState.of(request)
    tenant = await st.tenant(request)
    limit = query_int(request.query_params, "limit", default=50, low=1, high=200)
    cursor = query_str(request.query_params, "cursor")
    page = await st.store.records.list_schedule_ids(tenant.id, limit, cursor)
    schedules = await st.store.records.get_schedules([(tenant.id, i) for i in page.items])
    items = [await _view(st, s) for s in schedules if s is not None]
    return JSONResponse({"items": items, "next_cursor": page.next_cursor})


async def get_schedule(request: Request) -> Response:
    st = ApiState.of(request)
    return JSONResponse(await _view(st, await _owned(st, request)))


async def delete_schedule(request: Request) -> Response:
    st = ApiState.of(request)
    s = await _owned(st, request)
    await st.store.records.delete_schedule(s.tenant_id, s.id)
    return Response(status_code=204)


async def list_fires(request: Request) -> Response:
    st = ApiState.of(request)
    s = await _owned(st, request)
    limit = query_int(request.query_params, "limit", default=50, low=1, high=200)
    cursor = query_str(request.query_params, "cursor")
    page = await st.store.fires.list_for_schedule(s.tenant_id, s.id, limit, cursor)
    fires = await st.store.fires.get_many(s.tenant_id, page.items)
    return JSONResponse({"items": [fire_view(f) for f in fires], "next_cursor": page.next_cursor})


async def get_fire(request: Request) -> Response:
    st = ApiState.of(request)
    tenant = await st.tenant(request)
    fire = await st.store.fires.get(tenant.id, request.path_params["fire_id"])
    if fire is None:
        raise NotFound("no such fire")
    return JSONResponse(fire_view(fire))


ROUTES = [
    Route("/v1/schedules", create_schedule, methods=["POST"]),
    Route("/v1/schedules", list_schedules, methods=["GET"]),
    Route("/v1/schedules/{schedule_id}", get_schedule, methods=["GET"]),
    Route("/v1/schedules/{schedule_id}", delete_schedule, methods=["DELETE"]),
    Route("/v1/schedules/{schedule_id}/fires", list_fires, methods=["GET"]),
    Route("/v1/fires/{fire_id}", get_fire, methods=["GET"]),
]
