"""The example receivers (Python, Node.js, Go) run as real processes on loopback and judge
deliveries signed by the SDK: accepted, rotated, tampered, stale, incomplete, duplicated.

Node needs `node` + `npm` (the fixture runs `npm ci`), Go needs `go` (the fixture builds into a
temporary directory). Locally a missing tool skips that receiver; with CI=true it fails.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from cronhook import Webhook
from tests.examples.receivers import OLD_SECRET, SECRET, Command, ReceiverProcess


@pytest.fixture(scope="session")
def python_receiver(python_command: Command) -> Iterator[ReceiverProcess]:
    receiver = ReceiverProcess("python", python_command)
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def node_receiver(node_command: Command) -> Iterator[ReceiverProcess]:
    receiver = ReceiverProcess("node", node_command)
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def go_receiver(go_command: Command) -> Iterator[ReceiverProcess]:
    receiver = ReceiverProcess("go", go_command)
    yield receiver
    receiver.stop()


@pytest.fixture(params=["python", "node", "go"])
def receiver(request: pytest.FixtureRequest) -> ReceiverProcess:
    process: ReceiverProcess = request.getfixturevalue(f"{request.param}_receiver")
    process.drain()
    return process


def fire_id() -> str:
    return f"fire_{uuid.uuid4().hex}"


def delivery_headers(
    msg_id: str, body: bytes, *, secrets: tuple[str, ...] = (SECRET,), ts: int | None = None
) -> dict[str, str]:
    ts = int(time.time()) if ts is None else ts
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(Webhook(s).sign(msg_id, ts, body) for s in secrets),
        "idempotency-key": msg_id,
        "cronhook-schedule-id": "sch_example",
        "cronhook-scheduled-at": "2026-01-01T00:00:00.000Z",
        "cronhook-attempt": "1",
        "user-agent": "cronhook-tests",
    }


def deliver(receiver: ReceiverProcess, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{receiver.url}/hooks/nightly", content=body, headers=headers, timeout=10)


def test_signed_delivery_is_accepted_and_printed(receiver: ReceiverProcess) -> None:
    msg_id, body = fire_id(), b'{"job": "nightly", "n": 1}'

    response = deliver(receiver, body, delivery_headers(msg_id, body))

    assert response.status_code == 200
    assert response.json() == {"received": msg_id, "duplicate": False}
    record = receiver.next_record()
    assert record["verified"] is True
    assert (record["webhook_id"], record["duplicate"]) == (msg_id, False)
    assert (record["schedule_id"], record["attempt"], record["body"]) == (
        "sch_example",
        1,
        body.decode(),
    )


@pytest.mark.parametrize(
    "secrets", [(OLD_SECRET, SECRET), (SECRET, OLD_SECRET)], ids=["new last", "new first"]
)
def test_rotation_double_signature_is_accepted(
    receiver: ReceiverProcess, secrets: tuple[str, ...]
) -> None:
    msg_id, body = fire_id(), b'{"rotating": true}'

    response = deliver(receiver, body, delivery_headers(msg_id, body, secrets=secrets))

    assert response.status_code == 200
    assert receiver.next_record()["webhook_id"] == msg_id


def test_duplicate_webhook_id_is_accepted_and_flagged(receiver: ReceiverProcess) -> None:
    msg_id, body = fire_id(), b'{"job": "once"}'
    first = deliver(receiver, body, delivery_headers(msg_id, body))
    first_record = receiver.next_record()

    retry = deliver(receiver, body, delivery_headers(msg_id, body))  # a retry: new timestamp

    assert (first.status_code, first_record["duplicate"]) == (200, False)
    assert retry.status_code == 200
    assert retry.json() == {"received": msg_id, "duplicate": True}
    record = receiver.next_record()
    assert (record["webhook_id"], record["duplicate"]) == (msg_id, True)


@pytest.mark.parametrize(
    ("sent_body", "secrets"),
    [
        pytest.param(b'{"amount": 1000}', (SECRET,), id="tampered body"),
        pytest.param(b'{"amount": 1}', (OLD_SECRET,), id="wrong secret"),
    ],
)
def test_bad_signature_is_rejected_with_401(
    receiver: ReceiverProcess, sent_body: bytes, secrets: tuple[str, ...]
) -> None:
    msg_id, signed_body = fire_id(), b'{"amount": 1}'
    headers = delivery_headers(msg_id, signed_body, secrets=secrets)

    response = deliver(receiver, sent_body, headers)

    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["header"] == "webhook-signature"
    assert receiver.next_record()["verified"] is False


def test_stale_delivery_is_rejected_with_401(receiver: ReceiverProcess) -> None:
    msg_id, body = fire_id(), b"{}"
    headers = delivery_headers(msg_id, body, ts=int(time.time()) - 3600)

    response = deliver(receiver, body, headers)

    assert response.status_code == 401
    assert response.json()["header"] == "webhook-timestamp"
    assert receiver.next_record()["verified"] is False


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_rejected_with_400_naming_it(
    receiver: ReceiverProcess, missing: str
) -> None:
    body = b"{}"
    headers = delivery_headers(fire_id(), body)
    del headers[missing]

    response = deliver(receiver, body, headers)

    assert response.status_code == 400
    assert response.json()["header"] == missing
    assert receiver.next_record()["verified"] is False
