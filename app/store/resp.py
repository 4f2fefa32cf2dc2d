"""A lean pipelining Redis connection for the hot script path.

One socket on an ``asyncio.Protocol``; replies parsed by hiredis's public ``Reader``
configured as redis-py configures it (same decoding; reply errors mapped to redis-py's
public exception classes by ``reply_error``, as its parser maps them), so every answer is
the Python value redis-py would return. Each ``execute`` queues one batch of packed commands and
awaits one future; the futures wait in a FIFO because Redis answers in order, so many
batches can be in flight on the one connection. The batches queued in one turn of the event
loop go out in one socket write at the start of the next turn (an invoker finishing many
deliveries at once makes one write instead of one per delivery, and Redis one read).

Built from a redis-py client's own connection settings (``wire_for``) when that client
reaches one plain Redis over TCP or a unix socket; anything else (TLS, Sentinel, Cluster,
fakeredis, custom connection classes, a credential provider) gets ``None`` and keeps
redis-py. The handshake follows the client's protocol: ``HELLO 3`` (with AUTH and SETNAME)
for RESP3, AUTH / CLIENT SETNAME for RESP2, then SELECT.

Errors: a reply error is that command's result (``ResponseError``, ``NoScriptError``...).
A lost connection, an unparsable stream or a batch unanswered for the client's
``socket_timeout`` fails every pending batch with ``ConnectionError`` / ``TimeoutError``
and drops the socket; the next ``execute`` connects again. Nothing is retried: a command
on a lost connection may have run. A cancelled caller leaves its batch in the FIFO, whose
replies are read and dropped, so later batches still get their own.
"""

from __future__ import annotations

import asyncio
import builtins
import re
import socket
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import hiredis
import redis.exceptions
from redis.asyncio.connection import Connection, UnixDomainSocketConnection
from redis.exceptions import (
    AskError,
    AuthenticationError,
    BusyLoadingError,
    ClusterCrossSlotError,
    ClusterDownError,
    ConnectionError,
    DataError,
    ExecAbortError,
    InvalidResponse,
    MasterDownError,
    MovedError,
    NoPermissionError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TimeoutError,
    TryAgainError,
)

_MORE = object()  # hiredis: no complete reply buffered yet (False is a RESP3 value)
_PUSH: type | None = getattr(hiredis, "PushNotification", None)


# Reply errors by their code, as redis-py's parser raises them (tests/integration/
# test_store_wire.py compares the two over a table of replies).
_BY_CODE: dict[str, type[RedisError]] = {
    "OOM": OutOfMemoryError,
    "WRONGPASS": AuthenticationError,
    "EXECABORT": ExecAbortError,
    "LOADING": BusyLoadingError,
    "NOSCRIPT": NoScriptError,
    "READONLY": ReadOnlyError,
    "NOAUTH": AuthenticationError,
    "NOPERM": NoPermissionError,
    "ASK": AskError,
    "TRYAGAIN": TryAgainError,
    "MOVED": MovedError,
    "CLUSTERDOWN": ClusterDownError,
    "CROSSSLOT": ClusterCrossSlotError,
    "MASTERDOWN": MasterDownError,
}
_BY_ERR_TEXT: dict[str, type[RedisError]] = {
    # redis-py 8.2 names it MaxClientsReachedError, a ConnectionError; before, ConnectionError
    "max number of clients reached": getattr(
        redis.exceptions, "MaxClientsReachedError", ConnectionError
    ),
    "invalid password": AuthenticationError,
}


_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


def reply_error(text: str) -> RedisError:
    """The exception of a RESP error reply: ``CODE message`` (its class by the code, the
    message without it), or a ``ResponseError`` of the whole text for another code."""
    code, _, message = text.partition(" ")
    if code == "ERR":
        error = _BY_ERR_TEXT.get(message, ResponseError)(message)
    elif code in _BY_CODE:
        error = _BY_CODE[code](message)
    else:
        error = ResponseError(text)
        if not _CODE.fullmatch(code):
            return error
    error.status_code = code  # another code too, as redis-py sets it from 8.2
    return error


@dataclass(frozen=True)
class Params:
    """Where and how to connect, read from a redis-py connection."""

    host: str
    port: int
    path: str  # a unix socket when set
    db: int
    username: str | None
    password: str | None
    client_name: str | None
    protocol: int
    timeout: float | None  # per batch, from send to its last reply
    connect_timeout: float | None
    encoding: str
    errors: str
    decode: bool
    keepalive: bool

    @property
    def where(self) -> str:
        return self.path or f"{self.host}:{self.port}"


