"""Operator routes: onboarding tenants."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.api.requests import json_body
from app.api.state import ApiState
from app.api.views import tenant_view
from app.ids import api_key_hash, new_api_key, new_id, new_signing_secret
from app.models import SigningSecret, Tenant, TenantLimits
from app.store.records import ApiKeyRecord


async def create_tenant(request: Request) -> Response:
    st = ApiState.of(request)
    await st.admin(request)
    body = await json_body(request, "TenantCreate")
    now = st.now_ms()
    tenant = Tenant(
        id=new_id("ten"),
        name=body["name"],
        created_at=now,
        limits=TenantLimits.from_json(body.get("limits") or {}),
        secrets=(SigningSecret(new_signing_secret(), now),),
        metadata=dict(body.get("metadata") or {}),
    )
    key = new_api_key()
    record = ApiKeyRecord(
        key_id=new_id("key"), tenant_id=tenant.id, prefix=key[:10], created_at=now
    )
    await st.store.records.create_tenant(tenant, record, api_key_hash(key))
    view = tenant_view(tenant) | {
        "api_key": key,
        "api_key_id": record.key_id,
        "signing_secret": tenant.secrets[0].secret,
    }
    return JSONResponse(view, status_code=201)


ROUTES = [Route("/v1/tenants", create_tenant, methods=["POST"])]
