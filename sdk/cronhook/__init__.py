"""cronhook: the Python SDK for the cronhook webhook scheduler.

Receiver side (now): `Webhook(secret).verify(body, headers)` and the ASGI helper
`cronhook.asgi.WebhookApp`. The API client (`Client`, `AsyncClient`) joins this package.
"""

from cronhook.errors import (
    CronhookError,
    InvalidSignatureError,
    MalformedHeaderError,
    MissingHeaderError,
    TimestampOutOfToleranceError,
    WebhookVerificationError,
)
from cronhook.webhooks import VerifiedWebhook, Webhook

__all__ = [
    "CronhookError",
    "InvalidSignatureError",
    "MalformedHeaderError",
    "MissingHeaderError",
    "TimestampOutOfToleranceError",
    "VerifiedWebhook",
    "Webhook",
    "WebhookVerificationError",
]

__version__ = "0.1.0"