def params_of(client: Any) -> Params | None:
    """The settings of ``client``'s connections, or None when this module does not handle
    them (TLS, Sentinel, fakeredis, any other connection class, a credential provider)."""
    pool: Any = getattr(client, "connection_pool", None)
    cls = getattr(pool, "connection_class", None)
    if cls is not Connection and cls is not UnixDomainSocketConnection:
        return None
    conn = cls(**pool.connection_kwargs)  # not connected: only redis-py's own defaults
    if conn.credential_provider is not None:
        return None
    enc = conn.encoder
    return Params(
        host=str(getattr(conn, "host", "")),
        port=int(getattr(conn, "port", 0)),
        path=str(getattr(conn, "path", "")),
        db=int(conn.db),
        username=conn.username,
        password=conn.password,
        client_name=conn.client_name,
        protocol=int(conn.protocol),
        timeout=conn.socket_timeout,
        connect_timeout=conn.socket_connect_timeout,
        encoding=enc.encoding,
        errors=enc.encoding_errors,
        decode=bool(enc.decode_responses),
        keepalive=bool(getattr(conn, "socket_keepalive", False)),
    )


def wire_for(client: Any) -> Wire | None:
    params = params_of(client)
    return None if params is None else Wire(params)


def packer(encoding: str, errors: str) -> Callable[[Sequence[Any]], bytes]:
    """RESP encoding of one command, its arguments encoded as redis-py's ``Encoder`` does:
    bytes as they are, str in ``encoding``, int and float as their ``repr``; bool and any
    other type are a ``DataError``."""

    def pack(args: Sequence[Any]) -> bytes:
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            t = type(a)
            if t is str:
                b = a.encode(encoding, errors)
            elif t is bytes:
                b = a
            elif t is int or t is float:
                b = repr(a).encode()
            elif isinstance(a, bytes | bytearray | memoryview):
                b = bytes(a)
            elif isinstance(a, str):
                b = a.encode(encoding, errors)
            elif isinstance(a, int | float) and not isinstance(a, bool):
                b = repr(a).encode()
            else:
                raise DataError(
                    f"Invalid input of type: '{t.__name__}'. "
                    "Convert to a bytes, string, int or float first."
                )
            out.append(b"$%d\r\n%b\r\n" % (len(b), b))
        return b"".join(out)

    return pack


class _Batch:
    __slots__ = ("count", "future", "replies", "timer")

    def __init__(self, count: int, future: asyncio.Future[list[Any]]) -> None:
        self.count = count
        self.future = future
        self.replies: list[Any] = []
        self.timer: asyncio.TimerHandle | None = None


class _Protocol(asyncio.Protocol):
    """One socket: batches written in order, their replies matched in order."""

    def __init__(self, params: Params, loop: asyncio.AbstractEventLoop) -> None:
        kwargs: dict[str, Any] = {
            "protocolError": InvalidResponse,
            "replyError": reply_error,
            "notEnoughData": _MORE,
        }
        if params.decode:
            kwargs["encoding"] = params.encoding
            kwargs["errors"] = params.errors
        self._reader = hiredis.Reader(**kwargs)
        self._params = params
        self._loop = loop
        self._fifo: deque[_Batch] = deque()
        self._transport: asyncio.Transport | None = None
        self._out: list[bytes] = []  # batches queued this loop turn, written by _flush
        self.error: Exception | None = None  # set once: the connection is unusable

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None and self._params.keepalive:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        fifo = self._fifo
        try:
            reader.feed(data)
            while (reply := reader.gets()) is not _MORE:
                if _PUSH is not None and isinstance(reply, _PUSH):
                    continue  # not a reply (nothing here subscribes; be safe anyway)
                batch = fifo[0]
                batch.replies.append(reply)
                if len(batch.replies) == batch.count:
                    fifo.popleft()
                    if batch.timer is not None:
                        batch.timer.cancel()
                    if not batch.future.done():  # else its caller was cancelled
                        batch.future.set_result(batch.replies)
        except IndexError:
            self.fail(ConnectionError(f"{self._params.where}: a reply nobody asked for"))
        except Exception as e:  # unparsable or undecodable stream
            self.fail(ConnectionError(f"{self._params.where}: bad reply stream: {e!r}"))

    def connection_lost(self, exc: Exception | None) -> None:
        why = f": {exc}" if exc else ""
        self.fail(ConnectionError(f"Connection to {self._params.where} lost{why}"))

    def _timed_out(self) -> None:
        self.fail(TimeoutError(f"Timeout reading from {self._params.where}"))

    def fail(self, error: Exception) -> None:
        """Fail every pending batch with ``error`` and drop the socket."""
        if self.error is None:
            self.error = error
        if self._transport is not None:
            self._transport.abort()
        while self._fifo:
            batch = self._fifo.popleft()
            if batch.timer is not None:
                batch.timer.cancel()
            if not batch.future.done():
                batch.future.set_exception(self.error)

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self.error is None and self._transport is not None and out:
            self._transport.write(out[0] if len(out) == 1 else b"".join(out))

    def send(self, data: bytes, count: int) -> asyncio.Future[list[Any]]:
        """Write ``count`` packed commands; the future gets their replies, in order."""
        future: asyncio.Future[list[Any]] = self._loop.create_future()
        if self.error is not None:
            future.set_exception(self.error)
            return future
        assert self._transport is not None  # set when the connection is made
        out = self._out
        if not out:
            self._loop.call_soon(self._flush)
        out.append(data)
        batch = _Batch(count, future)
        if self._params.timeout is not None:
            batch.timer = self._loop.call_later(self._params.timeout, self._timed_out)
        self._fifo.append(batch)
        return future


