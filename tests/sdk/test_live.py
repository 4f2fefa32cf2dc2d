"""The SDK against a live cronhook on the real Redis and RabbitMQ (api, dispatcher and
invoker as separate processes), every resource method with `Client` and `AsyncClient`.

Deliveries go to a receiver built from the SDK's `WebhookApp`, so the verifier is tested
on real deliveries. An operation whose server side is not merged yet is skipped with its
name (`LiveServer.require`); once the route is served, its test runs.
"""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

import cronhook
from cronhook import Target, Webhook
from tests.receiver import Receiver
from tests.sdk.both import Both, make
from tests.sdk.live import LiveServer, VerifyingReceiver, eventually, live_fleet

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]

YEARLY = "0 0 0 1 1 *"  # never fires during a test: a schedule only for trigger/preview
STRANGER_SECRET = "whsec_" + base64.b64encode(b"a secret cronhook never issued!!").decode()


@pytest.fixture(scope="module")
def live() -> Iterator[LiveServer]:
    with live_fleet() as server:
        yield server


@pytest.fixture
def tenant(live: LiveServer) -> cronhook.TenantCreated:
    with cronhook.AdminClient(live.url, live.admin_token) as admin:
        return admin.tenants.create(f"sdk-{uuid.uuid4().hex[:8]}", metadata={"suite": "sdk"})


@pytest.fixture
async def api(mode: str, live: LiveServer, tenant: cronhook.TenantCreated) -> AsyncIterator[Both]:
    client = make(mode, "tenant", live.url, tenant.api_key)
    yield client
    await client.close()


@pytest.fixture
async def admin(mode: str, live: LiveServer) -> AsyncIterator[Both]:
    client = make(mode, "admin", live.url, live.admin_token)
    yield client
    await client.close()


@pytest.fixture
async def receiver(tenant: cronhook.TenantCreated) -> AsyncIterator[VerifyingReceiver]:
    async with VerifyingReceiver(tenant.signing_secret) as rx:
        yield rx


def aware(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


# -- tenants (admin) ------------------------------------------------------------------------------


async def test_admin_onboards_a_tenant_whose_key_and_secret_work(
    admin: Both, live: LiveServer, mode: str
) -> None:
    created = await admin(
        "tenants.create",
        "acme",
        limits=cronhook.TenantLimits(max_schedules=7, rate_limit=cronhook.RateLimit(5, 10)),
        metadata={"plan": "pro"},
    )

    assert created.id.startswith("ten_") and created.api_key.startswith("chk_")
    assert created.signing_secret.startswith("whsec_")
    Webhook(created.signing_secret)  # a secret the verifier accepts
    assert created.limits.max_schedules == 7
    assert created.limits.rate_limit == cronhook.RateLimit(5.0, 10)
    assert created.metadata == {"plan": "pro"}
    assert created.created_at.tzinfo is not None
    tenant_api = make(mode, "tenant", live.url, created.api_key)
    try:
        assert await tenant_api.all("schedules.list") == []
    finally:
        await tenant_api.close()


async def test_admin_reads_changes_lists_and_removes_tenants_and_their_keys(
    admin: Both, live: LiveServer, tenant: cronhook.TenantCreated, mode: str
) -> None:
    live.require("getTenant", "GET", "/v1/tenants/ten_x")
    live.require("createApiKey", "POST", "/v1/tenants/ten_x/api-keys")

    got = await admin("tenants.get", tenant.id)
    renamed = await admin("tenants.update", tenant.id, name="renamed", limits={"max_schedules": 3})
    listed = await admin.all("tenants.list", limit=2)
    key = await admin("api_keys.create", tenant.id, name="billing")
    keys = await admin("api_keys.list", tenant.id)

    assert got.id == tenant.id and got.name == tenant.name
    assert (renamed.name, renamed.limits.max_schedules) == ("renamed", 3)
    assert tenant.id in {t.id for t in listed}
    assert key.api_key.startswith("chk_") and key.name == "billing"
    assert {k.id for k in keys} >= {key.id, tenant.api_key_id}
    second = make(mode, "tenant", live.url, key.api_key)
    try:
        await second.all("schedules.list")
        await admin("api_keys.revoke", tenant.id, key.id)
        with pytest.raises(cronhook.AuthenticationError):
            await second.all("schedules.list")
    finally:
        await second.close()
    await admin("tenants.delete", tenant.id)
    with pytest.raises(cronhook.NotFoundError):
        await admin("tenants.get", tenant.id)


async def test_admin_forecast_counts_every_tenant(
    admin: Both, api: Both, live: LiveServer, receiver: VerifyingReceiver
) -> None:
    live.require("adminForecast", "GET", "/v1/admin/forecast")
    await api("schedules.create", "minutely", "30 * * * * *", {"url": receiver.hook()})
    start = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)

    forecast = await admin("forecast.get", hours=1, start=start)

    assert forecast.start == start and forecast.hours == 1
    assert len(forecast.minutes) == 60 and forecast.total >= 60


