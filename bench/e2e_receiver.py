"""The benchmark's webhook receiver: a minimal keep-alive HTTP/1.1 server in its own
process that answers 200 at once and notes, per request, the arrival time on its own
clock, the ``webhook-id`` and the ``cronhook-scheduled-at`` instant.

The parent talks to it over a pipe: ``count`` (requests seen so far, cheap, for the
progress bar) and ``take`` (every record since the last take, then forgotten).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
Record = tuple[float, str, float]  # arrival (epoch s), webhook-id, scheduled (epoch s)


def _header(head: bytes, lower: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` (lower case), found in ``lower``, cut from ``head``."""
    at = lower.find(b"\n" + name + b":")
    if at < 0:
        return None
    return head[at + len(name) + 2 :].split(b"\r\n", 1)[0].strip()


def _scheduled(raw: bytes | None) -> float:
    if raw is None:
        return 0.0
    try:
        return datetime.fromisoformat(raw.decode().replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


class _Sink:
    def __init__(self) -> None:
        self.records: list[Record] = []
        self.count = 0


class _FastHTTP(asyncio.Protocol):
    def __init__(self, sink: _Sink) -> None:
        self.sink = sink
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end]
            lower = head.lower()
            length = int(_header(head, lower, b"content-length") or 0)
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            arrived = time.time()
            self.buffer = self.buffer[total:]
            fire_id = _header(head, lower, b"webhook-id")
            if fire_id is not None:
                at = _scheduled(_header(head, lower, b"cronhook-scheduled-at"))
                self.sink.records.append((arrived, fire_id.decode(), at))
            self.sink.count += 1
            assert self.transport is not None
            self.transport.write(RESPONSE)


def _serve(conn: Connection) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        sink = _Sink()
        server = await loop.create_server(lambda: _FastHTTP(sink), "127.0.0.1", 0, backlog=4096)
        conn.send(server.sockets[0].getsockname()[1])
        done = asyncio.Event()

        def on_command() -> None:
            try:
                command = conn.recv()
            except EOFError:
                done.set()
                return
            if command == "count":
                conn.send(sink.count)
            elif command == "take":
                taken, sink.records = sink.records, []
                conn.send(taken)
            else:
                done.set()

        loop.add_reader(conn.fileno(), on_command)
        await done.wait()

    asyncio.run(main())


class ReceiverProcess:
    """Starts the receiver in a child process; ``url`` is where to send webhooks."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc: Any = ctx.Process(target=_serve, args=(child,), daemon=True)
        self.port = 0

    def start(self) -> None:
        self._proc.start()
        if not self._conn.poll(15):
            raise SystemExit("the receiver did not start")
        self.port = int(self._conn.recv())

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def count(self) -> int:
        self._conn.send("count")
        return int(self._conn.recv())

    def take(self) -> list[Record]:
        self._conn.send("take")
        records: list[Record] = self._conn.recv()
        return records

    def stop(self) -> None:
        if self._proc.is_alive():
            self._conn.send("stop")
            self._proc.join(5)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)
