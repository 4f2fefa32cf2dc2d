"""`cronhook dev`: api, dispatcher and invoker in one process on embedded backends, a demo
tenant, and an echo receiver that verifies every delivery's signature and logs it."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import sys
import time
from collections import deque
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.api.links import SIGN_IN_PATHS
from app.ids import api_key_hash, new_api_key, new_id, new_signing_secret
from app.metrics import DispatcherMetrics, InvokerMetrics, new_registry
from app.models import SigningSecret, Tenant, TenantLimits
from app.runtime import (
    check_eviction,
    make_bus,
    make_store,
    observed,
    serve_api,
    stop_event,
    until_stopped,
)
from app.settings import Settings
from app.store import Store
from app.store.records import ApiKeyRecord
from app.store.websessions import Grant
from dispatcher.invoke.signing import check

log = logging.getLogger("cronhook.echo")


class EchoReceiver:
    """Receives webhooks at /_echo/..., checks them against every tenant's secrets."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.received: deque[dict[str, Any]] = deque(maxlen=200)

    async def _secrets(self) -> list[str]:
        page = await self.store.records.list_tenant_ids(200, None)
        out: list[str] = []
        for tid in page.items:
            t = await self.store.records.get_tenant(tid)
            if t:
                out += t.active_secrets(int(time.time() * 1000))
        return out

    async def verify(self, headers: Any, body: bytes) -> str:
        return check(await self._secrets(), headers, body, time.time()) or "valid"

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        verdict = await self.verify(request.headers, body)
        entry = {
            "path": request.url.path,
            "webhook_id": request.headers.get("webhook-id"),
            "attempt": request.headers.get("cronhook-attempt"),
            "scheduled_at": request.headers.get("cronhook-scheduled-at"),
            "signature": verdict,
            "body": body[:200].decode(errors="replace"),
        }
        self.received.append(entry)
        log.info("echo %s %s signature=%s", entry["webhook_id"], entry["path"], verdict)
        status = 200 if verdict == "valid" else 401
        return JSONResponse({"received": True, "signature": verdict}, status_code=status)

    async def recent(self, request: Request) -> Response:
        return JSONResponse({"items": list(self.received)})

    def routes(self) -> list[Route]:
        return [
            Route("/_echo", self.recent, methods=["GET"]),
            Route("/_echo/{path:path}", self.handle, methods=["POST", "PUT", "PATCH", "DELETE"]),
        ]


async def demo_tenant(store: Store) -> tuple[Tenant, str]:
    now = int(time.time() * 1000)
    tenant = Tenant(
        id=new_id("ten"),
        name="demo",
        created_at=now,
        limits=TenantLimits(allowed_private_targets=True, min_interval_seconds=1),
        secrets=(SigningSecret(new_signing_secret(), now),),
    )
    key = new_api_key()
    await store.records.create_tenant(
        tenant, ApiKeyRecord(new_id("key"), tenant.id, key[:10], now), api_key_hash(key)
    )
    return tenant, key


DEV_LINK_MS = 3600 * 1000


async def sign_in_links(store: Store, settings: Settings, tenant: Tenant) -> tuple[str, str]:
    """Single-use links to the demo tenant's portal and to the console (an hour each)."""
    base = settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}"
    portal = await store.web.mint_link(Grant("portal", tenant.id), DEV_LINK_MS)
    console = await store.web.mint_link(Grant("console", None), DEV_LINK_MS)
    return (
        f"{base}{SIGN_IN_PATHS['portal']}?token={portal}",
        f"{base}{SIGN_IN_PATHS['console']}?token={console}",
    )


def banner(
    settings: Settings, tenant: Tenant, key: str, generated: bool, links: tuple[str, str]
) -> str:
    base = f"http://{settings.host}:{settings.port}"
    token_note = " (generated; set CRONHOOK_ADMIN_TOKEN to choose one)" if generated else ""
    body = json.dumps(
        {
            "name": "hello",
            "cron": "*/2 * * * * *",
            "timezone": "UTC",
            "target": {"url": f"{base}/_echo/hello", "body": {"hello": "world"}},
        }
    )
    return f"""
cronhook dev is running on {base}
  backends      store={"embedded" if not settings.redis_url else settings.redis_url} \
bus={"embedded" if not settings.amqp_url else "rabbitmq"}
  admin token   {settings.admin_token}{token_note}
  demo tenant   {tenant.id}
  API key       {key}
  signing secret {tenant.secrets[0].secret}
  portal        {links[0]}
                (the demo tenant's pages; single use, an hour; more: POST /v1/portal-links)
  console       {links[1]}
  echo receiver {base}/_echo/<anything>  (verifies signatures; GET {base}/_echo lists)

Try it:
  export CRONHOOK_API_KEY={key}
  curl -s -X POST {base}/v1/schedules -H "Authorization: Bearer $CRONHOOK_API_KEY" \\
       -H 'Content-Type: application/json' -d '{body}'
  curl -s {base}/v1/schedules/<id>/fires -H "Authorization: Bearer $CRONHOOK_API_KEY"
"""


async def run_dev(settings: Settings) -> None:
    from app.api import create_app
    from dispatcher.dispatch.dispatcher import Dispatcher
    from dispatcher.http.client import WebhookClient
    from dispatcher.invoke.invoker import Invoker
    from dispatcher.registry import beating, invoker_heartbeat

    generated = not settings.admin_token
    settings = settings.with_(
        admin_token=settings.admin_token or secrets.token_urlsafe(24),
        allow_private_targets=True,
        metrics_port=0,  # one process: the API's /metrics shows every role
    )
    stop = stop_event()
    registry = new_registry(process=True)
    store, bus = make_store(settings), make_bus(settings)
    client = WebhookClient()
    try:
        await check_eviction(store, settings)
        await bus.start()
        tenant, key = await demo_tenant(store)
        echo = EchoReceiver(store)
        app = create_app(store, settings, bus=bus, extra_routes=echo.routes(), registry=registry)
        metrics = InvokerMetrics(registry, tenants=settings.metrics_tenant_ids())
        invoker = Invoker(store, bus, client, settings, metrics=metrics)
        await invoker.start()
        dispatcher = Dispatcher(store, bus, settings, metrics=DispatcherMetrics(registry))
        async with (
            observed(settings, registry, store, bus, stop),
            beating(invoker_heartbeat(store, settings, invoker)),
        ):
            api = asyncio.create_task(serve_api(app, settings, stop))
            links = await sign_in_links(store, settings, tenant)
            print(banner(settings, tenant, key, generated, links), file=sys.stderr, flush=True)
            await until_stopped(dispatcher.run(stop), stop, settings.shutdown_seconds)
            await bus.drain(settings.shutdown_seconds)
            await api
    finally:
        await client.aclose()
        await bus.aclose()
        await store.aclose()