async def test_admin_sees_the_fleet_of_workers(admin: Both, live: LiveServer) -> None:
    live.require("getFleet", "GET", "/v1/admin/fleet")

    async def both_roles_live() -> cronhook.Fleet | None:
        fleet: cronhook.Fleet = await admin("fleet.get")
        live_roles = {n.role for n in (*fleet.dispatchers, *fleet.invokers) if n.live}
        return fleet if live_roles == {"dispatcher", "invoker"} else None

    fleet = await eventually(both_roles_live)

    assert fleet.summary.live_dispatchers >= 1 and fleet.summary.live_invokers >= 1
    assert all(n.last_heartbeat_at.tzinfo is not None for n in fleet.dispatchers)


# -- schedules ------------------------------------------------------------------------------------


async def test_schedules_are_created_read_listed_across_pages_and_deleted(
    api: Both, receiver: VerifyingReceiver
) -> None:
    start = datetime(2031, 1, 1, tzinfo=UTC)
    first = await api(
        "schedules.create",
        "nightly-0",
        "0 30 2 * * *",
        Target(receiver.hook("/nightly"), headers={"X-Team": "a"}, body={"n": 0}),
        timezone="Europe/Berlin",
        retry={"max_attempts": 3},
        misfire=cronhook.Misfire(policy="skip", grace_seconds=10),
        metadata={"team": "a"},
        start_at=start,
        paused=True,
    )
    for n in range(1, 5):
        await api("schedules.create", f"nightly-{n}", YEARLY, {"url": receiver.hook()})

    got = await api("schedules.get", first.id)
    everything = await api.all("schedules.list", limit=2)
    pages = await api.pages("schedules.list", limit=2)

    assert got == first
    assert (got.timezone, got.cron, got.paused, got.next_fire_at) == (
        "Europe/Berlin",
        "0 30 2 * * *",
        True,
        None,
    )
    assert got.target == Target(receiver.hook("/nightly"), "POST", {"X-Team": "a"}, {"n": 0})
    assert (got.retry.max_attempts, got.misfire) == (3, cronhook.Misfire("skip", 10.0))
    assert got.start_at == start and got.metadata == {"team": "a"}
    assert [s.name for s in everything] == [f"nightly-{n}" for n in (4, 3, 2, 1, 0)]
    assert [len(p.items) for p in pages] == [2, 2, 1] and pages[-1].next_cursor is None

    await api("schedules.delete", first.id)
    with pytest.raises(cronhook.NotFoundError):
        await api("schedules.get", first.id)
    assert len(await api.all("schedules.list")) == 4


