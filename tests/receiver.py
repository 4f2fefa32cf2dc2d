"""A scriptable, hostile webhook receiver on loopback, for invoker, chaos and e2e tests.

A raw asyncio HTTP/1.1 server (keep-alive, Content-Length and chunked request bodies), so
it can misbehave below the HTTP layer too. Every request is recorded before it is
answered. Use it from async tests::

    async with Receiver() as receiver:
        receiver.script("/hook", Reply(500), Reply(500), Reply(200))  # 500 twice, then 200
        ... deliver to receiver.url("/hook") ...
        hits = await receiver.wait_for(3, path="/hook")
        assert hits[0].headers["webhook-id"] == fire_id

or from sync code (a receiver in its own thread and loop)::

    with ReceiverThread() as receiver:
        ... receiver.url("/ok") ...
        receiver.wait_for_sync(1)

Built-in behaviours, by path (any other path answers 200 ``ok``; a query string is ignored
except where noted):

===========================  ===========================================================
``/ok``                      200 ``ok``
``/status/{code}``           that status (``/status/302`` also sends a ``Location``)
``/slow/{seconds}``          waits, then 200
``/hang``                    reads the request, never answers
``/drip``                    200 headers at once, then the body at 1 byte/s
``/drip-headers``            the status line and headers at 1 byte/s
``/reset``                   reads the request, closes the socket with an RST
``/close``                   reads the request, closes the socket cleanly, no answer
``/garbage``                 answers bytes that are not HTTP
``/huge``                    200 with a 64 MiB body (streamed as long as it is read)
``/huge-headers``            200 with a 1 MiB header line
``/chunked/{kib}``           200 with a chunked body of ``kib`` 1 KiB chunks of ``x``
``/unframed``                200 ``ok`` with neither Content-Length nor chunking: read to close
``/continue``                ``100 Continue`` first, then 200 ``ok``
``/gzip-bomb``               200 ``Content-Encoding: gzip``, ~100 KiB inflating to 100 MiB
``/redirect``                302 to ``?to=`` (default the cloud metadata address)
``/retry-after/{value}``     429 (or ``?status=``) with ``Retry-After: {value}``
===========================  ===========================================================

:meth:`Receiver.script` overrides a path for its next requests: each step is a
:class:`Reply` or the name of a built-in behaviour (``"/hang"``, ``"/status/503"``); when
the steps run out the path falls back to its built-in behaviour.

Connections are numbered in accept order: :attr:`RecordedRequest.connection` says which one a
request came on, :attr:`Receiver.connections` how many were accepted, :attr:`Receiver.peak`
the most open at once; :meth:`Receiver.close_idle` closes the idle ones, as a server's
keep-alive timeout does.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import socket
import ssl
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["Receiver", "ReceiverThread", "RecordedRequest", "Reply"]

T = TypeVar("T")

_MAX_HEAD = 1024 * 1024
_GZIP_BOMB_INFLATED = 100 * 1024 * 1024
_HUGE_BODY = 64 * 1024 * 1024


@dataclass(frozen=True)
class Reply:
    """A scripted answer: status, body, extra headers, and a delay before answering."""

    status: int = 200
    body: bytes = b"ok"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it arrived. ``headers`` has lower-cased names (last value wins)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    raw_headers: tuple[tuple[str, str], ...]
    body: bytes
    arrived_at: float  # time.time()
    arrived_monotonic: float  # time.monotonic()
    connection: int = 0  # which accepted connection it came on, from 1


class _Request:
    def __init__(self, recorded: RecordedRequest) -> None:
        self.recorded = recorded
        self.params = parse_qs(recorded.query)

    def param(self, name: str, default: str) -> str:
        return self.params.get(name, [default])[-1]


Behaviour = Callable[[_Request, asyncio.StreamWriter, list[str]], Awaitable[bool]]
"""Answers one request; returns whether the connection may be kept alive."""


class Receiver:
    """The server. ``async with Receiver() as r`` starts it on 127.0.0.1, a free port.

    Pass ``tls=`` a server ``SSLContext`` to serve HTTPS instead.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, tls: ssl.SSLContext | None = None
    ) -> None:
        self._host = host
        self._port = port
        self._tls = tls
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._scripts: dict[str, deque[Reply | str]] = {}
        self._idle: dict[int, asyncio.StreamWriter] = {}  # connection number -> writer
        self._accepted = 0
        self._open = 0
        self._peak = 0

    # -- lifecycle ---------------------------------------------------------------------
    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve_connection, self._host, self._port, limit=_MAX_HEAD, ssl=self._tls
        )
        self._port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Receiver:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- test-facing API (safe to call from any thread) ---------------------------------
    @property
    def port(self) -> int:
        return self._port

    def url(self, path: str = "/") -> str:
        """``http://127.0.0.1:<port><path>`` (``https`` with a ``tls`` context)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://{host}:{self._port}{path}"

    def script(self, path: str, *steps: Reply | str) -> None:
        """Answer the next requests to ``path`` with ``steps`` in order (replaces a script)."""
        with self._lock:
            self._scripts[path] = deque(steps)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def connections(self) -> int:
        """How many connections were accepted so far."""
        return self._accepted

    @property
    def peak(self) -> int:
        """The most connections that were open at once."""
        return self._peak

    async def close_idle(self) -> int:
        """Close every connection waiting for its next request (a keep-alive timeout);
        return how many. Call it from the receiver's loop."""
        writers = list(self._idle.values())
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        return len(writers)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def clear(self) -> None:
        """Forget recorded requests and scripts."""
        with self._lock:
            self._requests.clear()
            self._scripts.clear()

    async def wait_for(
        self, count: int, *, path: str | None = None, within: float = 5.0
    ) -> list[RecordedRequest]:
        """Wait until ``count`` requests (to ``path``, if given) arrived; return them."""
        deadline = time.monotonic() + within
        while True:
            seen = self.requests if path is None else self.requests_to(path)
            if len(seen) >= count:
                return seen
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(seen)} of {count} requests after {within}s")
            await asyncio.sleep(0.005)

    def wait_for_sync(
        self, count: int, *, path: str | None = None, within: float = 5.0
    ) -> list[RecordedRequest]:
        """:meth:`wait_for` for threads that are not running the receiver's loop."""
        deadline = time.monotonic() + within
        while True:
            seen = self.requests if path is None else self.requests_to(path)
            if len(seen) >= count:
                return seen
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(seen)} of {count} requests after {within}s")
            time.sleep(0.005)

    # -- the server ----------------------------------------------------------------------
    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._accepted += 1
        number = self._accepted
        self._open += 1
        self._peak = max(self._peak, self._open)
        try:
            keep_alive = True
            while keep_alive:
                self._idle[number] = writer
                try:
                    recorded = await _read_request(reader, number)
                finally:
                    self._idle.pop(number, None)
                if recorded is None:
                    return
                with self._lock:
                    self._requests.append(recorded)
                keep_alive = await self._answer(_Request(recorded), writer)
                keep_alive = keep_alive and recorded.headers.get("connection") != "close"
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except ValueError:
            with contextlib.suppress(ConnectionError):
                await _respond(writer, 400, b"bad request", {"Connection": "close"})
        finally:
            self._open -= 1
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, request: _Request, writer: asyncio.StreamWriter) -> bool:
        path = request.recorded.path
        with self._lock:
            steps = self._scripts.get(path)
            step = steps.popleft() if steps else None
        if isinstance(step, Reply):
            if step.delay:
                await asyncio.sleep(step.delay)
            await _respond(writer, step.status, step.body, step.headers)
            return True
        behaviour, args = _route(step if step is not None else path)
        return await behaviour(request, writer, args)


