"""The invoker's webhook client: lean HTTP/1.1 on asyncio, hard deadlines, capped reads, SSRF guard.

Measured here (issue 5): httpx ``AsyncClient`` ~260 requests/s at concurrency 8, aiohttp
~2,500-2,800. Then aiohttp's client machinery (session, request and response objects,
multidict, yarl, its writer) was ~26 % of the invoker's CPU, ~200 us a request, for a
client that needs none of its generality: so the requests are written by hand and the
responses parsed by ``httptools`` (llhttp) in a plain ``asyncio.Protocol``
(``dispatcher.http.connection``) over a small keep-alive pool (``dispatcher.http.pool``).
``bench/http_ceiling.py`` re-measures it next to httpx and aiohttp.

Contract of :meth:`WebhookClient.send` (what the invoker may rely on):

- It never raises for endpoint or network faults; they come back as
  ``DeliveryResult(status_code=None, error=<class>)``. Cancellation propagates.
- One attempt is bounded by ``timeout_seconds`` in total -- DNS, connect, TLS, sending,
  waiting and reading -- by one deadline (``asyncio.timeout_at`` around getting a
  connection, then a timer that fails the response future), so a server dripping a byte a
  second (headers or body) cannot outlive it.
- Redirects are never followed: a 3xx comes back with its ``Location``.
- At most ``max_response_bytes`` of the body are read; a longer body is cut off, the
  connection dropped, the status kept and ``truncated`` set. Nothing is decompressed:
  ``Accept-Encoding: identity`` is sent unless the tenant sets it, and the body is never
  inflated, so a gzip bomb is only ever ``max_response_bytes`` of compressed bytes.
  Chunked and read-to-close bodies are read the same way; interim 1xx responses are skipped.
- Headers: the tenant's headers go out as given (names must be HTTP tokens, values free of
  control characters, else ``invalid_request`` and nothing is sent), except
  ``Content-Length`` and ``Transfer-Encoding`` (framing is always ``Content-Length`` of the
  body, so a tenant cannot desync a pooled connection) and ``User-Agent`` (always
  cronhook's, per the webhook contract). ``Host``, ``Accept: */*`` and, without the
  tenant's, ``Content-Type: application/octet-stream`` are added as aiohttp did.
- Connections are kept alive per (scheme, host, port) and SSRF mode, at most
  ``max_connections`` open per mode, and dropped when the response says
  ``Connection: close``, is HTTP/1.0 without keep-alive, was cut off, or anything failed.
  A request is written at most once: an idle connection the server has closed is noticed
  before anything is written on it (its socket is polled) and another one is used, but a
  connection that fails after the request was written is reported as ``connect`` and not
  retried here -- a server that read the request and then closed cannot be told apart from
  one that did not, and a second copy is the invoker's retry policy's call (a new attempt,
  recorded as such), not the client's.
- SSRF (``allow_private=False``): an IP-literal host (in any form, see
  :func:`app.ssrf.parse_host_literal`) is checked before connecting; a name is
  resolved by a :class:`GuardedResolver`, which refuses the whole answer if ANY address in
  it is forbidden (a mixed answer is a rebinding or misconfiguration sign; refusing it keeps
  the rule simple and deterministic). Only addresses the resolver returned are connected
  to, so what was checked is what is connected to, and TLS is still verified against the
  URL's host name. Guarded and unguarded requests use separate pools, so a pooled
  connection opened for a private-allowed tenant is never reused for a guarded request.

Error classes (``DeliveryResult.error``): ``timeout``, ``connect`` (refused, reset,
disconnected before a full response), ``dns``, ``ssrf_blocked``, ``tls``, ``too_large``
(a response status or header line over 8,190 bytes, more than 128 header lines, or a head
over 64 KiB), ``protocol`` (malformed HTTP), ``invalid_url``, and ``invalid_request`` (the
request itself cannot be sent, e.g. a header value with CR/LF).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from app.headers import unsendable
from app.version import __version__
from dispatcher.http.connection import (
    Connection,
    MalformedResponse,
    Response,
    ResponseTooLarge,
)
from dispatcher.http.pool import DNSFailure, GuardedResolver, Pool, SSRFBlockedError
from dispatcher.http.request import InvalidRequest, checked_url, request_bytes
from dispatcher.http.resolver import Resolver, SystemResolver
from dispatcher.http.retry_after import parse_retry_after

__all__ = [
    "DeliveryResult",
    "GuardedResolver",
    "OutboundRequest",
    "Resolver",
    "SSRFBlockedError",
    "WebhookClient",
]

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT: Final = f"cronhook/{__version__}"


@dataclass(frozen=True)
class OutboundRequest:
    """One webhook attempt as the invoker built it (signing headers included)."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    timeout_seconds: float


@dataclass(frozen=True)
class DeliveryResult:
    """What one attempt produced. ``error`` is None exactly when an HTTP response arrived."""

    status_code: int | None
    error: str | None
    duration_ms: float
    excerpt: str
    retry_after_seconds: float | None
    location: str | None = None
    truncated: bool = False
    """True when the body was longer than ``max_response_bytes`` and was cut off."""