async def test_many_schedules_are_created_in_one_call_with_each_items_outcome(
    api: Both, receiver: VerifyingReceiver
) -> None:
    good = {"name": "bulk-ok", "cron": YEARLY, "target": {"url": receiver.hook()}}
    bad = {"name": "bulk-bad", "cron": "0 61 * * *", "target": {"url": receiver.hook()}}

    result = await api("schedules.create_many", [good, bad, good])

    assert (result.created, result.failed) == (2, 1)
    assert [i.index for i in result.items] == [0, 1, 2]
    made = [i.schedule for i in result.items if i.schedule is not None]
    assert [s.name for s in made] == ["bulk-ok", "bulk-ok"]
    problem = result.items[1].problem
    assert problem is not None and problem.status == 422
    assert [e.field for e in problem.errors] == ["items.1.cron"]
    assert {s.id for s in await api.all("schedules.list")} == {s.id for s in made}


async def test_lists_filter_by_paused_and_name_prefix(
    api: Both, live: LiveServer, receiver: VerifyingReceiver
) -> None:
    _guarded(live)  # the filters arrive with issue 3's list routes
    target = {"url": receiver.hook()}
    paused = await api("schedules.create", "report-a", YEARLY, target, paused=True)
    active = await api("schedules.create", "report-b", YEARLY, target)
    await api("schedules.create", "cleanup", YEARLY, target)

    only_paused = await api.all("schedules.list", paused=True)
    only_active = await api.all("schedules.list", paused=False, name_prefix="report-")

    assert [s.id for s in only_paused] == [paused.id]
    assert [s.id for s in only_active] == [active.id]


async def test_a_schedule_is_updated_paused_resumed_and_previewed(
    api: Both, live: LiveServer, receiver: VerifyingReceiver
) -> None:
    live.require("updateSchedule", "PATCH", "/v1/schedules/sch_x")
    live.require("pauseSchedule", "POST", "/v1/schedules/sch_x/pause")
    live.require("previewSchedule", "GET", "/v1/schedules/sch_x/preview")
    s = await api(
        "schedules.create",
        "dst",
        "0 30 2 * * *",
        Target(receiver.hook(), headers={"X-A": "1", "X-B": "2"}),
        timezone="America/New_York",
    )

    updated = await api(
        "schedules.update", s.id, name="dst-2", target={"headers": {"X-A": None}}, retry=None
    )
    paused = await api("schedules.pause", s.id)
    resumed = await api("schedules.resume", s.id)
    preview = await api(
        "schedules.preview", s.id, count=3, after=datetime(2030, 3, 9, 12, tzinfo=UTC)
    )

    assert (updated.name, updated.version) == ("dst-2", s.version + 1)
    assert updated.target.headers == {"X-B": "2"}
    assert paused.paused and paused.next_fire_at is None
    assert not resumed.paused and resumed.next_fire_at is not None
    assert preview.timezone == "America/New_York"
    gap = preview.items[0]  # 02:30 does not exist on 2030-03-10 in New York
    assert gap.dst == "gap" and gap.at == datetime(2030, 3, 10, 7, 0, tzinfo=UTC)
    assert gap.local.utcoffset() == timedelta(hours=-4)
    assert [i.at.day for i in preview.items] == [10, 11, 12]


# -- deliveries: fires, triggers, messages, dead letters ------------------------------------------


async def test_cron_fires_reach_a_receiver_using_the_sdk_verifier_and_are_on_record(
    api: Both, receiver: VerifyingReceiver
) -> None:
    s = await api("schedules.create", "every-second", "* * * * * *", {"url": receiver.hook()})

    delivered = await receiver.wait_for(2)

    assert receiver.rejected == 0
    assert {e.schedule_id for e in delivered} == {s.id}
    assert all(e.attempt == 1 and e.idempotency_key == e.id for e in delivered)
    fire_id = delivered[0].id

    async def succeeded() -> cronhook.Fire | None:
        fire: cronhook.Fire = await api("fires.get", fire_id)
        return fire if fire.status == "succeeded" else None

    fire = await eventually(succeeded)
    listed = await api.all("schedules.fires", s.id, limit=1)
    assert fire.schedule_id == s.id and fire.kind == "cron"
    assert fire.scheduled_at == delivered[0].scheduled_at
    [attempt] = fire.attempts
    assert (attempt.number, attempt.status_code, attempt.error) == (1, 204, None)
    assert fire_id in {f.id for f in listed}
    await api("schedules.delete", s.id)


