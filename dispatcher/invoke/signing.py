"""Standard Webhooks signing (standardwebhooks.com), server side: signing deliveries and
checking them (``cronhook dev``'s echo receiver).

``webhook-signature`` carries one ``v1,<base64 HMAC-SHA256("id.timestamp.body")>`` per
active secret, space separated (two during a secret rotation). The standalone SDK has its
own receiver-side copy (``cronhook.webhooks``); tests/unit/test_signing.py holds the two to
each other and both to the Standard Webhooks test vector.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from functools import lru_cache

PREFIX = "whsec_"
TOLERANCE_S = 300  # |now - webhook-timestamp| a check accepts, either way


@lru_cache(maxsize=1024)
def secret_bytes(secret: str) -> bytes:
    """The key of a ``whsec_<base64>`` secret."""
    raw = secret.removeprefix(PREFIX)
    return base64.b64decode(raw)


@lru_cache(maxsize=1024)
def _keyed(secret: str) -> hmac.HMAC:
    """An HMAC-SHA256 of ``secret`` over nothing yet, copied for each message: the key's
    padding and the inner and outer hash states are set up once per secret."""
    return hmac.new(secret_bytes(secret), digestmod=hashlib.sha256)


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    mac = _keyed(secret).copy()
    mac.update(f"{msg_id}.{timestamp}.".encode())
    mac.update(body)
    return "v1," + binascii.b2a_base64(mac.digest(), newline=False).decode()


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    if not secrets:
        raise ValueError("no active signing secret")
    if len(secrets) == 1:
        return signature(secrets[0], msg_id, timestamp, body)
    return " ".join(signature(s, msg_id, timestamp, body) for s in secrets)


def check(
    secrets: Sequence[str], headers: Mapping[str, str], body: bytes, now: float
) -> str | None:
    """Why a delivery fails verification under every one of ``secrets`` (``headers`` as
    received, lower-case names), or None when one of its signatures matches and its
    timestamp is within ``TOLERANCE_S`` of ``now`` (unix seconds)."""
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp", "")
    offered = headers.get("webhook-signature", "").split()
    if not msg_id or not ts.isdigit() or not offered:
        return "missing webhook-* headers"
    if abs(now - int(ts)) > TOLERANCE_S:
        return "timestamp outside tolerance"
    for secret in secrets:
        expected = signature(secret, msg_id, int(ts), body)
        if any(hmac.compare_digest(expected, s) for s in offered):
            return None
    return "no signature matches any tenant secret"
