"""The invoker's webhook client: one aiohttp session, hard deadlines, capped reads, SSRF guard.

Measured here (issue 5): httpx ``AsyncClient`` ~260 requests/s at concurrency 8, aiohttp
~2,500-2,800; the invoker needs >= 2,000 per process, so delivery uses aiohttp directly and
httpx stays the SDK's client. ``bench/http_ceiling.py`` re-measures it.

Contract of :meth:`WebhookClient.send` (what the invoker may rely on):

- It never raises for endpoint or network faults; they come back as
  ``DeliveryResult(status_code=None, error=<class>)``. Cancellation propagates.
- One attempt is bounded by ``timeout_seconds`` in total -- DNS, connect, TLS, sending,
  waiting and reading -- with ``asyncio.timeout`` around the whole exchange, so a server
  dripping a byte a second (headers or body) cannot outlive it.
- Redirects are never followed: a 3xx comes back with its ``Location``.
- At most ``max_response_bytes`` of the body are read; a longer body is cut off, the
  connection dropped, the status kept and ``truncated`` set. Nothing is decompressed:
  ``Accept-Encoding: identity`` is sent unless the tenant sets it, and the session does not
  auto-decompress, so a gzip bomb is only ever ``max_response_bytes`` of compressed bytes.
- Headers: the tenant's headers go out as given, except ``Content-Length`` and
  ``Transfer-Encoding`` (framing is computed from the body, so a tenant cannot desync a
  pooled connection) and ``User-Agent`` (always cronhook's, per the webhook contract).
- SSRF (``allow_private=False``): an IP-literal host (in any form, see
  :func:`dispatcher.ssrf.parse_host_literal`) is checked before connecting; a name is
  resolved by a guarding resolver installed on the connector, which refuses the whole
  answer if ANY address in it is forbidden (a mixed answer is a rebinding or
  misconfiguration sign; refusing it keeps the rule simple and deterministic). The
  connector connects only to addresses the resolver returned, so what was checked is what
  is connected to, and TLS is still verified against the URL's host name. Guarded and
  unguarded requests use separate connectors, so a pooled connection opened for a
  private-allowed tenant is never reused for a guarded request.

Error classes (``DeliveryResult.error``): ``timeout``, ``connect`` (refused, reset,
disconnected before a full response), ``dns``, ``ssrf_blocked``, ``tls``, ``too_large``
(response headers over aiohttp's limits), ``protocol`` (malformed HTTP), ``invalid_url``,
and ``invalid_request`` (the request itself cannot be sent, e.g. a header value with CR/LF).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.http_exceptions import LineTooLong
from multidict import CIMultiDict
from yarl import URL

from dispatcher.retry import parse_retry_after
from dispatcher.ssrf import forbidden_reason, parse_host_literal

__all__ = [
    "DeliveryResult",
    "GuardedResolver",
    "OutboundRequest",
    "Resolver",
    "SSRFBlockedError",
    "WebhookClient",
]

log = logging.getLogger(__name__)

Resolver = AbstractResolver
"""Any aiohttp resolver; tests pass stubs that answer chosen addresses for chosen names."""

DEFAULT_USER_AGENT: Final = "cronhook/0.1 (+https://github.com/cronhook)"
_READ_CHUNK: Final = 16384
_DROPPED_HEADERS: Final = frozenset({"content-length", "transfer-encoding", "user-agent"})


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


class SSRFBlockedError(OSError):
    """A resolved or literal address is forbidden for this delivery."""


class GuardedResolver(AbstractResolver):
    """Resolve through ``inner``; refuse the answer if any address in it is forbidden."""

    def __init__(self, inner: AbstractResolver) -> None:
        self._inner = inner

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)  # type: ignore[arg-type]
        for answer in answers:
            ip = parse_host_literal(answer["host"])
            reason = "unparseable address" if ip is None else forbidden_reason(ip)
            if reason is not None:
                raise SSRFBlockedError(f"{host} resolves to {answer['host']} ({reason})")
        return answers

    async def close(self) -> None:
        """The inner resolver is closed by whoever built it."""


def _error_class(exc: BaseException) -> str:
    """Map an exception raised while sending to a short, stable error class."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    if any(isinstance(e, SSRFBlockedError) for e in chain):
        return "ssrf_blocked"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return "tls"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "dns"
    if isinstance(exc, aiohttp.InvalidURL | aiohttp.NonHttpUrlClientError):
        return "invalid_url"
    if any(isinstance(e, LineTooLong) for e in chain):
        return "too_large"
    if isinstance(exc, aiohttp.ClientConnectionError | ConnectionError):
        return "connect"
    if isinstance(exc, aiohttp.ClientResponseError | aiohttp.ClientPayloadError):
        return "protocol"
    if isinstance(exc, ValueError):
        return "invalid_request"
    return "protocol"


