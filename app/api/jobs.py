"""Long jobs report here (docs/jobs.md): ``POST /v1/fires/{fire_id}/job/progress`` and
``.../complete``, authenticated by the attempt's job token (``cronhook-job-token``), not by
an API key. A token names its tenant and attempt; the job's hash holds its hash
(``job_report.lua``), so a token never works for another fire, attempt or tenant.

Answers: a token that is not a job token 401; a well-formed token that matches no job
(another fire, a deleted tenant, a forged secret) 404, the same answer whether or not the
fire exists; a report for an attempt that is over 409 (a refused completion is recorded on
the job); a body over its cap 413; a body against the contract 422.

A completion is recorded first and then nudges the attempt's watch item to now, so an
invoker applies it at once; if this process dies in between, the watch still comes due
at the attempt's deadline and applies it then.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from starlette.responses import JSONResponse, Response

from app import events
from app.api.guard import Ctx, endpoint, route
from app.api.problems import ApiProblem
from app.api.requests import read_body
from app.api.views import instant
from app.errors import Conflict, NotFound
from app.jobs import JobRef, JobToken, parse_token
from app.keys import job_item
from app.store.jobs import Report

PROGRESS_MAX_BYTES = 16_384
COMPLETE_MAX_BYTES = 65_536
_UNKNOWN = "no job of this fire accepts this token"


def _token(ctx: Ctx) -> JobToken:
    scheme, _, raw = ctx.request.headers.get("authorization", "").partition(" ")
    token = parse_token(raw.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        raise ApiProblem(
            401,
            "send Authorization: Bearer <the cronhook-job-token of this attempt>",
            headers={"WWW-Authenticate": 'Bearer realm="cronhook-job"'},
        )
    return token


async def _read(ctx: Ctx, limit: int) -> tuple[JobRef, JobToken, dict[str, Any]]:
    token = _token(ctx)
    ref = JobRef(ctx.path_id("fire_id"))
    await read_body(ctx.request, limit)  # 413 past the cap, before parsing
    return ref, token, await ctx.body()


async def _nudge(ctx: Ctx, ref: JobRef, token: JobToken) -> None:
    """The attempt's watch, due now: an invoker applies its outcome."""
    await ctx.store.time.retime(job_item(ref.id, token.attempt), ctx.now_ms())


async def _accepted(ctx: Ctx, ref: JobRef, token: JobToken, answer: Report) -> Report:
    """`answer` when the report was taken: 404 for an unknown attempt, 409 for a late one
    (after nudging the watch when this report is what timed the attempt out)."""
    if answer.answer == "unknown":
        raise NotFound(_UNKNOWN)
    if answer.answer == "late":
        if answer.timed_out:
            await _nudge(ctx, ref, token)
        raise Conflict(answer.reason)
    return answer


@endpoint("reportJobProgress", "job")
async def report_progress(ctx: Ctx) -> Response:
    ref, token, body = await _read(ctx, PROGRESS_MAX_BYTES)
    report: dict[str, Any] = {k: body[k] for k in ("percent", "message", "data") if k in body}
    doc = json.dumps(report, separators=(",", ":"))
    answer = await _accepted(
        ctx, ref, token, await ctx.store.jobs.report(ref, token, "progress", ctx.now_ms(), doc)
    )
    assert answer.at_ms is not None
    await events.progress(
        ctx.store, token.tenant_id, ref.fire_id, token.attempt, report, answer.at_ms
    )
    return JSONResponse(
        {"attempt": token.attempt, "status": "running", "deadline_at": instant(answer.at_ms)}
    )


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@endpoint("completeJob", "job")
async def complete(ctx: Ctx) -> Response:
    ref, token, body = await _read(ctx, COMPLETE_MAX_BYTES)
    report = await ctx.store.jobs.report(
        ref,
        token,
        "complete",
        ctx.now_ms(),
        json.dumps(body.get("result"), separators=(",", ":")),
        status=body["status"],
        digest=_digest(body),
        may_retry=bool(body.get("retry", True)),
    )
    answer = await _accepted(ctx, ref, token, report)
    if answer.answer == "ended":
        await _nudge(ctx, ref, token)
    return JSONResponse(
        {"attempt": token.attempt, "status": answer.status, "completed_at": instant(answer.at_ms)}
    )


ROUTES = [
    route("/v1/fires/{fire_id}/job/progress", POST=report_progress),
    route("/v1/fires/{fire_id}/job/complete", POST=complete),
]
