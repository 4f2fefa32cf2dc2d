"""Name resolution for the webhook client: the system resolver, run off the event loop.

A resolver answers ``await resolve(host, port, family)`` with a list of
:class:`ResolveResult` dicts (``host`` is a numeric address, ``port`` the port to connect
to). :class:`SystemResolver` calls the operating system's ``getaddrinfo`` in the loop's
default executor, as asyncio itself does for ``open_connection``: it honours
``/etc/hosts``, ``nsswitch.conf`` and the local DNS cache. Tests pass stubs that answer
chosen addresses. The SSRF check on the answer is :class:`dispatcher.http.pool.GuardedResolver`.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Protocol, TypedDict

__all__ = ["ResolveResult", "Resolver", "SystemResolver"]

_NUMERIC_NAME = socket.NI_NUMERICHOST | socket.NI_NUMERICSERV
_ADDRCONFIG = socket.AI_ADDRCONFIG & getattr(socket, "AI_MASK", -1)


class ResolveResult(TypedDict):
    """One address a name resolved to (the shape aiohttp's resolvers return)."""

    hostname: str
    host: str
    port: int
    family: int
    proto: int
    flags: int


class Resolver(Protocol):
    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[ResolveResult]:
        """Every address of ``host`` for TCP; raises ``OSError`` (``socket.gaierror``) when
        the name does not resolve."""

    async def close(self) -> None:
        """Release what the resolver holds."""


class SystemResolver:
    """``getaddrinfo`` in the default executor; IPv6 link-local answers keep their zone."""

    async def resolve(self, host: str, port: int = 0, family: int = 0) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, family=family, flags=_ADDRCONFIG
        )
        out: list[ResolveResult] = []
        for fam, _type, proto, _name, address in infos:
            if fam == socket.AF_INET6:
                if len(address) < 4:  # a Python built without IPv6
                    continue
                if address[3]:  # a scope id: getnameinfo writes it as "fe80::1%eth0"
                    addr, serv = await loop.getnameinfo(address, _NUMERIC_NAME)
                    out.append(_result(host, addr, int(serv), fam, proto))
                    continue
            out.append(_result(host, str(address[0]), int(address[1]), fam, proto))
        return out

    async def close(self) -> None:
        """Nothing to release: the executor is the loop's."""


def _result(hostname: str, host: str, port: int, family: int, proto: int) -> ResolveResult:
    return ResolveResult(
        hostname=hostname,
        host=host,
        port=port,
        family=family,
        proto=proto,
        flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
    )
