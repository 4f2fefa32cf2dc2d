"""The Starlette application."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from app.api import (
    account,
    bulk,
    fires,
    fleet,
    forecast,
    jobs,
    links,
    observability,
    schedules,
    shards,
    stream,
    system,
    tenants,
)
from app.api.problems import HANDLERS
from app.api.request_ids import RequestIdMiddleware
from app.api.state import ApiState
from app.bus.base import Bus
from app.metrics import ApiMetrics, new_registry
from app.settings import Settings
from app.store import Store


def create_app(
    store: Store,
    settings: Settings,
    *,
    bus: Bus | None = None,
    extra_routes: Sequence[BaseRoute] = (),
    registry: CollectorRegistry | None = None,
) -> Starlette:
    """The API over a ready store (the caller owns its lifetime). ``registry``: the
    process's metrics registry, served on /metrics (a fresh one when not given)."""
    from app.web import routes as web_routes  # the pages stand on the API: imported last

    routes: list[BaseRoute] = [
        *system.ROUTES,
        *observability.ROUTES,
        *tenants.ROUTES,
        *account.ROUTES,
        *bulk.ROUTES,
        *schedules.ROUTES,
        *fires.ROUTES,
        *jobs.ROUTES,
        *shards.ROUTES,
        *stream.ROUTES,
        *forecast.ROUTES,
        *fleet.ROUTES,
        *links.ROUTES,
        *web_routes(),
        *extra_routes,
    ]
    registry = registry if registry is not None else new_registry()
    middleware = [
        Middleware(RequestIdMiddleware),
        Middleware(observability.MetricsMiddleware, metrics=ApiMetrics(registry)),
    ]
    app = Starlette(routes=routes, exception_handlers=HANDLERS, middleware=middleware)
    app.state.cronhook = ApiState(store=store, settings=settings, bus=bus)
    app.state.metrics_registry = registry
    return app