async def test_a_trigger_streams_its_events_and_arrives_verified(
    api: Both, live: LiveServer, receiver: VerifyingReceiver
) -> None:
    live.require("triggerSchedule", "POST", "/v1/schedules/sch_x/trigger")
    live.require("streamEvents", "GET", "/v1/events")
    s = await api("schedules.create", "manual", YEARLY, {"url": receiver.hook(), "body": {"k": 1}})

    if api.is_async:
        async with api.client.events.stream(schedule_id=s.id) as events:
            fire = await api("schedules.trigger", s.id)
            seen = await asyncio.wait_for(_until_final(events, fire.id), 30)
    else:
        stream = api.client.events.stream(schedule_id=s.id)
        await asyncio.to_thread(stream.connect)
        try:
            fire = await api("schedules.trigger", s.id)
            seen = await asyncio.to_thread(_until_final_sync, stream, fire.id)
        finally:
            stream.close()

    assert fire.kind == "manual" and fire.schedule_id == s.id
    assert [e.type for e in seen][-1] == "fire.succeeded"
    assert {"attempt.finished", "fire.succeeded"} <= {e.type for e in seen}
    [delivery] = await receiver.wait_for(1, fire_id=fire.id)
    assert delivery.json() == {"k": 1}


async def _until_final(events: cronhook.AsyncEventStream, fire_id: str) -> list[cronhook.Event]:
    seen = []
    async for event in events:
        if event.fire_id == fire_id:
            seen.append(event)
            if event.type in ("fire.succeeded", "fire.failed"):
                return seen
    raise AssertionError(f"stream ended before fire {fire_id} finished: {seen}")


def _until_final_sync(events: cronhook.EventStream, fire_id: str) -> list[cronhook.Event]:
    seen = []
    deadline = time.monotonic() + 30
    for event in events:
        if event.fire_id == fire_id:
            seen.append(event)
            if event.type in ("fire.succeeded", "fire.failed"):
                return seen
        assert time.monotonic() < deadline, seen
    raise AssertionError(f"stream ended before fire {fire_id} finished: {seen}")


async def test_messages_are_delivered_now_at_an_instant_and_after_a_delay(
    api: Both, live: LiveServer, receiver: VerifyingReceiver
) -> None:
    live.require("createMessage", "POST", "/v1/messages")
    target = Target(receiver.hook("/welcome"), body={"user": 42})
    at = aware(1.5)

    now = await api("messages.send", target)
    later = await api("messages.send", target, deliver_at=at)
    delayed = await api("messages.send", target, delay=timedelta(seconds=1))

    assert {f.kind for f in (now, later, delayed)} == {"message"}
    assert now.schedule_id is None
    for fire in (now, later, delayed):
        [delivery] = await receiver.wait_for(1, fire_id=fire.id)
        assert delivery.json() == {"user": 42}
    [at_delivery] = await receiver.wait_for(1, fire_id=later.id)
    assert at_delivery.timestamp >= at.replace(microsecond=0)


async def test_a_dead_letter_is_listed_replayed_and_a_busy_fire_conflicts(
    api: Both, live: LiveServer, receiver: VerifyingReceiver
) -> None:
    live.require("createMessage", "POST", "/v1/messages")
    live.require("replayFire", "POST", "/v1/fires/fire_x/replay")
    live.require("listDeadLetters", "GET", "/v1/dead-letters")
    once = {"max_attempts": 1}
    failing = await api(
        "messages.send", {"url": receiver.hook(), "body": {"mode": "fail"}}, retry=once
    )
    slow = await api(
        "messages.send",
        {"url": receiver.hook(), "body": {"mode": "slow", "seconds": 4}},
        retry=once,
    )

    async def dead() -> list[cronhook.Fire]:
        letters: list[cronhook.Fire] = await api.all("dead_letters.list")
        return [f for f in letters if f.id == failing.id]

    [letter] = await eventually(dead)
    assert letter.status == "failed" and letter.attempts[-1].status_code == 500
    replayed = await api("fires.replay", failing.id)
    assert replayed.id == failing.id
    await receiver.wait_for(2, fire_id=failing.id)  # the same webhook-id, delivered again

    await receiver.wait_for(1, fire_id=slow.id)  # it is being delivered right now
    with pytest.raises(cronhook.ConflictError) as conflict:
        await api("fires.replay", slow.id)
    assert conflict.value.status == 409 and conflict.value.problem["status"] == 409


