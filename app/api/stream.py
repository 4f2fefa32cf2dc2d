"""``GET /v1/events``: the tenant's fire events as Server-Sent Events, from Redis pub/sub."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from app.api.guard import Ctx, endpoint, route
from app.api.problems import ApiProblem
from app.errors import FieldError, ValidationFailed
from app.events import LISTENERS_TTL_S, TYPES

KEEPALIVE_S = 15.0
MAX_STREAMS_PER_TENANT = 10
_open: Counter[str] = Counter()  # open streams per tenant in this process


def _types(raw: str | None) -> frozenset[str]:
    if raw is None:
        return frozenset(TYPES)
    wanted = frozenset(raw.split(","))
    unknown = sorted(wanted - set(TYPES))
    if unknown:
        msg = f"unknown event types {unknown}; use some of {list(TYPES)}"
        raise ValidationFailed([FieldError("types", msg)])
    return wanted


def _frame(event: dict[str, Any]) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"


async def _events(pubsub: Any, types: frozenset[str], schedule: str | None) -> AsyncIterator[str]:
    yield "retry: 3000\n: connected\n\n"
    quiet_since = time.monotonic()
    while True:
        msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
        if msg is None:
            if time.monotonic() - quiet_since >= KEEPALIVE_S:
                quiet_since = time.monotonic()
                yield ": keepalive\n\n"
            continue
        with contextlib.suppress(ValueError, TypeError, KeyError):
            event = json.loads(msg["data"])
            if event["type"] in types and schedule in (None, event.get("schedule_id")):
                quiet_since = time.monotonic()
                yield _frame(event)


async def _stream(ctx: Ctx, pubsub: Any, types: frozenset[str]) -> AsyncIterator[str]:
    tid = ctx.tenant.id
    try:
        async for chunk in _events(pubsub, types, ctx.query["schedule_id"]):
            yield chunk
    finally:
        _open[tid] -= 1
        with contextlib.suppress(Exception):
            await asyncio.shield(pubsub.aclose())


@endpoint("streamEvents", "tenant")
async def stream_events(ctx: Ctx) -> Response:
    types = _types(ctx.query["types"])
    tid = ctx.tenant.id
    if _open[tid] >= MAX_STREAMS_PER_TENANT:
        raise ApiProblem(
            429,
            f"at most {MAX_STREAMS_PER_TENANT} event streams per tenant at once",
            headers={"Retry-After": "5"},
        )
    pubsub = ctx.store.client.pubsub()
    try:
        await pubsub.subscribe(ctx.store.keys.events(tid))
        # Dispatchers and invokers look for listeners at most once per LISTENERS_TTL_S:
        # answering after that long means every event from the answer on is delivered.
        await asyncio.sleep(LISTENERS_TTL_S)
    except BaseException:
        with contextlib.suppress(Exception):
            await pubsub.aclose()
        raise
    _open[tid] += 1
    return StreamingResponse(
        _stream(ctx, pubsub, types),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


ROUTES = [route("/v1/events", GET=stream_events)]
