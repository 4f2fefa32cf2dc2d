"""The operator console: tenants with quotas and usage (dead letters included), onboarding
(key and secret shown once), portal links for support, the fleet live, the forecast
across tenants, the queue and time-index depth. Every read and write is the API's own
handler, run as the operator."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from app.api.state import ApiState
from app.errors import BusUnavailable, FieldError, ValidationFailed
from app.web.account import forecast_page
from app.web.portal import api
from app.web.render import page
from app.web.session import Visit, web_page


@web_page("console")
async def tenants(visit: Visit) -> Response:
    found = await api(visit, "listTenants", query=visit.list_query())
    rows = [await api(visit, "getTenant", path={"tenant_id": t["id"]}) for t in found["items"]]
    context = visit.context(rows=rows, next_cursor=found["next_cursor"])
    return page(visit.request, "console/tenants.html", context)


def _onboard_body(form: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {"name": form.get("name", "")}
    raw = form.get("max_schedules", "").strip()
    if raw:
        try:
            value: Any = int(raw)
        except ValueError:
            value = raw  # the API names the field and says it must be an integer
        body["limits"] = {"max_schedules": value}
    return body


@web_page("console", writes=True)
async def onboard(visit: Visit) -> Response:
    values, errors, created = {"name": "", "max_schedules": ""}, list[FieldError](), None
    if visit.request.method == "POST":
        values = visit.form
        try:
            created = await api(visit, "createTenant", body=_onboard_body(visit.form))
        except ValidationFailed as failed:
            errors = failed.errors
    grouped: dict[str, list[str]] = {}
    for err in errors:
        key = "max_schedules" if err.field.startswith("limits") else err.field
        home = key if key in ("name", "max_schedules") else ""
        grouped.setdefault(home, []).append(err.message if home else f"{err.field}: {err.message}")
    context = visit.context(values=values, errors=grouped, created=created)
    return page(visit.request, "console/onboard.html", context, 422 if errors else 200)


@web_page("console", writes=True)
async def portal_link(visit: Visit) -> Response:
    """A sign-in link to one tenant's portal, shown once on this answer (for support)."""
    tid = visit.request.path_params["tenant_id"]
    read_only = visit.form.get("read_only") == "on"
    body = {"read_only": read_only, "expires_in_seconds": 600}
    link = await api(visit, "createTenantPortalLink", body=body, path={"tenant_id": tid})
    tenant = await api(visit, "getTenant", path={"tenant_id": tid})
    context = visit.context(link=link, t=tenant, link_read_only=read_only)
    return page(visit.request, "console/portal_link.html", context)


async def _queue_depth(visit: Visit) -> dict[str, int | str] | None:
    """The queue's depth and dead letters; "unreachable" while the broker is (the page
    still shows the rest)."""
    bus = ApiState.of(visit.request).bus
    if bus is None:
        return None
    try:
        return {"queue": await bus.depth(), "dead": await bus.dead_letter_depth()}
    except BusUnavailable:
        return {"queue": "unreachable", "dead": "unreachable"}


@web_page("console")
async def fleet(visit: Visit) -> Response:
    found = await api(visit, "getFleet")
    depth = await _queue_depth(visit)
    context = visit.context(fleet=found, depth=depth)
    partial = visit.request.query_params.get("partial") == "1"
    return page(
        visit.request, "console/fleet_part.html" if partial else "console/fleet.html", context
    )


@web_page("console")
async def forecast(visit: Visit) -> Response:
    return await forecast_page(visit, "adminForecast", "console/forecast.html")
