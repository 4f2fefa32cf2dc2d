"""Requests/s of the webhook client against a fast loopback receiver, next to the ceilings.

Cases, each at concurrency 8 and 64 (``--concurrency``):

- ``httpx``          a bare ``httpx.AsyncClient`` loop (the SDK's client; issue 5's baseline)
- ``aiohttp``        a bare ``aiohttp.ClientSession`` loop (the raw ceiling of the stack)
- ``WebhookClient``  ``dispatcher.http.client.WebhookClient.send`` as the invoker calls it
  (``allow_private=True``: the receiver is on loopback)

The receiver is a minimal keep-alive HTTP/1.1 server in a separate process, so the client
under test has its loop to itself. Every case runs ``--runs`` times for ``--duration``
seconds after a short warm-up; the median is printed, with WebhookClient/httpx and
WebhookClient/aiohttp ratios, and the client's CPU per request (this process's user + system
time over the measured window divided by the requests: the receiver runs elsewhere, so it is
the client stack's cost and, unlike requests/s, barely moved by other load on the box).
Loopback only; bounded in time (~40 s with the defaults).

    .venv/bin/python bench/http_ceiling.py [--duration 1.5] [--runs 3] [--concurrency 8 64]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import statistics
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx

from dispatcher.http.client import OutboundRequest, WebhookClient

BODY = (
    b'{"type":"schedule.fired","schedule_id":"sch_01","data":{"n":1,"pad":"' + b"x" * 120 + b'"}}'
)
HEADERS = {
    "Content-Type": "application/json",
    "webhook-id": "fire_01HZX0000000000000000000",
    "webhook-timestamp": "1700000000",
    "webhook-signature": "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
}
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
Send = Callable[[], Awaitable[int]]


# -- the receiver (child process) ----------------------------------------------------------
class _FastHTTP(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            length = 0
            if (at := head.find(b"\ncontent-length:")) >= 0:
                length = int(head[at + 16 :].split(b"\r\n", 1)[0])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            assert self.transport is not None
            self.transport.write(RESPONSE)


def _serve(port_out: multiprocessing.connection.Connection) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_FastHTTP, "127.0.0.1", 0, backlog=1024)
        port_out.send(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


# -- the load loop -------------------------------------------------------------------------
async def _measure(
    send: Send, concurrency: int, duration: float, warmup: float
) -> tuple[float, float]:
    """(requests/s, CPU microseconds per request) over the measured window."""
    done = 0
    measuring = False
    stop_at = time.perf_counter() + warmup + duration

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            status = await send()
            if status != 200:
                raise RuntimeError(f"unexpected status {status}")
            if measuring:
                done += 1

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await asyncio.sleep(warmup)
    measuring, started, cpu0 = True, time.perf_counter(), time.process_time()
    await asyncio.gather(*tasks)
    cpu = time.process_time() - cpu0
    return done / (time.perf_counter() - started), cpu * 1e6 / max(done, 1)


async def measure_case(
    name: str, url: str, concurrency: int, duration: float, warmup: float
) -> tuple[float, float]:
    """(requests/s, CPU µs/request) of one client (httpx, aiohttp or WebhookClient)."""
    if name == "httpx":
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits) as hx:

            async def send_httpx() -> int:
                return (await hx.post(url, content=BODY, headers=HEADERS)).status_code

            return await _measure(send_httpx, concurrency, duration, warmup)
    if name == "aiohttp":
        connector = aiohttp.TCPConnector(limit=concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:

            async def send_aiohttp() -> int:
                async with session.post(url, data=BODY, headers=HEADERS) as response:
                    await response.read()
                    return response.status

            return await _measure(send_aiohttp, concurrency, duration, warmup)
    client = WebhookClient(max_connections=concurrency)
    request = OutboundRequest("POST", url, HEADERS, BODY, timeout_seconds=10.0)
    try:

        async def send_webhook() -> int:
            result = await client.send(request, allow_private=True)
            return result.status_code or -1

        return await _measure(send_webhook, concurrency, duration, warmup)
    finally:
        await client.aclose()


async def _run(args: argparse.Namespace, url: str) -> None:
    names = ["httpx", "aiohttp", "WebhookClient"]
    print(f"receiver {url}; {args.runs} runs x {args.duration}s per case; medians")
    print(f"{'client':<15}{'conc':>6}{'req/s':>10}{'CPU us/req':>12}   runs (req/s, us/req)")
    for concurrency in args.concurrency:
        medians: dict[str, float] = {}
        for name in names:
            runs = [
                await measure_case(name, url, concurrency, args.duration, args.warmup)
                for _ in range(args.runs)
            ]
            medians[name] = statistics.median(rate for rate, _ in runs)
            cpu = statistics.median(us for _, us in runs)
            shown = " ".join(f"{rate:,.0f}/{us:.0f}" for rate, us in runs)
            print(
                f"{name:<15}{concurrency:>6}{medians[name]:>10,.0f}{cpu:>12.0f}   {shown}",
                flush=True,
            )
        webhook = medians["WebhookClient"]
        print(
            f"{'':<15}{concurrency:>6}  WebhookClient/httpx = {webhook / medians['httpx']:.1f}x, "
            f"WebhookClient/aiohttp = {webhook / medians['aiohttp']:.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=1.5, help="seconds measured per run")
    parser.add_argument("--warmup", type=float, default=0.3, help="seconds before measuring")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 64])
    args = parser.parse_args()

    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_serve, args=(child,), daemon=True)
    server.start()
    try:
        if not parent.poll(10):
            raise SystemExit("receiver did not start")
        port = parent.recv()
        asyncio.run(_run(args, f"http://127.0.0.1:{port}/hook"))
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
