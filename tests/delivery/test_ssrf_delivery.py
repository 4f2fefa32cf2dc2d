"""The SSRF guard at delivery time, end to end: a target that was accepted when it was
written (private targets allowed then, or a name that resolved elsewhere) is refused when it
is delivered, recorded as ``ssrf_blocked``, and never retried."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from app.models import RetrySettings
from tests.delivery.world import World, now_ms, world
from tests.integration.test_http_client import StubResolver
from tests.receiver import Receiver

pytestmark = pytest.mark.external_service

MANY = RetrySettings(max_attempts=5, min_backoff_seconds=0.2, max_backoff_seconds=0.3)


@pytest.fixture
async def guarded(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str
) -> AsyncIterator[World]:
    """A world whose invoker resolves every name to loopback, or to a mixed answer."""
    async with world(redis_url, amqp_url, prefix, queue_name) as running:
        running.start_dispatcher()
        await running.start_invoker(resolver=StubResolver(["127.0.0.1"]))
        yield running


async def _blocked(w: World, tenant_id: str, fire_id: str) -> None:
    [fire] = await w.settled(tenant_id, [fire_id])
    assert fire.status == "failed"
    assert [(a.outcome, a.error, a.status_code) for a in fire.attempts] == [
        ("fail", "ssrf_blocked", None)
    ]


async def test_private_target_allowed_at_write_time_is_refused_at_delivery(
    guarded: World, rx: Receiver
) -> None:
    # given a fire written while the tenant was allowed private targets
    tenant = await guarded.tenant(private=True)
    fire = await guarded.message(tenant, rx.url("/ok"), retry=MANY, due_ms=now_ms() + 300)
    # when the operator withdraws the permission before it is delivered
    await guarded.store.records.put_tenant(
        replace(tenant, limits=replace(tenant.limits, allowed_private_targets=False))
    )
    # then the delivery is refused, recorded as such, and not retried
    await _blocked(guarded, tenant.id, fire.id)
    await asyncio.sleep(0.6)
    assert rx.requests == []


@pytest.mark.parametrize(
    "host",
    ["rebind.example", "2130706433", "0x7f.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"],
)
async def test_a_name_or_literal_reaching_loopback_is_refused(
    guarded: World, rx: Receiver, host: str
) -> None:
    tenant = await guarded.tenant(private=False)
    fire = await guarded.message(tenant, f"http://{host}:{rx.port}/ok", retry=MANY)
    await _blocked(guarded, tenant.id, fire.id)
    assert rx.requests == []


async def test_the_same_target_is_delivered_for_a_tenant_allowed_private_targets(
    guarded: World, rx: Receiver
) -> None:
    tenant = await guarded.tenant(private=True)
    fire = await guarded.message(tenant, f"http://rebind.example:{rx.port}/ok")
    [done] = await guarded.settled(tenant.id, [fire.id])
    assert done.status == "succeeded"
    assert rx.requests_to("/ok")[0].headers["host"] == f"rebind.example:{rx.port}"


async def test_a_mixed_dns_answer_is_refused_whole(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str, rx: Receiver
) -> None:
    async with world(redis_url, amqp_url, prefix, queue_name) as w:
        w.start_dispatcher()
        await w.start_invoker(resolver=StubResolver(["8.8.8.8", "127.0.0.1"]))
        tenant = await w.tenant(private=False)
        fire = await w.message(tenant, f"http://mixed.example:{rx.port}/ok", retry=MANY)
        await _blocked(w, tenant.id, fire.id)
    assert rx.requests == []
