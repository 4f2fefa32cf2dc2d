"""Idempotency-Key on POST: the same key and request within 24 h replays the first
(successful) response; the same key with another request is a 422; a key whose first
request is still running is a 409. Keys are scoped to the tenant (or to the operator).

The first request takes an in-progress marker with SET NX (expiring after a minute, so a
crashed API process does not block the key for long), runs, and replaces the marker by
its response with a compare-and-set. A request that fails drops the marker: it may be
retried with the same key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.api.auth import Principal
from app.api.problems import ApiProblem
from app.api.requests import read_body
from app.errors import CronhookError, FieldError
from app.store import Store

log = logging.getLogger("cronhook.api")

HEADER = "idempotency-key"
KEEP_MS = 24 * 3600 * 1000
PENDING_MS = 60_000
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_REPLAYED_HEADERS = ("location", "content-type")


def fingerprint(method: str, path: str, raw: bytes) -> str:
    """The request the key was first used for: method, path and body (JSON canonicalised,
    so key order and spacing do not matter)."""
    try:
        body = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        body = raw
    h = hashlib.sha256(f"{method}\n{path}\n".encode())
    h.update(body)
    return h.hexdigest()


def _answer(found: dict[str, Any], fp: str) -> Response:
    if found.get("fp") != fp:
        msg = "was already used for a different request in the last 24 hours"
        raise ApiProblem(422, f"Idempotency-Key {msg}", errors=[FieldError("Idempotency-Key", msg)])
    if found.get("state") != "done":
        raise ApiProblem(
            409,
            "a request with this Idempotency-Key is still in progress; retry shortly",
            headers={"Retry-After": "1"},
        )
    headers = dict(found.get("headers") or {}) | {"Idempotent-Replayed": "true"}
    return Response(found["body"], status_code=int(found["status"]), headers=headers)


async def idempotent(
    request: Request, store: Store, who: Principal, run: Callable[[], Awaitable[Response]]
) -> Response:
    key = request.headers.get(HEADER)
    if key is None:
        return await run()
    if not _KEY.match(key):
        msg = "must be 1 to 255 visible ASCII characters"
        raise ApiProblem(422, f"Idempotency-Key {msg}", errors=[FieldError("Idempotency-Key", msg)])
    fp = fingerprint(request.method, request.url.path, await read_body(request))
    scope = who.tenant.id if who.tenant is not None else None
    rkey = store.keys.idempotency(scope, hashlib.sha256(key.encode()).hexdigest())
    pending = {"state": "pending", "fp": fp, "token": secrets.token_hex(8)}
    found = await store.guards.claim_key(rkey, pending, PENDING_MS)
    if found is not None:
        return _answer(found, fp)
    try:
        response = await run()
    except BaseException:
        with contextlib.suppress(CronhookError):
            await store.guards.settle_key(rkey, pending, None, 0)
        raise
    final = None
    if 200 <= response.status_code < 300:
        final = {
            "state": "done",
            "fp": fp,
            "status": response.status_code,
            "body": bytes(response.body).decode(),
            "headers": {h: response.headers[h] for h in _REPLAYED_HEADERS if h in response.headers},
        }
    try:
        await store.guards.settle_key(rkey, pending, final, KEEP_MS)
    except CronhookError as e:
        # the work is done; only the replay record is missing (the marker expires)
        log.warning("idempotency record not written for %s: %s", request.url.path, e)
    return response
