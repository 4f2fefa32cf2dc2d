"""The ASGI helper, driven through httpx's ASGITransport: verified deliveries reach the
handler with their fire id, everything else is answered with problem+json and never does."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from cronhook import VerifiedWebhook, Webhook
from cronhook.asgi import HandlerResult, Message, Receive, Scope, Send, WebhookApp

SECRET = "whsec_" + base64.b64encode(b"asgi-test-secret-0123456789abcd").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"some-other-secret-0123456789abc").decode()
BODY = b'{"report": "daily"}'


def delivery(msg_id: str = "fire_1", *, secret: str = SECRET, body: bytes = BODY) -> dict[str, str]:
    ts = int(time.time())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": Webhook(secret).sign(msg_id, ts, body),
        "idempotency-key": msg_id,
        "cronhook-attempt": "1",
        "content-type": "application/json",
    }


class Recorder:
    def __init__(self, result: HandlerResult = None) -> None:
        self.events: list[VerifiedWebhook] = []
        self.result = result

    async def __call__(self, event: VerifiedWebhook) -> HandlerResult:
        self.events.append(event)
        return self.result


def client_for(app: WebhookApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://receiver")


async def test_verified_delivery_reaches_the_handler_with_its_fire_id() -> None:
    recorder = Recorder()
    async with client_for(WebhookApp(Webhook(SECRET), recorder)) as client:
        response = await client.post("/hooks", content=BODY, headers=delivery("fire_7"))

    assert response.status_code == 204
    assert response.content == b""
    [event] = recorder.events
    assert (event.id, event.idempotency_key, event.attempt) == ("fire_7", "fire_7", 1)
    assert event.json() == {"report": "daily"}


async def test_handler_can_deduplicate_on_the_fire_id() -> None:
    seen: set[str] = set()
    processed: list[str] = []

    async def handle(event: VerifiedWebhook) -> HandlerResult:
        duplicate = event.id in seen
        if not duplicate:
            processed.append(event.id)
            seen.add(event.id)
        return {"duplicate": duplicate}

    async with client_for(WebhookApp(Webhook(SECRET), handle)) as client:
        first = await client.post("/", content=BODY, headers=delivery("fire_1"))
        again = await client.post("/", content=BODY, headers=delivery("fire_1"))

    assert (first.status_code, first.json()) == (200, {"duplicate": False})
    assert (again.status_code, again.json()) == (200, {"duplicate": True})
    assert processed == ["fire_1"]


async def test_handler_may_return_an_asgi_response() -> None:
    async def teapot(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"queued"})

    async with client_for(WebhookApp(Webhook(SECRET), Recorder(teapot))) as client:
        response = await client.post("/", content=BODY, headers=delivery())

    assert (response.status_code, response.text) == (202, "queued")


@pytest.mark.parametrize(
    ("change", "header"),
    [
        ({"webhook-signature": "v1,AAAA"}, "webhook-signature"),
        ({"webhook-timestamp": str(int(time.time()) - 3600)}, "webhook-signature"),
    ],
)
async def test_bad_signature_is_401_problem_and_handler_never_runs(
    change: dict[str, str], header: str
) -> None:
    recorder = Recorder()
    async with client_for(WebhookApp(Webhook(SECRET), recorder)) as client:
        response = await client.post("/", content=BODY, headers=delivery() | change)

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["status"], problem["header"]) == (401, header)
    assert header in problem["detail"]
    assert recorder.events == []


async def test_stale_but_authentic_delivery_is_401_naming_the_timestamp() -> None:
    old = int(time.time()) - 3600
    headers = delivery() | {
        "webhook-timestamp": str(old),
        "webhook-signature": Webhook(SECRET).sign("fire_1", old, BODY),
    }
    async with client_for(WebhookApp(Webhook(SECRET), Recorder())) as client:
        response = await client.post("/", content=BODY, headers=headers)

    assert response.status_code == 401
    assert response.json()["header"] == "webhook-timestamp"


@pytest.mark.parametrize("body", [BODY + b"!", b""], ids=["tampered body", "empty body"])
async def test_tampered_body_is_401(body: bytes) -> None:
    recorder = Recorder()
    async with client_for(WebhookApp(Webhook(SECRET), recorder)) as client:
        response = await client.post("/", content=body, headers=delivery())

    assert response.status_code == 401
    assert recorder.events == []


async def test_wrong_secret_is_401() -> None:
    async with client_for(WebhookApp(Webhook(SECRET), Recorder())) as client:
        response = await client.post("/", content=BODY, headers=delivery(secret=OTHER_SECRET))

    assert response.status_code == 401


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
async def test_missing_header_is_400_naming_it(missing: str) -> None:
    headers = delivery()
    del headers[missing]
    recorder = Recorder()
    async with client_for(WebhookApp(Webhook(SECRET), recorder)) as client:
        response = await client.post("/", content=BODY, headers=headers)

    assert response.status_code == 400
    assert response.json()["header"] == missing
    assert missing in response.json()["detail"]
    assert recorder.events == []


async def test_malformed_timestamp_is_400() -> None:
    headers = delivery() | {"webhook-timestamp": "soon"}
    async with client_for(WebhookApp(Webhook(SECRET), Recorder())) as client:
        response = await client.post("/", content=BODY, headers=headers)

    assert response.status_code == 400
    assert response.json()["header"] == "webhook-timestamp"


async def test_header_case_does_not_matter_on_the_wire() -> None:
    headers = {k.upper(): v for k, v in delivery().items()}
    async with client_for(WebhookApp(Webhook(SECRET), Recorder())) as client:
        response = await client.post("/", content=BODY, headers=headers)

    assert response.status_code == 204


async def test_chunked_body_is_reassembled_before_verifying() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(BODY), 4):
            yield BODY[i : i + 4]

    recorder = Recorder()
    async with client_for(WebhookApp(Webhook(SECRET), recorder)) as client:
        response = await client.post("/", content=chunks(), headers=delivery())

    assert response.status_code == 204
    assert recorder.events[0].body == BODY


async def test_body_over_the_limit_is_413_without_verifying() -> None:
    recorder = Recorder()
    app = WebhookApp(Webhook(SECRET), recorder, max_body_bytes=8)
    async with client_for(app) as client:
        response = await client.post("/", content=BODY, headers=delivery())

    assert response.status_code == 413
    assert recorder.events == []


async def test_handler_exception_propagates_so_cronhook_retries() -> None:
    async def broken(event: VerifiedWebhook) -> HandlerResult:
        raise RuntimeError("database down")

    async with client_for(WebhookApp(Webhook(SECRET), broken)) as client:
        with pytest.raises(RuntimeError, match="database down"):
            await client.post("/", content=BODY, headers=delivery())


async def test_lifespan_is_acknowledged() -> None:
    inbox: list[Message] = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[Message] = []

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {"type": "lifespan"}
    await WebhookApp(Webhook(SECRET), Recorder())(scope, receive, send)

    assert [m["type"] for m in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]
