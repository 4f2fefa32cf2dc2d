"""The receiver's side of long jobs (`cronhook.jobs`): trusting the job headers of a
delivery signed by the invoker's own code, and reporting to the paths of the contract."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from app.ids import new_signing_secret
from app.models import Fire, JobSettings, RetrySettings, SigningSecret, Target, Tenant, TenantLimits
from cronhook import ConflictError, Webhook, WebhookVerificationError
from cronhook.jobs import AsyncJobReporter, JobReporter, JobTicket
from dispatcher.invoke.outbound import build_request
from tests.sdk.test_contract import RECEIVER_OPERATIONS

SECRET = new_signing_secret()
BASE = "https://cronhook.example.com"


def _delivery(job_url: str | None = None) -> tuple[bytes, dict[str, str]]:
    now = int(time.time() * 1000)
    tenant = Tenant("ten_1", "t", now, TenantLimits(), (SigningSecret(SECRET, now),))
    fire = Fire(
        id="fire_abc",
        tenant_id="ten_1",
        schedule_id=None,
        kind="message",
        scheduled_at=now,
        status="dispatched",
        created_at=now,
        updated_at=now,
        target=Target(url="https://hook.example.com/", body={"a": 1}, job=JobSettings(60)),
        retry=RetrySettings(),
    )
    url = job_url or f"{BASE}/v1/fires/fire_abc/job"
    request = build_request(fire, tenant, 1, now, (url, "cjt.ten_1.1." + "x" * 32))
    return request.body, dict(request.headers)


def test_a_delivery_signed_by_the_invoker_gives_a_ticket() -> None:
    body, headers = _delivery()
    ticket = JobTicket.verify(Webhook(SECRET), body, headers, api_base_url=BASE)
    assert ticket.delivery.id == "fire_abc"
    assert ticket.url == f"{BASE}/v1/fires/fire_abc/job"
    assert ticket.token.startswith("cjt.ten_1.1.")


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("cronhook-job-url", "https://evil.example.com/v1/fires/fire_abc/job"),
        ("cronhook-job-token", "cjt.ten_1.1." + "y" * 32),
        ("cronhook-job-signature", "v1,AAAA"),
    ],
)
def test_an_altered_job_header_is_refused(change: str, value: str) -> None:
    body, headers = _delivery()
    headers[change] = value
    with pytest.raises(WebhookVerificationError):
        JobTicket.verify(Webhook(SECRET), body, headers)


def test_a_job_url_of_another_fire_or_api_is_refused() -> None:
    body, headers = _delivery(f"{BASE}/v1/fires/fire_other/job")
    with pytest.raises(WebhookVerificationError, match="webhook-id"):
        JobTicket.verify(Webhook(SECRET), body, headers)
    body, headers = _delivery("https://elsewhere.example.com/v1/fires/fire_abc/job")
    with pytest.raises(WebhookVerificationError, match="is not on"):
        JobTicket.verify(Webhook(SECRET), body, headers, api_base_url=BASE)


def test_a_delivery_without_job_headers_is_no_ticket() -> None:
    body, headers = _delivery()
    del headers["cronhook-job-signature"]
    with pytest.raises(WebhookVerificationError, match="cronhook-job-signature"):
        JobTicket.verify(Webhook(SECRET), body, headers)


def _ticket() -> JobTicket:
    body, headers = _delivery()
    return JobTicket.verify(Webhook(SECRET), body, headers)


def test_the_sync_reporter_posts_to_the_contracts_paths_with_the_token() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"attempt": 1, "status": "running"})

    ticket = _ticket()
    with JobReporter(ticket, http=httpx.Client(transport=httpx.MockTransport(answer))) as job:
        assert job.progress(percent=5, message="m").status == "running"
        job.fail({"e": 1}, retry=False)
    paths = [r.url.path for r in seen]
    assert paths == [
        RECEIVER_OPERATIONS["reportJobProgress"].format(fire_id="fire_abc"),
        RECEIVER_OPERATIONS["completeJob"].format(fire_id="fire_abc"),
    ]
    assert all(r.headers["authorization"] == f"Bearer {ticket.token}" for r in seen)
    assert json.loads(seen[0].content) == {"percent": 5, "message": "m"}
    assert json.loads(seen[1].content) == {"status": "failed", "result": {"e": 1}, "retry": False}


async def test_the_async_reporter_retries_a_503_and_raises_a_409() -> None:
    replies: list[Any] = [
        httpx.Response(503),
        httpx.Response(200, json={"attempt": 1, "status": "succeeded"}),
    ]
    replies.append(
        httpx.Response(409, json={"status": 409, "title": "Conflict", "detail": "timed out"})
    )

    def answer(request: httpx.Request) -> httpx.Response:
        response: httpx.Response = replies.pop(0)
        return response

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    async with AsyncJobReporter(_ticket(), http=http) as job:
        assert (await job.succeed()).status == "succeeded"
        with pytest.raises(ConflictError):
            await job.progress()
    await http.aclose()
