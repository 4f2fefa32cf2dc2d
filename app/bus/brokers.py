"""Connecting to one broker of a RabbitMQ cluster, failing over to the others.

``CRONHOOK_AMQP_URL`` may name several nodes in its host part, comma separated:
``amqp://user:pass@node1:5672,node2:5672,node3:5672/vhost``. Every node gets the same
credentials, virtual host and query. With one node this is aio-pika's robust connection as
it is; with several, the robust connection moves to the next node before each attempt to
connect (at start, and on every reconnect after a node is lost), so a publisher or consumer
whose node dies is on a live one within a reconnect interval.

aio-pika takes one URL (mosquito/aio-pika#141): its reconnect loop clears the connection's
``transport`` before every attempt and then connects to ``url``, so ``RoundRobinConnection``
turns to the next URL at that moment.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from aio_pika.robust_connection import RobustConnection
from yarl import URL

CONNECT_TIMEOUT = 10.0  # seconds to reach some node at start
RECONNECT_INTERVAL = 1.0  # seconds between attempts once several nodes are listed


def broker_urls(url: str) -> list[str]:
    """One URL per node named in ``url``'s host part (comma separated)."""
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    prefix = f"{userinfo}@" if userinfo else ""
    out = []
    for host in hosts.split(","):
        if not host.strip():
            raise ValueError(f"empty host in AMQP URL {parts.scheme}://...{parts.path}")
        out.append(urlunsplit(parts._replace(netloc=prefix + host.strip())))
    return out


class RoundRobinConnection(RobustConnection):
    """A robust connection over several nodes: each attempt to connect goes to the node
    after the one tried before."""

    def __init__(self, urls: list[str], **kwargs: Any) -> None:
        self._urls = [URL(u) for u in urls]
        self._turn = -1
        self._transport: Any = None
        super().__init__(self._urls[0], **kwargs)

    @property
    def transport(self) -> Any:
        return self._transport

    @transport.setter
    def transport(self, value: Any) -> None:
        # cleared by Connection.__init__ and before every attempt of the reconnect loop
        if value is None:
            self._turn = (self._turn + 1) % len(self._urls)
            self.url = self._urls[self._turn]
        self._transport = value


async def connect(url: str) -> AbstractRobustConnection:
    """A robust connection to the node, or to the first of the nodes that answers."""
    urls = broker_urls(url)
    if len(urls) == 1:
        return await aio_pika.connect_robust(urls[0], timeout=CONNECT_TIMEOUT)
    conn = RoundRobinConnection(urls, fail_fast=False, reconnect_interval=RECONNECT_INTERVAL)
    try:
        await asyncio.wait_for(conn.connect(timeout=CONNECT_TIMEOUT / len(urls)), CONNECT_TIMEOUT)
    except BaseException:
        await conn.close()
        raise
    return conn