class ReceiverThread:
    """Run a :class:`Receiver` on its own loop in a daemon thread (for sync tests)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, tls: ssl.SSLContext | None = None
    ) -> None:
        self.receiver = Receiver(host, port, tls=tls)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.receiver.start(), self._loop).result(10)
        return self.receiver

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        asyncio.run_coroutine_threadsafe(self.receiver.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the receiver's loop and wait for it (blocks the caller)."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)


# -- HTTP plumbing ------------------------------------------------------------------------
async def _read_request(reader: asyncio.StreamReader, connection: int) -> RecordedRequest | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    arrived_at, arrived_monotonic = time.time(), time.monotonic()
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    raw = tuple(
        (name.strip(), value.strip())
        for name, _, value in (line.partition(":") for line in lines[1:] if line)
    )
    headers = {name.lower(): value for name, value in raw}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = await _read_chunked(reader)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    split = urlsplit(target)
    return RecordedRequest(
        method, split.path, split.query, headers, raw, body, arrived_at, arrived_monotonic,
        connection,
    )  # fmt: skip


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


def _head(status: int, headers: Mapping[str, str]) -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Status"
    lines = [f"HTTP/1.1 {status} {phrase}", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _respond(
    writer: asyncio.StreamWriter, status: int, body: bytes, headers: Mapping[str, str]
) -> None:
    if status < 200 or status in (204, 304):
        body = b""  # these responses have no body
    all_headers = {"Content-Length": str(len(body)), "Content-Type": "text/plain", **headers}
    if status < 200 or status == 204:
        del all_headers["Content-Length"]
    writer.write(_head(status, all_headers) + body)
    await writer.drain()


# -- behaviours ---------------------------------------------------------------------------
async def _ok(request: _Request, writer: asyncio.StreamWriter, args: list[str]) -> bool:
    await _respond(writer, 200, b"ok", {})
    return True


async def _status(request: _Request, writer: asyncio.StreamWriter, args: list[str]) -> bool:
    code = int(args[0]) if args and args[0].isdigit() else 200
    extra = {"Location": "http://169.254.169.254/"} if 300 <= code < 400 else {}
    await _respond(writer, code, f"status {code}".encode(), extra)
    return True


async def _slow(request: _Request, writer: asyncio.StreamWriter, args: list[str]) -> bool:
    await asyncio.sleep(float(args[0]) if args else 1.0)
    return await _ok(request, writer, args)


async def _hang(request: _Request, writer: asyncio.StreamWriter, args: list[str]) -> bool:
    await asyncio.Event().wait()  # until the receiver stops
    return False


async def _drip(request: _Request, writer: asyncio.StreamWriter, args: list[str]) -> bool:
    writer.write(_head(200, {"Content-Length": "3600", "Content-Type": "text/plain"}))
    for _ in range(3600):
        writer.write(b".")
        await writer.drain()
        await asyncio.sleep(1.0)
    return False


async def _drip_headers(request: _Request, writer: asyncio.StreamWriter, args: list[str]) -> bool:
    for byte in _head(200, {"Content-Length": "2"}) + b"ok":
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(1.0)
    return False


async def _reset(request: _Request, writer: asyncio.StreamWriter, args: list[str]) -> bool:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
    return False


async def _close(request: _Request, writer: asyncio.StreamWriter, args: list[str]) -> bool:
    return False


async def _garbage(request: _Request, writer: asyncio.StreamWriter, args: list[str]) -> bool:
    writer.write(b"SURPRISE \x00\xff not http at all\r\n\r\n")
    await writer.drain()
    return False


async def _huge(request: _Request, writer: asyncio.StreamWriter, args: list[str]) -> bool:
    writer.write(_head(200, {"Content-Length": str(_HUGE_BODY)}))
    chunk = b"x" * 65536
    for _ in range(_HUGE_BODY // len(chunk)):
        writer.write(chunk)
        await writer.drain()
    return True


async def _huge_headers(request: _Request, writer: asyncio.StreamWriter, args: list[str]) -> bool:
    await _respond(writer, 200, b"ok", {"X-Huge": "h" * _MAX_HEAD})
    return False


async def _chunked(request: _Request, writer: asyncio.StreamWriter, args: list[str]) -> bool:
    count = int(args[0]) if args and args[0].isdigit() else 4
    writer.write(_head(200, {"Transfer-Encoding": "chunked", "Content-Type": "text/plain"}))
    chunk = b"400\r\n" + b"x" * 1024 + b"\r\n"
    for _ in range(count):
        writer.write(chunk)
        await writer.drain()
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    return True


async def _unframed(request: _Request, writer: asyncio.StreamWriter, args: list[str]) -> bool:
    writer.write(_head(200, {"Content-Type": "text/plain"}) + b"ok")
    await writer.drain()
    return False  # the close ends the body


async def _continue(request: _Request, writer: asyncio.StreamWriter, args: list[str]) -> bool:
    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    await writer.drain()
    return await _ok(request, writer, args)


_bomb: bytes | None = None


def _gzip_bomb() -> bytes:
    global _bomb
    if _bomb is None:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip container
        zeros = bytes(1024 * 1024)
        parts = [compressor.compress(zeros) for _ in range(_GZIP_BOMB_INFLATED // len(zeros))]
        _bomb = b"".join([*parts, compressor.flush()])
    return _bomb


async def _gzip_bomb_reply(
    request: _Request, writer: asyncio.StreamWriter, args: list[str]
) -> bool:
    body = _gzip_bomb()
    await _respond(writer, 200, body, {"Content-Encoding": "gzip", "Content-Type": "text/plain"})
    return True


async def _redirect(request: _Request, writer: asyncio.StreamWriter, args: list[str]) -> bool:
    target = request.param("to", "http://169.254.169.254/latest/meta-data/")
    await _respond(writer, 302, b"", {"Location": target})
    return True


async def _retry_after(request: _Request, writer: asyncio.StreamWriter, args: list[str]) -> bool:
    status = int(request.param("status", "429"))
    value = unquote("/".join(args))
    await _respond(writer, status, b"later", {"Retry-After": value})
    return True


_ROUTES: dict[str, Behaviour] = {
    "ok": _ok,
    "status": _status,
    "slow": _slow,
    "hang": _hang,
    "drip": _drip,
    "drip-headers": _drip_headers,
    "reset": _reset,
    "close": _close,
    "garbage": _garbage,
    "huge": _huge,
    "huge-headers": _huge_headers,
    "chunked": _chunked,
    "unframed": _unframed,
    "continue": _continue,
    "gzip-bomb": _gzip_bomb_reply,
    "redirect": _redirect,
    "retry-after": _retry_after,
}


def _route(path: str) -> tuple[Behaviour, list[str]]:
    first, *rest = path.strip("/").split("/")
    return _ROUTES.get(first, _ok), rest
