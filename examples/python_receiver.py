"""A cronhook webhook receiver in Python: Starlette + the cronhook SDK verifier.

Run (from the repository root, in a venv with `pip install ./sdk starlette hypercorn`):

    CRONHOOK_SIGNING_SECRET=whsec_... PORT=9000 python examples/python_receiver.py

and point a schedule's target at http://127.0.0.1:9000/ (any path works). `PORT=0` picks a
free port; the first line printed is always `listening 127.0.0.1:<port>`. After that, one
JSON line per request: the fire id, whether it verified, whether it was a duplicate.

Only binds 127.0.0.1. Deduplication uses an in-memory set of fire ids (`webhook-id`), so it
is per process and forgotten on restart: a real receiver records processed ids in its own
database, in the same transaction as the work, to make redelivery harmless.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from cronhook import MalformedHeaderError, MissingHeaderError, Webhook, WebhookVerificationError

HOST = "127.0.0.1"


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


def problem(status: int, error: WebhookVerificationError) -> JSONResponse:
    body = {"type": "about:blank", "status": status, "detail": str(error), "header": error.header}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def create_app(webhook: Webhook) -> Starlette:
    seen: set[str] = set()  # processed fire ids, this process only

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()  # the raw bytes: verify before parsing
        try:
            event = webhook.verify(body, request.headers)
        except (MissingHeaderError, MalformedHeaderError) as e:
            emit({"verified": False, "status": 400, "header": e.header, "error": str(e)})
            return problem(400, e)
        except WebhookVerificationError as e:
            emit({"verified": False, "status": 401, "header": e.header, "error": str(e)})
            return problem(401, e)
        duplicate = event.id in seen
        seen.add(event.id)  # after the work succeeded, in a real receiver
        emit(
            {
                "verified": True,
                "status": 200,
                "webhook_id": event.id,
                "duplicate": duplicate,
                "schedule_id": event.schedule_id,
                "attempt": event.attempt,
                "body": body.decode("utf-8", "replace"),
            }
        )
        return JSONResponse({"received": event.id, "duplicate": duplicate})

    methods = ["POST", "PUT", "PATCH", "DELETE", "GET"]
    return Starlette(
        routes=[
            Route("/", receive, methods=methods),
            Route("/{path:path}", receive, methods=methods),
        ]
    )


async def main() -> None:
    secret = os.environ.get("CRONHOOK_SIGNING_SECRET")
    if not secret:
        sys.exit("set CRONHOOK_SIGNING_SECRET to the tenant's whsec_... signing secret")
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, int(os.environ.get("PORT", "8000"))))
    port = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.detach()}"]  # hypercorn takes over the bound socket
    config.graceful_timeout = 2.0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"listening {HOST}:{port}", flush=True)
    await serve(create_app(Webhook(secret)), config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


if __name__ == "__main__":
    asyncio.run(main())
