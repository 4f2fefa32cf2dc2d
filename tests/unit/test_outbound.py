"""The signed request of one attempt (``dispatcher.invoke.outbound.build_request``), from tables,
verified by the official Standard Webhooks library."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from app.models import Fire, RetrySettings, SigningSecret, Target, Tenant, TenantLimits
from dispatcher.http.client import OutboundRequest
from dispatcher.invoke.outbound import build_request

SCHEDULED = 1_795_000_000_123  # 2026-11-18T11:06:40.123Z
NOW = int(time.time() * 1000)  # when this module was imported: see verify()
SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()
OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
TENANT = Tenant(
    "ten_1",
    "t",
    NOW,
    TenantLimits(),
    (SigningSecret(OLD, NOW - 10, NOW + 1000), SigningSecret(SECRET, NOW - 5)),
)


def verify(secret: str, req: OutboundRequest) -> None:
    """The official library's signature of this id, timestamp and body is one of the
    request's. Not ``Webhook.verify``: that also checks the timestamp against the wall
    clock (5 minutes), and a long suite runs this module longer than that after import."""
    headers = req.headers
    at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), UTC)
    expected = Webhook(secret).sign(headers["webhook-id"], at, req.body.decode())
    assert expected in headers["webhook-signature"].split(" ")


def fire(target: Target, schedule_id: str | None = "sch_1", fire_id: str = "fire_1") -> Fire:
    return Fire(
        fire_id, "ten_1", schedule_id, "cron", SCHEDULED, "dispatched", NOW, NOW, target,
        RetrySettings(),
    )  # fmt: skip


SIGNED = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "Idempotency-Key",
    "cronhook-scheduled-at",
    "cronhook-attempt",
]


@pytest.mark.parametrize(
    ("target", "body", "tenant_headers"),
    [
        (
            Target("https://e.com/h", headers={"X-A": "b"}, body={"k": ["é", 1]}),
            '{"k":["é",1]}'.encode(),
            {"X-A": "b", "Content-Type": "application/json"},
        ),
        (
            Target("https://e.com/h", body="plain", content_type="text/csv"),
            b"plain",
            {"Content-Type": "text/csv"},
        ),
        (
            Target("https://e.com/h", body="plain"),
            b"plain",
            {"Content-Type": "text/plain; charset=utf-8"},
        ),
        (
            Target("https://e.com/h", "GET", headers={"Accept": "x/y"}, body=""),
            b"",
            {"Accept": "x/y"},
        ),
        # a tenant header named like a signed one keeps its place and takes the signed value
        (
            Target("https://e.com/h", headers={"webhook-id": "mine", "Z": "z"}, body=[1]),
            b"[1]",
            {"webhook-id": "fire_1", "Z": "z", "Content-Type": "application/json"},
        ),
    ],
)
def test_request_from_a_table(target: Target, body: bytes, tenant_headers: dict[str, str]) -> None:
    for attempt in (1, 3):  # a second build of the same target: the same bytes
        req = build_request(fire(target), TENANT, attempt, NOW)
        assert (req.method, req.url, req.body) == (target.method, target.url, body)
        assert req.timeout_seconds == target.timeout_seconds
        expected: dict[str, Any] = dict(tenant_headers)
        expected.update(
            {
                "webhook-id": "fire_1",
                "webhook-timestamp": str(NOW // 1000),
                "Idempotency-Key": "fire_1",
                "cronhook-scheduled-at": "2026-11-18T11:06:40.123Z",
                "cronhook-attempt": str(attempt),
                "cronhook-schedule-id": "sch_1",
            }
        )
        signature = req.headers["webhook-signature"]
        assert {k: v for k, v in req.headers.items() if k != "webhook-signature"} == expected
        assert list(req.headers)[: len(tenant_headers)] == list(tenant_headers)
        assert len(signature.split(" ")) == 2  # the old secret is still in its overlap
        for secret in (OLD, SECRET):
            verify(secret, req)


def test_one_off_fires_carry_no_schedule_header_and_an_expired_secret_stops_signing() -> None:
    req = build_request(fire(Target("https://e.com/h"), None), TENANT, 1, NOW + 1000)
    assert "cronhook-schedule-id" not in req.headers
    assert req.headers["webhook-signature"].count("v1,") == 1
    verify(SECRET, req)


def test_targets_with_equal_fields_and_different_instances_each_send_their_own_body() -> None:
    targets = [Target("https://e.com/h", body={"n": n}) for n in range(50)]
    for n, target in enumerate(targets * 2):
        req = build_request(fire(target, fire_id=f"fire_{n}"), TENANT, 1, NOW)
        assert req.body == f'{{"n":{n % 50}}}'.encode()
        assert req.headers["webhook-id"] == f"fire_{n}"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "GET", "DELETE"])
@pytest.mark.parametrize("schedule_id", ["sch_1", None])
def test_a_target_without_a_body_sends_a_json_document_of_the_fire(
    method: str, schedule_id: str | None
) -> None:
    # given a target without a body, signed now (Webhook.verify checks the wall clock)
    now = int(time.time() * 1000)
    tenant = Tenant("ten_1", "t", now, TenantLimits(), (SigningSecret(SECRET, now - 5),))
    the_fire = fire(Target("https://e.com/h", method), schedule_id)
    # when two attempts are built
    first, later = (build_request(the_fire, tenant, n, now) for n in (1, 2))
    # then the official library verifies and parses it with its defaults (json_parse)
    assert Webhook(SECRET).verify(first.body, first.headers) == {
        "type": "cronhook.fire",
        "fire_id": "fire_1",
        "schedule_id": schedule_id,
        "kind": "cron",
        "scheduled_at": "2026-11-18T11:06:40.123Z",
    }
    assert first.headers["Content-Type"] == "application/json"
    assert later.body == first.body  # one fire, one body, on every attempt


@pytest.mark.parametrize("method", ["GET", "DELETE", "POST"])
def test_an_empty_string_body_sends_no_content(method: str) -> None:
    req = build_request(fire(Target("https://e.com/h", method, body="")), TENANT, 1, NOW)
    assert req.body == b""
    verify(SECRET, req)
