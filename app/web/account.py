"""The tenant portal's other pages: dead letters, one-off messages, the signing secret,
the live event feed, the forecast, and the live cron preview of the schedule form."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from app import cron
from app.api.guard import invoke
from app.api.state import ApiState
from app.cron.words import describe
from app.errors import FieldError, NotFound, ValidationFailed
from app.models import from_ms, rfc3339
from app.schedules import timing_errors
from app.web import forms
from app.web.chart import forecast_svg
from app.web.portal import METHODS, TARGET_BLANK, api, notice, see_other
from app.web.render import HEADERS, page, wall
from app.web.session import Visit, web_page

PREVIEW_COUNT = 5


@web_page("portal")
async def dead_letters(visit: Visit) -> Response:
    found = await api(visit, "listDeadLetters", query=visit.list_query())
    context = visit.context(
        fires=found["items"], next_cursor=found["next_cursor"], notice=notice(visit)
    )
    return page(visit.request, "portal/dead_letters.html", context)


@web_page("portal")
async def shards(visit: Visit) -> Response:
    """A fan-out fire's shards, a page at a time (``listFireShards``, routed only when
    openapi.yaml has it)."""
    fire = await api(visit, "getFire")
    found = await api(visit, "listFireShards", query=visit.list_query())
    context = visit.context(fire=fire, shards=found["items"], next_cursor=found["next_cursor"])
    return page(visit.request, "portal/shards.html", context)


MESSAGE_BLANK = {**TARGET_BLANK, "delay_seconds": ""}


@web_page("portal", writes=True)
async def message(visit: Visit) -> Response:
    """The form; a message sent redirects to ``?done=sent&fire=<id>`` (post/redirect/get:
    a reload does not send it again), which names the fire when it is the tenant's."""
    values, errors = MESSAGE_BLANK, list[FieldError]()
    if visit.request.method == "POST":
        values = visit.form
        body = forms.message_of(visit.form, errors)
        if not errors:
            try:
                sent = await api(visit, "createMessage", body=body)
                return see_other(f"/portal/messages?done=sent&fire={sent['id']}")
            except ValidationFailed as e:
                errors = e.errors
    grouped = forms.by_field(errors, forms.MESSAGE_FIELDS)
    sent = await _sent(visit)
    shown = None if sent else notice(visit)
    context = visit.context(values=values, errors=grouped, sent=sent, notice=shown, methods=METHODS)
    return page(visit.request, "portal/message.html", context, 422 if errors else 200)


async def _sent(visit: Visit) -> Any:
    """The fire a ``?done=sent&fire=<id>`` link names, if the tenant has it."""
    q = visit.request.query_params
    if q.get("done") != "sent" or not q.get("fire"):
        return None
    try:
        return await api(visit, "getFire", path={"fire_id": q["fire"]})
    except NotFound:
        return None


@web_page("portal")
async def secret(visit: Visit) -> Response:
    me = await api(visit, "getCurrentTenant")
    context = visit.context(me=me, new_secret=None)
    return page(visit.request, "portal/secret.html", context)


@web_page("portal", writes=True)
async def rotate_secret(visit: Visit) -> Response:
    """The new secret is in this one answer (never in a URL, never stored in the page's
    cache); reloading the secret page shows prefixes only."""
    rotated = await api(visit, "rotateSigningSecret", body={})
    me = await api(visit, "getCurrentTenant")
    context = visit.context(me=me, new_secret=rotated["signing_secret"])
    return page(visit.request, "portal/secret.html", context)


@web_page("portal")
async def events(visit: Visit) -> Response:
    return page(visit.request, "portal/events.html", visit.context())


@web_page("portal")
async def event_stream(visit: Visit) -> Response:
    """The API's own event stream handler, signed in by the session cookie (an
    EventSource cannot send an Authorization header)."""
    query = dict(visit.request.query_params)
    return await invoke("streamEvents", visit.request, visit.principal, query=query)


async def forecast_page(visit: Visit, operation: str, template: str) -> Response:
    """The forecast of the portal (the tenant's) or of the console (every tenant's)."""
    hours = visit.request.query_params.get("hours", "6")
    found = await api(visit, operation, query={"hours": hours if hours.isdigit() else "6"})
    context = visit.context(forecast=found, chart=forecast_svg(found))
    return page(visit.request, template, context)


@web_page("portal")
async def forecast(visit: Visit) -> Response:
    return await forecast_page(visit, "forecast", "portal/forecast.html")


@web_page("portal")
async def cron_preview(visit: Visit) -> Response:
    """``?cron=&timezone=``: the schedule form's live preview, by the rules creating the
    schedule applies (the tenant's minimum interval included)."""
    q = visit.request.query_params
    expr, tz = q.get("cron", ""), q.get("timezone", "") or "UTC"
    now = ApiState.of(visit.request).now_ms()
    errors = timing_errors(expr, tz, "preview", now, visit.tenant) if expr.strip() else []
    if not expr.strip():
        errors = [FieldError("cron", "is required")]
    if errors:
        body = {"ok": False, "errors": [{"field": e.field, "message": e.message} for e in errors]}
        return JSONResponse(body, headers=HEADERS)
    timing = cron.parse(expr, tz, seed="preview", anchor=from_ms(now))
    items = []
    for o in timing.occurrences(from_ms(now), PREVIEW_COUNT):
        local = o.local.isoformat(timespec="seconds")
        items.append({"at": rfc3339(o.utc), "local": local, "text": wall(local), "dst": o.dst})
    return JSONResponse({"ok": True, "words": describe(expr), "next": items}, headers=HEADERS)
