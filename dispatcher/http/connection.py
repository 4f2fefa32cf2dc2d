"""One HTTP/1.1 client connection: an asyncio ``Protocol`` whose responses httptools parses.

:meth:`Connection.exchange` writes one request (already serialized, Content-Length framed)
and returns a future for its :class:`Response`. The response is parsed by ``httptools``
(llhttp, the parser uvicorn uses): Content-Length, chunked and read-to-close bodies, interim
1xx responses skipped. Limits, each with its error below: a status or header line over
:data:`MAX_LINE` bytes, more than :data:`MAX_HEADERS` header lines, or a header section still
incomplete after :data:`MAX_HEAD` bytes is :class:`ResponseTooLarge`; a body is kept up to
``max_body`` bytes and anything past it is not waited for (``truncated``). The head cap
counts every byte before the final head is complete, interim heads included, however the
reads split them: the parser is never fed past the cap while the head is open.

The connection keeps no response state between exchanges beyond the parser; whether it may
be reused is :attr:`Connection.reusable` once the future is done (the server asked to keep
it, nothing was cut off, nothing arrived unasked). The pool owns opening, reusing and
closing; this class only reports a loss to ``on_lost``.
"""

from __future__ import annotations

import asyncio
import select
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, cast

import httptools

__all__ = [
    "MAX_HEAD",
    "MAX_HEADERS",
    "MAX_LINE",
    "Connection",
    "MalformedResponse",
    "Response",
    "ResponseTooLarge",
    "ServerDisconnected",
]

MAX_LINE: Final = 8190
"""Longest status line or header line (name and value), as aiohttp's default."""
MAX_HEADERS: Final = 128
"""Most header lines in one response head, as aiohttp's default."""
MAX_HEAD: Final = 65536
"""Most bytes of a response head (interim 1xx heads included), counted over every read."""

_POLL_IDLE_BAD: Final = getattr(select, "POLLIN", 1) | getattr(select, "POLLRDHUP", 0)


class ResponseTooLarge(Exception):
    """The response head is over a limit (error class ``too_large``)."""


class MalformedResponse(Exception):
    """The peer answered something that is not a valid HTTP/1.1 response (``protocol``)."""


class ServerDisconnected(ConnectionError):
    """The connection ended before a full response arrived (``connect``)."""


