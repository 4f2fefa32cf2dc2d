"""Sign-in links and the browser sessions they open, for the tenant portal and the
operator console.

Only SHA-256 hashes of tokens are stored: a copy of the store gives no way in. A link is
taken with GETDEL, so two browsers opening the same link cannot both get a session.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from typing import Any, Literal

from app.keys import Keys
from app.store.errors import wrapped

Area = Literal["portal", "console"]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Grant:
    """What a link or a session lets its holder do: one area, one tenant (the portal) or
    every tenant (the console), optionally read-only."""

    area: Area
    tenant_id: str | None
    read_only: bool = False


@dataclass(frozen=True)
class WebSession:
    grant: Grant
    csrf: str
    expires_at: int  # ms


def _grant(data: dict[str, Any]) -> Grant | None:
    area = data.get("area")
    if area not in ("portal", "console"):
        return None
    tenant = data.get("tenant_id")
    if area == "portal" and not isinstance(tenant, str):
        return None
    return Grant(area, tenant if area == "portal" else None, bool(data.get("read_only")))


class WebSessions:
    def __init__(self, client: Any, keys: Keys) -> None:
        self._r = client
        self._k = keys

    @wrapped
    async def mint_link(self, grant: Grant, ttl_ms: int) -> str:
        """A fresh single-use link token for ``grant``, valid for ``ttl_ms``."""
        token = secrets.token_urlsafe(32)
        data = json.dumps(asdict(grant), separators=(",", ":"))
        await self._r.set(self._k.sign_in_link(token_hash(token)), data, px=ttl_ms)
        return token

    @wrapped
    async def take_link(self, token: str) -> Grant | None:
        """The link's grant, and the link is gone; None if unknown, used or expired."""
        raw = await self._r.getdel(self._k.sign_in_link(token_hash(token)))
        if not raw:
            return None
        try:
            return _grant(json.loads(raw))
        except ValueError:
            return None

    @wrapped
    async def open(self, grant: Grant, now_ms: int, ttl_ms: int) -> tuple[str, WebSession]:
        """A new session for ``grant``: its cookie value (shown to the browser only) and
        the session, with its own CSRF token."""
        token = secrets.token_urlsafe(32)
        session = WebSession(grant, secrets.token_urlsafe(24), now_ms + ttl_ms)
        data = asdict(grant) | {"csrf": session.csrf, "expires_at": session.expires_at}
        text = json.dumps(data, separators=(",", ":"))
        await self._r.set(self._k.web_session(token_hash(token)), text, px=ttl_ms)
        return token, session

    @wrapped
    async def get(self, token: str) -> WebSession | None:
        raw = await self._r.get(self._k.web_session(token_hash(token)))
        if not raw:
            return None
        try:
            data = json.loads(raw)
            grant = _grant(data)
            if grant is None:
                return None
            return WebSession(grant, str(data["csrf"]), int(data["expires_at"]))
        except (ValueError, KeyError, TypeError):
            return None

    @wrapped
    async def close(self, token: str) -> None:
        await self._r.delete(self._k.web_session(token_hash(token)))
