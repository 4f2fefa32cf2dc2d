"""``X-Request-Id`` on every answer: the caller's own when it is a sane token (the SDK
sends one per call, the same on each retry), else a fresh ``req_...``. The id is also in
``scope["state"]["request_id"]`` for the logs."""

from __future__ import annotations

import re
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
_SANE = re.compile(rb"^[A-Za-z0-9._:-]{1,200}$")


def new_request_id() -> str:
    return f"req_{secrets.token_hex(12)}"


def request_id_of(scope: Scope) -> str:
    """The caller's id when sane, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == HEADER and _SANE.match(value):
            return bytes(value).decode("ascii")
    return new_request_id()


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != HEADER]
                message["headers"] = [*headers, (HEADER, rid.encode("ascii"))]
            await send(message)

        await self.app(scope, receive, send_with_id)
