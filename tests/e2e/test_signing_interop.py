"""Signing interop on real deliveries: an invoker process delivers to the Node.js receiver in
``examples/node`` (the npm ``standardwebhooks`` package) and to a loopback receiver checked
with the PyPI ``standardwebhooks`` package, during a secret rotation (two signatures) and
after it (the old secret no longer signs)."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.ids import new_signing_secret
from app.models import RetrySettings, SigningSecret
from tests.delivery.world import now_ms
from tests.e2e.plant import Plant, plant
from tests.examples.receivers import require_tool, run_step
from tests.receiver import Receiver

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]

NODE_DIR = Path(__file__).resolve().parents[2] / "examples" / "node"
NO_4XX_RETRY = RetrySettings(max_attempts=3, min_backoff_seconds=0.2, retry_on_4xx=False)
BODIES: list[Any] = [{"hello": "wörld", "n": [1, 2.5, None]}, "plain text ✓ \n"]


class NodeReceiver:
    """``node receiver.js`` with one signing secret, on an ephemeral loopback port."""

    def __init__(self, node: str, secret: str) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.proc = subprocess.Popen(
            [node, "receiver.js"],
            cwd=NODE_DIR,
            env={**os.environ, "CRONHOOK_SIGNING_SECRET": secret, "PORT": "0"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._pump, daemon=True).start()
        first = self.lines.get(timeout=30)
        assert first.startswith("listening 127.0.0.1:"), first
        self.url = f"http://127.0.0.1:{int(first.rsplit(':', 1)[1])}/hook"

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        with contextlib.suppress(ValueError, OSError):  # closed by stop()
            for line in self.proc.stdout:
                self.lines.put(line.rstrip("\n"))

    def records(self) -> list[dict[str, Any]]:
        out = []
        while not self.lines.empty():
            out.append(json.loads(self.lines.get_nowait()))
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture(scope="module")
def node() -> str:
    node, npm = require_tool("node"), require_tool("npm")
    if not (NODE_DIR / "node_modules" / "standardwebhooks").is_dir():
        run_step([npm, "ci", "--no-audit", "--no-fund"], NODE_DIR)
    return node


@pytest.fixture
def secrets() -> tuple[SigningSecret, SigningSecret]:
    now = now_ms()
    old = SigningSecret(new_signing_secret(), now - 86_400_000, expires_at=now + 3_600_000)
    return old, SigningSecret(new_signing_secret(), now)


@pytest.fixture
def receivers(
    node: str, secrets: tuple[SigningSecret, SigningSecret]
) -> Iterator[list[NodeReceiver]]:
    started = [NodeReceiver(node, s.secret) for s in secrets]
    yield started
    for r in started:
        r.stop()


@pytest.fixture
async def p(redis_url: str, amqp_url: str, prefix: str, queue_name: str) -> AsyncIterator[Plant]:
    async with plant(redis_url, amqp_url, prefix, queue_name) as running:
        await running.invoker()
        await running.dispatcher()
        yield running


async def test_official_libraries_verify_real_deliveries_during_a_rotation(
    p: Plant, receivers: list[NodeReceiver], secrets: tuple[SigningSecret, SigningSecret]
) -> None:
    # given a tenant mid-rotation: the old secret still signs beside the new one
    tenant = await p.w.tenant(secrets=secrets)
    async with Receiver() as rx:
        urls = [r.url for r in receivers] + [rx.url("/py")]
        fires = [
            await p.w.message(tenant, u, body=b, retry=NO_4XX_RETRY) for u in urls for b in BODIES
        ]
        # when they are delivered by the invoker process
        done = await p.w.settled(tenant.id, [f.id for f in fires], within=20)
        hits = rx.requests_to("/py")
    # then the Node receivers (one per secret) verified every delivery with the npm package
    assert [(f.status, f.attempts[0].status_code) for f in done] == [("succeeded", 200)] * 6
    for node_rx, mine in zip(receivers, (fires[0:2], fires[2:4]), strict=True):
        records = sorted(node_rx.records(), key=lambda r: str(r["body"]))
        assert [r["verified"] for r in records] == [True, True]
        assert {r["webhook_id"] for r in records} == {f.id for f in mine}
        assert [r["body"] for r in records] == [BODIES[1], '{"hello":"wörld","n":[1,2.5,null]}']
    # and the PyPI package verifies each delivery with either secret; two signatures were sent
    for hit in hits:
        assert len(hit.headers["webhook-signature"].split(" ")) == 2
        for s in secrets:
            Webhook(s.secret).verify(hit.body, dict(hit.headers), json_parse=False)
        with pytest.raises(WebhookVerificationError):
            Webhook(new_signing_secret()).verify(hit.body, dict(hit.headers), json_parse=False)


async def test_after_the_rotation_the_old_secret_no_longer_signs(
    p: Plant, receivers: list[NodeReceiver], secrets: tuple[SigningSecret, SigningSecret]
) -> None:
    old, new = secrets
    tenant = await p.w.tenant(secrets=(replace(old, expires_at=now_ms() - 1), new))
    on_old = await p.w.message(tenant, receivers[0].url, body=BODIES[0], retry=NO_4XX_RETRY)
    on_new = await p.w.message(tenant, receivers[1].url, body=BODIES[0], retry=NO_4XX_RETRY)
    by_id = {f.id: f for f in await p.w.settled(tenant.id, [on_old.id, on_new.id])}
    # the receiver that only knows the old secret refuses (401: not retried, 4xx opted out)
    assert [(a.status_code, a.outcome) for a in by_id[on_old.id].attempts] == [(401, "fail")]
    assert by_id[on_new.id].status == "succeeded"
    assert [r["verified"] for r in receivers[0].records()] == [False]


_NODE_VERIFY = """
const { Webhook } = require("standardwebhooks");
const [secret, body, headers] = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify(new Webhook(secret).verify(body, headers)));
"""


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
async def test_official_libraries_verify_a_default_body_with_their_defaults(
    p: Plant, node: str, secrets: tuple[SigningSecret, SigningSecret], method: str
) -> None:
    # given a one-off message whose target has no body, whatever its method
    tenant = await p.w.tenant(secrets=secrets[1:])
    async with Receiver() as rx:
        fire = await p.w.message(
            tenant, rx.url("/py"), body=None, retry=NO_4XX_RETRY, method=method
        )
        # when the invoker process delivers it
        [done] = await p.w.settled(tenant.id, [fire.id], within=20)
        [hit] = rx.requests_to("/py")
    assert done.status == "succeeded" and hit.method == method
    # then both official libraries verify it with their defaults, which parse JSON
    document = Webhook(secrets[1].secret).verify(hit.body, dict(hit.headers))
    stdin = json.dumps([secrets[1].secret, hit.body.decode(), dict(hit.headers)])
    assert json.loads(_node_verify(node, stdin)) == document
    assert document == {
        "type": "cronhook.fire",
        "fire_id": fire.id,
        "schedule_id": None,
        "kind": "message",
        "scheduled_at": hit.headers["cronhook-scheduled-at"],
    }
    assert hit.headers["content-type"] == "application/json"


def _node_verify(node: str, stdin: str) -> str:
    out = subprocess.run(
        [node, "-e", _NODE_VERIFY], cwd=NODE_DIR, input=stdin, capture_output=True, text=True,
        timeout=30, check=True,
    )  # fmt: skip
    return out.stdout