@dataclass(frozen=True, slots=True)
class Response:
    """The parts of a response the webhook client reports."""

    status: int
    body: bytes
    truncated: bool
    location: bytes | None
    retry_after: bytes | None


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; one exchange at a time. Used from its loop only."""

    def __init__(self, on_lost: Callable[[Connection], None]) -> None:
        self._on_lost = on_lost
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._poll: select.poll | None = None
        self._waiter: asyncio.Future[Response] | None = None
        self.lost = False
        self.reusable = False
        self.idle_since = 0.0
        self.key: object = None
        """Set by the pool: the (scheme, host, port) this connection serves."""
        self._head_bytes = 0
        self._reset(0)

    def _reset(self, max_body: int) -> None:
        """Ready for a response head; the head byte count runs on across interim heads."""
        self._max_body = max_body
        self._status = 0
        self._head_done = False
        self._header_count = 0
        self._framed = False
        self._location: bytes | None = None
        self._retry_after: bytes | None = None
        self._body: list[bytes] = []
        self._body_len = 0
        self._truncated = False

    # -- used by the pool and the client ---------------------------------------------------
    def exchange(self, request: bytes, max_body: int) -> asyncio.Future[Response]:
        """Send ``request``; the future gets the response or the error that ended it. The
        caller must :meth:`abort` the connection if it stops waiting for the future."""
        assert self._transport is not None and (self._waiter is None or self._waiter.done())
        self._reset(max_body)
        self._head_bytes = 0
        self.reusable = False
        self._waiter = self._loop.create_future()
        self._transport.write(request)
        return self._waiter

    def looks_alive(self) -> bool:
        """True if an idle connection may carry a request: not lost, and the socket shows
        nothing to read (a server closing an idle connection shows EOF or an alert)."""
        if self.lost or self._transport is None or self._transport.is_closing():
            return False
        return self._poll is None or not self._poll.poll(0)

    def abort(self) -> None:
        """Drop the connection now (no graceful close); idempotent."""
        self.reusable = False
        if self._transport is not None:
            self._transport.abort()

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        sock = transport.get_extra_info("socket")
        if sock is not None and hasattr(select, "poll"):
            self._poll = select.poll()
            self._poll.register(sock.fileno(), _POLL_IDLE_BAD)

    def data_received(self, data: bytes) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            self.abort()  # bytes nobody asked for: the stream is out of step
            return
        while not self._head_done:
            # The head must end within MAX_HEAD bytes, counted over every read (interim 1xx
            # heads included): parse no further than the cap while it is still open.
            room = MAX_HEAD - self._head_bytes
            if room <= 0:
                self._fail(ResponseTooLarge(f"response head over {MAX_HEAD} bytes"))
                return
            piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            if not self._feed(piece) or waiter.done() or not data:
                return
        if data:
            self._feed(data)

    def _feed(self, data: bytes) -> bool:
        """Parse ``data``; False once the exchange failed on it."""
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            context = exc.__context__
            self._fail(context if isinstance(context, ResponseTooLarge) else MalformedResponse())
        except httptools.HttpParserUpgrade:
            self._fail(MalformedResponse("an upgrade was never asked for"))
        except httptools.HttpParserError as exc:
            self._fail(MalformedResponse(str(exc)))
        else:
            return True
        return False

    def eof_received(self) -> bool:
        self._ended(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.reusable = False
        self._ended(exc)
        self._on_lost(self)

    # -- httptools callbacks ---------------------------------------------------------------
    def on_message_begin(self) -> None:
        if self._waiter is None or self._waiter.done():
            self.abort()  # a second response to one request

    def on_status(self, status: bytes) -> None:
        if len(status) > MAX_LINE:
            raise ResponseTooLarge("status line too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if len(name) + len(value) > MAX_LINE or self._header_count > MAX_HEADERS:
            raise ResponseTooLarge("header line too long or too many header lines")
        size = len(name)  # the first of a repeated header counts, as aiohttp's .get()
        if size == 8 and self._location is None and name.lower() == b"location":
            self._location = value
        elif size == 11 and self._retry_after is None and name.lower() == b"retry-after":
            self._retry_after = value
        elif size in (14, 17) and name.lower() in (b"content-length", b"transfer-encoding"):
            self._framed = True

    def on_headers_complete(self) -> None:
        self._head_done = True
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        if self._truncated:
            return
        room = self._max_body - self._body_len
        if len(body) > room:
            self._body.append(body[:room])
            self._body_len = self._max_body
            self._truncated = True
            self._finish(keep_alive=False)  # not waiting for the rest; the connection goes
            return
        self._body.append(body)
        self._body_len += len(body)

    def on_message_complete(self) -> None:
        if self._status < 200:  # an interim response (100 Continue, 103): the real one follows
            self._reset(self._max_body)
            return
        if not self._truncated:
            self._finish(keep_alive=self._parser.should_keep_alive())

    # -- outcomes ----------------------------------------------------------------------------
    def _finish(self, *, keep_alive: bool) -> None:
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        self.reusable = keep_alive and not self.lost
        waiter.set_result(
            Response(
                self._status,
                b"".join(self._body),
                self._truncated,
                self._location,
                self._retry_after,
            )
        )
        if not keep_alive:
            self.abort()

    def _fail(self, exc: BaseException) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.abort()

    def _ended(self, exc: Exception | None) -> None:
        """The peer closed (or the transport died): a read-to-close body is complete now;
        anything else still pending ended early."""
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if exc is None and self._head_done and not self._framed and self._status >= 200:
            self._finish(keep_alive=False)
        else:
            self._fail(exc or ServerDisconnected("the server closed before a full response"))
