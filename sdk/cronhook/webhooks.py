"""Verify (and sign) cronhook webhook deliveries: Standard Webhooks, HMAC-SHA256, `v1`.

A delivery carries `webhook-id` (the fire id), `webhook-timestamp` (unix seconds of this
attempt) and `webhook-signature` (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, several
space-separated during a secret rotation). Only those three headers and the body are signed;
the `cronhook-*` headers and `Idempotency-Key` are informational and NOT authenticated, so
deduplicate on `VerifiedWebhook.id`, which is.

    wh = Webhook(os.environ["CRONHOOK_SIGNING_SECRET"])
    event = wh.verify(raw_body, request.headers)   # raises WebhookVerificationError
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cronhook.errors import (
    InvalidSignatureError,
    MalformedHeaderError,
    MissingHeaderError,
    TimestampOutOfToleranceError,
    WebhookVerificationError,
)

__all__ = [
    "ATTEMPT_HEADER",
    "IDEMPOTENCY_KEY_HEADER",
    "ID_HEADER",
    "SCHEDULED_AT_HEADER",
    "SCHEDULE_ID_HEADER",
    "SECRET_PREFIX",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "VerifiedWebhook",
    "Webhook",
    "WebhookVerificationError",
]

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
IDEMPOTENCY_KEY_HEADER = "idempotency-key"
SCHEDULE_ID_HEADER = "cronhook-schedule-id"
SCHEDULED_AT_HEADER = "cronhook-scheduled-at"
ATTEMPT_HEADER = "cronhook-attempt"
SECRET_PREFIX = "whsec_"

_SIGNATURE_VERSION = "v1"
_TIMESTAMP_RE = re.compile(r"[0-9]{1,12}")  # ASCII digits only; 12 digits is year ~33658
_ATTEMPT_RE = re.compile(r"[1-9][0-9]{0,8}")
_MAX_SIGNATURES = 16  # more than a rotation ever needs; bounds work on hostile headers


@dataclass(frozen=True, slots=True)
class VerifiedWebhook:
    """A delivery whose signature and timestamp checked out.

    `id`, `timestamp` and `body` are signed. The `cronhook-*` fields are None when the header
    is absent (e.g. a delivery from another Standard Webhooks sender) and are not signed.
    """

    id: str
    timestamp: datetime
    body: bytes
    schedule_id: str | None = None
    scheduled_at: datetime | None = None
    attempt: int | None = None
    idempotency_key: str | None = None

    def json(self) -> Any:
        """The body parsed as JSON (raises `ValueError` if it is not JSON)."""
        return json.loads(self.body)

    @property
    def shard(self) -> tuple[str, int] | None:
        """(fan-out fire id, 0-based index) of a fan-out shard, read from the signed `id`
        (`<fire id>u<index>`), never from the unsigned `cronhook-shard` header; None for
        a delivery that is not a shard."""
        kind, _, rest = self.id.partition("_")
        head, sep, index = rest.rpartition("u")
        if kind != "fire" or not sep or not head or not index.isdigit():
            return None
        return f"{kind}_{head}", int(index)


class Webhook:
    """Verifies deliveries against one or more secrets (several during a rotation).

    `secret` is the `whsec_...` string cronhook issued (the prefix is optional; the rest is
    base64). Pass a sequence to accept signatures made with any of them; `sign` uses the
    first. `tolerance_seconds` bounds |now - webhook-timestamp| in both directions.
    `clock` returns unix seconds; replace it only in tests.

    Raises `ValueError` at construction for an empty or non-base64 secret.
    """

    def __init__(
        self,
        secret: str | Sequence[str],
        *,
        tolerance_seconds: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        secrets = [secret] if isinstance(secret, str) else list(secret)
        if not secrets:
            raise ValueError("at least one signing secret is required")
        if tolerance_seconds < 0:
            raise ValueError("tolerance_seconds must be >= 0")
        self._keys = tuple(_decode_secret(s) for s in secrets)
        self._tolerance = tolerance_seconds
        self._clock = clock

    def sign(self, msg_id: str, timestamp: int, body: bytes | str) -> str:
        """The `v1,<base64>` signature of `msg_id.timestamp.body` under the first secret."""
        return _sign(self._keys[0], msg_id, str(timestamp), _as_bytes(body))

    def verify(self, body: bytes | str, headers: Mapping[str, str]) -> VerifiedWebhook:
        """Check `body` (the raw bytes received, before any JSON parsing) against `headers`.

        Header names are matched case-insensitively. Returns the verified delivery; raises
        `MissingHeaderError` or `MalformedHeaderError` (answer 400), `InvalidSignatureError`
        or `TimestampOutOfToleranceError` (answer 401), all `WebhookVerificationError`s.
        The signature is checked before the timestamp, so a timestamp error means an
        authentic but stale (or clock-skewed) delivery.
        """
        lowered = {name.lower(): value for name, value in headers.items()}
        msg_id = _required(lowered, ID_HEADER)
        raw_timestamp = _required(lowered, TIMESTAMP_HEADER).strip()
        signature_header = _required(lowered, SIGNATURE_HEADER)
        if not _TIMESTAMP_RE.fullmatch(raw_timestamp):
            raise MalformedHeaderError(TIMESTAMP_HEADER, "expected integer unix seconds")
        data = _as_bytes(body)
        self._check_signature(msg_id, raw_timestamp, data, signature_header)
        timestamp = int(raw_timestamp)
        skew = timestamp - int(self._clock())
        if abs(skew) > self._tolerance:
            raise TimestampOutOfToleranceError(skew, self._tolerance)
        return VerifiedWebhook(
            id=msg_id,
            timestamp=datetime.fromtimestamp(timestamp, UTC),
            body=data,
            schedule_id=lowered.get(SCHEDULE_ID_HEADER),
            scheduled_at=_optional_datetime(lowered, SCHEDULED_AT_HEADER),
            attempt=_optional_attempt(lowered),
            idempotency_key=lowered.get(IDEMPOTENCY_KEY_HEADER),
        )

    def _check_signature(self, msg_id: str, timestamp: str, body: bytes, header: str) -> None:
        offered = [
            sig.encode()
            for version, _, sig in (entry.partition(",") for entry in header.split())
            if version == _SIGNATURE_VERSION
        ][:_MAX_SIGNATURES]
        if not offered:
            raise InvalidSignatureError("no 'v1,' signature in the header")
        expected = [
            _sign(key, msg_id, timestamp, body).partition(",")[2].encode() for key in self._keys
        ]
        matched = False
        for want in expected:
            for got in offered:
                matched |= hmac.compare_digest(want, got)
        if not matched:
            raise InvalidSignatureError()


def _decode_secret(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError(f"signing secret is not valid base64 after {SECRET_PREFIX!r}") from e
    if not key:
        raise ValueError("signing secret is empty")
    return key


def _sign(key: bytes, msg_id: str, timestamp: str, body: bytes) -> str:
    content = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return f"{_SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else bytes(body)


def _required(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None or not value.strip():
        raise MissingHeaderError(name)
    return value


def _optional_datetime(headers: Mapping[str, str], name: str) -> datetime | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise MalformedHeaderError(name, "expected an RFC 3339 date-time") from None
    if parsed.tzinfo is None:
        raise MalformedHeaderError(name, "expected a UTC offset (e.g. 'Z')")
    return parsed


def _optional_attempt(headers: Mapping[str, str]) -> int | None:
    value = headers.get(ATTEMPT_HEADER)
    if value is None:
        return None
    value = value.strip()
    if not _ATTEMPT_RE.fullmatch(value):
        raise MalformedHeaderError(ATTEMPT_HEADER, "expected a positive integer")
    return int(value)
