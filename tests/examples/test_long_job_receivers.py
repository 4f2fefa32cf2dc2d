"""The long-job example receivers (Python, Node.js) against separate api, dispatcher and
invoker processes on the real Redis and RabbitMQ: each verifies the delivery and its job
headers, answers 202, reports progress from the background and then its result; the fire
ends succeeded with that result."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.conftest import delete_prefix
from tests.e2e.flow import onboard
from tests.e2e.procs import Fleet, base_env, fleet, wait_http
from tests.e2e.test_processes import _delete_queues
from tests.examples.receivers import EXAMPLES, REPO, Command, ReceiverProcess

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]


@pytest.fixture
async def api_fleet(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str, free_port: int
) -> AsyncIterator[tuple[Fleet, str]]:
    base = f"http://127.0.0.1:{free_port}"
    env = base_env(
        CRONHOOK_REDIS_URL=redis_url,
        CRONHOOK_AMQP_URL=amqp_url,
        CRONHOOK_PREFIX=prefix,
        CRONHOOK_QUEUE=queue_name,
        CRONHOOK_ADMIN_TOKEN=secrets.token_urlsafe(16),
        CRONHOOK_PORT=str(free_port),
        CRONHOOK_PUBLIC_URL=base,
        CRONHOOK_ALLOW_PRIVATE_TARGETS="true",
    )
    async with fleet(env) as f:
        api = f.start("api")
        f.start("dispatcher")
        f.start("invoker")
        await wait_http(f"{base}/healthz", proc=api)
        yield f, base
    await delete_prefix(redis_url, prefix)
    await _delete_queues(amqp_url, queue_name)


def _command(name: str, node_command: Command | None) -> Command:
    if name == "python":
        argv = [sys.executable, str(EXAMPLES / "python_long_job.py")]
        return argv, REPO, {"PYTHONPATH": str(REPO / "sdk")}
    assert node_command is not None
    node = node_command[0][0]
    return [node, "long_job.js"], EXAMPLES / "node", {}


async def _fire_until(api: httpx.AsyncClient, key: str, fid: str, status: str) -> dict[str, Any]:
    for _ in range(300):
        r = await api.get(f"/v1/fires/{fid}", headers={"Authorization": f"Bearer {key}"})
        fire: dict[str, Any] = r.json()
        if fire["status"] == status:
            return fire
        await asyncio.sleep(0.1)
    raise AssertionError(f"fire {fid} is {fire['status']}, not {status}: {fire}")


@pytest.mark.parametrize("name", ["python", "node"])
async def test_the_long_job_example_reports_and_the_fire_succeeds(
    api_fleet: tuple[Fleet, str], name: str, request: pytest.FixtureRequest
) -> None:
    _, base = api_fleet
    node = request.getfixturevalue("node_command") if name == "node" else None
    async with httpx.AsyncClient(base_url=base, timeout=10) as api:
        tenant = await onboard(api, api_fleet[0].env["CRONHOOK_ADMIN_TOKEN"])
        env = {"CRONHOOK_API_URL": base, "JOB_STEPS": "2", "JOB_STEP_SECONDS": "0.3"}
        receiver = ReceiverProcess(
            name, _command(name, node), secret=tenant["signing_secret"], env=env
        )
        try:
            target = {
                "url": f"{receiver.url}/report",
                "job": {"timeout_seconds": 60, "heartbeat_seconds": 10},
            }
            auth = {"Authorization": f"Bearer {tenant['api_key']}"}
            r = await api.post("/v1/messages", json={"target": target}, headers=auth)
            assert r.status_code == 202, r.text
            fid = r.json()["id"]
            fire = await _fire_until(api, tenant["api_key"], fid, "succeeded")
            events = [receiver.next_record() for _ in range(4)]
        finally:
            receiver.stop()
    assert [(e["event"], e["webhook_id"]) for e in events] == [
        ("accepted", fid),
        ("progress", fid),
        ("progress", fid),
        ("completed", fid),
    ]
    assert fire["job"]["result"] == {"steps": 2}
    assert fire["job"]["heartbeats"] == 2
    assert [(a["status_code"], a["outcome"]) for a in fire["attempts"]] == [(202, "success")]
