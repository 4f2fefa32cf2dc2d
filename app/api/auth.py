"""Bearer auth: the operator's admin token, or a tenant API key (looked up by its hash)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from starlette.requests import Request

from app.api.problems import ApiProblem
from app.ids import api_key_hash
from app.models import Tenant
from app.store import Store


@dataclass(frozen=True)
class Principal:
    admin: bool
    tenant: Tenant | None
    key_id: str | None = None


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiProblem(
            401,
            "send Authorization: Bearer <token>",
            headers={"WWW-Authenticate": 'Bearer realm="cronhook"'},
        )
    return token.strip()


async def authenticate(request: Request, store: Store, admin_token: str) -> Principal:
    token = _token(request)
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return Principal(admin=True, tenant=None)
    found = await store.records.resolve_api_key(api_key_hash(token))
    if found is None:
        raise ApiProblem(
            401,
            "unknown or revoked token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    tenant = await store.records.get_tenant(found[0])
    if tenant is None:
        raise ApiProblem(
            401,
            "unknown or revoked token",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return Principal(admin=False, tenant=tenant, key_id=found[1])
