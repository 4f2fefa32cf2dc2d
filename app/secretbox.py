"""Signing secrets encrypted at rest: envelope encryption with AES-256-GCM.

Each secret gets its own random data key (DEK); the secret is sealed with the DEK, and the
DEK is wrapped by a key-encryption key (KEK) from the environment. A stored secret is
``{"kid", "dek", "ct"}`` (base64 of nonce + AES-GCM output): a Redis dump or backup holds
no secret a reader without the KEK can use. The tenant id is bound as associated data, so
a sealed secret copied into another tenant's record does not open.

The keyring (``CRONHOOK_SECRET_KEYS``) is ``id:base64key,id:base64key,...`` of 32-byte
keys, the first being the one new writes use; the others stay readable, so a key is rotated
by putting a new one first, re-wrapping (``cronhook secrets rewrap``, or any write of the
tenant), then removing the old one. Plain-text secrets written before encryption was
configured (or by older versions) still read; they are sealed on the tenant's next write.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.errors import ConfigError, CronhookError

KEY_BYTES = 32
_NONCE = 12
_KID = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


class SecretUnreadable(CronhookError):
    """A sealed secret that this keyring cannot open (an unknown key id, a wrong key, or
    a record that was tampered with)."""


def new_key() -> str:
    """A fresh key, base64, for ``CRONHOOK_SECRET_KEYS``."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise SecretUnreadable("a sealed secret's fields must be base64 strings")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as e:
        raise SecretUnreadable(f"a sealed secret is not base64: {e}") from None


def _seal(key: bytes, plain: bytes, aad: bytes) -> str:
    nonce = os.urandom(_NONCE)
    return _b64(nonce + AESGCM(key).encrypt(nonce, plain, aad))


def _open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
    except InvalidTag:
        raise SecretUnreadable("a sealed secret does not open: wrong key or altered") from None


@dataclass(frozen=True)
class Keyring:
    """Key-encryption keys by id; ``current`` seals, every one opens."""

    keys: tuple[tuple[str, bytes], ...]

    @classmethod
    def parse(cls, text: str) -> Keyring:
        """``id:base64key,...``; ConfigError naming what is wrong (never the key)."""
        keys: list[tuple[str, bytes]] = []
        for n, entry in enumerate(p.strip() for p in text.split(",") if p.strip()):
            kid, sep, raw = entry.partition(":")
            if not sep or not _KID.match(kid):
                raise ConfigError(
                    f"CRONHOOK_SECRET_KEYS entry {n + 1}: write id:base64key "
                    "(id: 1-32 of A-Z a-z 0-9 _ . -)"
                )
            try:
                key = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise ConfigError(f"CRONHOOK_SECRET_KEYS key {kid!r} is not base64") from None
            if len(key) != KEY_BYTES:
                raise ConfigError(
                    f"CRONHOOK_SECRET_KEYS key {kid!r} has {len(key)} bytes; "
                    f"it must have {KEY_BYTES} (e.g. `openssl rand -base64 32`)"
                )
            if any(kid == k for k, _ in keys):
                raise ConfigError(f"CRONHOOK_SECRET_KEYS names key {kid!r} twice")
            keys.append((kid, key))
        if not keys:
            raise ConfigError("CRONHOOK_SECRET_KEYS holds no key")
        return cls(tuple(keys))

    @classmethod
    def ephemeral(cls) -> Keyring:
        """A random key for one process (``cronhook dev`` on its embedded store)."""
        return cls((("dev", os.urandom(KEY_BYTES)),))

    @property
    def current(self) -> str:
        return self.keys[0][0]

    def _key(self, kid: str) -> bytes:
        for k, key in self.keys:
            if k == kid:
                return key
        raise SecretUnreadable(f"a secret is sealed under key {kid!r}, not in the keyring")

    def seal(self, secret: str, context: str) -> dict[str, str]:
        """``secret`` sealed under a new data key, wrapped by the current key."""
        dek = AESGCM.generate_key(bit_length=256)
        kid = self.current
        return {
            "kid": kid,
            "dek": _seal(self._key(kid), dek, f"{kid}|{context}".encode()),
            "ct": _seal(dek, secret.encode(), context.encode()),
        }

    def open(self, sealed: dict[str, Any], context: str) -> str:
        kid = sealed.get("kid")
        if not isinstance(kid, str):
            raise SecretUnreadable("a sealed secret has no key id")
        dek = _open(self._key(kid), _unb64(sealed.get("dek")), f"{kid}|{context}".encode())
        return _open(dek, _unb64(sealed.get("ct")), context.encode()).decode()
