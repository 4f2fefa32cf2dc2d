"""The SDK's one error tree.

```
CronhookError
└── WebhookVerificationError        a delivery failed verification (receiver side)
    ├── MissingHeaderError          a required header is absent          -> answer 400
    ├── MalformedHeaderError        a header is present but unreadable   -> answer 400
    ├── InvalidSignatureError       no signature matches any secret      -> answer 401
    └── TimestampOutOfToleranceError  signed too long ago or in future   -> answer 401
```

The API client's errors (`APIError` and its subclasses) belong under `CronhookError` too.
Every message names the header it is about, and `header` carries that name.
"""

from __future__ import annotations

__all__ = [
    "CronhookError",
    "InvalidSignatureError",
    "MalformedHeaderError",
    "MissingHeaderError",
    "TimestampOutOfToleranceError",
    "WebhookVerificationError",
]


class CronhookError(Exception):
    """Base class of every error the cronhook SDK raises."""


class WebhookVerificationError(CronhookError):
    """A webhook delivery could not be verified; do not act on it.

    `header` names the header at fault.
    """

    def __init__(self, message: str, *, header: str) -> None:
        super().__init__(message)
        self.header = header


class MissingHeaderError(WebhookVerificationError):
    """A required header (`webhook-id`, `webhook-timestamp`, `webhook-signature`) is absent."""

    def __init__(self, header: str) -> None:
        super().__init__(f"missing required header {header!r}", header=header)


class MalformedHeaderError(WebhookVerificationError):
    """A header is present but its value cannot be read (e.g. a non-numeric timestamp)."""

    def __init__(self, header: str, reason: str) -> None:
        super().__init__(f"malformed header {header!r}: {reason}", header=header)


class InvalidSignatureError(WebhookVerificationError):
    """No `v1` signature in `webhook-signature` matches the body under any of our secrets."""

    def __init__(self, reason: str = "no signature matches") -> None:
        super().__init__(f"invalid 'webhook-signature': {reason}", header="webhook-signature")


class TimestampOutOfToleranceError(WebhookVerificationError):
    """`webhook-timestamp` is further from now than the tolerance (old: replay; new: clock skew).

    `skew_seconds` is the timestamp minus now: negative when too old, positive when too new.
    """

    def __init__(self, skew_seconds: int, tolerance_seconds: int) -> None:
        direction = "too old" if skew_seconds < 0 else "too new"
        super().__init__(
            f"'webhook-timestamp' is {direction}: {abs(skew_seconds)} s from now, "
            f"tolerance is {tolerance_seconds} s",
            header="webhook-timestamp",
        )
        self.skew_seconds = skew_seconds
        self.tolerance_seconds = tolerance_seconds
