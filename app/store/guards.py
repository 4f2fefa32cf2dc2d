"""Request guards kept in Redis: API-key rate limits (GCRA) and Idempotency-Key states."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from app.keys import Keys
from app.store.errors import wrapped
from app.store.lua_scripts import LuaScripts


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    retry_after_ms: int
    remaining: int


class Guards:
    def __init__(self, client: Any, keys: Keys, lua: LuaScripts) -> None:
        self._r = client
        self._k = keys
        self._rate = lua.api_rate
        self._cas = lua.rec_cas

    @wrapped
    async def take(
        self, tenant_id: str, key_id: str, per_second: float, burst: int
    ) -> RateDecision:
        """One request of an API key against ``per_second`` with bursts of ``burst``."""
        ok, retry_ms, remaining = await self._rate(
            keys=[self._k.api_rate(tenant_id, key_id)], args=[1000.0 / per_second, burst]
        )
        return RateDecision(bool(int(ok)), int(retry_ms), int(remaining))

    # -- idempotency ------------------------------------------------------------------------
    @wrapped
    async def claim_key(
        self, key: str, pending: dict[str, Any], ttl_ms: int
    ) -> dict[str, Any] | None:
        """Mark an Idempotency-Key in progress (SET NX). None: the caller owns it now;
        otherwise the state already stored (pending, or the first response)."""
        text = json.dumps(pending, separators=(",", ":"))
        for _ in range(3):
            if await self._r.set(key, text, nx=True, px=ttl_ms):
                return None
            raw = await self._r.get(key)
            if raw:
                found: dict[str, Any] = json.loads(raw)
                return found
        return None  # it kept expiring between SET and GET: treat as ours

    @wrapped
    async def settle_key(
        self, key: str, pending: dict[str, Any], final: dict[str, Any] | None, ttl_ms: int
    ) -> bool:
        """Replace our pending marker by the final state (None: drop it so the request can
        be retried). Nothing is written if the marker is no longer ours."""
        expected = json.dumps(pending, separators=(",", ":"))
        new = "" if final is None else json.dumps(final, separators=(",", ":"))
        return bool(await self._cas(keys=[key], args=[expected, new, ttl_ms]))
