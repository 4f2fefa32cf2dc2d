"""A long-running job behind a cronhook webhook, in Python: Starlette + the cronhook SDK.

Make the target a job (`"target": {"url": ..., "job": {"timeout_seconds": 600,
"heartbeat_seconds": 60}}`). Each delivery is verified -- the body signature and the job
headers' signature (`cronhook.jobs.JobTicket.verify`) -- then answered 202 at once; the
work runs in a background task that reports progress (each report is a heartbeat) and
then its result. Run (from the repository root, in a venv with `pip install ./sdk
starlette hypercorn`):

    CRONHOOK_SIGNING_SECRET=whsec_... CRONHOOK_API_URL=http://127.0.0.1:8080 \\
        PORT=9000 python examples/python_long_job.py

`CRONHOOK_API_URL` (optional) pins where reports may go: a job URL elsewhere is refused.
`JOB_STEPS` (default 3) progress reports `JOB_STEP_SECONDS` (default 1) apart, then the
completion. The first line printed is `listening 127.0.0.1:<port>`, then one JSON line per
event (accepted, progress, completed, refused). Only binds 127.0.0.1.

A delivery is at least once: the same `webhook-id` may come again, as a retry after a
timeout (a new attempt, a new token) or as a duplicate of the same attempt. This example
works on every attempt it receives; a real job records what it has done under the fire id
so that a second attempt resumes or skips instead of redoing the work.
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

from cronhook import ConflictError, CronhookError, Webhook, WebhookVerificationError
from cronhook.jobs import AsyncJobReporter, JobTicket

HOST = "127.0.0.1"


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)


async def work(ticket: JobTicket, steps: int, pause: float) -> None:
    """The job itself: a few steps, each reported, then the result."""
    fire = ticket.delivery.id
    async with AsyncJobReporter(ticket) as job:
        try:
            for step in range(1, steps + 1):
                await asyncio.sleep(pause)
                await job.progress(percent=100 * step / (steps + 1), message=f"step {step}")
                emit({"event": "progress", "webhook_id": fire, "step": step})
            answer = await job.succeed({"steps": steps})
            emit({"event": "completed", "webhook_id": fire, "status": answer.status})
        except ConflictError as e:  # the attempt is over (timed out, or a newer one runs)
            emit({"event": "abandoned", "webhook_id": fire, "error": str(e)})
        except CronhookError as e:
            emit({"event": "report_failed", "webhook_id": fire, "error": str(e)})


def create_app(webhook: Webhook, api_url: str | None, steps: int, pause: float) -> Starlette:
    running: set[asyncio.Task[None]] = set()

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            ticket = JobTicket.verify(webhook, body, request.headers, api_base_url=api_url)
        except WebhookVerificationError as e:
            emit({"event": "refused", "header": e.header, "error": str(e)})
            return JSONResponse({"detail": str(e)}, status_code=401)
        task = asyncio.create_task(work(ticket, steps, pause))
        running.add(task)
        task.add_done_callback(running.discard)
        emit(
            {
                "event": "accepted",
                "webhook_id": ticket.delivery.id,
                "attempt": ticket.delivery.attempt,
            }
        )
        return JSONResponse({"accepted": ticket.delivery.id}, status_code=202)

    return Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])


async def main() -> None:
    secret = os.environ.get("CRONHOOK_SIGNING_SECRET")
    if not secret:
        sys.exit("set CRONHOOK_SIGNING_SECRET to the tenant's whsec_... signing secret")
    api_url = os.environ.get("CRONHOOK_API_URL") or None
    steps = int(os.environ.get("JOB_STEPS", "3"))
    pause = float(os.environ.get("JOB_STEP_SECONDS", "1"))
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, int(os.environ.get("PORT", "8000"))))
    port = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.detach()}"]
    config.graceful_timeout = 2.0
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"listening {HOST}:{port}", flush=True)
    app = create_app(Webhook(secret), api_url, steps, pause)
    await serve(app, config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


if __name__ == "__main__":
    asyncio.run(main())
