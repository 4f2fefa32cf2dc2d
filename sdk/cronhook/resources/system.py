"""`client.system`: liveness, readiness, metrics and the contract (no auth needed)."""

from __future__ import annotations

from cronhook import _protocol as p
from cronhook._protocol import Call
from cronhook._resource import M, Resource, endpoint
from cronhook.models import Health

__all__ = ["System"]


def _health() -> Call[Health]:
    """Liveness of the API process."""
    return p.get("/healthz", p.model(Health))


def _ready() -> Call[Health]:
    """Readiness: the store is reachable (`ServerError` 503 when not)."""
    return p.get("/readyz", p.model(Health))


def _metrics() -> Call[str]:
    """This API process's Prometheus metrics, as text."""
    return p.get("/metrics", p.text, accept="text/plain")


def _openapi() -> Call[str]:
    """The OpenAPI contract the server enforces, as YAML text."""
    return p.get("/openapi.yaml", p.text, accept="application/yaml")


class System(Resource[M]):
    health = endpoint(_health)
    ready = endpoint(_ready)
    metrics = endpoint(_metrics)
    openapi = endpoint(_openapi)