# -- the tenant itself ---------------------------------------------------------------------------


async def test_whoami_usage_and_forecast(
    api: Both, live: LiveServer, tenant: cronhook.TenantCreated, receiver: VerifyingReceiver
) -> None:
    live.require("getCurrentTenant", "GET", "/v1/tenant")
    live.require("forecast", "GET", "/v1/forecast")
    await api("schedules.create", "a", "0 * * * * *", {"url": receiver.hook()})
    await api("schedules.create", "b", YEARLY, {"url": receiver.hook()}, paused=True)
    start = (datetime.now(UTC) + timedelta(minutes=2)).replace(second=0, microsecond=0)

    me = await api("tenant.get")
    forecast = await api("forecast.get", hours=1, start=start)

    assert (me.id, me.api_key_id) == (tenant.id, tenant.api_key_id)
    assert me.usage is not None
    assert (me.usage.schedules, me.usage.paused_schedules) == (2, 1)
    assert [s.expires_at for s in me.signing_secrets] == [None]
    assert tenant.signing_secret.startswith(me.signing_secrets[0].prefix)
    assert (forecast.total, forecast.peak, forecast.schedules) == (60, 1, 1)


async def test_a_rotated_secret_signs_beside_the_old_one(
    api: Both, live: LiveServer, tenant: cronhook.TenantCreated
) -> None:
    live.require("rotateSigningSecret", "POST", "/v1/signing-secret/rotate")
    live.require("createMessage", "POST", "/v1/messages")
    rotated = await api("signing_secret.rotate", overlap=timedelta(hours=1))
    async with Receiver() as raw:
        fire = await api("messages.send", {"url": raw.url("/rotated"), "body": {"r": 1}})
        [hit] = await raw.wait_for(1, path="/rotated", within=20)

    assert rotated.signing_secret != tenant.signing_secret
    assert [s.expires_at is None for s in rotated.signing_secrets] == [True, False]
    assert len(hit.headers["webhook-signature"].split()) == 2
    for secrets in ([tenant.signing_secret], [rotated.signing_secret]):
        assert Webhook(secrets).verify(hit.body, hit.headers).id == fire.id
    with pytest.raises(cronhook.InvalidSignatureError):
        Webhook(STRANGER_SECRET).verify(hit.body, hit.headers)


# -- errors, for real -------------------------------------------------------------------------


async def test_errors_map_per_status_for_real(
    api: Both, live: LiveServer, mode: str, receiver: VerifyingReceiver
) -> None:
    other = make(mode, "tenant", live.url, "chk_" + "x" * 40)
    admin_as_tenant = make(mode, "tenant", live.url, live.admin_token)
    try:
        with pytest.raises(cronhook.AuthenticationError) as unauthenticated:
            await other.all("schedules.list")
        with pytest.raises(cronhook.PermissionDeniedError) as forbidden:
            await admin_as_tenant.all("schedules.list")
    finally:
        await other.close()
        await admin_as_tenant.close()
    with pytest.raises(cronhook.NotFoundError) as missing:
        await api("schedules.get", "sch_doesnotexist")
    with pytest.raises(cronhook.ValidationError) as bad_cron:
        await api("schedules.create", "bad", "61 * * * *", {"url": receiver.hook()})
    with pytest.raises(cronhook.ValidationError) as bad_fields:
        await api("schedules.create", "bad", "* * * * *", {"url": "ftp://x", "nope": 1})
    schedules = await api.all("schedules.list")

    assert (unauthenticated.value.status, forbidden.value.status) == (401, 403)
    assert missing.value.status == 404 and missing.value.problem["status"] == 404
    assert [e.field for e in bad_cron.value.errors] == ["cron"]
    assert "61" in bad_cron.value.messages("cron")[0] and bad_cron.value.status == 422
    assert {"target.url", "target.nope"} <= {e.field for e in bad_fields.value.errors}
    assert schedules == []  # nothing half-written


