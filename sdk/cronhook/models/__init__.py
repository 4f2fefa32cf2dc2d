"""What the API returns, as frozen dataclasses (fields named as in `openapi.yaml`).

Instants are aware datetimes (UTC, except `PreviewInstant.local` which keeps the schedule's
offset). Fields the server may leave out have defaults; fields the server adds later are
ignored. `Target`, `RetrySettings`, `Misfire`, `TenantLimits` and `RateLimit` are also
accepted as input (a plain dict works too, e.g. `{"max_attempts": 3}`).
"""

from cronhook.models._base import Page
from cronhook.models.fires import (
    Attempt,
    Event,
    Fire,
    FireFanout,
    FireShard,
    Job,
    LateCompletion,
    Shard,
)
from cronhook.models.schedules import (
    BulkItem,
    BulkProblem,
    BulkResult,
    Fanout,
    HttpMethod,
    JobSettings,
    Misfire,
    Preview,
    PreviewInstant,
    RetrySettings,
    Schedule,
    Skips,
    Target,
)
from cronhook.models.system import (
    Fleet,
    FleetNode,
    FleetSummary,
    Forecast,
    ForecastMinute,
    Health,
    PublishLag,
)
from cronhook.models.tenants import (
    ApiKey,
    ApiKeyCreated,
    CurrentTenant,
    RateLimit,
    RotatedSecret,
    SigningSecretInfo,
    SignInLink,
    Tenant,
    TenantCreated,
    TenantLimits,
    TenantUsage,
)

__all__ = [
    "ApiKey",
    "ApiKeyCreated",
    "Attempt",
    "BulkItem",
    "BulkProblem",
    "BulkResult",
    "CurrentTenant",
    "Event",
    "Fanout",
    "Fire",
    "FireFanout",
    "FireShard",
    "Fleet",
    "FleetNode",
    "FleetSummary",
    "Forecast",
    "ForecastMinute",
    "Health",
    "HttpMethod",
    "Job",
    "JobSettings",
    "LateCompletion",
    "Misfire",
    "Page",
    "Preview",
    "PreviewInstant",
    "PublishLag",
    "RateLimit",
    "RetrySettings",
    "RotatedSecret",
    "Schedule",
    "Shard",
    "SignInLink",
    "SigningSecretInfo",
    "Skips",
    "Target",
    "Tenant",
    "TenantCreated",
    "TenantLimits",
    "TenantUsage",
]
