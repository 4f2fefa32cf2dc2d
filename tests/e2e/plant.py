"""A delivery plant for process tests: dispatcher and invoker processes on the real Redis and
RabbitMQ, fed and inspected from the test process through a ``World`` (same prefix, queue
and shards), with a hostile receiver in the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tests.delivery.world import World, world
from tests.e2e.procs import Fleet, Proc, base_env, fleet
from tests.receiver import RecordedRequest

DELIVERY_LIMIT = 50


@dataclass
class Plant:
    w: World
    f: Fleet

    async def invoker(self, **env: str) -> Proc:
        """Start an invoker process and wait until it consumes."""
        saved = dict(self.f.env)
        self.f.env.update(env)
        try:
            proc = self.f.start("invoker")
        finally:
            self.f.env.clear()
            self.f.env.update(saved)
        await wait_log(proc, "invoker consuming")
        return proc

    async def dispatcher(self) -> Proc:
        proc = self.f.start("dispatcher")
        await wait_log(proc, "dispatcher started")
        return proc


async def wait_log(proc: Proc, text: str, *, within: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while text not in proc.output():
        if proc.popen.poll() is not None:
            raise AssertionError(f"{proc.role} exited:\n{proc.output()[-3000:]}")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{proc.role} did not log {text!r}:\n{proc.output()[-3000:]}")
        await asyncio.sleep(0.05)


async def wait_exit(proc: Proc, *, within: float) -> int | None:
    deadline = asyncio.get_running_loop().time() + within
    while proc.popen.poll() is None:
        if asyncio.get_running_loop().time() > deadline:
            return None
        await asyncio.sleep(0.02)
    return proc.popen.returncode


def duplicates(hits: list[RecordedRequest]) -> dict[str, int]:
    """webhook-id -> times seen, for ids seen more than once."""
    counts = Counter(h.headers["webhook-id"] for h in hits)
    return {k: v for k, v in counts.items() if v > 1}


@contextlib.asynccontextmanager
async def plant(
    redis_url: str, amqp_url: str, prefix: str, queue: str, **env: str
) -> AsyncIterator[Plant]:
    async with world(redis_url, amqp_url, prefix, queue, delivery_limit=DELIVERY_LIMIT) as w:
        settings = {
            "CRONHOOK_REDIS_URL": redis_url,
            "CRONHOOK_AMQP_URL": amqp_url,
            "CRONHOOK_PREFIX": prefix,
            "CRONHOOK_QUEUE": queue,
            "CRONHOOK_SHARDS": "4",
            "CRONHOOK_REDIS_TIMEOUT": "1",
            "CRONHOOK_LEASE_SECONDS": "5",
            "CRONHOOK_POLL_SECONDS": "0.05",
            "CRONHOOK_ALLOW_PRIVATE_TARGETS": "true",
            "CRONHOOK_DELIVERY_LIMIT": str(DELIVERY_LIMIT),
            "CRONHOOK_INVOKER_CONCURRENCY": "16",
            "CRONHOOK_SHUTDOWN_SECONDS": "5",
            **env,
        }
        async with fleet(base_env(**settings)) as f:
            yield Plant(w, f)
