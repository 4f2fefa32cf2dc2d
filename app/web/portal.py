"""The tenant portal's schedule pages: the list, one schedule with its preview and fires,
create and edit, and the actions (pause, resume, trigger, delete, replay). Every read and
write is the JSON API's own handler (app.api.guard.invoke)."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import RedirectResponse, Response

from app.api.guard import invoke
from app.api.merge import diff_patch
from app.errors import FieldError, NotFound, ValidationFailed
from app.schedules import schedule_input
from app.store.websessions import Area
from app.web import forms
from app.web.render import HEADERS, page
from app.web.session import Visit, web_page

NOTICES = {
    "created": "Schedule created.",
    "saved": "Schedule saved.",
    "paused": "Schedule paused.",
    "resumed": "Schedule resumed.",
    "triggered": "Fire queued: it is delivered now.",
    "deleted": "Schedule deleted.",
    "replayed": "Replay queued: the fire is delivered again.",
    "sent": "Message queued.",
}
TIMEZONES = ("UTC", "Europe/London", "Europe/Berlin", "America/New_York", "Asia/Tokyo")


async def api(
    visit: Visit,
    operation: str,
    *,
    body: dict[str, Any] | None = None,
    query: dict[str, str] | None = None,
    path: dict[str, str] | None = None,
) -> Any:
    """The operation's answer as JSON data (None for 204)."""
    response = await invoke(
        operation, visit.request, visit.principal, body=body, query=query, path=path
    )
    return json.loads(bytes(response.body)) if response.body else None


def see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=HEADERS)


def notice(visit: Visit) -> str | None:
    return NOTICES.get(visit.request.query_params.get("done", ""))


def _filters(visit: Visit) -> dict[str, str]:
    q = visit.request.query_params
    query = visit.list_query()
    if q.get("name"):
        query["name_prefix"] = q["name"]
    if q.get("paused") in ("true", "false"):
        query["paused"] = q["paused"]
    return query


@web_page("portal")
async def schedules(visit: Visit) -> Response:
    try:
        found = await api(visit, "listSchedules", query=_filters(visit))
    except ValidationFailed as e:
        found = {"items": [], "next_cursor": None, "errors": e.errors}
    rows = []
    for s in found["items"]:
        last = await api(
            visit, "listScheduleFires", query={"limit": "1"}, path={"schedule_id": s["id"]}
        )
        rows.append({"s": s, "last": last["items"][0] if last["items"] else None})
    q = visit.request.query_params
    context = visit.context(
        rows=rows,
        next_cursor=found["next_cursor"],
        name=q.get("name", ""),
        paused=q.get("paused", ""),
        notice=notice(visit),
    )
    return page(visit.request, "portal/schedules.html", context)


@web_page("portal")
async def schedule(visit: Visit) -> Response:
    s = await api(visit, "getSchedule")
    preview = await api(visit, "previewSchedule", query={"count": "10"})
    fires = await api(visit, "listScheduleFires", query={"limit": "20"})
    context = visit.context(s=s, preview=preview, fires=fires["items"], notice=notice(visit))
    return page(visit.request, "portal/schedule.html", context)


def _form_page(
    visit: Visit, values: dict[str, str], errors: list[FieldError], sid: str | None
) -> Response:
    grouped = forms.by_field(errors, forms.SCHEDULE_FIELDS)
    context = visit.context(
        values=values, errors=grouped, schedule_id=sid, timezones=TIMEZONES, methods=METHODS
    )
    return page(visit.request, "portal/schedule_form.html", context, 422 if errors else 200)


METHODS = ("POST", "PUT", "PATCH", "GET", "DELETE")
TARGET_BLANK = {
    "target.url": "https://",
    "target.method": "POST",
    "target.headers": "",
    "target.body": "",
}
BLANK = {
    "name": "",
    "cron": "*/5 * * * *",
    "timezone": "UTC",
    **TARGET_BLANK,
    "target.timeout_seconds": "30",
    "retry.max_attempts": "8",
    "paused": "",
}


@web_page("portal", writes=True)
async def new_schedule(visit: Visit) -> Response:
    if visit.request.method == "GET":
        return _form_page(visit, BLANK, [], None)
    errors: list[FieldError] = []
    body = forms.schedule_of(visit.form, errors)
    if not errors:
        try:
            created = await api(visit, "createSchedule", body=body)
            return see_other(f"/portal/schedules/{created['id']}?done=created")
        except ValidationFailed as e:
            errors = e.errors
    return _form_page(visit, visit.form, errors, None)


@web_page("portal", writes=True)
async def edit_schedule(visit: Visit) -> Response:
    current = await api(visit, "getSchedule")
    sid = current["id"]
    if visit.request.method == "GET":
        return _form_page(visit, forms.schedule_form(current), [], sid)
    errors: list[FieldError] = []
    wanted = forms.schedule_of(visit.form, errors)
    stored = await visit.store.records.get_schedule(visit.tenant.id, sid)
    if stored is None:
        raise NotFound("no such schedule")
    if not errors:
        old = schedule_input(stored)
        patch = diff_patch(old, _edited(old, wanted))
        try:
            if patch:
                await api(visit, "updateSchedule", body=patch)
            return see_other(f"/portal/schedules/{sid}?done=saved")
        except ValidationFailed as e:
            errors = e.errors
    return _form_page(visit, visit.form, errors, sid)


def _edited(old: dict[str, Any], wanted: dict[str, Any]) -> dict[str, Any]:
    """The schedule's input with the form's fields in; fields the form does not show
    (misfire, metadata, backoff, content type...) as they were."""
    target = {k: v for k, v in old["target"].items() if k not in ("headers", "body")}
    retry = old["retry"] | wanted.get("retry", {})
    return old | wanted | {"target": target | wanted["target"], "retry": retry}


def _action(operation: str, done: str) -> Any:
    @web_page("portal", writes=True)
    async def act(visit: Visit) -> Response:
        await api(visit, operation)
        sid = visit.request.path_params["schedule_id"]
        return see_other(f"/portal/schedules/{sid}?done={done}")

    act.__name__ = operation
    return act


pause = _action("pauseSchedule", "paused")
resume = _action("resumeSchedule", "resumed")
trigger = _action("triggerSchedule", "triggered")


@web_page("portal", writes=True)
async def delete_schedule(visit: Visit) -> Response:
    s = await api(visit, "getSchedule")
    if visit.request.method == "GET":
        return page(visit.request, "portal/confirm_delete.html", visit.context(s=s))
    await api(visit, "deleteSchedule")
    return see_other("/portal?done=deleted")


def back_to(form: dict[str, str], area: Area = "portal") -> str:
    """Where a form said to go back to: a path of this area only (no open redirect)."""
    target = form.get("next", "")
    home = f"/{area}"
    ok = target == home or (target.startswith(home + "/") and "//" not in target)
    return target if ok else home


@web_page("portal", writes=True)
async def replay(visit: Visit) -> Response:
    await api(visit, "replayFire")
    url = back_to(visit.form)
    return see_other(f"{url}{'&' if '?' in url else '?'}done=replayed")
