"""``redis+sentinel://`` URLs: the master of a Sentinel-monitored Redis, found and followed
through the sentinels.

``redis+sentinel://[[user]:password@]host1:26379[,host2:26379...]/<master name>[/<db>]``

The user and password are the Redis master's; the sentinels are asked without credentials
(``?sentinel_password=`` when they require one). redis-py's Sentinel connection pool asks
the sentinels for the master when it connects and again after a connection to the old
master fails or answers READONLY (a demoted master), so a failover needs no restart.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from app.errors import StoreUnavailable

SCHEME = "redis+sentinel://"


def parse(url: str) -> tuple[list[tuple[str, int]], str, int, dict[str, Any]]:
    """(sentinels, master name, db, connection options) of a ``redis+sentinel://`` URL."""
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    sentinels = []
    for host in hosts.split(","):
        name, _, port = host.strip().rpartition(":")
        if not name or not port.isdigit():
            raise StoreUnavailable(f"bad sentinel address {host!r} in CRONHOOK_REDIS_URL")
        sentinels.append((name, int(port)))
    path = [p for p in parts.path.split("/") if p]
    if not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise StoreUnavailable("a redis+sentinel:// URL ends in /<master name>[/<db>]")
    options: dict[str, Any] = {}
    if userinfo:
        user, _, password = userinfo.partition(":")
        options["username"] = unquote(user) or None
        options["password"] = unquote(password) or None
    query = parse_qs(parts.query)
    if "sentinel_password" in query:
        options["sentinel_password"] = query["sentinel_password"][0]
    return sentinels, path[0], int(path[1]) if len(path) == 2 else 0, options


def master_client(url: str, common: dict[str, Any]) -> tuple[Any, Any]:
    """(a client of the current master, the Sentinel object to close with it)."""
    from redis.asyncio.sentinel import Sentinel

    sentinels, name, db, options = parse(url)
    sentinel_password = options.pop("sentinel_password", None)
    sentinel = Sentinel(  # type: ignore[no-untyped-call, unused-ignore]
        sentinels,
        sentinel_kwargs={
            "password": sentinel_password,
            "socket_timeout": common.get("socket_timeout"),
            "socket_connect_timeout": common.get("socket_connect_timeout"),
        },
    )
    client = sentinel.master_for(name, db=db, **options, **common)
    return client, sentinel
