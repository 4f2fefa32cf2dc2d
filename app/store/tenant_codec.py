"""A tenant record as stored: JSON with each signing secret sealed (``app.secretbox``) when
a keyring is configured, in plain text otherwise. Reading takes both forms, so records
written before encryption was turned on (or by older versions) stay readable."""

from __future__ import annotations

import json
from typing import Any

from app.models import Tenant
from app.secretbox import Keyring, SecretUnreadable
from app.store.formats import dump_tenant, load_tenant


class TenantCodec:
    def __init__(self, keyring: Keyring | None = None) -> None:
        self.keyring = keyring

    def dump(self, tenant: Tenant) -> str:
        text = dump_tenant(tenant)
        if self.keyring is None:
            return text
        data = json.loads(text)
        data["secrets"] = [_sealed(s, self.keyring, tenant.id) for s in data["secrets"]]
        return json.dumps(data, separators=(",", ":"))

    def load(self, raw: str) -> Tenant:
        data = json.loads(raw)
        secrets = data.get("secrets") or []
        if not any("sealed" in s for s in secrets):
            return load_tenant(raw)
        data["secrets"] = [self._opened(s, data["id"]) for s in secrets]
        return load_tenant(json.dumps(data))

    def needs_rewrite(self, raw: str) -> bool:
        """Whether the record holds a secret in plain text, or sealed under a key that is
        not the current one (what ``cronhook secrets rewrap`` rewrites)."""
        if self.keyring is None:
            return False
        current = self.keyring.current
        secrets: list[dict[str, Any]] = json.loads(raw)["secrets"]
        return any(s.get("sealed", {}).get("kid") != current for s in secrets)

    def _opened(self, s: dict[str, Any], tenant_id: str) -> dict[str, Any]:
        sealed = s.pop("sealed", None)
        if sealed is None:
            return s  # plain text: written before encryption was configured
        if self.keyring is None:
            raise SecretUnreadable(
                f"tenant {tenant_id}'s signing secrets are encrypted: set CRONHOOK_SECRET_KEYS"
            )
        return {**s, "secret": self.keyring.open(sealed, tenant_id)}


def _sealed(s: dict[str, Any], ring: Keyring, tenant_id: str) -> dict[str, Any]:
    out = {k: v for k, v in s.items() if k != "secret"}
    out["sealed"] = ring.seal(s["secret"], tenant_id)
    return out
