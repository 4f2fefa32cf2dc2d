"""Operator routes: onboarding tenants, their quotas and limits, their API keys."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from starlette.responses import JSONResponse, Response

from app.api.contract import check
from app.api.guard import Ctx, endpoint, route
from app.api.merge import merge_patch
from app.api.views import api_key_view, tenant_view
from app.errors import NotFound
from app.ids import api_key_hash, new_api_key, new_id, new_signing_secret
from app.models import SigningSecret, Tenant, TenantLimits
from app.store.records import ApiKeyRecord

KEY_PREFIX_LEN = 12


def new_key(tenant_id: str, now_ms: int, name: str | None) -> tuple[str, ApiKeyRecord]:
    key = new_api_key()
    return key, ApiKeyRecord(new_id("key"), tenant_id, key[:KEY_PREFIX_LEN], now_ms, name)


@endpoint("createTenant", "admin")
async def create_tenant(ctx: Ctx) -> Response:
    body = await ctx.body()
    now = ctx.now_ms()
    tenant = Tenant(
        id=new_id("ten"),
        name=body["name"],
        created_at=now,
        limits=TenantLimits.from_json(body.get("limits") or {}),
        secrets=(SigningSecret(new_signing_secret(), now),),
        metadata=dict(body.get("metadata") or {}),
        updated_at=now,
    )
    key, record = new_key(tenant.id, now, None)
    await ctx.store.records.create_tenant(tenant, record, api_key_hash(key))
    view = tenant_view(tenant) | {
        "api_key": key,
        "api_key_id": record.key_id,
        "signing_secret": tenant.secrets[0].secret,
    }
    return JSONResponse(view, status_code=201, headers={"Location": f"/v1/tenants/{tenant.id}"})


@endpoint("listTenants", "admin")
async def list_tenants(ctx: Ctx) -> Response:
    page = await ctx.store.records.list_tenant_ids(ctx.query["limit"], ctx.query["cursor"])
    tenants = await ctx.store.records.get_tenants(page.items)
    items = [tenant_view(t) for t in tenants]
    return JSONResponse({"items": items, "next_cursor": page.next_cursor})


async def _tenant(ctx: Ctx) -> Tenant:
    t = await ctx.store.records.get_tenant(ctx.path_id("tenant_id"))
    if t is None:
        raise NotFound("no such tenant")
    return t


@endpoint("getTenant", "admin")
async def get_tenant(ctx: Ctx) -> Response:
    t = await _tenant(ctx)
    return JSONResponse(tenant_view(t, await ctx.store.records.usage(t.id)))


def _patched(t: Tenant, body: dict[str, Any], now: int) -> Tenant:
    limits = merge_patch(asdict(t.limits), body.get("limits") or {})
    metadata = merge_patch(t.metadata, body.get("metadata") or {})
    check("Metadata", metadata, root="metadata")  # the merged map obeys the limits too
    return replace(
        t,
        name=body.get("name", t.name),
        limits=TenantLimits.from_json(limits),
        metadata=metadata,
        updated_at=now,
    )


@endpoint("updateTenant", "admin")
async def update_tenant(ctx: Ctx) -> Response:
    tid = ctx.path_id("tenant_id")
    body = await ctx.body()
    now = ctx.now_ms()
    t = await ctx.store.records.update_tenant(tid, lambda t: _patched(t, body, now))
    if t is None:
        raise NotFound("no such tenant")
    return JSONResponse(tenant_view(t, await ctx.store.records.usage(t.id)))


@endpoint("deleteTenant", "admin")
async def delete_tenant(ctx: Ctx) -> Response:
    if not await ctx.store.records.delete_tenant(ctx.path_id("tenant_id")):
        raise NotFound("no such tenant")
    return Response(status_code=204)


@endpoint("createApiKey", "admin")
async def create_api_key(ctx: Ctx) -> Response:
    t = await _tenant(ctx)
    body = await ctx.body()
    key, record = new_key(t.id, ctx.now_ms(), body.get("name"))
    await ctx.store.records.add_api_key(record, api_key_hash(key))
    return JSONResponse(
        api_key_view(record) | {"api_key": key},
        status_code=201,
        headers={"Location": f"/v1/tenants/{t.id}/api-keys/{record.key_id}"},
    )


@endpoint("listApiKeys", "admin")
async def list_api_keys(ctx: Ctx) -> Response:
    t = await _tenant(ctx)
    keys = await ctx.store.records.list_api_keys(t.id)
    return JSONResponse({"items": [api_key_view(k) for k in keys], "next_cursor": None})


@endpoint("revokeApiKey", "admin")
async def revoke_api_key(ctx: Ctx) -> Response:
    t = await _tenant(ctx)
    if not await ctx.store.records.revoke_api_key(t.id, ctx.path_id("key_id")):
        raise NotFound("no such API key")
    return Response(status_code=204)


ROUTES = [
    route("/v1/tenants", POST=create_tenant, GET=list_tenants),
    route("/v1/tenants/{tenant_id}", GET=get_tenant, PATCH=update_tenant, DELETE=delete_tenant),
    route("/v1/tenants/{tenant_id}/api-keys", POST=create_api_key, GET=list_api_keys),
    route("/v1/tenants/{tenant_id}/api-keys/{key_id}", DELETE=revoke_api_key),
]
