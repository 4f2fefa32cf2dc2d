"""Identifiers. Random ids are time-ordered; cron fire ids are deterministic."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
_FROM_RFC4648 = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", _ALPHABET.encode())


def _b32(data: bytes) -> str:
    if len(data) % 5 == 0:
        # whole 40-bit groups: the standard encoding has the same digits, unpadded, and
        # costs a third (a cron fire id per fire is on the dispatcher's hot path)
        return base64.b32encode(data).translate(_FROM_RFC4648).decode()
    n = int.from_bytes(data, "big")
    chars = []
    for _ in range((len(data) * 8 + 4) // 5):
        chars.append(_ALPHABET[n & 31])
        n >>= 5
    return "".join(reversed(chars))


def new_id(kind: str) -> str:
    """``<kind>_`` + 48-bit ms timestamp + 80 random bits, sortable by creation."""
    ms = int(time.time() * 1000).to_bytes(6, "big")
    return f"{kind}_{_b32(ms + os.urandom(10))}"


def cron_fire_id(schedule_id: str, scheduled_ms: int) -> str:
    """The same schedule and instant always give the same id, in every process."""
    digest = hashlib.sha256(f"{schedule_id}:{scheduled_ms}".encode()).digest()[:15]
    return f"fire_{_b32(digest)}"


def new_api_key() -> str:
    return "chk_" + secrets.token_urlsafe(30)


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_signing_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
