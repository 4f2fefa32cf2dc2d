"""`Client` / `AsyncClient` (a tenant's API key) and `AdminClient` / `AsyncAdminClient`
(the operator's admin token). Each holds one transport and the resources bound to it.

Make one client and reuse it (it keeps a small pool of connections: 10 by default); close
it when done, or use it as a context manager. A client you pass in as `http_client` is
used as it is and left open.
"""

from __future__ import annotations

import copy
import os
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypedDict, Unpack

import httpx

from cronhook._resource import Async, M, Sync
from cronhook._retry import Retry
from cronhook._transport import AsyncTransport, Settings, SyncTransport
from cronhook.resources import (
    AdminConsole,
    AdminFleet,
    AdminForecast,
    ApiKeys,
    DeadLetters,
    Events,
    Fires,
    ForecastResource,
    Messages,
    Portal,
    Schedules,
    SigningSecret,
    System,
    TenantResource,
    Tenants,
)

__all__ = [
    "AdminClient",
    "AsyncAdminClient",
    "AsyncClient",
    "Client",
    "ClientOptions",
]

DEFAULT_URL = "http://127.0.0.1:8080"


class ClientOptions(TypedDict, total=False):
    """What every client takes besides its URL and token. `timeout`: seconds per request
    (or an `httpx.Timeout`), default 30. Retries: up to `max_retries` (2), backoff
    `backoff * 2**n` seconds (0.5) capped at `max_backoff` (8), with full jitter (see
    `cronhook.Retry`, which `retry=` takes whole)."""

    timeout: float | httpx.Timeout
    max_retries: int
    backoff: float
    max_backoff: float
    retry: Retry | None


class SyncOptions(ClientOptions, total=False):
    http_client: httpx.Client | None  # used as it is, and left open


class AsyncOptions(ClientOptions, total=False):
    http_client: httpx.AsyncClient | None  # used as it is, and left open


_OPTIONS = frozenset(SyncOptions.__annotations__) | frozenset(ClientOptions.__annotations__)


def _settings(base_url: str | None, token: str | None, token_env: str, options: Any) -> Settings:
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise TypeError(f"unexpected keyword argument(s): {', '.join(unknown)}")
    url = base_url or os.environ.get("CRONHOOK_URL") or DEFAULT_URL
    resolved = token or os.environ.get(token_env, "")
    if not resolved:
        raise ValueError(f"pass a token or set {token_env}")
    shape = {k: options[k] for k in ("max_retries", "backoff", "max_backoff") if k in options}
    retry = options.get("retry") or Retry(**shape)  # Retry's own defaults for the rest
    return Settings.of(url, resolved, options.get("timeout", 30.0), retry)


class _TenantAPI(Generic[M]):
    """The resources a tenant API key reaches."""

    schedules: Schedules[M]
    fires: Fires[M]
    dead_letters: DeadLetters[M]
    messages: Messages[M]
    signing_secret: SigningSecret[M]
    tenant: TenantResource[M]
    events: Events[M]
    forecast: ForecastResource[M]
    portal: Portal[M]
    system: System[M]

    def _attach(self, transport: SyncTransport | AsyncTransport) -> None:
        self.schedules = Schedules(transport)
        self.fires = Fires(transport)
        self.dead_letters = DeadLetters(transport)
        self.messages = Messages(transport)
        self.signing_secret = SigningSecret(transport)
        self.tenant = TenantResource(transport)
        self.events = Events(transport)
        self.forecast = ForecastResource(transport)
        self.portal = Portal(transport)
        self.system = System(transport)


class _AdminAPI(Generic[M]):
    """The resources the operator's admin token reaches."""

    tenants: Tenants[M]
    api_keys: ApiKeys[M]
    forecast: AdminForecast[M]
    fleet: AdminFleet[M]
    console: AdminConsole[M]
    system: System[M]

    def _attach(self, transport: SyncTransport | AsyncTransport) -> None:
        self.tenants = Tenants(transport)
        self.api_keys = ApiKeys(transport)
        self.forecast = AdminForecast(transport)
        self.fleet = AdminFleet(transport)
        self.console = AdminConsole(transport)
        self.system = System(transport)


