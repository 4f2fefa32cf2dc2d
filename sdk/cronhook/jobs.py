"""Long jobs, the receiver's side: report progress and completion of a delivery that
answered 202 (docs/jobs.md).

A delivery to a job target carries `cronhook-job-url`, `cronhook-job-token` (a bearer
token for this one attempt) and `cronhook-job-signature`: a Standard Webhooks signature,
with your signing secret, of `webhook-id.webhook-timestamp.<job url>\\n<job token>`. The
body signature does not cover headers; this one does, so a forged or altered job URL (one
that would send your token and results elsewhere) is refused before anything is sent.

    wh = Webhook(os.environ["CRONHOOK_SIGNING_SECRET"])
    ticket = JobTicket.verify(wh, raw_body, request.headers,
                              api_base_url="https://cronhook.example.com")
    # answer 202 now; later, in a worker:
    with JobReporter(ticket) as job:
        job.progress(percent=50, message="half way")
        job.succeed({"rows": 1200})

`AsyncJobReporter` is the same with `await`. Reports are retried on 502/503/504 and
connection errors (a completion is idempotent: the same one again answers the same); a 409
(`ConflictError`) means the attempt is over (timed out, or a newer attempt runs): stop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import urlsplit

import httpx

from cronhook import errors
from cronhook._codec import decode
from cronhook._protocol import api_error, transport_error
from cronhook.models._base import frozen
from cronhook.webhooks import (
    ID_HEADER,
    TIMESTAMP_HEADER,
    VerifiedWebhook,
    Webhook,
)

__all__ = ["AsyncJobReporter", "JobAnswer", "JobReporter", "JobTicket"]

JOB_URL_HEADER = "cronhook-job-url"
JOB_TOKEN_HEADER = "cronhook-job-token"
JOB_SIGNATURE_HEADER = "cronhook-job-signature"
_TRIES = 4
_TRANSIENT = frozenset({502, 503, 504})


@frozen
class JobAnswer:
    """What the API answered a report: the attempt, `running` (with the deadline a
    progress report pushed) or the completion's status and instant."""

    attempt: int
    status: str
    deadline_at: datetime | None = None
    completed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class JobTicket:
    """Where and with what a job reports: verified headers of one delivery."""

    delivery: VerifiedWebhook
    url: str
    token: str

    @classmethod
    def verify(
        cls,
        webhook: Webhook,
        body: bytes | str,
        headers: Mapping[str, str],
        *,
        api_base_url: str | None = None,
    ) -> JobTicket:
        """Verify the delivery (as `Webhook.verify`) and its job headers: their signature,
        that the job URL names this very fire, and (when given) that it is on
        `api_base_url`. Raises a `WebhookVerificationError`."""
        delivery = webhook.verify(body, headers)
        lowered = {k.lower(): v for k, v in headers.items()}
        url, token, signature = (
            lowered.get(name, "").strip()
            for name in (JOB_URL_HEADER, JOB_TOKEN_HEADER, JOB_SIGNATURE_HEADER)
        )
        for name, value in ((JOB_URL_HEADER, url), (JOB_TOKEN_HEADER, token)):
            if not value:
                raise errors.MissingHeaderError(name)
        if not signature:
            raise errors.MissingHeaderError(JOB_SIGNATURE_HEADER)
        content = f"{url}\n{token}".encode()
        webhook._check_signature(delivery.id, lowered[TIMESTAMP_HEADER].strip(), content, signature)
        if not urlsplit(url).path.endswith(f"/v1/fires/{delivery.id}/job"):
            raise errors.MalformedHeaderError(JOB_URL_HEADER, f"does not name {ID_HEADER}")
        if api_base_url is not None and not url.startswith(api_base_url.rstrip("/") + "/"):
            raise errors.MalformedHeaderError(JOB_URL_HEADER, f"is not on {api_base_url}")
        return cls(delivery, url, token)


def _progress(percent: float | None, message: str | None, data: Any) -> dict[str, Any]:
    body = {"percent": percent, "message": message, "data": data}
    return {k: v for k, v in body.items() if v is not None}


def _completion(status: str, result: Any, retry: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"status": status, "result": result}
    if not retry:
        body["retry"] = False
    return body


