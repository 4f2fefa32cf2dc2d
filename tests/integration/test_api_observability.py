"""The API's /metrics, /healthz and /readyz, on both store backends."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from app.api import create_app
from app.bus.memory import MemoryBus
from app.bus.rabbitmq import RabbitBus
from app.metrics import new_registry
from app.runtime import make_bus, make_store
from app.settings import Settings
from app.store import Store, open_store

ADMIN = "admin-token-for-tests"


@pytest.fixture
async def registry() -> CollectorRegistry:
    return new_registry()


@pytest.fixture
async def api(store: Store, registry: CollectorRegistry) -> AsyncIterator[httpx.AsyncClient]:
    bus = MemoryBus()
    app = create_app(store, Settings(admin_token=ADMIN), bus=bus, registry=registry)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


def _requests(registry: CollectorRegistry, method: str, route: str, status: int) -> float:
    labels = {"method": method, "route": route, "status": str(status)}
    return registry.get_sample_value("cronhook_api_requests_total", labels) or 0.0


async def test_requests_are_counted_by_route_template_and_status(
    api: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    # given a tenant with one schedule
    admin = {"Authorization": f"Bearer {ADMIN}"}
    tenant = (await api.post("/v1/tenants", json={"name": "t"}, headers=admin)).json()
    auth = {"Authorization": f"Bearer {tenant['api_key']}"}
    body = {"name": "s", "cron": "0 * * * *", "target": {"url": "https://example.com/h"}}
    sid = (await api.post("/v1/schedules", json=body, headers=auth)).json()["id"]
    # when it is read, a missing one is read, and a path no route knows is asked for
    assert (await api.get(f"/v1/schedules/{sid}", headers=auth)).status_code == 200
    assert (await api.get("/v1/schedules/sch_nope", headers=auth)).status_code == 404
    assert (await api.get("/no/such/path/123")).status_code == 404
    assert (await api.patch("/healthz")).status_code == 405
    # then each request counts once under its template, never under its raw path
    template = "/v1/schedules/{schedule_id}"
    assert _requests(registry, "GET", template, 200) == 1
    assert _requests(registry, "GET", template, 404) == 1
    assert _requests(registry, "POST", "/v1/tenants", 201) == 1
    assert _requests(registry, "GET", "unmatched", 404) == 1
    assert _requests(registry, "PATCH", "/healthz", 405) == 1
    count = registry.get_sample_value(
        "cronhook_api_request_duration_seconds_count", {"method": "GET", "route": template}
    )
    assert count == 2
    text = (await api.get("/metrics")).text
    assert sid not in text and "sch_nope" not in text and "/no/such/path" not in text


async def test_metrics_are_served_in_the_prometheus_text_format(
    api: httpx.AsyncClient,
) -> None:
    await api.get("/healthz")
    r = await api.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    assert families["cronhook_api_requests"].type == "counter"
    assert families["cronhook_api_request_duration_seconds"].type == "histogram"


async def test_an_unknown_http_method_is_not_a_new_label_value(
    api: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    await api.request("BREW", "/healthz")
    assert _requests(registry, "OTHER", "/healthz", 405) == 1


async def test_healthz_and_readyz_answer_ok_when_everything_is_up(
    api: httpx.AsyncClient, store: Store
) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    r = await api.get("/readyz")
    assert r.status_code == 200, r.text
    store_check = "embedded_store" if store.embedded else "redis"
    assert r.json()["checks"] == {store_check: "ok", "scripts": "ok", "embedded_bus": "ok"}


async def test_readyz_in_dev_says_the_store_and_the_bus_are_embedded() -> None:
    # given the backends `cronhook dev` runs on (no CRONHOOK_REDIS_URL, no CRONHOOK_AMQP_URL)
    settings = Settings(admin_token=ADMIN)
    store, bus = make_store(settings), make_bus(settings)
    try:
        # when readiness is asked
        r = await _readyz(store, bus)
    finally:
        await store.aclose()
    # then it names what runs, and nothing that does not
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"embedded_store": "ok", "scripts": "ok", "embedded_bus": "ok"}
    backends = r.json()["backends"]
    assert backends["store"].startswith("embedded") and backends["bus"].startswith("embedded")
    assert "rabbitmq" not in r.text and "redis:" not in r.text


@pytest.mark.external_service
async def test_readyz_on_the_real_services_names_redis_and_rabbitmq(
    redis_url: str, amqp_url: str, queue_name: str, prefix: str
) -> None:
    store = open_store(redis_url, prefix=prefix, shards=2, retention_s=60)
    bus = RabbitBus(amqp_url, queue_name)
    await bus.start()
    try:
        r = await _readyz(store, bus)
    finally:
        await bus.purge_and_delete()
        await bus.aclose()
        await store.aclose()
    assert r.status_code == 200, r.text
    assert r.json()["checks"] == {"redis": "ok", "scripts": "ok", "rabbitmq": "ok"}
    assert r.json()["backends"] == {"store": "redis", "bus": "rabbitmq"}


async def test_readyz_loads_scripts_that_redis_forgot(api: httpx.AsyncClient, store: Store) -> None:
    # given Redis lost its script cache (a restart, a failover to a fresh replica)
    await store.client.script_flush()
    shas = [s.sha for s in store.scripts.lua.by_name().values()]
    # when readiness is asked
    r = await api.get("/readyz")
    # then the scripts are loaded again and the process is ready
    assert r.status_code == 200, r.text
    assert all(await store.client.script_exists(*shas))


async def _readyz(store: Store, bus: object) -> httpx.Response:
    app = create_app(store, Settings(admin_token=ADMIN), bus=bus)  # type: ignore[arg-type]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        return await client.get("/readyz")


async def test_readyz_is_503_naming_redis_when_redis_is_unreachable(free_port: int) -> None:
    store = open_store(
        f"redis://127.0.0.1:{free_port}/0", prefix="x", shards=2, retention_s=60, timeout=0.5
    )
    try:
        r = await _readyz(store, MemoryBus())
    finally:
        await store.aclose()
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    assert "redis" in r.json()["detail"] and "rabbitmq" not in r.json()["detail"]


async def test_readyz_is_503_naming_rabbitmq_when_the_bus_is_down(
    store: Store, free_port: int
) -> None:
    bus = RabbitBus(f"amqp://guest:guest@127.0.0.1:{free_port}/", "q")  # never reachable
    r = await _readyz(store, bus)
    assert r.status_code == 503
    detail = r.json()["detail"]
    assert "rabbitmq" in detail and "redis" not in detail and "scripts" not in detail


@pytest.mark.external_service
async def test_readyz_is_ok_on_the_real_rabbitmq(
    store: Store, amqp_url: str, queue_name: str
) -> None:
    bus = RabbitBus(amqp_url, queue_name)
    await bus.start()
    try:
        r = await _readyz(store, bus)
        assert r.status_code == 200, r.text
        assert r.json()["checks"]["rabbitmq"] == "ok"
    finally:
        await bus.purge_and_delete()
        await bus.aclose()