def _error_class(exc: BaseException) -> str:
    """Map an exception raised while sending to a short, stable error class."""
    if isinstance(exc, SSRFBlockedError):
        return "ssrf_blocked"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return "tls"
    if isinstance(exc, DNSFailure):
        return "dns"
    if isinstance(exc, ResponseTooLarge):
        return "too_large"
    if isinstance(exc, InvalidRequest):
        return "invalid_request"
    if isinstance(exc, OSError):  # refused, reset, unreachable, closed early
        return "connect"
    return "protocol"


def _expire(waiter: asyncio.Future[Response]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class WebhookClient:
    """Sends webhook attempts over one keep-alive connection pool per SSRF mode.

    Create it anywhere; the pools are created lazily inside the running loop on first use
    and must be used from that loop only. Close with :meth:`aclose`. A ``resolver`` passed
    in is used for every name (tests use stubs) and is not closed by the client.
    ``ssl_context`` replaces the default verifying context (tests trust a private CA);
    certificates are always verified against the URL's host name.
    """

    def __init__(
        self,
        *,
        user_agent: str = DEFAULT_USER_AGENT,
        max_response_bytes: int = 65536,
        excerpt_bytes: int = 1024,
        max_connections: int = 256,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if excerpt_bytes > max_response_bytes:
            raise ValueError("excerpt_bytes must not exceed max_response_bytes")
        if unsendable(user_agent):
            raise ValueError("user_agent must not contain control characters")
        self._user_agent = user_agent
        self._max_response_bytes = max_response_bytes
        self._excerpt_bytes = excerpt_bytes
        self._max_connections = max_connections
        self._resolver = resolver
        self._ssl = ssl_context
        self._owns_resolver = resolver is None
        self._guarded: Pool | None = None
        self._open: Pool | None = None
        self._closed = False

    def _pool(self, *, allow_private: bool) -> Pool:
        if self._closed:
            raise RuntimeError("WebhookClient is closed")
        pool = self._open if allow_private else self._guarded
        if pool is not None:
            return pool
        if self._resolver is None:
            self._resolver = SystemResolver()
        resolver = self._resolver if allow_private else GuardedResolver(self._resolver)
        pool = Pool(limit=self._max_connections, resolver=resolver, ssl_context=self._ssl)
        if allow_private:
            self._open = pool
        else:
            self._guarded = pool
        return pool

    async def send(
        self, request: OutboundRequest, *, allow_private: bool = False
    ) -> DeliveryResult:
        """Make one attempt; never raises for endpoint or network faults (see module doc).

        Raises ``RuntimeError`` only when called after :meth:`aclose`.
        """
        started = time.perf_counter()
        target, refusal = checked_url(request.url, allow_private=allow_private)
        if target is None:
            return self._failure(refusal or "invalid_url", started)
        pool = self._pool(allow_private=allow_private)  # RuntimeError once closed
        try:
            data = request_bytes(
                request.method, target, request.headers, request.body, self._user_agent
            )
            deadline = asyncio.get_running_loop().time() + request.timeout_seconds
            conn = pool.take_idle(target.origin)
            if conn is None:
                async with asyncio.timeout_at(deadline):
                    conn = await pool.acquire(target.origin)
            response = await self._exchange(pool, conn, data, deadline)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = _error_class(exc)
            if error == "protocol" and not isinstance(exc, MalformedResponse):
                log.warning("unexpected error delivering to %s", request.url, exc_info=True)
            return self._failure(error, started)
        return self._result(response, started)

    async def _exchange(
        self, pool: Pool, conn: Connection, data: bytes, deadline: float
    ) -> Response:
        """One exchange on ``conn``, failed with ``TimeoutError`` at ``deadline`` (loop
        time): a timer on the response future, lighter than ``asyncio.timeout``'s task
        cancellation once the connection is in hand."""
        try:
            waiter = conn.exchange(data, self._max_response_bytes)
            timer = asyncio.get_running_loop().call_at(deadline, _expire, waiter)
            try:
                return await waiter
            finally:
                timer.cancel()
        except BaseException:
            conn.abort()  # mid-exchange: timed out, cancelled or failed
            raise
        finally:
            pool.release(conn)

    def _result(self, response: Response, started: float) -> DeliveryResult:
        status = response.status
        location = response.location
        retry_after = response.retry_after
        return DeliveryResult(
            status_code=status,
            error=None,
            duration_ms=(time.perf_counter() - started) * 1000,
            excerpt=response.body[: self._excerpt_bytes].decode("utf-8", errors="replace"),
            retry_after_seconds=(
                None if retry_after is None else parse_retry_after(retry_after.decode("latin-1"))
            ),
            location=(
                location.decode("utf-8", errors="replace")
                if location is not None and 300 <= status < 400
                else None
            ),
            truncated=response.truncated,
        )

    @staticmethod
    def _failure(error: str, started: float) -> DeliveryResult:
        return DeliveryResult(
            status_code=None,
            error=error,
            duration_ms=(time.perf_counter() - started) * 1000,
            excerpt="",
            retry_after_seconds=None,
        )

    async def aclose(self) -> None:
        """Close both pools and, if the client built it, the resolver. Idempotent."""
        self._closed = True
        for pool in (self._guarded, self._open):
            if pool is not None:
                await pool.aclose()
        self._guarded = self._open = None
        if self._owns_resolver and self._resolver is not None:
            await self._resolver.close()
        self._resolver = None