async def test_a_tenant_key_is_refused_on_admin_routes(
    live: LiveServer, tenant: cronhook.TenantCreated, mode: str
) -> None:
    as_admin = make(mode, "admin", live.url, tenant.api_key)
    try:
        with pytest.raises(cronhook.PermissionDeniedError):
            await as_admin("tenants.create", "sneaky")
    finally:
        await as_admin.close()


async def test_another_tenants_schedule_is_not_found(
    api: Both, live: LiveServer, mode: str, receiver: VerifyingReceiver
) -> None:
    mine = await api("schedules.create", "mine", YEARLY, {"url": receiver.hook()})
    with cronhook.AdminClient(live.url, live.admin_token) as admin:
        stranger = admin.tenants.create("stranger")
    theirs = make(mode, "tenant", live.url, stranger.api_key)
    try:
        with pytest.raises(cronhook.NotFoundError):
            await theirs("schedules.get", mine.id)
        with pytest.raises(cronhook.NotFoundError):
            await theirs("schedules.delete", mine.id)
    finally:
        await theirs.close()
    assert (await api("schedules.get", mine.id)).id == mine.id


def _guarded(live: LiveServer) -> None:
    # per-key rate limits and Idempotency-Key replays come with issue 3's route guard, which
    # lands with its account routes
    live.require("the API route guard (rate limit, Idempotency-Key)", "GET", "/v1/tenant")


async def test_a_rate_limited_key_gets_429_with_retry_after_and_retries_honour_it(
    live: LiveServer, mode: str
) -> None:
    _guarded(live)
    limits = {"api_rate_limit": {"per_second": 1, "burst": 1}}
    with cronhook.AdminClient(live.url, live.admin_token) as admin:
        slow = admin.tenants.create("slow", limits=limits)
    impatient = make(mode, "tenant", live.url, slow.api_key, max_retries=0)
    patient = make(mode, "tenant", live.url, slow.api_key, max_retries=5)
    try:
        with pytest.raises(cronhook.RateLimitError) as limited:
            for _ in range(5):
                await impatient.all("schedules.list")
        started = time.monotonic()
        for _ in range(3):
            await patient.all("schedules.list")
        waited = time.monotonic() - started
    finally:
        await impatient.close()
        await patient.close()

    assert limited.value.status == 429
    assert limited.value.retry_after is not None and limited.value.retry_after >= 1
    assert waited >= 1.0  # three requests at one per second: the client waited, not failed


async def test_an_idempotency_key_replays_the_first_answer_for_real(
    api: Both, live: LiveServer, receiver: VerifyingReceiver
) -> None:
    _guarded(live)
    key = f"create-{uuid.uuid4()}"
    target = {"url": receiver.hook()}

    first = await api("schedules.create", "once", YEARLY, target, idempotency_key=key)
    again = await api("schedules.create", "once", YEARLY, target, idempotency_key=key)
    with pytest.raises(cronhook.ValidationError) as reused:
        await api("schedules.create", "other", YEARLY, target, idempotency_key=key)

    assert again.id == first.id
    assert [s.id for s in await api.all("schedules.list")] == [first.id]
    assert [e.field for e in reused.value.errors] == ["Idempotency-Key"]


# -- system ---------------------------------------------------------------------------------------


async def test_system_health_readiness_metrics_and_contract(api: Both) -> None:
    health = await api("system.health")
    ready = await api("system.ready")
    contract = await api("system.openapi")
    metrics = await api("system.metrics")

    assert health.status == "ok" and ready.status == "ok"
    assert contract.startswith("openapi: 3.1") and "operationId: createSchedule" in contract
    assert "# TYPE" in metrics
