"""The Starlette application."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from app.api import schedules, system, tenants
from app.api.problems import HANDLERS
from app.api.state import ApiState
from app.bus.base import Bus
from app.settings import Settings
from app.store import Store


def create_app(
    store: Store,
    settings: Settings,
    *,
    bus: Bus | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The API over a ready store (the caller owns its lifetime)."""
    routes: list[BaseRoute] = [*system.ROUTES, *tenants.ROUTES, *schedules.ROUTES, *extra_routes]
    app = Starlette(routes=routes, exception_handlers=HANDLERS)
    app.state.cronhook = ApiState(store=store, settings=settings, bus=bus)
    return app