class Wire:
    """A pipelining connection (re)opened on demand; see the module docstring."""

    def __init__(self, params: Params) -> None:
        self.params = params
        self.pack = packer(params.encoding, params.errors)
        self._proto: _Protocol | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()

    async def execute(self, data: bytes, count: int) -> list[Any]:
        """Send ``count`` commands packed in ``data`` (one ``pack`` each, joined); their
        replies in order, a reply error as the exception object in its place."""
        proto = self._proto
        if proto is None or proto.error is not None or self._loop is not asyncio.get_running_loop():
            proto = await self._connected()
        return await proto.send(data, count)

    async def aclose(self) -> None:
        proto, self._proto = self._proto, None
        if proto is not None:
            proto.fail(ConnectionError(f"Connection to {self.params.where} closed"))

    async def _connected(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop: the old socket is not usable here
            self._proto, self._loop, self._lock = None, loop, asyncio.Lock()
        async with self._lock:
            proto = self._proto
            if proto is None or proto.error is not None:
                proto = self._proto = await self._open(loop)
            return proto

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Protocol:
        p = self.params
        proto: _Protocol | None = None
        try:
            async with asyncio.timeout(p.connect_timeout):
                if p.path:
                    _, proto = await loop.create_unix_connection(lambda: _Protocol(p, loop), p.path)
                else:
                    _, proto = await loop.create_connection(
                        lambda: _Protocol(p, loop), p.host, p.port
                    )
                hello = self._handshake()
                if hello:
                    data = b"".join(self.pack(c) for c in hello)
                    for reply in await proto.send(data, len(hello)):
                        if isinstance(reply, ConnectionError):  # AuthenticationError too
                            raise reply
                        if isinstance(reply, ResponseError):
                            raise ConnectionError(f"{p.where}: {reply}")
            return proto
        except BaseException as e:
            if proto is not None:
                proto.fail(ConnectionError(f"{p.where}: handshake failed"))
            if isinstance(e, TimeoutError | ConnectionError):  # redis-py's, raised above
                raise
            if isinstance(e, builtins.TimeoutError):
                raise TimeoutError(f"Timeout connecting to {p.where}") from e
            if isinstance(e, OSError):
                raise ConnectionError(f"Error connecting to {p.where}: {e}") from e
            raise

    def _handshake(self) -> list[list[Any]]:
        p = self.params
        out: list[list[Any]] = []
        if p.protocol == 3:
            hello: list[Any] = ["HELLO", 3]
            if p.username or p.password:
                hello += ["AUTH", p.username or "default", p.password or ""]
            if p.client_name:
                hello += ["SETNAME", p.client_name]
            out.append(hello)
        else:
            if p.password:
                out.append(["AUTH", *([p.username] if p.username else []), p.password])
            if p.client_name:
                out.append(["CLIENT", "SETNAME", p.client_name])
        if p.db:
            out.append(["SELECT", p.db])
        return out
