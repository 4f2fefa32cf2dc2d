"""The jobs benchmark's endpoint: a keep-alive HTTP/1.1 server in its own process that
answers every delivery 202 at once and then, as the job, reports one progress and the
completion to the delivery's job URL (aiohttp, with the job token), each job finishing at a
random moment between a third of ``spread`` and ``spread`` seconds after its delivery.

The parent asks over a pipe: ``stats`` -> (deliveries, completions answered 200, other
answers, errors, distinct (webhook-id, attempt) pairs delivered).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
from multiprocessing.connection import Connection
from typing import Any

import aiohttp

RESPONSE = b"HTTP/1.1 202 Accepted\r\nContent-Length: 8\r\nContent-Type: text/plain\r\n\r\naccepted"


def _header(head: bytes, lower: bytes, name: bytes) -> str | None:
    at = lower.find(b"\n" + name + b":")
    if at < 0:
        return None
    return head[at + len(name) + 2 :].split(b"\r\n", 1)[0].strip().decode()


class _Jobs:
    def __init__(self, spread: float, concurrency: int) -> None:
        self.spread = spread
        self.deliveries = self.completed = self.other = self.errors = 0
        self.pairs: set[tuple[str, str]] = set()
        self.gate = asyncio.Semaphore(concurrency)
        self.session: aiohttp.ClientSession | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, url: str, token: str) -> None:
        task = asyncio.create_task(self._run(url, token))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _post(self, url: str, token: str, body: dict[str, Any]) -> int:
        assert self.session is not None
        for _ in range(20):
            try:
                async with (
                    self.gate,
                    self.session.post(
                        url, json=body, headers={"Authorization": f"Bearer {token}"}
                    ) as r,
                ):
                    await r.read()
                    if r.status < 500:
                        return r.status
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.5)
        return 0

    async def _run(self, url: str, token: str) -> None:
        end = random.uniform(self.spread / 3, self.spread)
        await asyncio.sleep(end / 2)
        await self._post(f"{url}/progress", token, {"percent": 50})
        await asyncio.sleep(end / 2)
        status = await self._post(f"{url}/complete", token, {"status": "succeeded"})
        if status == 200:
            self.completed += 1
        elif status == 0:
            self.errors += 1
        else:
            self.other += 1


class _Endpoint(asyncio.Protocol):
    def __init__(self, jobs: _Jobs) -> None:
        self.jobs = jobs
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
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            url = _header(head, lower, b"cronhook-job-url")
            token = _header(head, lower, b"cronhook-job-token")
            self.jobs.deliveries += 1
            fire = _header(head, lower, b"webhook-id") or ""
            self.jobs.pairs.add((fire, _header(head, lower, b"cronhook-attempt") or ""))
            if url and token:
                self.jobs.start(url, token)
            assert self.transport is not None
            self.transport.write(RESPONSE)


def _serve(conn: Connection, spread: float, concurrency: int) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        jobs = _Jobs(spread, concurrency)
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            jobs.session = session
            server = await loop.create_server(lambda: _Endpoint(jobs), "127.0.0.1", 0, backlog=4096)
            conn.send(server.sockets[0].getsockname()[1])
            done = asyncio.Event()

            def on_command() -> None:
                try:
                    command = conn.recv()
                except EOFError:
                    done.set()
                    return
                if command == "stats":
                    conn.send(
                        (jobs.deliveries, jobs.completed, jobs.other, jobs.errors, len(jobs.pairs))
                    )
                else:
                    done.set()

            loop.add_reader(conn.fileno(), on_command)
            await done.wait()

    asyncio.run(main())


class JobsReceiver:
    def __init__(self, spread: float, concurrency: int = 256) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc: Any = ctx.Process(target=_serve, args=(child, spread, concurrency), daemon=True)
        self.port = 0

    def start(self) -> None:
        self._proc.start()
        if not self._conn.poll(15):
            raise SystemExit("the receiver did not start")
        self.port = int(self._conn.recv())

    @property
    def pid(self) -> int:
        return int(self._proc.pid)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stats(self) -> tuple[int, int, int, int, int]:
        self._conn.send("stats")
        d, c, o, e, p = self._conn.recv()
        return int(d), int(c), int(o), int(e), int(p)

    def stop(self) -> None:
        if self._proc.is_alive():
            self._conn.send("stop")
            self._proc.join(5)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5)
