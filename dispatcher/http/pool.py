"""Keep-alive connections of the webhook client: opening (DNS, SSRF guard, TCP, TLS),
reusing and capping them.

A :class:`Pool` serves one SSRF mode; the client keeps one per mode, so a connection opened
for a tenant allowed private targets never carries a guarded request. Inside a pool, idle
connections are kept per ``(scheme, host, port)`` and reused last-in first-out. At most
``limit`` connections are open at once (idle ones included): at the cap, an idle connection
to another origin is closed to make room, else the caller waits for one to come back.

Before an idle connection is reused its socket is polled: a server that closed an idle
keep-alive connection has left an EOF (or a TLS alert) there, so the connection is dropped
and the next one tried -- nothing has been sent on it, so nothing can arrive twice. A request
that was written is never sent again by the pool: a connection that fails after the write
is reported to the caller (see ``dispatcher.http.client`` for why). Idle connections older
than ``keepalive_seconds`` are closed: below the 5 s idle timeout of common servers (Node,
uvicorn, Apache), so the client, not the server, usually ends an idle connection.

Names are resolved on every new connection through ``resolver`` (a :class:`GuardedResolver`
for the guarded mode) and the connection goes only to the addresses it returned (Happy
Eyeballs over them, with ``aiohappyeyeballs``); TLS is verified against the URL's host name.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Final

import aiohappyeyeballs

from app.ssrf import forbidden_reason, parse_host_literal
from dispatcher.http.connection import Connection
from dispatcher.http.resolver import Resolver, ResolveResult

__all__ = ["DNSFailure", "GuardedResolver", "Origin", "Pool", "Resolver", "SSRFBlockedError"]

_HAPPY_EYEBALLS_DELAY: Final = 0.25


class SSRFBlockedError(OSError):
    """A resolved or literal address is forbidden for this delivery."""


class DNSFailure(OSError):
    """The name did not resolve (error class ``dns``)."""


class GuardedResolver:
    """Resolve through ``inner``; refuse the answer if any address in it is forbidden."""

    def __init__(self, inner: Resolver) -> None:
        self._inner = inner

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        for answer in answers:
            ip = parse_host_literal(answer["host"])
            reason = "unparseable address" if ip is None else forbidden_reason(ip)
            if reason is not None:
                raise SSRFBlockedError(f"{host} resolves to {answer['host']} ({reason})")
        return answers

    async def close(self) -> None:
        """The inner resolver is closed by whoever built it."""


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a request goes: ``host`` is IDNA-encoded, without IPv6 brackets."""

    scheme: str
    host: str
    port: int

    @property
    def literal_family(self) -> int | None:
        """The address family if ``host`` is a canonical IP literal (connected to without
        a lookup), else None: a name, or a loose form only a resolver may interpret."""
        if "%" in self.host:
            return None
        try:
            ip = ip_address(self.host)
        except ValueError:
            return None
        return socket.AF_INET6 if ip.version == 6 else socket.AF_INET


