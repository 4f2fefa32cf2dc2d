"""The pages: the tenant portal under /portal and the operator console under /console,
server-rendered (Jinja2), signed in by single-use links, every asset served from
/static by cronhook itself. They run the JSON API's own handlers (app.api.guard.invoke)."""

from __future__ import annotations

from functools import partial

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.store.websessions import Area
from app.web import account, console, portal
from app.web.render import SHARD_PAGES
from app.web.session import sign_in, sign_out

GET, POST, BOTH = ["GET"], ["POST"], ["GET", "POST"]


def _area(area: Area) -> list[Route]:
    return [
        Route(f"/{area}/sign-in", partial(sign_in, area=area), methods=GET),
        Route(f"/{area}/sign-out", partial(sign_out, area=area), methods=POST),
    ]


PORTAL = [
    *_area("portal"),
    Route("/portal", portal.schedules, methods=GET),
    Route("/portal/schedules/new", portal.new_schedule, methods=BOTH),
    Route("/portal/schedules/{schedule_id}", portal.schedule, methods=GET),
    Route("/portal/schedules/{schedule_id}/edit", portal.edit_schedule, methods=BOTH),
    Route("/portal/schedules/{schedule_id}/pause", portal.pause, methods=POST),
    Route("/portal/schedules/{schedule_id}/resume", portal.resume, methods=POST),
    Route("/portal/schedules/{schedule_id}/trigger", portal.trigger, methods=POST),
    Route("/portal/schedules/{schedule_id}/delete", portal.delete_schedule, methods=BOTH),
    Route("/portal/fires/{fire_id}/replay", portal.replay, methods=POST),
    Route("/portal/dead-letters", account.dead_letters, methods=GET),
    Route("/portal/messages", account.message, methods=BOTH),
    Route("/portal/signing-secret", account.secret, methods=GET),
    Route("/portal/signing-secret/rotate", account.rotate_secret, methods=POST),
    Route("/portal/events", account.events, methods=GET),
    Route("/portal/events/stream", account.event_stream, methods=GET),
    Route("/portal/forecast", account.forecast, methods=GET),
    Route("/portal/cron-preview", account.cron_preview, methods=GET),
]
if SHARD_PAGES:  # fan-out (listFireShards) is in the contract
    PORTAL.append(Route("/portal/fires/{fire_id}/shards", account.shards, methods=GET))
CONSOLE = [
    *_area("console"),
    Route("/console", console.tenants, methods=GET),
    Route("/console/tenants/new", console.onboard, methods=BOTH),
    Route("/console/tenants/{tenant_id}/portal-link", console.portal_link, methods=POST),
    Route("/console/fleet", console.fleet, methods=GET),
    Route("/console/forecast", console.forecast, methods=GET),
]


class _Hardened:
    """The static files with ``nosniff`` and a short cache."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def hardened(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-content-type-options", b"nosniff"),
                    (b"cache-control", b"public, max-age=300"),
                ]
            await send(message)

        await self.app(scope, receive, hardened)


def routes() -> list[BaseRoute]:
    static = StaticFiles(packages=[("app.web", "static")])
    return [*PORTAL, *CONSOLE, Mount("/static", app=_Hardened(static), name="static")]
