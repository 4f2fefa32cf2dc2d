"""A signing-secret rotation reaches every invoker for the very next delivery: a revoked
secret never signs after the rotation is written, although invokers cache tenants."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.api.account import rotated
from app.ids import new_signing_secret
from tests.delivery.world import World, now_ms
from tests.receiver import Receiver

pytestmark = pytest.mark.external_service


async def test_the_delivery_after_a_rotation_is_signed_with_the_new_secret_only(
    w: World, rx: Receiver
) -> None:
    # given a second invoker, and a delivery that made both invokers cache the tenant
    await w.start_invoker()
    tenant = await w.tenant()
    old = tenant.secrets[0].secret
    warm = [await w.message(tenant, rx.url("/warm")) for _ in range(4)]
    await w.settled(tenant.id, [f.id for f in warm])
    # when the secret is rotated with no overlap (what POST /v1/signing-secret/rotate does)
    new, at = new_signing_secret(), now_ms()
    await w.store.records.update_tenant(tenant.id, lambda t: rotated(t, new, at, 0))
    # then every delivery after it carries one signature, by the new secret
    after = [await w.message(tenant, rx.url("/after"), body={"n": n}) for n in range(6)]
    await w.settled(tenant.id, [f.id for f in after])
    got = rx.requests_to("/after")
    assert len(got) == 6
    for r in got:
        headers = dict(r.headers)
        assert len(headers["webhook-signature"].split()) == 1
        Webhook(new).verify(r.body, headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(old).verify(r.body, headers)
