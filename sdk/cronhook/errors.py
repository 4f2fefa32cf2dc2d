"""The SDK's one error tree.

```
CronhookError
├── WebhookVerificationError        a delivery failed verification (receiver side)
│   ├── MissingHeaderError          a required header is absent          -> answer 400
│   ├── MalformedHeaderError        a header is present but unreadable   -> answer 400
│   ├── InvalidSignatureError       no signature matches any secret      -> answer 401
│   └── TimestampOutOfToleranceError  signed too long ago or in future   -> answer 401
├── APIError                        the API answered an error (status, problem document)
│   ├── AuthenticationError         401: no token, or an unknown or revoked one
│   ├── PermissionDeniedError       403: admin token on a tenant route, or the reverse
│   ├── NotFoundError               404: no such resource for this caller
│   ├── ConflictError               409: state conflict, or an Idempotency-Key in use
│   ├── ValidationError             422: `errors` names each offending field
│   ├── RateLimitError              429: `retry_after` says when to try again
│   └── ServerError                 5xx: 503 is the store being unreachable
├── ConnectionError                 no response: connect, read or protocol failure
│   └── TimeoutError                no response within the timeout
└── ResponseDecodeError             a 2xx whose body is not what the contract says
```

Other 4xx statuses (400, 405, 413, 415) raise `APIError` itself. `ConnectionError` and
`TimeoutError` shadow the builtins of the same name inside this module only; import them
as `cronhook.ConnectionError` or `from cronhook import errors`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "APIError",
    "AuthenticationError",
    "ConflictError",
    "ConnectionError",
    "CronhookError",
    "FieldError",
    "InvalidSignatureError",
    "MalformedHeaderError",
    "MissingHeaderError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseDecodeError",
    "ServerError",
    "TimeoutError",
    "TimestampOutOfToleranceError",
    "ValidationError",
    "WebhookVerificationError",
]


class CronhookError(Exception):
    """Base class of every error the cronhook SDK raises.

    `request_id` names the API request an error came from (the `X-Request-Id` the SDK
    sent, or the one the server answered with): quote it when asking for help. None for
    errors that come from no request (a webhook that failed verification).
    """

    request_id: str | None = None


# -- receiver side -----------------------------------------------------------------------


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


# -- API client ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldError:
    """One offending field of a 422: a dotted path (`target.url`) and a message."""

    field: str
    message: str


class APIError(CronhookError):
    """The API answered with an error status.

    `status` is the HTTP status, `problem` the RFC 9457 problem document as received (empty
    when the body was not one), `title`/`detail`/`type`/`instance` its members, `errors` the
    field errors it named, `retry_after` the `Retry-After` header in seconds (None when
    absent), `method` and `url` the request, `headers` the response headers.
    """

    def __init__(
        self,
        status: int,
        problem: Mapping[str, Any],
        *,
        method: str,
        url: str,
        headers: Mapping[str, str],
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        self.status = status
        self.problem = problem
        self.title = str(problem.get("title") or "")
        self.detail = str(problem.get("detail") or "")
        self.type = str(problem.get("type") or "about:blank")
        self.instance = str(problem.get("instance") or "")
        self.errors = _field_errors(problem.get("errors"))
        self.method = method
        self.url = url
        self.headers = headers
        self.retry_after = retry_after
        self.request_id = request_id
        super().__init__(self._message())

    def _message(self) -> str:
        what = self.detail or self.title or "error"
        return f"{self.status} {what} ({self.method} {self.url}{_request(self.request_id)})"


class AuthenticationError(APIError):
    """401: no token, or an unknown or revoked one."""


class PermissionDeniedError(APIError):
    """403: the admin token on a tenant route, or a tenant key on an admin route."""


class NotFoundError(APIError):
    """404: no such resource for this caller (another tenant's ids answer this too)."""


class ConflictError(APIError):
    """409: the resource is not in a state that allows this (e.g. replaying a fire still
    in progress), or a request with the same Idempotency-Key is still running."""


class ValidationError(APIError):
    """422: the input breaks the contract or a rule; `errors` names each field
    (`cron`, `target.url`, `Idempotency-Key`, ...)."""

    def messages(self, field: str) -> list[str]:
        """The messages for one field (dotted path), in the order the server gave them."""
        return [e.message for e in self.errors if e.field == field]


class RateLimitError(APIError):
    """429: over the API key's rate limit (or too many event streams); wait `retry_after`
    seconds (None if the server did not say)."""


class ServerError(APIError):
    """5xx: 503 means the store is unreachable and is worth retrying."""


class ConnectionError(CronhookError):  # the name the SDK promises (shadows the builtin here)
    """No response was received: connection refused or reset, DNS, TLS, protocol error.

    `method` and `url` name the request. The original httpx error is the `__cause__`.
    """

    def __init__(
        self, message: str, *, method: str, url: str, request_id: str | None = None
    ) -> None:
        super().__init__(f"{message} ({method} {url}{_request(request_id)})")
        self.method = method
        self.url = url
        self.request_id = request_id


class TimeoutError(ConnectionError):  # the name the SDK promises (shadows the builtin here)
    """No response within the timeout (connect, read, write or waiting for the pool)."""


class ResponseDecodeError(CronhookError):
    """A successful response whose body does not match the contract (a proxy's HTML page,
    a truncated body, a field of the wrong type). `status` and `body` (an excerpt) say what
    came back."""

    def __init__(
        self, message: str, *, status: int, body: str, request_id: str | None = None
    ) -> None:
        super().__init__(f"{message} (status {status}{_request(request_id)}: {body[:200]!r})")
        self.status = status
        self.body = body
        self.request_id = request_id


def _request(request_id: str | None) -> str:
    return f", request {request_id}" if request_id else ""


def _field_errors(raw: object) -> tuple[FieldError, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        FieldError(str(item.get("field", "")), str(item.get("message", "")))
        for item in raw
        if isinstance(item, Mapping)
    )
