"""Standard Webhooks signing (standardwebhooks.com), server side.

``webhook-signature`` carries one ``v1,<base64 HMAC-SHA256("id.timestamp.body")>`` per
active secret, space separated (two during a secret rotation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from functools import lru_cache

PREFIX = "whsec_"


@lru_cache(maxsize=1024)
def secret_bytes(secret: str) -> bytes:
    """The key of a ``whsec_<base64>`` secret."""
    raw = secret.removeprefix(PREFIX)
    return base64.b64decode(raw)


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    if not secrets:
        raise ValueError("no active signing secret")
    return " ".join(signature(s, msg_id, timestamp, body) for s in secrets)
