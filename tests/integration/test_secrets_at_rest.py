"""Signing secrets at rest, on both store backends: sealed in Redis when a keyring is
set, plain-text records of older versions still read, and a key rotation re-wraps."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import pytest

from app.ids import new_id, new_signing_secret
from app.models import SigningSecret, Tenant, TenantLimits
from app.secretbox import Keyring, SecretUnreadable, new_key
from app.settings import Settings
from app.store import Store, open_store
from app.store.records import ApiKeyRecord

K1, K2 = f"k1:{new_key()}", f"k2:{new_key()}"


def _tenant() -> Tenant:
    now = int(time.time() * 1000)
    return Tenant(
        id=new_id("ten"),
        name="t",
        created_at=now,
        limits=TenantLimits(),
        secrets=(SigningSecret(new_signing_secret(), now),),
    )


async def _create(store: Store, t: Tenant) -> None:
    key = ApiKeyRecord(new_id("key"), t.id, "chk_test", t.created_at)
    await store.records.create_tenant(t, key, f"hash-{t.id}")


def _with(store: Store, keyring: Keyring | None) -> Store:
    return open_store(
        "", prefix=store.keys.prefix, shards=4, retention_s=60, client=store.client, keyring=keyring
    )


@pytest.fixture
async def sealed(store: Store) -> AsyncIterator[Store]:
    yield _with(store, Keyring.parse(K1))


async def _stored(store: Store, tenant_id: str) -> str:
    text: str = await store.client.get(store.keys.tenant(tenant_id))
    return text


async def test_secrets_are_sealed_in_redis_and_read_back(store: Store, sealed: Store) -> None:
    t = _tenant()
    await sealed.records.put_tenant(t)
    stored = await _stored(store, t.id)
    assert "whsec_" not in stored and t.secrets[0].secret.removeprefix("whsec_") not in stored
    assert json.loads(stored)["secrets"][0]["sealed"]["kid"] == "k1"
    assert await sealed.records.get_tenant(t.id) == t


async def test_a_plain_text_record_of_an_older_version_still_reads(
    store: Store, sealed: Store
) -> None:
    # given a tenant written without encryption (as older versions did)
    t = _tenant()
    await _with(store, None).records.put_tenant(t)
    assert t.secrets[0].secret in await _stored(store, t.id)
    # then a keyed store reads it, and its next write seals it
    assert await sealed.records.get_tenant(t.id) == t
    await sealed.records.update_tenant(t.id, lambda x: x)
    assert "whsec_" not in await _stored(store, t.id)


async def test_a_store_without_the_keys_says_so(store: Store, sealed: Store) -> None:
    t = _tenant()
    await sealed.records.put_tenant(t)
    with pytest.raises(SecretUnreadable, match="CRONHOOK_SECRET_KEYS"):
        await _with(store, None).records.get_tenant(t.id)


async def test_a_key_rotation_rewraps_every_tenant_under_the_new_key(
    store: Store, sealed: Store
) -> None:
    # given tenants sealed under k1, and one in plain text
    tenants = [_tenant() for _ in range(3)]
    for t in tenants[:2]:
        await _create(sealed, t)
    await _create(_with(store, None), tenants[2])
    # when k2 comes first and the secrets are re-wrapped
    both = _with(store, Keyring.parse(f"{K2},{K1}"))
    assert [await both.records.get_tenant(t.id) for t in tenants] == tenants
    assert await both.records.rewrap_secrets() == 3
    assert await both.records.rewrap_secrets() == 0
    # then k1 can go: k2 alone reads every tenant
    only_new = _with(store, Keyring.parse(K2))
    assert [await only_new.records.get_tenant(t.id) for t in tenants] == tenants
    for t in tenants:
        kids = {s["sealed"]["kid"] for s in json.loads(await _stored(store, t.id))["secrets"]}
        assert kids == {"k2"}


def test_dev_needs_no_configuration_and_a_bad_key_is_refused() -> None:
    from app.runtime import keyring_for

    assert keyring_for(Settings()) is not None  # the embedded store: a key of its own
    with pytest.raises(Exception, match="CRONHOOK_SECRET_KEYS"):
        Settings(secret_keys="k1:short")
    assert "k1:" not in repr(Settings(secret_keys=K1))
