"""The operator's side (admin token): `admin.tenants`, `admin.api_keys`, `admin.forecast`,
`admin.fleet`, `admin.console`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from cronhook import _protocol as p
from cronhook._protocol import UNSET, Call, PageQuery, Unset
from cronhook._resource import M, Resource, endpoint, paginated
from cronhook.models import (
    ApiKey,
    ApiKeyCreated,
    Fleet,
    Forecast,
    SignInLink,
    Tenant,
    TenantCreated,
    TenantLimits,
)
from cronhook.resources.account import lifetime

__all__ = ["AdminConsole", "AdminFleet", "AdminForecast", "ApiKeys", "Tenants"]


def _create(
    name: str,
    *,
    limits: TenantLimits | Mapping[str, Any] | None = None,
    metadata: Mapping[str, str] | None = None,
    idempotency_key: str | None = None,
) -> Call[TenantCreated]:
    """Onboard a tenant: returns it with its first `api_key` and its `signing_secret`,
    each shown only this once. Limits left out take the server's defaults."""
    payload = p.body(name=name, limits=limits, metadata=metadata)
    return p.post("/v1/tenants", p.model(TenantCreated), payload, idempotency_key=idempotency_key)


def _list(*, limit: int | None = None) -> PageQuery[Tenant]:
    """Every tenant, newest first."""
    return PageQuery("/v1/tenants", Tenant, p.query(limit=limit))


def _get(tenant_id: str) -> Call[Tenant]:
    """One tenant with its usage."""
    return p.get(p.path("/v1/tenants/{}", tenant_id), p.model(Tenant))


def _update(
    tenant_id: str,
    *,
    name: str | Unset = UNSET,
    limits: TenantLimits | Mapping[str, Any] | Unset = UNSET,
    metadata: Mapping[str, str | None] | Unset = UNSET,
) -> Call[Tenant]:
    """Change name, limits or metadata (merge patch: limits merge field by field, a None
    metadata value removes that key). Existing schedules are not re-checked."""
    patch = p.merge_patch(name=name, limits=limits, metadata=metadata)
    if not patch:
        raise ValueError("update needs at least one field to change")
    return p.patch(p.path("/v1/tenants/{}", tenant_id), p.model(Tenant), patch)


def _delete(tenant_id: str) -> Call[None]:
    """Remove the tenant and all its data; its keys stop working at once."""
    return p.delete(p.path("/v1/tenants/{}", tenant_id))


def _create_key(
    tenant_id: str, *, name: str | None = None, idempotency_key: str | None = None
) -> Call[ApiKeyCreated]:
    """Issue another API key for the tenant; `api_key` is shown only this once."""
    path = p.path("/v1/tenants/{}/api-keys", tenant_id)
    payload = p.body(name=name)
    return p.post(path, p.model(ApiKeyCreated), payload, idempotency_key=idempotency_key)


def _list_keys(tenant_id: str) -> Call[tuple[ApiKey, ...]]:
    """The tenant's API keys (prefixes only), newest first."""
    return p.get(p.path("/v1/tenants/{}/api-keys", tenant_id), p.items_of(ApiKey))


def _revoke_key(tenant_id: str, key_id: str) -> Call[None]:
    """Revoke an API key; it answers 401 from now on."""
    return p.delete(p.path("/v1/tenants/{}/api-keys/{}", tenant_id, key_id))


def _forecast(*, hours: int | None = None, start: datetime | None = None) -> Call[Forecast]:
    """Fires per minute ahead over every tenant's schedules."""
    return p.get("/v1/admin/forecast", p.model(Forecast), p.query(hours=hours, start=start))


def _fleet() -> Call[Fleet]:
    """Every dispatcher and invoker that heartbeat recently: live or lost, clock skew,
    claims or attempts per second, and a summary with the time index's depth."""
    return p.get("/v1/admin/fleet", p.model(Fleet))


def _portal_link(
    tenant_id: str,
    *,
    read_only: bool | None = None,
    expires_in: int | timedelta | None = None,
    idempotency_key: str | None = None,
) -> Call[SignInLink]:
    """A single-use link that signs a browser into this tenant's portal (support, or to
    hand to the tenant), optionally `read_only`, valid for `expires_in` (seconds or a
    timedelta; server default 15 min)."""
    payload = p.body(read_only=read_only, expires_in_seconds=lifetime(expires_in))
    path = p.path("/v1/tenants/{}/portal-links", tenant_id)
    return p.post(path, p.model(SignInLink), payload, idempotency_key=idempotency_key)


def _console_link(
    *, expires_in: int | timedelta | None = None, idempotency_key: str | None = None
) -> Call[SignInLink]:
    """A single-use link that signs a browser into the operator console."""
    payload = p.body(expires_in_seconds=lifetime(expires_in))
    return p.post(
        "/v1/admin/console-links", p.model(SignInLink), payload, idempotency_key=idempotency_key
    )


class Tenants(Resource[M]):
    """Onboard and manage tenants."""

    create = endpoint(_create)
    list = paginated(_list)
    get = endpoint(_get)
    update = endpoint(_update)
    delete = endpoint(_delete)
    portal_link = endpoint(_portal_link)


class ApiKeys(Resource[M]):
    """Issue, list and revoke a tenant's API keys."""

    create = endpoint(_create_key)
    list = endpoint(_list_keys)
    revoke = endpoint(_revoke_key)


class AdminForecast(Resource[M]):
    get = endpoint(_forecast)


class AdminFleet(Resource[M]):
    get = endpoint(_fleet)


class AdminConsole(Resource[M]):
    """`admin.console.link()`: a sign-in link to the operator console."""

    link = endpoint(_console_link)
