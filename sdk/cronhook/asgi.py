"""A tiny ASGI app that verifies cronhook deliveries and hands them to your handler.

Pure ASGI (no framework dependency): serve it with any ASGI server, or mount it in Starlette,
FastAPI or Django under the path your schedule targets.

    async def handle(event: VerifiedWebhook) -> None:
        if await already_processed(event.id):   # event.id is the fire id: dedup on it
            return
        ...

    app = WebhookApp(Webhook(os.environ["CRONHOOK_SIGNING_SECRET"]), handle)

Answers: 400 problem+json for a missing or malformed header, 401 for a bad signature or a
timestamp out of tolerance, 413 for a body over `max_body_bytes`; otherwise what the handler
returns: None -> 204, a dict or list -> 200 JSON, an ASGI app (e.g. a Starlette `Response`)
-> whatever it sends. An exception in the handler propagates (your server answers 500) and
cronhook retries the fire later with the same id.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, TypeAlias

from cronhook.errors import (
    InvalidSignatureError,
    TimestampOutOfToleranceError,
    WebhookVerificationError,
)
from cronhook.webhooks import VerifiedWebhook, Webhook

__all__ = ["ASGIApp", "Handler", "HandlerResult", "WebhookApp"]

Scope: TypeAlias = MutableMapping[str, Any]
Message: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]
HandlerResult: TypeAlias = Mapping[str, Any] | list[Any] | ASGIApp | None
Handler: TypeAlias = Callable[[VerifiedWebhook], Awaitable[HandlerResult]]

_DEFAULT_MAX_BODY = 1024 * 1024


class _BodyTooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


class WebhookApp:
    """ASGI app: read the body, `webhook.verify` it, then `await handler(event)`.

    The handler only ever sees verified deliveries. It should deduplicate on `event.id`:
    delivery is at-least-once and a retried or replayed fire keeps its id.
    """

    def __init__(
        self, webhook: Webhook, handler: Handler, *, max_body_bytes: int = _DEFAULT_MAX_BODY
    ) -> None:
        self._webhook = webhook
        self._handler = handler
        self._max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _serve_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = _decode_headers(scope)
        try:
            body = await self._read_body(headers, receive)
        except _Disconnected:
            return
        except _BodyTooLarge:
            detail = f"body exceeds {self._max_body} bytes"
            await _send_problem(send, 413, "Content Too Large", detail)
            return
        try:
            event = self._webhook.verify(body, headers)
        except WebhookVerificationError as e:
            await _send_verification_problem(send, e)
            return
        result = await self._handler(event)
        await _send_result(result, scope, receive, send)

    async def _read_body(self, headers: Mapping[str, str], receive: Receive) -> bytes:
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body:
            raise _BodyTooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_body:
                raise _BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _decode_headers(scope: Scope) -> dict[str, str]:
    decoded: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", []):
        decoded.setdefault(raw_name.decode("latin-1").lower(), raw_value.decode("latin-1"))
    return decoded


async def _send_verification_problem(send: Send, error: WebhookVerificationError) -> None:
    if isinstance(error, InvalidSignatureError | TimestampOutOfToleranceError):
        status, title = 401, "Webhook verification failed"
    else:
        status, title = 400, "Bad webhook headers"
    await _send_problem(send, status, title, str(error), header=error.header)


async def _send_problem(send: Send, status: int, title: str, detail: str, **extra: str) -> None:
    problem = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    await _send(send, status, json.dumps(problem | extra).encode(), "application/problem+json")


async def _send_result(result: HandlerResult, scope: Scope, receive: Receive, send: Send) -> None:
    if result is None:
        await _send(send, 204, b"", None)
    elif callable(result):
        await result(scope, receive, send)
    else:
        await _send(send, 200, json.dumps(result).encode(), "application/json")


async def _send(send: Send, status: int, body: bytes, content_type: str | None) -> None:
    headers = [] if status == 204 else [(b"content-length", str(len(body)).encode())]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _serve_lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