def _request(ticket: JobTicket, kind: str, body: dict[str, Any]) -> httpx.Request:
    return httpx.Request(
        "POST",
        f"{ticket.url}/{kind}",
        json=body,
        headers={"Authorization": f"Bearer {ticket.token}", "Accept": "application/json"},
    )


def _answer(response: httpx.Response) -> JobAnswer:
    if not response.is_success:
        raise api_error(response)
    return decode(JobAnswer, response.json())


def _backoff(attempt: int) -> float:
    return float(min(0.25 * 2.0**attempt, 4.0))


def _wait_after_error(attempt: int, request: httpx.Request, error: httpx.TransportError) -> float:
    """Seconds before the next try after a transport failure; raises it after the last."""
    if attempt == _TRIES - 1:
        raise transport_error(error, request) from error
    return _backoff(attempt)


def _is_final(attempt: int, response: httpx.Response) -> bool:
    """Whether `response` is the answer: not a transient status, or the last try's."""
    return response.status_code not in _TRANSIENT or attempt == _TRIES - 1


Status = Literal["succeeded", "failed"]
H = TypeVar("H", httpx.Client, httpx.AsyncClient)


class _Reporter(Generic[H]):
    """What both reporters share: the ticket and the pool, owned or lent."""

    def __init__(self, ticket: JobTicket, *, http: H | None = None, timeout: float = 10.0) -> None:
        self.ticket = ticket
        self._owned = http is None
        self._http: H = http or self._new_pool(timeout)

    @staticmethod
    def _new_pool(timeout: float) -> H:
        raise NotImplementedError


class JobReporter(_Reporter[httpx.Client]):
    """Report for one attempt (sync). Pass an `httpx.Client` to reuse yours (kept open)."""

    @staticmethod
    def _new_pool(timeout: float) -> httpx.Client:
        return httpx.Client(timeout=timeout)

    def progress(
        self, percent: float | None = None, message: str | None = None, data: Any = None
    ) -> JobAnswer:
        """A heartbeat, with what you want to show on the fire (all optional)."""
        return self._send("progress", _progress(percent, message, data))

    def complete(self, status: Status, result: Any = None, *, retry: bool = True) -> JobAnswer:
        return self._send("complete", _completion(status, result, retry))

    def succeed(self, result: Any = None) -> JobAnswer:
        return self.complete("succeeded", result)

    def fail(self, result: Any = None, *, retry: bool = True) -> JobAnswer:
        """`retry=False`: the fire fails for good instead of retrying with its policy."""
        return self.complete("failed", result, retry=retry)

    def _send(self, kind: str, body: dict[str, Any]) -> JobAnswer:
        for attempt in range(_TRIES):
            request = _request(self.ticket, kind, body)
            try:
                response = self._http.send(request)
            except httpx.TransportError as e:
                time.sleep(_wait_after_error(attempt, request, e))
                continue
            if _is_final(attempt, response):
                return _answer(response)
            time.sleep(_backoff(attempt))
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __enter__(self) -> JobReporter:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncJobReporter(_Reporter[httpx.AsyncClient]):
    """Report for one attempt (async). Pass an `httpx.AsyncClient` to reuse yours."""

    @staticmethod
    def _new_pool(timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=timeout)

    async def progress(
        self, percent: float | None = None, message: str | None = None, data: Any = None
    ) -> JobAnswer:
        return await self._send("progress", _progress(percent, message, data))

    async def complete(
        self, status: Status, result: Any = None, *, retry: bool = True
    ) -> JobAnswer:
        return await self._send("complete", _completion(status, result, retry))

    async def succeed(self, result: Any = None) -> JobAnswer:
        return await self.complete("succeeded", result)

    async def fail(self, result: Any = None, *, retry: bool = True) -> JobAnswer:
        return await self.complete("failed", result, retry=retry)

    async def _send(self, kind: str, body: dict[str, Any]) -> JobAnswer:
        for attempt in range(_TRIES):
            request = _request(self.ticket, kind, body)
            try:
                response = await self._http.send(request)
            except httpx.TransportError as e:
                await asyncio.sleep(_wait_after_error(attempt, request, e))
                continue
            if _is_final(attempt, response):
                return _answer(response)
            await asyncio.sleep(_backoff(attempt))
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncJobReporter:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
