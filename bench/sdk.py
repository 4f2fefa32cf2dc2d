"""Benchmark of the Python SDK: what it adds over raw httpx, and how the pool size matters.

Run: .venv/bin/python bench/sdk.py [--runs 5] [--requests 2000]

A minimal HTTP server in its own process answers every request with the same fire (the
contract's example: two attempts). Prints medians over the runs of:
* decode: microseconds to turn that JSON into a `Fire` (the SDK's per-response work)
* sync:   requests/s, one thread, raw `httpx.Client` vs `cronhook.Client.fires.get`
* async:  requests/s with 8 requests in flight, raw `httpx.AsyncClient` vs
          `cronhook.AsyncClient.fires.get` (default pool: 10 connections), and the SDK with
          64 in flight on a 64-connection pool
The box is shared and small: read the figures as ratios, not capacities.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import statistics
import time
from collections.abc import Awaitable, Callable

import httpx

import cronhook
from cronhook import _protocol

FIRE = {
    "id": "fire_0hd4k2m9q8r7s6t5v4w3x2y1z0",
    "schedule_id": "sch_01hv3m2k8q7z9x4c6b5n2r1t0y",
    "kind": "cron",
    "scheduled_at": "2030-01-02T01:30:00.000Z",
    "status": "succeeded",
    "created_at": "2030-01-02T01:30:00.002Z",
    "updated_at": "2030-01-02T01:30:05.310Z",
    "next_attempt_at": None,
    "attempt_count": 2,
    "attempts": [
        {"number": 1, "started_at": "2030-01-02T01:30:00.010Z", "duration_ms": 30001.2,
         "status_code": None, "error": "timeout", "response_excerpt": "", "outcome": "retry",
         "replay": False},
        {"number": 2, "started_at": "2030-01-02T01:30:35.100Z", "duration_ms": 48.3,
         "status_code": 200, "error": None, "response_excerpt": "ok", "outcome": "success",
         "replay": False},
    ],
}  # fmt: skip
BODY = json.dumps(FIRE).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
    + BODY
)


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while await reader.readuntil(b"\r\n\r\n"):  # GETs only: no body to read
            writer.write(RESPONSE)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


def _server(sock: socket.socket) -> None:
    async def main() -> None:
        server = await asyncio.start_server(_serve, sock=sock)
        await server.serve_forever()

    asyncio.run(main())


def decode_us(n: int) -> float:
    parse = _protocol.model(cronhook.Fire)
    response = httpx.Response(200, content=BODY, request=httpx.Request("GET", "http://x/"))
    started = time.perf_counter()
    for _ in range(n):
        parse(response)
    return (time.perf_counter() - started) / n * 1e6


def sync_rates(url: str, n: int) -> tuple[float, float]:
    with httpx.Client() as raw:
        started = time.perf_counter()
        for _ in range(n):
            raw.get(f"{url}/v1/fires/fire_1").json()
        raw_rate = n / (time.perf_counter() - started)
    with cronhook.Client(url, "chk_bench") as sdk:
        started = time.perf_counter()
        for _ in range(n):
            sdk.fires.get("fire_1")
        sdk_rate = n / (time.perf_counter() - started)
    return raw_rate, sdk_rate


async def _rate(n: int, in_flight: int, one: Callable[[], Awaitable[object]]) -> float:
    async def worker(count: int) -> None:
        for _ in range(count):
            await one()

    started = time.perf_counter()
    await asyncio.gather(*(worker(n // in_flight) for _ in range(in_flight)))
    return (n // in_flight * in_flight) / (time.perf_counter() - started)


async def async_rates(url: str, n: int) -> tuple[float, float, float]:
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=10)) as raw:
        raw_rate = await _rate(n, 8, lambda: raw.get(f"{url}/v1/fires/fire_1"))
    async with cronhook.AsyncClient(url, "chk_bench") as sdk:
        sdk_rate = await _rate(n, 8, lambda: sdk.fires.get("fire_1"))
    big = httpx.AsyncClient(limits=httpx.Limits(max_connections=64))
    async with big, cronhook.AsyncClient(url, "chk_bench", http_client=big) as sdk64:
        wide_rate = await _rate(n, 64, lambda: sdk64.fires.get("fire_1"))
    return raw_rate, sdk_rate, wide_rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = multiprocessing.get_context("spawn").Process(target=_server, args=(sock,))
    server.start()
    try:
        rows: list[tuple[float, ...]] = []
        for _ in range(args.runs):
            rows.append(
                (
                    decode_us(2000),
                    *sync_rates(url, args.requests),
                    *asyncio.run(async_rates(url, args.requests)),
                )
            )
    finally:
        server.terminate()
        server.join(5)
    med = [statistics.median(col) for col in zip(*rows, strict=True)]
    print(f"medians of {args.runs} runs, {args.requests} requests each")
    print(f"decode one Fire (2 attempts)          {med[0]:8.1f} us")
    print(f"sync   raw httpx.Client               {med[1]:8.0f} req/s")
    print(f"sync   cronhook.Client                {med[2]:8.0f} req/s")
    print(f"async  raw httpx, 8 in flight         {med[3]:8.0f} req/s")
    print(f"async  cronhook, 8 in flight, pool 10 {med[4]:8.0f} req/s")
    print(f"async  cronhook, 64 in flight, pool 64 {med[5]:7.0f} req/s")


if __name__ == "__main__":
    main()