class _Attaching(Protocol):
    _transport: Any

    def _attach(self, transport: SyncTransport | AsyncTransport) -> None: ...


def _rebound(client: Any, transport: SyncTransport | AsyncTransport) -> Any:
    """A shallow copy of ``client`` whose resources all go through ``transport``."""
    clone: _Attaching = copy.copy(client)
    clone._transport = transport
    clone._attach(transport)
    return clone


class _SyncLifecycle:
    _transport: SyncTransport

    def with_options(
        self, *, timeout: float | httpx.Timeout | None = None, max_retries: int | None = None
    ) -> Self:
        """This client with another `timeout` or `max_retries` (None keeps this client's),
        for the calls made through it: `client.with_options(timeout=5).schedules.get(id)`.
        The copy shares this client's connection pool: closing the copy leaves the pool
        open, closing this client closes it for both."""
        copied: Self = _rebound(self, self._transport.with_options(timeout, max_retries))
        return copied

    def close(self) -> None:
        """Close the connection pool (not an `http_client` you passed in)."""
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class _AsyncLifecycle:
    _transport: AsyncTransport

    def with_options(
        self, *, timeout: float | httpx.Timeout | None = None, max_retries: int | None = None
    ) -> Self:
        """This client with another `timeout` or `max_retries`; as `Client.with_options`."""
        copied: Self = _rebound(self, self._transport.with_options(timeout, max_retries))
        return copied

    async def aclose(self) -> None:
        """Close the connection pool (not an `http_client` you passed in)."""
        await self._transport.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class Client(_SyncLifecycle, _TenantAPI[Sync]):
    """The blocking client for a tenant's API key. `base_url` defaults to `$CRONHOOK_URL`,
    else http://127.0.0.1:8080; `api_key` to `$CRONHOOK_API_KEY`; options: `ClientOptions`
    (timeout, retries) and `http_client`."""

    def __init__(
        self, base_url: str | None = None, api_key: str | None = None, **kw: Unpack[SyncOptions]
    ) -> None:
        self._transport = SyncTransport(
            _settings(base_url, api_key, "CRONHOOK_API_KEY", kw), kw.get("http_client")
        )
        self._attach(self._transport)


class AsyncClient(_AsyncLifecycle, _TenantAPI[Async]):
    """The asyncio (and trio) client for a tenant's API key; arguments as for `Client`."""

    def __init__(
        self, base_url: str | None = None, api_key: str | None = None, **kw: Unpack[AsyncOptions]
    ) -> None:
        self._transport = AsyncTransport(
            _settings(base_url, api_key, "CRONHOOK_API_KEY", kw), kw.get("http_client")
        )
        self._attach(self._transport)


class AdminClient(_SyncLifecycle, _AdminAPI[Sync]):
    """The blocking client for the operator's admin token (`$CRONHOOK_ADMIN_TOKEN`):
    tenants, their API keys, the system-wide forecast, the fleet of workers; arguments as
    for `Client`."""

    def __init__(
        self, base_url: str | None = None, admin_token: str | None = None, **kw: Unpack[SyncOptions]
    ) -> None:
        self._transport = SyncTransport(
            _settings(base_url, admin_token, "CRONHOOK_ADMIN_TOKEN", kw), kw.get("http_client")
        )
        self._attach(self._transport)


class AsyncAdminClient(_AsyncLifecycle, _AdminAPI[Async]):
    """The async client for the operator's admin token; arguments as for `AdminClient`."""

    def __init__(
        self,
        base_url: str | None = None,
        admin_token: str | None = None,
        **kw: Unpack[AsyncOptions],
    ) -> None:
        self._transport = AsyncTransport(
            _settings(base_url, admin_token, "CRONHOOK_ADMIN_TOKEN", kw), kw.get("http_client")
        )
        self._attach(self._transport)
