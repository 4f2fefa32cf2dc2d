"""cronhook: the Python SDK for the cronhook webhook scheduler.

Calling the API: `Client` / `AsyncClient` with a tenant API key, `AdminClient` /
`AsyncAdminClient` with the operator's admin token. Receiving deliveries:
`Webhook(secret).verify(body, headers)` and the ASGI helper `cronhook.asgi.WebhookApp`;
long jobs report progress and completion with `cronhook.jobs` (`JobTicket`,
`JobReporter`, `AsyncJobReporter`). Verifying needs the standard library alone: the
clients (and httpx) load on first use.
"""

from typing import TYPE_CHECKING, Any

from cronhook._version import __version__
from cronhook.errors import (
    APIError,
    AuthenticationError,
    ConflictError,
    ConnectionError,
    CronhookError,
    FieldError,
    InvalidSignatureError,
    MalformedHeaderError,
    MissingHeaderError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    ServerError,
    TimeoutError,
    TimestampOutOfToleranceError,
    ValidationError,
    WebhookVerificationError,
)
from cronhook.models import (
    ApiKey,
    ApiKeyCreated,
    Attempt,
    BulkItem,
    BulkProblem,
    BulkResult,
    CurrentTenant,
    Event,
    Fanout,
    Fire,
    FireFanout,
    FireShard,
    Fleet,
    FleetNode,
    FleetSummary,
    Forecast,
    ForecastMinute,
    Health,
    Job,
    JobSettings,
    LateCompletion,
    Misfire,
    Page,
    Preview,
    PreviewInstant,
    RateLimit,
    RetrySettings,
    RotatedSecret,
    Schedule,
    Shard,
    SigningSecretInfo,
    SignInLink,
    Skips,
    Target,
    Tenant,
    TenantCreated,
    TenantLimits,
    TenantUsage,
)
from cronhook.webhooks import VerifiedWebhook, Webhook

if TYPE_CHECKING:
    from cronhook._client import AdminClient, AsyncAdminClient, AsyncClient, Client
    from cronhook._pagination import AsyncPager, Pager
    from cronhook._retry import Retry
    from cronhook._streaming import AsyncEventStream, EventStream

# The API clients need httpx (~160 ms to import); a receiver that only verifies deliveries
# (`from cronhook import Webhook`) needs the standard library alone. So the names below are
# imported on first use (PEP 562), and only they.
_LAZY = {
    "AdminClient": "cronhook._client",
    "AsyncAdminClient": "cronhook._client",
    "AsyncClient": "cronhook._client",
    "Client": "cronhook._client",
    "AsyncPager": "cronhook._pagination",
    "Pager": "cronhook._pagination",
    "Retry": "cronhook._retry",
    "AsyncEventStream": "cronhook._streaming",
    "EventStream": "cronhook._streaming",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cronhook' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "APIError",
    "AdminClient",
    "ApiKey",
    "ApiKeyCreated",
    "AsyncAdminClient",
    "AsyncClient",
    "AsyncEventStream",
    "AsyncPager",
    "Attempt",
    "AuthenticationError",
    "BulkItem",
    "BulkProblem",
    "BulkResult",
    "Client",
    "ConflictError",
    "ConnectionError",
    "CronhookError",
    "CurrentTenant",
    "Event",
    "EventStream",
    "Fanout",
    "FieldError",
    "Fire",
    "FireFanout",
    "FireShard",
    "Fleet",
    "FleetNode",
    "FleetSummary",
    "Forecast",
    "ForecastMinute",
    "Health",
    "InvalidSignatureError",
    "Job",
    "JobSettings",
    "LateCompletion",
    "MalformedHeaderError",
    "Misfire",
    "MissingHeaderError",
    "NotFoundError",
    "Page",
    "Pager",
    "PermissionDeniedError",
    "Preview",
    "PreviewInstant",
    "RateLimit",
    "RateLimitError",
    "ResponseDecodeError",
    "Retry",
    "RetrySettings",
    "RotatedSecret",
    "Schedule",
    "ServerError",
    "Shard",
    "SignInLink",
    "SigningSecretInfo",
    "Skips",
    "Target",
    "Tenant",
    "TenantCreated",
    "TenantLimits",
    "TenantUsage",
    "TimeoutError",
    "TimestampOutOfToleranceError",
    "ValidationError",
    "VerifiedWebhook",
    "Webhook",
    "WebhookVerificationError",
    "__version__",
]
