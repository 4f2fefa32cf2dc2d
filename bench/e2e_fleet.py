"""The benchmark's cronhook fleet: api, dispatcher and invoker as OS processes on the real
Redis and RabbitMQ, under a fresh key prefix and queue; and the API calls the bench makes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parents[1]
RAISED_LIMITS: dict[str, Any] = {
    "max_schedules": 10_000_000,
    "min_interval_seconds": 1,
    "max_concurrency": 100_000,
    "rate_limit": {"per_second": 100_000, "burst": 1_000_000},
    "allowed_private_targets": True,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class FleetConfig:
    redis_url: str
    amqp_url: str
    apis: int = 1
    dispatchers: int = 1
    invokers: int = 2
    concurrency: int = 128
    log_level: str = "INFO"
    event_loop: str = "auto"
    env: dict[str, str] = field(default_factory=dict)  # more CRONHOOK_* settings, every role


@dataclass
class Fleet:
    cfg: FleetConfig
    prefix: str = field(default_factory=lambda: f"bench{secrets.token_hex(4)}")
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    logdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cronhook-bench-")))
    procs: list[tuple[str, subprocess.Popen[bytes], int]] = field(default_factory=list)

    @property
    def queue(self) -> str:
        return f"{self.prefix}.fires"

    def _env(self, port: int, metrics_port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRONHOOK_")}
        env.update(
            CRONHOOK_REDIS_URL=self.cfg.redis_url,
            CRONHOOK_AMQP_URL=self.cfg.amqp_url,
            CRONHOOK_PREFIX=self.prefix,
            CRONHOOK_QUEUE=self.queue,
            CRONHOOK_ADMIN_TOKEN=self.admin_token,
            CRONHOOK_ALLOW_PRIVATE_TARGETS="true",
            CRONHOOK_INVOKER_CONCURRENCY=str(self.cfg.concurrency),
            CRONHOOK_LOG_LEVEL=self.cfg.log_level,
            CRONHOOK_EVENT_LOOP=self.cfg.event_loop,
            CRONHOOK_PORT=str(port),
            CRONHOOK_METRICS_PORT=str(metrics_port),
        )
        env.update(self.cfg.env)  # --set wins
        return env

    def _start(self, role: str) -> None:
        port = free_port()
        metrics_port = 0 if role == "api" else free_port()
        log = (self.logdir / f"{role}-{len(self.procs)}.log").open("wb")
        profile = os.environ.get("CRONHOOK_BENCH_PROFILE")  # a directory: cProfile each role
        prof = ["-m", "cProfile", "-o", f"{profile}/{role}-{len(self.procs)}.prof"]
        popen = subprocess.Popen(
            [sys.executable, *(prof if profile else []), "-m", "app.cli", role],
            env=self._env(port, metrics_port),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
        log.close()
        self.procs.append((role, popen, port if role == "api" else metrics_port))

    def start(self) -> None:
        for role, n in (
            ("api", self.cfg.apis),
            ("dispatcher", self.cfg.dispatchers),
            ("invoker", self.cfg.invokers),
        ):
            for _ in range(n):
                self._start(role)

    @property
    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for r, _, p in self.procs if r == "api"]

    @property
    def worker_urls(self) -> list[str]:
        return self.ops_urls("dispatcher") + self.ops_urls("invoker")

    def ops_urls(self, role: str) -> list[str]:
        return [f"http://127.0.0.1:{p}" for r, _, p in self.procs if r == role]

    async def ready(self, within: float = 30.0) -> None:
        urls = self.api_urls + self.ops_urls("dispatcher") + self.ops_urls("invoker")
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2) as c:
            for url in urls:
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await c.get(f"{url}/readyz")).status_code == 200:
                            break
                    self._check_alive()
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{url} not ready within {within}s; logs in {self.logdir}")
                    await asyncio.sleep(0.2)

    def _check_alive(self) -> None:
        for role, popen, _ in self.procs:
            if popen.poll() is not None:
                raise SystemExit(f"{role} exited ({popen.returncode}); logs in {self.logdir}")

    async def stop(self) -> None:
        for _, popen, _ in self.procs:
            with contextlib.suppress(ProcessLookupError):
                popen.send_signal(signal.SIGTERM)
        for _, popen, _ in self.procs:
            try:
                await asyncio.to_thread(popen.wait, 30)
            except subprocess.TimeoutExpired:
                popen.kill()

    async def cleanup(self) -> None:
        import aio_pika
        import redis.asyncio as aioredis

        r = aioredis.Redis.from_url(self.cfg.redis_url)
        try:
            async for key in r.scan_iter(match=f"{self.prefix}:*", count=5000):
                await r.unlink(key)
        finally:
            await r.aclose()
        conn = await aio_pika.connect(self.cfg.amqp_url)
        async with conn:
            channel = await conn.channel()
            for name in (self.queue, f"{self.queue}.dlq"):
                await channel.queue_delete(name)


# -- the API calls the bench makes ---------------------------------------------------------
async def create_tenant(api_url: str, admin_token: str) -> dict[str, Any]:
    """A tenant with limits raised far above what the bench sends."""
    auth = {"Authorization": f"Bearer {admin_token}"}
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as c:
        limits = RAISED_LIMITS | {"api_rate_limit": {"per_second": 100_000, "burst": 1_000_000}}
        r = await c.post("/v1/tenants", json={"name": "bench", "limits": limits}, headers=auth)
        if r.status_code == 422:  # a server without per-key API rate limits
            r = await c.post(
                "/v1/tenants", json={"name": "bench", "limits": RAISED_LIMITS}, headers=auth
            )
        r.raise_for_status()
        tenant: dict[str, Any] = r.json()
        return tenant


@dataclass
class Created:
    ids: list[str]
    latencies: list[float]  # seconds, per request
    elapsed: float  # seconds, wall clock for all of them


async def create_schedules(
    api_urls: Sequence[str], key: str, bodies: Sequence[dict[str, Any]], concurrency: int
) -> Created:
    """POST every body to /v1/schedules, ``concurrency`` at a time, spread over the APIs
    (aiohttp: httpx's pool is the bottleneck at this concurrency, see bench/http_ceiling.py).
    """
    auth = {"Authorization": f"Bearer {key}"}
    ids: list[str] = [""] * len(bodies)
    latencies: list[float] = []
    todo = iter(range(len(bodies)))
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=auth) as session:

        async def worker() -> None:
            for n in todo:
                url = f"{api_urls[n % len(api_urls)]}/v1/schedules"
                started = time.perf_counter()
                async with session.post(url, json=bodies[n]) as r:
                    text = await r.text()
                latencies.append(time.perf_counter() - started)
                if r.status != 201:
                    raise SystemExit(f"creating a schedule failed: {r.status} {text[:300]}")
                ids[n] = json.loads(text)["id"]

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Created(ids, latencies, time.perf_counter() - started)


async def delete_schedules(api_url: str, key: str, ids: Sequence[str], concurrency: int) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    todo = iter(ids)
    async with aiohttp.ClientSession(headers=auth) as session:

        async def worker() -> None:
            for sid in todo:
                async with session.delete(f"{api_url}/v1/schedules/{sid}") as r:
                    if r.status not in (204, 404):
                        raise SystemExit(f"deleting a schedule failed: {r.status}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def scrape(urls: Sequence[str]) -> str:
    """The /metrics text of every URL, concatenated."""
    async with aiohttp.ClientSession() as session:
        texts = []
        for url in urls:
            async with session.get(f"{url}/metrics") as r:
                texts.append(await r.text())
    return "\n".join(texts)
