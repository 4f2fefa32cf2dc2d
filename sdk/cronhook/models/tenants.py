"""Tenants, their limits, API keys and signing secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cronhook.models._base import frozen

__all__ = [
    "ApiKey",
    "ApiKeyCreated",
    "CurrentTenant",
    "RateLimit",
    "RotatedSecret",
    "SignInLink",
    "SigningSecretInfo",
    "Tenant",
    "TenantCreated",
    "TenantLimits",
    "TenantUsage",
]


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_second: float
    burst: int


@dataclass(frozen=True, slots=True)
class TenantLimits:
    """Quotas the operator sets. As input, fields left None keep the server's default."""

    max_schedules: int | None = None
    min_interval_seconds: float | None = None
    max_body_bytes: int | None = None
    rate_limit: RateLimit | None = None
    max_concurrency: int | None = None
    allowed_private_targets: bool | None = None
    api_rate_limit: RateLimit | None = None
    max_fanout_shards: int | None = None


@frozen
class TenantUsage:
    schedules: int
    paused_schedules: int
    api_keys: int
    dead_letters: int


@frozen
class Tenant:
    id: str
    name: str
    created_at: datetime
    updated_at: datetime
    limits: TenantLimits
    metadata: Mapping[str, str] = field(default_factory=dict)
    usage: TenantUsage | None = None


@frozen
class TenantCreated(Tenant):
    """A new tenant with its first API key and signing secret, both shown only once."""

    api_key: str
    api_key_id: str
    signing_secret: str


@frozen
class SigningSecretInfo:
    """A signing secret by its prefix; `expires_at` None for the current one."""

    prefix: str
    created_at: datetime
    expires_at: datetime | None = None


@frozen
class CurrentTenant(Tenant):
    """The tenant of the API key in use, with its usage and active signing secrets."""

    api_key_id: str
    signing_secrets: tuple[SigningSecretInfo, ...] = ()


@frozen
class RotatedSecret:
    """The new signing secret (shown once) and every secret that signs now."""

    signing_secret: str
    created_at: datetime
    signing_secrets: tuple[SigningSecretInfo, ...] = ()


@frozen
class SignInLink:
    """A short-lived, single-use link into the tenant portal or the operator console: open
    `url` in a browser once before `expires_at`. It holds a secret: do not log it."""

    url: str
    expires_at: datetime


@frozen
class ApiKey:
    id: str
    prefix: str
    name: str | None = None
    created_at: datetime


@frozen
class ApiKeyCreated(ApiKey):
    """A new API key; `api_key` is shown only once."""

    api_key: str