class Pool:
    """Connections of one SSRF mode. Used from one loop; :meth:`aclose` when done.

    ``ssl_context`` verifies TLS (``None``: the system's default verifying context)."""

    def __init__(
        self,
        *,
        limit: int,
        resolver: Resolver,
        ssl_context: ssl.SSLContext | None = None,
        keepalive_seconds: float = 4.0,
    ) -> None:
        self._limit = limit
        self._resolver = resolver
        self._ssl = ssl_context
        self._keepalive = keepalive_seconds
        self._idle: dict[Origin, list[Connection]] = {}
        self._open: set[Connection] = set()
        self._opening = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False

    # -- acquire / release -------------------------------------------------------------------
    def take_idle(self, origin: Origin) -> Connection | None:
        """An idle live connection to ``origin`` if there is one (the dead ones met on the
        way are dropped); never waits."""
        if self._closed:
            raise RuntimeError("the pool is closed")
        idle = self._idle.get(origin)
        if idle:
            now = asyncio.get_running_loop().time()
            while idle:
                conn = idle.pop()
                if conn.looks_alive() and now - conn.idle_since < self._keepalive:
                    return conn
                self._drop(conn)
        return None

    async def acquire(self, origin: Origin) -> Connection:
        """An idle live connection to ``origin``, else a new one once the cap allows it."""
        while True:
            conn = self.take_idle(origin)
            if conn is not None:
                return conn
            if len(self._open) + self._opening < self._limit:
                return await self._connect(origin)
            if not self._evict_idle():
                await self._wait_for_room()

    def release(self, conn: Connection) -> None:
        """Hand back a connection after its exchange: kept if reusable, else closed."""
        if not conn.reusable or conn.lost or self._closed:
            self._drop(conn)
            return
        conn.idle_since = asyncio.get_running_loop().time()
        assert isinstance(conn.key, Origin)
        self._idle.setdefault(conn.key, []).append(conn)
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_later(self._keepalive, self._sweep)
        self._wake_one()

    def _drop(self, conn: Connection) -> None:
        conn.abort()
        self._forget(conn)

    def _forget(self, conn: Connection) -> None:
        """``conn`` is gone (dropped here, or lost): free its place under the cap."""
        if conn in self._open:
            self._open.discard(conn)
            idle = self._idle.get(conn.key)  # type: ignore[call-overload]
            if idle is not None and conn in idle:
                idle.remove(conn)
            self._wake_one()

    def _evict_idle(self) -> bool:
        """Close the oldest idle connection of any origin; False if none is idle."""
        oldest: Connection | None = None
        for conns in self._idle.values():
            if conns and (oldest is None or conns[0].idle_since < oldest.idle_since):
                oldest = conns[0]
        if oldest is None:
            return False
        self._drop(oldest)
        return True

    async def _wait_for_room(self) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._wake_one()  # woken, then cancelled: pass the turn on
            else:
                self._waiters.remove(waiter)
            raise

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _sweep(self) -> None:
        self._sweeper = None
        loop = asyncio.get_running_loop()
        cutoff = loop.time() - self._keepalive
        for conns in list(self._idle.values()):
            for conn in [c for c in conns if c.idle_since <= cutoff]:
                self._drop(conn)
        if any(self._idle.values()):
            self._sweeper = loop.call_later(self._keepalive, self._sweep)

    # -- opening -----------------------------------------------------------------------------
    async def _connect(self, origin: Origin) -> Connection:
        self._opening += 1
        try:
            sock = await aiohappyeyeballs.start_connection(
                await self._addresses(origin), happy_eyeballs_delay=_HAPPY_EYEBALLS_DELAY
            )
            conn = Connection(self._forget)
            conn.key = origin
            tls = origin.scheme == "https"
            try:
                await asyncio.get_running_loop().create_connection(
                    lambda: conn,
                    sock=sock,
                    ssl=self._tls_context() if tls else None,
                    server_hostname=origin.host if tls else None,
                )
            except BaseException:
                sock.close()
                raise
            if self._closed:
                conn.abort()
                raise RuntimeError("the pool is closed")
            self._open.add(conn)
            return conn
        finally:
            self._opening -= 1
            if len(self._open) + self._opening < self._limit:
                self._wake_one()

    def _tls_context(self) -> ssl.SSLContext:
        if self._ssl is None:  # built on first use: loading the CA store takes a while
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def _addresses(self, origin: Origin) -> list[aiohappyeyeballs.AddrInfoType]:
        family = origin.literal_family
        if family is not None:
            return [_addr_info(family, origin.host, origin.port)]
        try:
            answers = await self._resolver.resolve(origin.host, origin.port, socket.AF_UNSPEC)
        except SSRFBlockedError:
            raise
        except OSError as exc:
            raise DNSFailure(f"{origin.host}: {exc}") from exc
        if not answers:
            raise DNSFailure(f"{origin.host}: no addresses")
        return [
            _addr_info(
                socket.AF_INET6 if ":" in a["host"] else socket.AF_INET, a["host"], a["port"]
            )
            for a in answers
        ]

    async def aclose(self) -> None:
        """Close every connection, idle or busy (a busy exchange then fails). Idempotent."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for conn in list(self._open):
            self._drop(conn)
        self._idle.clear()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # it loops, sees the pool closed, raises
        await asyncio.sleep(0)  # let the transports run connection_lost and close sockets


def _addr_info(family: int, host: str, port: int) -> aiohappyeyeballs.AddrInfoType:
    address = (host, port, 0, 0) if family == socket.AF_INET6 else (host, port)
    return (family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", address)
