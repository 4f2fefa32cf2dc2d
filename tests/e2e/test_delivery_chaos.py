"""Chaos for delivery, counting every fire id at the receiver: invokers SIGKILLed at random
and restarted; RabbitMQ stopped and started mid-run. Short bounded runs here; longer ones
are marked slow (``pytest -m slow``).

The RabbitMQ restart uses ``rabbitmqctl stop_app`` / ``start_app`` on the local broker, so it
runs in CI (``CI=true``) or when ``CRONHOOK_TEST_BROKER_RESTART=1`` is set: on a machine
shared with other test runs it would disturb them. It always starts the broker again.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from app.models import Fire, Tenant
from tests.conftest import IN_CI
from tests.delivery.world import now_ms
from tests.e2e.plant import Plant, duplicates, plant
from tests.receiver import Receiver

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]

PATH = "/slow/0.1"


@pytest.fixture
async def p(redis_url: str, amqp_url: str, prefix: str, queue_name: str) -> AsyncIterator[Plant]:
    async with plant(redis_url, amqp_url, prefix, queue_name) as running:
        yield running


@pytest.fixture
async def rx() -> AsyncIterator[Receiver]:
    async with Receiver() as receiver:
        yield receiver


@dataclass
class Run:
    tenant: Tenant
    fires: list[Fire]


async def _spread(p: Plant, rx: Receiver, count: int, seconds: float) -> Run:
    """``count`` one-off fires due evenly over ``seconds``, starting a second from now."""
    tenant = await p.w.tenant()
    start = now_ms() + 1000
    step = seconds * 1000 / count
    fires = [
        await p.w.message(tenant, rx.url(PATH), due_ms=start + int(i * step), deadline=2)
        for i in range(count)
    ]
    return Run(tenant, fires)


async def _check(p: Plant, rx: Receiver, run: Run, label: str, within: float) -> None:
    ids = [f.id for f in run.fires]
    done = await p.w.settled(run.tenant.id, ids, within=within)
    hits = rx.requests_to(PATH)
    seen = {h.headers["webhook-id"] for h in hits}
    doubled = duplicates(hits)
    print(
        f"\n{label}: {len(ids)} fires, {len(seen & set(ids))} delivered, "
        f"{len(hits)} requests, {len(doubled)} fire ids seen twice or more (same webhook-id)"
    )
    assert set(ids) - seen == set()  # no fire lost
    assert {f.status for f in done} == {"succeeded"}
    assert [len(f.attempts) for f in done] == [1] * len(ids)  # a lost attempt was redone


async def _kill_invokers(p: Plant, count: int, seconds: float, every: float) -> int:
    procs = [await p.invoker() for _ in range(count)]
    rng = random.Random(5)
    kills = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await asyncio.sleep(every * rng.uniform(0.5, 1.5))
        i = rng.randrange(len(procs))
        procs[i].kill(signal.SIGKILL)
        kills += 1
        procs[i] = await p.invoker()
    return kills


async def _chaos(p: Plant, rx: Receiver, count: int, seconds: float) -> None:
    await p.dispatcher()
    run = await _spread(p, rx, count, seconds)
    kills = await _kill_invokers(p, 3, seconds + 1, every=1.5)
    await _check(p, rx, run, f"SIGKILL chaos ({kills} invokers killed)", within=60)


async def test_invokers_killed_at_random_lose_no_fire(p: Plant, rx: Receiver) -> None:
    await _chaos(p, rx, 150, 8)


@pytest.mark.slow
async def test_invokers_killed_at_random_for_a_minute_lose_no_fire(p: Plant, rx: Receiver) -> None:
    await _chaos(p, rx, 1500, 60)


# -- RabbitMQ restarted mid-run ------------------------------------------------------------
def _broker_restart_allowed() -> None:
    if not (IN_CI or os.environ.get("CRONHOOK_TEST_BROKER_RESTART") == "1"):
        pytest.skip(
            "restarts the shared RabbitMQ: runs in CI or with CRONHOOK_TEST_BROKER_RESTART=1"
        )
    if shutil.which("rabbitmqctl") is None:
        if IN_CI:
            pytest.fail("rabbitmqctl is needed in CI to restart the broker")
        pytest.skip("rabbitmqctl is not installed")


async def _rabbitmqctl(*args: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        "rabbitmqctl", *args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    await asyncio.wait_for(proc.wait(), 120)


async def _restart_broker(after: float, down: float) -> None:
    await asyncio.sleep(after)
    try:
        await _rabbitmqctl("stop_app")
        await asyncio.sleep(down)
    finally:
        await _rabbitmqctl("start_app")
        await _rabbitmqctl("await_startup")


async def _broker_restart(p: Plant, rx: Receiver, count: int, seconds: float) -> None:
    await p.dispatcher()
    await p.invoker()
    await p.invoker()
    run = await _spread(p, rx, count, seconds)
    started = time.monotonic()
    await _restart_broker(after=seconds / 3, down=3)
    print(f"\nbroker back {time.monotonic() - started:.1f} s into the run")
    await _check(p, rx, run, "RabbitMQ stop_app/start_app", within=90)


async def test_rabbitmq_restarted_mid_run_loses_no_fire(p: Plant, rx: Receiver) -> None:
    _broker_restart_allowed()
    await _broker_restart(p, rx, 120, 9)


@pytest.mark.slow
async def test_rabbitmq_restarted_mid_run_under_load_loses_no_fire(p: Plant, rx: Receiver) -> None:
    _broker_restart_allowed()
    await _broker_restart(p, rx, 1200, 30)