def _outgoing_headers(tenant: Mapping[str, str], user_agent: str) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in tenant.items():
        if name.lower() not in _DROPPED_HEADERS:
            headers.add(name, value)
    headers["User-Agent"] = user_agent
    headers.setdefault("Accept-Encoding", "identity")
    return headers


class WebhookClient:
    """Sends webhook attempts over one pooled aiohttp session per SSRF mode.

    Create it anywhere; the sessions are created lazily inside the running loop on first
    use and must be used from that loop only. Close with :meth:`aclose`. A ``resolver``
    passed in is used for every name (tests use stubs) and is not closed by the client.
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
        self._user_agent = user_agent
        self._max_response_bytes = max_response_bytes
        self._excerpt_bytes = excerpt_bytes
        self._max_connections = max_connections
        self._resolver = resolver
        self._ssl: ssl.SSLContext | bool = True if ssl_context is None else ssl_context
        self._owns_resolver = resolver is None
        self._guarded: aiohttp.ClientSession | None = None
        self._open: aiohttp.ClientSession | None = None
        self._closed = False

    def _inner_resolver(self) -> Resolver:
        if self._resolver is None:
            self._resolver = aiohttp.DefaultResolver()
        return self._resolver

    def _new_session(self, resolver: Resolver) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, resolver=resolver, ssl=self._ssl
        )
        return aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            timeout=aiohttp.ClientTimeout(total=None),
            trust_env=False,
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    def _session(self, *, allow_private: bool) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError("WebhookClient is closed")
        if allow_private:
            if self._open is None:
                self._open = self._new_session(self._inner_resolver())
            return self._open
        if self._guarded is None:
            self._guarded = self._new_session(GuardedResolver(self._inner_resolver()))
        return self._guarded

    async def send(
        self, request: OutboundRequest, *, allow_private: bool = False
    ) -> DeliveryResult:
        """Make one attempt; never raises for endpoint or network faults (see module doc).

        Raises ``RuntimeError`` only when called after :meth:`aclose`.
        """
        started = time.perf_counter()
        url, refusal = _checked_url(request.url, allow_private=allow_private)
        if url is None:
            return self._failure(refusal or "invalid_url", started)
        session = self._session(allow_private=allow_private)  # RuntimeError once closed
        try:
            async with asyncio.timeout(request.timeout_seconds):
                return await self._exchange(session, url, request, started)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = _error_class(exc)
            if error == "protocol" and not isinstance(exc, aiohttp.ClientError):
                log.warning("unexpected error delivering to %s", request.url, exc_info=True)
            return self._failure(error, started)

    async def _exchange(
        self, session: aiohttp.ClientSession, url: URL, request: OutboundRequest, started: float
    ) -> DeliveryResult:
        async with session.request(
            request.method,
            url,
            headers=_outgoing_headers(request.headers, self._user_agent),
            data=request.body,
            allow_redirects=False,
        ) as response:
            body, truncated = await self._read_capped(response)
            if truncated:
                response.close()  # drop the connection rather than drain the rest
            location = response.headers.get("Location") if 300 <= response.status < 400 else None
            return DeliveryResult(
                status_code=response.status,
                error=None,
                duration_ms=(time.perf_counter() - started) * 1000,
                excerpt=body[: self._excerpt_bytes].decode("utf-8", errors="replace"),
                retry_after_seconds=parse_retry_after(response.headers.get("Retry-After")),
                location=location,
                truncated=truncated,
            )

    async def _read_capped(self, response: aiohttp.ClientResponse) -> tuple[bytes, bool]:
        chunks: list[bytes] = []
        remaining = self._max_response_bytes
        while remaining > 0:
            chunk = await response.content.read(min(remaining, _READ_CHUNK))
            if not chunk:
                return b"".join(chunks), False
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks), not response.content.at_eof()

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
        """Close both sessions and, if the client built it, the resolver. Idempotent."""
        self._closed = True
        for session in (self._guarded, self._open):
            if session is not None:
                await session.close()
        self._guarded = self._open = None
        if self._owns_resolver and self._resolver is not None:
            await self._resolver.close()
        self._resolver = None


@lru_cache(maxsize=4096)
def _checked_url(url: str, *, allow_private: bool) -> tuple[URL | None, str | None]:
    """The parsed URL, or None and ``invalid_url`` / ``ssrf_blocked`` for URLs refused
    before any I/O. Pure, so kept per URL text (a schedule's fires share theirs): the
    resolved address of a host name is still checked on every connection."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return None, "invalid_url"
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        return None, "invalid_url"
    if allow_private:
        return parsed, None
    ip = parse_host_literal(parsed.raw_host)
    if ip is not None and forbidden_reason(ip) is not None:
        return None, "ssrf_blocked"
    return parsed, None
