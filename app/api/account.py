"""A tenant's view of itself: quotas, usage, and its signing secrets."""

from __future__ import annotations

from dataclasses import replace

from starlette.responses import JSONResponse, Response

from app.api.guard import Ctx, endpoint, route
from app.api.views import instant, secret_view, tenant_view
from app.errors import NotFound
from app.ids import new_signing_secret
from app.models import SigningSecret, Tenant

DEFAULT_OVERLAP_S = 86_400


@endpoint("getCurrentTenant", "tenant")
async def current_tenant(ctx: Ctx) -> Response:
    t = ctx.tenant
    now = ctx.now_ms()
    view = tenant_view(t, await ctx.store.records.usage(t.id)) | {
        "api_key_id": ctx.principal.key_id,
        "signing_secrets": [secret_view(s) for s in _live(t, now)],
    }
    return JSONResponse(view)


def _live(t: Tenant, now_ms: int) -> list[SigningSecret]:
    return [s for s in t.secrets if s.expires_at is None or s.expires_at > now_ms]


def rotated(t: Tenant, secret: str, now_ms: int, overlap_s: int) -> Tenant:
    """``secret`` becomes current; every secret still signing expires within ``overlap_s``
    (sooner if it already would); expired ones are dropped."""
    until = now_ms + overlap_s * 1000
    kept = [
        replace(s, expires_at=until if s.expires_at is None else min(s.expires_at, until))
        for s in _live(t, now_ms)
    ]
    kept = [s for s in kept if s.expires_at is not None and s.expires_at > now_ms]
    return replace(t, secrets=(SigningSecret(secret, now_ms), *kept), updated_at=now_ms)


@endpoint("rotateSigningSecret", "tenant")
async def rotate_secret(ctx: Ctx) -> Response:
    body = await ctx.body()
    overlap = int(body.get("overlap_seconds", DEFAULT_OVERLAP_S))
    secret, now = new_signing_secret(), ctx.now_ms()
    t = await ctx.store.records.update_tenant(
        ctx.tenant.id, lambda t: rotated(t, secret, now, overlap)
    )
    if t is None:
        raise NotFound("no such tenant")
    return JSONResponse(
        {
            "signing_secret": secret,
            "created_at": instant(now),
            "signing_secrets": [secret_view(s) for s in _live(t, now)],
        }
    )


ROUTES = [
    route("/v1/tenant", GET=current_tenant),
    route("/v1/signing-secret/rotate", POST=rotate_secret),
]
