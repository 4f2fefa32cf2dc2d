"""Sign-in links for the pages: short-lived, single-use, one tenant (the portal) or the
operator console. Answered as ``{"url", "expires_at"}``; the link's token is stored only as
a hash (app/store/websessions.py) and opening the link trades it for a session cookie."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.api.guard import Ctx, endpoint, route
from app.api.views import instant
from app.errors import NotFound
from app.settings import Settings
from app.store.websessions import Grant

DEFAULT_TTL_S = 900
SIGN_IN_PATHS = {"portal": "/portal/sign-in", "console": "/console/sign-in"}


def public_base(request: Request, settings: Settings) -> str:
    """Where browsers reach this API: the configured public URL, else this request's."""
    base = settings.public_url or str(request.base_url)
    return base.rstrip("/")


async def _link(ctx: Ctx, grant: Grant) -> Response:
    body = await ctx.body()
    ttl_ms = int(body.get("expires_in_seconds", DEFAULT_TTL_S)) * 1000
    now = ctx.now_ms()
    token = await ctx.store.web.mint_link(grant, ttl_ms)
    url = f"{public_base(ctx.request, ctx.st.settings)}{SIGN_IN_PATHS[grant.area]}?token={token}"
    return JSONResponse({"url": url, "expires_at": instant(now + ttl_ms)}, status_code=201)


@endpoint("createTenantPortalLink", "admin")
async def tenant_portal_link(ctx: Ctx) -> Response:
    tid = ctx.path_id("tenant_id")
    if await ctx.store.records.get_tenant(tid) is None:
        raise NotFound("no such tenant")
    read_only = bool((await ctx.body()).get("read_only", False))
    return await _link(ctx, Grant("portal", tid, read_only))


@endpoint("createPortalLink", "tenant")
async def own_portal_link(ctx: Ctx) -> Response:
    read_only = bool((await ctx.body()).get("read_only", False))
    return await _link(ctx, Grant("portal", ctx.tenant.id, read_only))


@endpoint("createConsoleLink", "admin")
async def console_link(ctx: Ctx) -> Response:
    return await _link(ctx, Grant("console", None))


ROUTES = [
    route("/v1/tenants/{tenant_id}/portal-links", POST=tenant_portal_link),
    route("/v1/portal-links", POST=own_portal_link),
    route("/v1/admin/console-links", POST=console_link),
]
